"""Application payloads pulled out of fixture captures, keyed by frame number (as tshark counts them)."""

from __future__ import annotations

from functools import cache

from engine.capture import CaptureSet
from engine.decode import decode
from tests.conftest import fixture_path

UDP = 17
TCP = 6


@cache
def _payloads(name: str, ports: frozenset[int], proto: int) -> dict[int, bytes]:
    found: dict[int, bytes] = {}
    frame = 0
    for batch in CaptureSet([fixture_path(name)]).batches():
        packets = decode(batch)
        for row in range(len(packets)):
            frame += 1
            if packets.ip_proto[row] != proto or packets.payload[row] < 0:
                continue
            if int(packets.sport[row]) in ports or int(packets.dport[row]) in ports:
                found[frame] = packets.payload_bytes(row)
    return found


def payloads(name: str, *ports: int, proto: int = UDP) -> dict[int, bytes]:
    """The payloads of `proto` packets to or from one of `ports`, by frame number."""
    return _payloads(name, frozenset(ports), proto)


def tcp_stream(name: str, sport: int, dport: int) -> bytes:
    """One direction of a TCP conversation, concatenated in capture order (the fixtures have no loss)."""
    frames = _tcp_rows(name)
    return b"".join(data for s, d, data in frames if s == sport and d == dport)


@cache
def _tcp_rows(name: str) -> list[tuple[int, int, bytes]]:
    rows: list[tuple[int, int, bytes]] = []
    for batch in CaptureSet([fixture_path(name)]).batches():
        packets = decode(batch)
        for row in range(len(packets)):
            if packets.ip_proto[row] == TCP and packets.payload[row] >= 0:
                rows.append((int(packets.sport[row]), int(packets.dport[row]), packets.payload_bytes(row)))
    return rows
