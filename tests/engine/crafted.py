"""Crafted capture files and frames, built byte by byte with struct, for reader and decoder tests.

Everything here is written from the format specifications (pcap, pcapng, Ethernet, IP, ...), not from the
engine's code, so that a test built with it checks the engine against the specification.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.analysis import Analysis, AnalysisSnapshot, run_capture
from engine.capture.records import RecordBatch, SourceStatus
from engine.capture.source import CaptureSet, open_capture
from engine.decode.decoder import decode
from engine.decode.packets import Packets
from engine.report import build_report

BASE_TS = 1_700_000_000  # 2023-11-14 22:13:20 UTC


# --- classic pcap --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rec:
    """One pcap record: packet bytes, timestamp (seconds and fraction units), original length."""

    data: bytes
    sec: int = BASE_TS
    frac: int = 0
    wirelen: int | None = None


def pcap_bytes(
    records: Iterable[Rec | bytes],
    *,
    linktype: int = 1,
    nsec: bool = False,
    big_endian: bool = False,
    snaplen: int = 65535,
) -> bytes:
    order = ">" if big_endian else "<"
    magic = 0xA1B23C4D if nsec else 0xA1B2C3D4
    out = [struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    for r in records:
        rec = r if isinstance(r, Rec) else Rec(r)
        wirelen = len(rec.data) if rec.wirelen is None else rec.wirelen
        out.append(struct.pack(order + "IIII", rec.sec, rec.frac, len(rec.data), wirelen))
        out.append(rec.data)
    return b"".join(out)


def write_pcap(
    path: Path,
    records: Iterable[Rec | bytes],
    *,
    linktype: int = 1,
    nsec: bool = False,
    big_endian: bool = False,
    snaplen: int = 65535,
) -> Path:
    path.write_bytes(
        pcap_bytes(records, linktype=linktype, nsec=nsec, big_endian=big_endian, snaplen=snaplen)
    )
    return path


# --- pcapng --------------------------------------------------------------------------------------


def _pad4(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def ng_option(code: int, value: bytes, *, big_endian: bool = False) -> bytes:
    order = ">" if big_endian else "<"
    return struct.pack(order + "HH", code, len(value)) + _pad4(value)


def ng_options(options: Sequence[tuple[int, bytes]], *, big_endian: bool = False) -> bytes:
    if not options:
        return b""
    body = b"".join(ng_option(c, v, big_endian=big_endian) for c, v in options)
    return body + ng_option(0, b"", big_endian=big_endian)


def ng_block(btype: int, body: bytes, *, big_endian: bool = False) -> bytes:
    order = ">" if big_endian else "<"
    body = _pad4(body)
    total = 12 + len(body)
    return struct.pack(order + "II", btype, total) + body + struct.pack(order + "I", total)


def shb(*, big_endian: bool = False) -> bytes:
    order = ">" if big_endian else "<"
    body = struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1)
    return ng_block(0x0A0D0D0A, body, big_endian=big_endian)


def idb(
    linktype: int,
    *,
    snaplen: int = 0,
    tsresol: int | None = None,
    tsoffset: int | None = None,
    big_endian: bool = False,
) -> bytes:
    order = ">" if big_endian else "<"
    options: list[tuple[int, bytes]] = []
    if tsresol is not None:
        options.append((9, bytes([tsresol])))
    if tsoffset is not None:
        options.append((14, struct.pack(order + "q", tsoffset)))
    body = struct.pack(order + "HHI", linktype, 0, snaplen) + ng_options(options, big_endian=big_endian)
    return ng_block(1, body, big_endian=big_endian)


def epb(
    iface: int, ticks: int, data: bytes, *, wirelen: int | None = None, big_endian: bool = False
) -> bytes:
    order = ">" if big_endian else "<"
    wl = len(data) if wirelen is None else wirelen
    head = struct.pack(order + "IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, len(data), wl)
    return ng_block(6, head + data, big_endian=big_endian)


def spb(data: bytes, *, wirelen: int | None = None, big_endian: bool = False) -> bytes:
    order = ">" if big_endian else "<"
    wl = len(data) if wirelen is None else wirelen
    return ng_block(3, struct.pack(order + "I", wl) + data, big_endian=big_endian)


def opb(
    iface: int, ticks: int, data: bytes, *, wirelen: int | None = None, big_endian: bool = False
) -> bytes:
    """Obsolete packet block (type 2): interface id and drops count are 16 bits each."""
    order = ">" if big_endian else "<"
    wl = len(data) if wirelen is None else wirelen
    head = struct.pack(order + "HHIIII", iface, 0, ticks >> 32, ticks & 0xFFFFFFFF, len(data), wl)
    return ng_block(2, head + data, big_endian=big_endian)


def isb(
    iface: int,
    ticks: int,
    *,
    received: int | None = None,
    dropped: int | None = None,
    os_dropped: int | None = None,
    big_endian: bool = False,
) -> bytes:
    order = ">" if big_endian else "<"
    options = []
    if received is not None:
        options.append((4, struct.pack(order + "Q", received)))
    if dropped is not None:
        options.append((5, struct.pack(order + "Q", dropped)))
    if os_dropped is not None:
        options.append((7, struct.pack(order + "Q", os_dropped)))
    body = struct.pack(order + "III", iface, ticks >> 32, ticks & 0xFFFFFFFF)
    return ng_block(5, body + ng_options(options, big_endian=big_endian), big_endian=big_endian)


# --- frames --------------------------------------------------------------------------------------


def mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def mac_int(text: str) -> int:
    return int(text.replace(":", ""), 16)


def ip4(text: str) -> bytes:
    return ipaddress.IPv4Address(text).packed


def ip6(text: str) -> bytes:
    return ipaddress.IPv6Address(text).packed


def v4_lo(text: str) -> int:
    """The low 64 bits of an IPv4 address in the decoder's IPv4-mapped form."""
    return 0x0000FFFF00000000 | int(ipaddress.IPv4Address(text))


