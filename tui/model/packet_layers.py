"""The packets of one flow, read again from the capture file(s) with tshark (through pyshark): each
packet's layers with their fields, and its payload as text and hex. A drill-down, run in a worker thread:
pyshark needs 0.6-3 ms a packet and an asyncio event loop of its own in that thread."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import string
from dataclasses import dataclass
from pathlib import Path

from tui.model.investigation import FlowEndpoints

MAX_PACKETS = 200
MAX_FIELDS = 60  # per layer
SLACK_S = 1.0  # around the flow's first and last packet times
PRINTABLE = set(string.printable) - set("\x0b\x0c")


class PacketsUnavailable(Exception):
    """Why the packets cannot be shown (no tshark, a live source, no capture file); for people."""


@dataclass(frozen=True, slots=True)
class PacketLayer:
    name: str
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class PacketInfo:
    number: int  # in its capture file
    time: str
    summary: str  # e.g. "192.168.2.17:49152 -> 17.253.105.202:80 TCP 78 B"
    layers: tuple[PacketLayer, ...]
    payload: bytes


@dataclass(frozen=True, slots=True)
class FlowPackets:
    flow: FlowEndpoints
    display_filter: str
    packets: tuple[PacketInfo, ...]
    truncated: bool  # more than MAX_PACKETS matched


def display_filter(flow: FlowEndpoints) -> str:
    """A tshark display filter for the flow's 5-tuple (and its time span, so reused ports do not mix)."""
    ip = "ipv6" if ":" in flow.client or ":" in flow.server else "ip"
    parts = [f"{ip}.addr=={flow.client}", f"{ip}.addr=={flow.server}"]
    transport = flow.protocol.lower()
    if transport in ("tcp", "udp"):
        parts += [f"{transport}.port=={flow.client_port}", f"{transport}.port=={flow.server_port}"]
    elif transport.startswith("icmp"):
        parts.append("icmpv6" if ip == "ipv6" else "icmp")
    if flow.first_ts is not None and flow.last_ts is not None:
        parts.append(f"frame.time_epoch >= {flow.first_ts - SLACK_S:.6f}")
        parts.append(f"frame.time_epoch <= {flow.last_ts + SLACK_S:.6f}")
    return " && ".join(parts)


def hex_dump(data: bytes, width: int = 16) -> list[str]:
    lines = []
    for at in range(0, len(data), width):
        chunk = data[at : at + width]
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{at:04x}  {chunk.hex(' '):<{width * 3}} {text}")
    return lines


def payload_text(data: bytes) -> str:
    """The payload as text, non-printable bytes as dots (what "follow stream" shows)."""
    text = data.decode("utf-8", errors="replace")
    return "".join(c if c in PRINTABLE or ord(c) > 127 else "." for c in text)


def _hex_field(value: object) -> bytes:
    try:
        return bytes.fromhex(str(value).replace(":", ""))
    except ValueError:
        return b""


def _payload(packet: object) -> bytes:
    for layer_name in ("tcp", "udp"):
        layer = getattr(packet, layer_name, None)
        if layer is not None:
            value = layer.get_field_value("payload")
            if value:
                return _hex_field(value)
    data = getattr(packet, "data", None)
    if data is not None:
        return _hex_field(data.get_field_value("data") or "")
    return b""


def _layer(layer: object) -> PacketLayer:
    fields = []
    for name in layer.field_names:  # type: ignore[attr-defined]
        if not name or name.startswith("_ws") or name == "payload":
            continue
        value = layer.get_field_value(name)  # type: ignore[attr-defined]
        fields.append((name, str(value)[:200]))
        if len(fields) >= MAX_FIELDS:
            break
    return PacketLayer(str(layer.layer_name), tuple(fields))  # type: ignore[attr-defined]


def capture_files(paths: tuple[str, ...]) -> list[str]:
    """The capture files among the sources (rotating dumps in a folder count, oldest name first)."""
    files: list[str] = []
    for path in paths:
        p = Path(path)
        if p.is_file():
            files.append(str(p))
        elif p.is_dir():
            files += sorted(str(f) for f in p.iterdir() if f.is_file() and not f.name.startswith("."))
    return files


def read_flow_packets(
    flow: FlowEndpoints, paths: tuple[str, ...], tz: dt.tzinfo, *, live: bool = False
) -> FlowPackets:
    """The flow's packets from the capture files. Raises PacketsUnavailable with a reason."""
    if live:
        raise PacketsUnavailable(
            "This is a live capture: its packets are not kept in a file, so there is nothing to read again."
        )
    if shutil.which("tshark") is None:
        raise PacketsUnavailable(
            "tshark is not installed: install it (e.g. `apt install tshark`) to look at the packets."
        )
    files = capture_files(paths)
    if not files:
        raise PacketsUnavailable("The source is not a capture file: there is nothing to read again.")
    import pyshark  # imported here: it is slow to import and only the drill-down needs it

    wanted = display_filter(flow)
    loop = asyncio.new_event_loop()  # pyshark drives tshark through asyncio: this thread needs its own
    asyncio.set_event_loop(loop)
    packets: list[PacketInfo] = []
    truncated = False
    try:
        for path in files:
            before = len(packets)
            try:
                truncated = _read_file(path, wanted, loop, tz, packets)
            except pyshark.capture.capture.TSharkCrashException:
                # asyncio's child watcher sometimes loses tshark to another reaper in this process and
                # reports exit code 255 (seen under test load): read the file once more before giving up
                del packets[before:]
                truncated = _read_file(path, wanted, loop, tz, packets)
            if truncated:
                break
    except pyshark.tshark.tshark.TSharkNotFoundException:
        raise PacketsUnavailable("tshark is not installed: install it to look at the packets.") from None
    except Exception as err:  # tshark failing on a file: say so, never take the screen down
        raise PacketsUnavailable(f"tshark could not read the capture: {err}") from None
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    return FlowPackets(flow, wanted, tuple(packets), truncated)


def _read_file(
    path: str, wanted: str, loop: asyncio.AbstractEventLoop, tz: dt.tzinfo, packets: list[PacketInfo]
) -> bool:
    """Append the packets of one file; True when MAX_PACKETS was reached. The capture is closed (and
    dropped, so that its finaliser runs) while the event loop is still open."""
    import pyshark

    capture = pyshark.FileCapture(path, display_filter=wanted, eventloop=loop)
    try:
        for packet in capture:
            if len(packets) >= MAX_PACKETS:
                return True
            packets.append(_packet_info(packet, tz))
    finally:
        capture.close()
    return False


def _packet_info(packet: object, tz: dt.tzinfo) -> PacketInfo:
    p = packet
    ts = float(p.sniff_timestamp)  # type: ignore[attr-defined]
    when = dt.datetime.fromtimestamp(ts, tz=tz).strftime("%H:%M:%S.%f")[:-3]
    layers = tuple(_layer(layer) for layer in p.layers)  # type: ignore[attr-defined]
    top = layers[-1].name.upper() if layers else "?"
    src = dst = "?"
    for ip_layer in ("ip", "ipv6"):
        layer = getattr(p, ip_layer, None)
        if layer is not None:
            src, dst = str(layer.src), str(layer.dst)
    transport = getattr(p, "transport_layer", None)
    if transport:
        t = getattr(p, transport.lower())
        src, dst = f"{src}:{t.srcport}", f"{dst}:{t.dstport}"
    summary = f"{src} -> {dst} {top} {p.length} B"  # type: ignore[attr-defined]
    return PacketInfo(int(p.number), when, summary, layers, _payload(p))  # type: ignore[attr-defined]
