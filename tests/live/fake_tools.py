"""Stand-in `dumpcap` and `tcpdump` for the live capture tests: a script first on the search path.

It writes a prepared capture stream to stdout in pieces (a pcapng for dumpcap, a pcap for tcpdump),
waits for SIGINT/SIGTERM like the real tools, then writes a trailer (dumpcap's interface statistics
block) and prints the real tools' closing statistics on stderr. Other modes print the real tools'
error messages (copied from dumpcap 4.0.17 and tcpdump 4.99.3) and fail, or die mid-capture.
"""

from __future__ import annotations

import stat
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

# The real tools' words (dumpcap 4.0.17, tcpdump 4.99.3 on Debian 12).
DUMPCAP_PERMISSION = """\
Capturing on '{iface}'
dumpcap: You do not have permission to capture on device "{iface}".
(socket: Operation not permitted)
Please check to make sure you have sufficient permissions.

On Debian and Debian derivatives such as Ubuntu, if you have installed Wireshark from a package, try running

    sudo dpkg-reconfigure wireshark-common

selecting "<Yes>" in response to the question

    Should non-superusers be able to capture packets?

adding yourself to the "wireshark" group by running

    sudo usermod -a -G wireshark {{your username}}

and then logging out and logging back in again.
"""
TCPDUMP_PERMISSION = """\
tcpdump: {iface}: You don't have permission to perform this capture on that device
(socket: Operation not permitted)
"""
DUMPCAP_NO_DEVICE = """\
Capturing on '{iface}'
dumpcap: There is no device named "{iface}".
(No such device exists)
"""
DUMPCAP_BAD_FILTER = """\
Capturing on '{iface}'
dumpcap: Invalid capture filter "{filter}" for interface '{iface}'.

That string isn't a valid capture filter (can't parse filter expression: syntax error).
See the User's Guide for a description of the capture filter syntax.
"""
TCPDUMP_BAD_FILTER = "tcpdump: can't parse filter expression: syntax error\n"
DUMPCAP_DIED = (
    "dumpcap: Error while capturing packets: The network adapter on which the capture was being done is "
    "no longer running; the capture has stopped.\n"
)

SCRIPT = textwrap.dedent(
    """\
    #!{python}
    import os, signal, sys, time

    env = os.environ
    tool = os.path.basename(sys.argv[0])
    mode = env.get("FAKE_CAPTURE_MODE", "ok")
    args = sys.argv[1:]
    iface = args[args.index("-i") + 1] if "-i" in args else "?"
    flt = args[args.index("-f") + 1] if "-f" in args else ""
    if env.get("FAKE_CAPTURE_LOG"):
        with open(env["FAKE_CAPTURE_LOG"] + ".tmp", "w") as fh:
            fh.write(str(os.getpid()) + "\\n" + "\\0".join(sys.argv))
        os.replace(env["FAKE_CAPTURE_LOG"] + ".tmp", env["FAKE_CAPTURE_LOG"])
    stopping = []
    signal.signal(signal.SIGINT, lambda s, f: stopping.append(s))
    signal.signal(signal.SIGTERM, lambda s, f: stopping.append(s))
    err = sys.stderr
    written = 0
    dropped = int(env.get("FAKE_CAPTURE_KERNEL_DROPS", "0"))

    def counts(sig=None, frame=None):
        err.write(f"tcpdump: {{written}} packets captured, {{written + dropped}} packets received by filter, "
                  f"{{dropped}} packets dropped by kernel\\n")
        err.flush()

    if tool == "tcpdump":
        signal.signal(signal.SIGUSR1, counts)
    if mode in ("permission", "no-device", "bad-filter", "fail"):
        err.write(env.get("FAKE_CAPTURE_ERROR", "").format(iface=iface, filter=flt))
        sys.exit(1)
    if tool == "dumpcap":
        err.write(f"Capturing on '{{iface}}'\\n")
    else:
        err.write(f"tcpdump: listening on {{iface}}, link-type EN10MB (Ethernet), "
                  "snapshot length 262144 bytes\\n")
    err.flush()
    if mode == "ignore-sigint":
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    out = sys.stdout.buffer
    with open(env["FAKE_CAPTURE_STREAM"], "rb") as fh:
        data = fh.read()
    header = int(env.get("FAKE_CAPTURE_HEADER", "0"))
    record = int(env.get("FAKE_CAPTURE_RECORD", "0"))
    piece = int(env.get("FAKE_CAPTURE_PIECE", "4096"))
    pause = float(env.get("FAKE_CAPTURE_PAUSE", "0"))
    hold_after = int(env.get("FAKE_CAPTURE_HOLD_AFTER", "-1"))
    die_after = int(env.get("FAKE_CAPTURE_DIE_AFTER", "-1"))
    pos = 0
    while pos < len(data) and not stopping:
        chunk = data[pos : pos + piece]
        out.write(chunk)
        out.flush()
        pos += len(chunk)
        if record:
            written = max(0, (pos - header) // record)
        if written == die_after:
            if mode == "die-signal":
                os.kill(os.getpid(), signal.SIGKILL)
            err.write(env.get("FAKE_CAPTURE_ERROR", ""))
            sys.exit(2)
        if written == hold_after:
            time.sleep(float(env.get("FAKE_CAPTURE_HOLD", "0")))
        if pause:
            time.sleep(pause)
    if record and pos > header and (pos - header) % record:
        # like the real tools, never stop in the middle of a record
        end = header + ((pos - header) // record + 1) * record
        out.write(data[pos:end])
        out.flush()
        pos = end
    deadline = time.monotonic() + 60
    while not stopping and time.monotonic() < deadline:
        time.sleep(0.01)
    if env.get("FAKE_CAPTURE_TRAILER"):
        with open(env["FAKE_CAPTURE_TRAILER"], "rb") as fh:
            out.write(fh.read())
        out.flush()
    if tool == "dumpcap":
        err.write("File: -\\nPackets captured: %d\\n" % written)
        err.write(env.get("FAKE_CAPTURE_FINAL", "").format(iface=iface, n=written))
    else:
        err.write(f"{{written}} packets captured\\n{{written + dropped}} packets received by filter\\n"
                  f"{{dropped}} packets dropped by kernel\\n")
    err.flush()
    """
)

