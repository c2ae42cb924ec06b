"""A crafted capture over three days: one UDP packet from a home device to the internet in the middle of
every hour, hour h (counted from MIDNIGHT) carrying h + 1 payload bytes, each its own flow."""

from __future__ import annotations

from pathlib import Path

from tests.engine.crafted import Rec, ethernet, ipv4, udp, write_pcap

MIDNIGHT = 1_709_510_400  # 2024-03-04 00:00 UTC
HOURS = 72
HEADERS = 14 + 20 + 8  # Ethernet, IPv4, UDP


def packet_time(hour: int) -> int:
    return MIDNIGHT + hour * 3600 + 1800


def wire_bytes(hour: int) -> int:
    return HEADERS + hour + 1


def write_days(path: Path, *, src: str = "192.168.1.10", hours: int = HOURS) -> Path:
    records = [
        Rec(ethernet(ipv4(udp(5000 + h, 443, bytes(h + 1)), src=src)), sec=packet_time(h))
        for h in range(hours)
    ]
    return write_pcap(path, records)