def v6_halves(text: str) -> tuple[int, int]:
    value = int(ipaddress.IPv6Address(text))
    return value >> 64, value & 0xFFFFFFFFFFFFFFFF


ETH_DST = "00:11:22:33:44:55"
ETH_SRC = "66:77:88:99:aa:bb"


def ethernet(payload: bytes, ethertype: int = 0x0800, *, dst: str = ETH_DST, src: str = ETH_SRC) -> bytes:
    return mac(dst) + mac(src) + struct.pack(">H", ethertype) + payload


def sll(payload: bytes, protocol: int = 0x0800, *, src: str = ETH_SRC, packet_type: int = 0) -> bytes:
    """A Linux cooked capture (v1, link type 113) header: it names only the sender's link-layer address."""
    return struct.pack(">HHH", packet_type, 1, 6) + mac(src) + b"\0\0" + struct.pack(">H", protocol) + payload


def vlan_tag(vid: int, inner_ethertype: int, *, pcp: int = 0) -> bytes:
    return struct.pack(">HH", (pcp << 13) | vid, inner_ethertype)


def ipv4(
    payload: bytes,
    proto: int = 17,
    *,
    src: str = "192.168.1.10",
    dst: str = "93.184.216.34",
    ttl: int = 64,
    options: bytes = b"",
    flags_frag: int = 0,
    total_length: int | None = None,
    ihl: int | None = None,
    version: int = 4,
) -> bytes:
    options = _pad4(options)
    hl = 5 + len(options) // 4 if ihl is None else ihl
    total = 20 + len(options) + len(payload) if total_length is None else total_length
    head = struct.pack(
        ">BBHHHBBH4s4s", (version << 4) | hl, 0, total, 0x1234, flags_frag, ttl, proto, 0, ip4(src), ip4(dst)
    )
    return head + options + payload


def ipv6(
    payload: bytes,
    next_header: int = 17,
    *,
    src: str = "2001:db8::1",
    dst: str = "2001:db8::2",
    hop_limit: int = 64,
    payload_length: int | None = None,
) -> bytes:
    plen = len(payload) if payload_length is None else payload_length
    return struct.pack(">IHBB", 6 << 28, plen, next_header, hop_limit) + ip6(src) + ip6(dst) + payload