DUMPCAP_FINAL = (
    "Packets received/dropped on interface '{iface}': {n}/0 (pcap:0/dumpcap:0/flushed:0/ps_ifdrop:0) "
    "(100.0%)\n"
)


@dataclass
class FakeTools:
    """The fake tools' folder and how to configure their next run."""

    bin: Path
    work: Path
    monkeypatch: pytest.MonkeyPatch

    @property
    def log(self) -> Path:
        return self.work / "tool.log"

    def configure(
        self,
        *,
        stream: bytes = b"",
        header: int = 0,
        record: int = 0,
        mode: str = "ok",
        error: str = "",
        trailer: bytes = b"",
        final: str = DUMPCAP_FINAL,
        piece: int = 4096,
        pause: float = 0.0,
        hold_after: int = -1,
        hold: float = 0.0,
        die_after: int = -1,
        kernel_drops: int = 0,
    ) -> None:
        (self.work / "stream").write_bytes(stream)
        (self.work / "trailer").write_bytes(trailer)
        settings = {
            "FAKE_CAPTURE_MODE": mode,
            "FAKE_CAPTURE_STREAM": str(self.work / "stream"),
            "FAKE_CAPTURE_TRAILER": str(self.work / "trailer") if trailer else "",
            "FAKE_CAPTURE_ERROR": error,
            "FAKE_CAPTURE_FINAL": final,
            "FAKE_CAPTURE_HEADER": str(header),
            "FAKE_CAPTURE_RECORD": str(record),
            "FAKE_CAPTURE_PIECE": str(piece),
            "FAKE_CAPTURE_PAUSE": str(pause),
            "FAKE_CAPTURE_HOLD_AFTER": str(hold_after),
            "FAKE_CAPTURE_HOLD": str(hold),
            "FAKE_CAPTURE_DIE_AFTER": str(die_after),
            "FAKE_CAPTURE_KERNEL_DROPS": str(kernel_drops),
            "FAKE_CAPTURE_LOG": str(self.log),
        }
        for key, value in settings.items():
            self.monkeypatch.setenv(key, value)

    def ran(self) -> tuple[int, list[str]] | None:
        """(pid, argv) of the last run, or None if the tool never ran."""
        if not self.log.exists():
            return None
        pid, argv = self.log.read_text().split("\n", 1)
        return int(pid), argv.split("\0")

    def remove(self, tool: str) -> None:
        (self.bin / tool).unlink()


def install_fake_tools(folder: Path, monkeypatch: pytest.MonkeyPatch) -> FakeTools:
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    work = folder / "fake"
    work.mkdir()
    script = SCRIPT.format(python=sys.executable)
    for tool in ("dumpcap", "tcpdump"):
        path = bin_dir / tool
        path.write_text(script)
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return FakeTools(bin_dir, work, monkeypatch)


def pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False
