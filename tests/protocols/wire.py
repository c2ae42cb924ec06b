"""Small builders for crafting protocol messages byte by byte in tests."""

from __future__ import annotations

import struct


def dns_name(*labels: bytes | str, pointer: int | None = None) -> bytes:
    """Wire form of a name: length-prefixed labels, then a compression pointer or the root label."""
    out = b""
    for label in labels:
        raw = label.encode() if isinstance(label, str) else label
        out += bytes([len(raw)]) + raw
    return out + (struct.pack("!H", 0xC000 | pointer) if pointer is not None else b"\x00")


def dns_header(
    ident: int = 0x1234, flags: int = 0x8180, *, qd: int = 0, an: int = 0, ns: int = 0, ar: int = 0
) -> bytes:
    return struct.pack("!6H", ident, flags, qd, an, ns, ar)


def dns_question(name: bytes, qtype: int = 1, qclass: int = 1) -> bytes:
    return name + struct.pack("!HH", qtype, qclass)


def dns_rr(name: bytes, rtype: int, rdata: bytes, rclass: int = 1, ttl: int = 300) -> bytes:
    return name + struct.pack("!HHIH", rtype, rclass, ttl, len(rdata)) + rdata


def character_strings(*items: bytes) -> bytes:
    return b"".join(bytes([len(item)]) + item for item in items)


def dhcp_option(code: int, value: bytes) -> bytes:
    return bytes([code, len(value)]) + value


def dhcpv6_option(code: int, value: bytes) -> bytes:
    return struct.pack("!HH", code, len(value)) + value