def ipv6_ext(next_header: int, body: bytes = b"\0" * 6) -> bytes:
    """A hop-by-hop, routing or destination-options header; `body` fills it to a multiple of 8 bytes."""
    size = 2 + len(body)
    assert size % 8 == 0, "an IPv6 extension header is a multiple of 8 bytes"
    return bytes([next_header, size // 8 - 1]) + body


def ipv6_fragment(next_header: int, offset_units: int, more: bool, ident: int = 7) -> bytes:
    return struct.pack(">BBHI", next_header, 0, (offset_units << 3) | int(more), ident)


def tcp(
    sport: int,
    dport: int,
    payload: bytes = b"",
    *,
    flags: int = 0x18,
    options: bytes = b"",
    data_offset: int | None = None,
    seq: int = 1000,
    ack: int = 2000,
) -> bytes:
    options = _pad4(options)
    off = 5 + len(options) // 4 if data_offset is None else data_offset
    head = struct.pack(">HHIIBBHHH", sport, dport, seq, ack, off << 4, flags, 65535, 0, 0)
    return head + options + payload


def udp(sport: int, dport: int, payload: bytes = b"", *, length: int | None = None) -> bytes:
    ln = 8 + len(payload) if length is None else length
    return struct.pack(">HHHH", sport, dport, ln, 0) + payload


def icmp(icmp_type: int, code: int = 0, body: bytes = b"\0\0\0\0") -> bytes:
    return struct.pack(">BBH", icmp_type, code, 0) + body


# --- reading and decoding ------------------------------------------------------------------------


def batch_of(
    frames: Sequence[bytes], linktype: int | Sequence[int] = 1, *, wirelen: Sequence[int] | None = None
) -> RecordBatch:
    """A record batch holding `frames` back to back (each preceded by 16 filler bytes), as a reader makes."""
    parts = []
    starts = []
    pos = 0
    for f in frames:
        parts.append(b"\xee" * 16 + f)
        starts.append(pos + 16)
        pos += 16 + len(f)
    n = len(frames)
    caplen = np.array([len(f) for f in frames], dtype=np.uint32)
    lts = [linktype] * n if isinstance(linktype, int) else list(linktype)
    return RecordBatch(
        data=b"".join(parts),
        starts=np.array(starts, dtype=np.int64),
        caplen=caplen,
        wirelen=caplen.copy() if wirelen is None else np.array(wirelen, dtype=np.uint32),
        ts=np.full(n, float(BASE_TS)),
        linktype=np.array(lts, dtype=np.uint16),
        interface=np.zeros(n, dtype=np.uint16),
    )


def decode_frames(
    frames: Sequence[bytes], linktype: int | Sequence[int] = 1, *, wirelen: Sequence[int] | None = None
) -> Packets:
    return decode(batch_of(frames, linktype, wirelen=wirelen))


def read_batches(path: Path | str, chunk_size: int | None = None) -> tuple[list[RecordBatch], SourceStatus]:
    cap = open_capture(str(path))
    batches = list(cap.batches(chunk_size))
    return batches, cap.status


def records_of(batches: Iterable[RecordBatch]) -> list[tuple[bytes, int, float, int, int]]:
    """Every record as (packet bytes, wire length, timestamp, link type, interface), in order."""
    out = []
    for b in batches:
        for i in range(len(b)):
            s = int(b.starts[i])
            out.append(
                (
                    b.data[s : s + int(b.caplen[i])],
                    int(b.wirelen[i]),
                    float(b.ts[i]),
                    int(b.linktype[i]),
                    int(b.interface[i]),
                )
            )
    return out


def report_for(paths: Sequence[Path | str]) -> dict[str, Any]:
    """The homescope.report/1 document for `paths`, made through the engine API."""
    capture = CaptureSet([str(p) for p in paths])
    analysis = Analysis()
    run_capture(capture, analysis)
    return build_report(analysis.snapshot(), capture.statuses)


def analyse_paths(
    paths: Sequence[Path | str], *, finish: bool = True, **options: Any
) -> tuple[AnalysisSnapshot, list[SourceStatus]]:
    """A full analysis of `paths` (Analysis keyword `options` such as timeouts or inspector), its snapshot and
    the sources' statuses. With `finish=False` the flows still open at the end stay active."""
    capture = CaptureSet([str(p) for p in paths])
    analysis = Analysis(**options)
    try:
        run_capture(capture, analysis, finish=finish)
        return analysis.snapshot(), capture.statuses
    finally:
        analysis.close()
