"""QUIC versions and long headers: version names, the packet types of each version's long-header layout,
and `parse_long_header` (RFC 8999, RFC 9000 §17.2, RFC 9369 §3.2).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from engine.protocols._wire import Reader
from engine.protocols.errors import MalformedMessage
from engine.protocols.gquic import GOOGLE_VERSION

__all__ = [
    "QUIC_V1",
    "QUIC_V2",
    "QUIC_V2_DRAFT",
    "VERSION_NEGOTIATION",
    "PacketType",
    "QuicLongHeader",
    "packet_types",
    "parse_long_header",
    "version_name",
]

QUIC_V1: Final = 0x00000001
QUIC_V2: Final = 0x6B3343CF
QUIC_V2_DRAFT: Final = 0x709A50C4  # provisional code point of draft-ietf-quic-v2
VERSION_NEGOTIATION: Final = 0x00000000


class PacketType(enum.Enum):
    INITIAL = "Initial"
    ZERO_RTT = "0-RTT"
    HANDSHAKE = "Handshake"
    RETRY = "Retry"
    VERSION_NEGOTIATION = "Version Negotiation"
    UNKNOWN = "unknown"  # a version whose long-header layout is not known


_V1_TYPES: Final = (PacketType.INITIAL, PacketType.ZERO_RTT, PacketType.HANDSHAKE, PacketType.RETRY)
# RFC 9369 §3.2: v2 rotates the type bits so v1-only middleboxes do not ossify on them
_V2_TYPES: Final = (PacketType.RETRY, PacketType.INITIAL, PacketType.ZERO_RTT, PacketType.HANDSHAKE)


def _is_draft(version: int) -> bool:
    return 0xFF000000 < version <= 0xFF0000FF


def _has_v1_layout(version: int) -> bool:
    # one length byte per connection id, token and Length fields: draft-22 onwards
    return version == QUIC_V1 or 0xFF000016 <= version <= 0xFF0000FF


def packet_types(version: int) -> tuple[PacketType, ...] | None:
    """Meaning of the two packet-type bits, for versions with the RFC 9000 long-header layout."""
    if version in (QUIC_V2, QUIC_V2_DRAFT):
        return _V2_TYPES
    if _has_v1_layout(version):
        return _V1_TYPES
    if GOOGLE_VERSION.fullmatch(version.to_bytes(4, "big")) and version >= 0x51303530:  # Q050, T050, T051
        return _V1_TYPES
    return None


def version_name(version: int) -> str:
    """Display name of a QUIC version: "QUICv1", "QUICv2", "draft-29", "Q046", "version negotiation"..."""
    if version == QUIC_V1:
        return "QUICv1"
    if version == QUIC_V2:
        return "QUICv2"
    if version == QUIC_V2_DRAFT:
        return "QUICv2-draft"
    if version == VERSION_NEGOTIATION:
        return "version negotiation"
    if _is_draft(version):
        return f"draft-{version & 0xFF}"
    raw = version.to_bytes(4, "big")
    if GOOGLE_VERSION.fullmatch(raw):
        return raw.decode("ascii")
    if (version & 0x0F0F0F0F) == 0x0A0A0A0A:
        return "reserved (greasing)"  # RFC 9000 §15: versions that force version negotiation
    if version >> 8 == 0xFACEB0:
        return f"mvfst-{version & 0xFF}"
    return f"0x{version:08x}"


@dataclass(frozen=True, slots=True)
class QuicLongHeader:
    """One long-header packet of a datagram. Offsets are absolute positions in the datagram."""

    version: int
    packet_type: PacketType
    first_byte: int  # as on the wire: its low bits are still header-protected
    dcid: bytes
    scid: bytes
    token: bytes  # Initial token, or the Retry token (without its integrity tag)
    length: int | None  # the Length field (packet number + protected payload); None when absent
    start: int
    pn_offset: int  # where the protected packet number starts
    end: int  # where this packet ends and the next coalesced packet may start
    supported_versions: tuple[int, ...] = ()  # Version Negotiation only


def parse_long_header(datagram: bytes, offset: int = 0) -> QuicLongHeader:
    """Parse the long header of the packet starting at `offset` in a UDP datagram.

    Versions with a known layout (v1, v2, IETF drafts, Google Q050/T05x) give the packet type, token and
    Length, so `end` finds the next coalesced packet. For other versions only the version-independent fields
    (RFC 8999) are read and the packet is taken to fill the datagram.
    """
    r = Reader(datagram, offset, what="QUIC long header")
    first = r.u8()
    if not first & 0x80:
        raise MalformedMessage("short-header", "not a long-header packet")
    version = r.u32()
    # before Q050, Google's long header is its own (Q046 packs both CID lengths in one byte)
    if 0x51303030 <= version < 0x51303530 and GOOGLE_VERSION.fullmatch(version.to_bytes(4, "big")):
        raise MalformedMessage("gquic-header", f"{version_name(version)} packet")
    types = packet_types(version)
    dcid_len = r.u8()
    if types is not None and dcid_len > 20:
        raise MalformedMessage("bad-connection-id", f"destination connection id of {dcid_len} bytes")
    dcid = r.take(dcid_len)
    scid_len = r.u8()
    if types is not None and scid_len > 20:
        raise MalformedMessage("bad-connection-id", f"source connection id of {scid_len} bytes")
    scid = r.take(scid_len)
    size = len(datagram)

    if version == VERSION_NEGOTIATION:
        count = r.remaining // 4
        versions = tuple(r.u32() for _ in range(count))
        vn = PacketType.VERSION_NEGOTIATION
        return QuicLongHeader(version, vn, first, dcid, scid, b"", None, offset, r.pos, size, versions)
    if types is None:
        return QuicLongHeader(version, PacketType.UNKNOWN, first, dcid, scid, b"", None, offset, r.pos, size)
    if not first & 0x40:
        raise MalformedMessage("fixed-bit-clear", "the fixed bit of a long header is 0")
    packet_type = types[(first >> 4) & 3]
    token = b""
    if packet_type is PacketType.RETRY:
        if r.remaining < 16:
            raise MalformedMessage("truncated", "Retry packet without its integrity tag")
        token = r.take(r.remaining - 16)
        return QuicLongHeader(version, packet_type, first, dcid, scid, token, None, offset, r.pos, size)
    if packet_type is PacketType.INITIAL:
        token = r.take(r.varint())
    length = r.varint()
    pn_offset = r.pos
    if length > size - pn_offset:
        raise MalformedMessage("truncated", f"packet Length {length}, {size - pn_offset} bytes left")
    return QuicLongHeader(
        version, packet_type, first, dcid, scid, token, length, offset, pn_offset, pn_offset + length
    )
