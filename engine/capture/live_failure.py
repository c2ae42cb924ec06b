"""What a capture tool's failure means, in words a user can act on: for a local live capture and for one
on the Pi over SSH (the wording of each says where; what the tool's words mean is decided here once)."""

from __future__ import annotations

import signal
from typing import Literal

from engine.errors import LiveCaptureError

Tool = Literal["auto", "dumpcap", "tcpdump"]
ToolFailure = Literal["permission", "no-interface", "bad-filter"]

TOOL_PACKAGES = {"dumpcap": "wireshark-common", "tcpdump": "tcpdump"}
FILTER_SYNTAX = (
    'Capture filters use the pcap-filter(7) syntax of tcpdump, e.g. "udp port 53" or '
    '"not (host 192.168.1.2 and tcp port 22)".'
)


def failure_kind(text: str, tool: str, capture_filter: str | None) -> ToolFailure | None:
    """What the tool's stderr says went wrong before it captured anything, or None (something else)."""
    lower = text.lower()
    if "permission" in lower or "operation not permitted" in lower:
        return "permission"
    if any(s in lower for s in ("no device named", "no such device", "doesn't exist", "does not exist")):
        return "no-interface"
    # tcpdump names no filter in its compile errors ("unknown port 'x'", "syntax error")
    if "capture filter" in lower or (tool == "tcpdump" and capture_filter and "listening on" not in lower):
        return "bad-filter"
    return None


def first_message(text: str, tool: str) -> str:
    """The tool's own words: its first error line(s), without the banner and the long advice."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    skip = ("Capturing on", "listening on", "File:", "Packets captured", "tcpdump: verbose output")
    lines = [ln for ln in lines if not ln.startswith(skip)]
    if not lines:
        return ""
    first = lines[0].removeprefix(f"{tool}: ")
    if len(lines) > 1 and lines[1].startswith("("):
        first = f"{first} {lines[1]}"
    return first


def filter_explanation(text: str) -> str:
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("That string isn't a valid capture filter"):
            return line.rstrip(".")
    return ""


def bad_filter(
    tool: str, capture_filter: str | None, text: str, said: str, where: str = ""
) -> LiveCaptureError:
    """`where`: " on HOST" for a capture on another machine."""
    return LiveCaptureError(
        f'{tool}{where} rejected the capture filter "{capture_filter}": '
        f"{filter_explanation(text) or said}. {FILTER_SYNTAX}",
        title="Bad capture filter",
    )


def exit_description(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def stopped(what: str, *, started: bool, packets: int, code: int | None, said: str) -> LiveCaptureError:
    """The capture (`what`: the tool, or "the capture on HOST") stopped by itself."""
    after = f"after {packets:,} packets" if started else "before capturing anything"
    detail = f": {said}" if said else " (it printed nothing)"
    return LiveCaptureError(
        f"{what} stopped unexpectedly {after} ({exit_description(code)}){detail}",
        title="Capture tool stopped",
    )


def missing_interface(name: str, names: list[str]) -> LiveCaptureError:
    listed = ", ".join(names) if names else "none found"
    return LiveCaptureError(
        f'there is no network interface "{name}" here; the interfaces are: {listed} '
        "(`ip -br link` lists them with their state)",
        title="No such interface",
    )


def permission_error(tool: str, tool_path: str | None, interface: str, said: str) -> LiveCaptureError:
    path = tool_path or f"/usr/bin/{tool}"
    said_part = f" ({tool} said: {said})" if said else ""
    if tool == "dumpcap":
        how = (
            "To let your account capture without sudo, run `sudo dpkg-reconfigure wireshark-common` "
            "(answer Yes), then `sudo usermod -aG wireshark $USER`, and log out and in again; or give "
            f"dumpcap the capture capabilities directly: `sudo setcap cap_net_raw,cap_net_admin=eip {path}`."
        )
    else:
        how = (
            "To capture without sudo, give tcpdump the capture capabilities: "
            f"`sudo setcap cap_net_raw,cap_net_admin=eip {path}`; or install dumpcap "
            "(`sudo apt install wireshark-common`), answer Yes to letting non-superusers capture, and "
            "`sudo usermod -aG wireshark $USER`, then log out and in again."
        )
    return LiveCaptureError(
        f'this account may not capture on "{interface}"{said_part}. {how} '
        "On a Pi running the homescope capture service, `homescope follow /var/lib/homescope/dumps` "
        "watches its capture without any capture rights.",
        title="No permission to capture",
    )


def tool_missing(tool: Tool) -> LiveCaptureError:
    if tool == "auto":
        return LiveCaptureError(
            "no capture tool found: homescope captures through dumpcap (Debian package wireshark-common) "
            "or tcpdump (package tcpdump); install one, e.g. `sudo apt install wireshark-common`",
            title="No capture tool",
        )
    return LiveCaptureError(
        f"{tool} is not installed (or not on PATH): install it with `sudo apt install {TOOL_PACKAGES[tool]}`",
        title="No capture tool",
    )


def tool_not_runnable(tool: str, path: str, interface: str) -> LiveCaptureError:
    if tool == "dumpcap":
        return permission_error(
            tool, path, interface, f"{path} may only be run by members of its group (usually wireshark)"
        )
    return permission_error(tool, path, interface, f"{path} is not executable for this account")
