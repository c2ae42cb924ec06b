"""Google QUIC (gQUIC): its versions ("Q0xx", "T0xx") and the unencrypted client hello (CHLO).

gQUIC before Q050 sends its client hello unencrypted; `parse_gquic_chlo` reads its SNI and UAID tags. Q050
and the TLS-based T0xx versions encrypt it and are only recognised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from engine.protocols._wire import Reader, printable
from engine.protocols.errors import MalformedMessage

__all__ = ["GOOGLE_VERSION", "GQuicHello", "gquic_version", "parse_gquic_chlo"]

# The four version bytes of a Google QUIC version
GOOGLE_VERSION: Final = re.compile(rb"[QT]0[0-9][0-9]")


@dataclass(frozen=True, slots=True)
class GQuicHello:
    """The unencrypted client hello (CHLO) of Google QUIC."""

    version: str
    sni: str | None
    uaid: str | None  # the client's user-agent id
    tags: tuple[str, ...]  # tag names in order


def _gquic_layout(payload: bytes) -> tuple[str, int] | None:
    """The version and the header length of a gQUIC packet that carries its version, or None."""
    if len(payload) < 6:
        return None
    first = payload[0]
    if first & 0x80:
        # Q046 and later: a long header with the IETF invariants (Q046 packs both CID lengths in one byte)
        raw = payload[1:5]
        if not GOOGLE_VERSION.fullmatch(raw):
            return None
        lengths = payload[5]
        dcil, scil = lengths >> 4, lengths & 0x0F
        size = 6 + (dcil + 3 if dcil else 0) + (scil + 3 if scil else 0) + (first & 0x03) + 1
        return raw.decode("ascii"), size
    # Q043 and earlier: public flags (0x01 version, 0x02 reset, 0x08 8-byte CID, 0x30 packet number size)
    if not first & 0x01 or first & 0x82:
        return None
    at = 9 if first & 0x08 else 1
    raw = payload[at : at + 4]
    if not GOOGLE_VERSION.fullmatch(raw):
        return None
    pn_size = (1, 2, 4, 6)[(first >> 4) & 0x03]
    return raw.decode("ascii"), at + 4 + pn_size


def gquic_version(payload: bytes) -> str | None:
    """The version ("Q043", "Q046", "Q050", "T051"...) of a Google QUIC packet that carries one, else None."""
    layout = _gquic_layout(payload)
    return layout[0] if layout else None


# Between the header and the CHLO: message hash (12), private flags (< Q034), STREAM frame header (≤ 15)
_CHLO_SEARCH_WINDOW: Final = 48
_MAX_TAGS: Final = 128


def parse_gquic_chlo(payload: bytes) -> GQuicHello:
    """Read the SNI and UAID tags of an unencrypted gQUIC client hello (Q043/Q046 and older).

    The CHLO is found in the STREAM frame that follows the header; its tag table is then checked in full.
    """
    layout = _gquic_layout(payload)
    if layout is None:
        raise MalformedMessage("not-gquic", "no Google QUIC version in the header")
    version, header_len = layout
    if version[0] == "T" or version >= "Q050":
        raise MalformedMessage("encrypted", f"{version} encrypts its client hello")
    at = payload.find(b"CHLO", header_len, header_len + _CHLO_SEARCH_WINDOW + 4)
    if at < 0:
        raise MalformedMessage("no-chlo", f"{version} packet without a client hello")
    r = Reader(payload, at + 4, what="gQUIC CHLO")
    count = int.from_bytes(r.take(2), "little")
    r.skip(2)  # padding
    if count > _MAX_TAGS:
        raise MalformedMessage("too-many-tags", f"{count} tags")
    entries = [(r.take(4), int.from_bytes(r.take(4), "little")) for _ in range(count)]
    values_at = r.pos
    previous = 0
    values: dict[bytes, bytes] = {}
    for tag, end in entries:
        if end < previous:
            raise MalformedMessage("bad-tag-offset", f"tag {tag!r} ends at {end}, before {previous}")
        if values_at + end > len(payload):
            raise MalformedMessage("truncated", f"tag {tag!r} value runs past the packet")
        values.setdefault(tag, payload[values_at + previous : values_at + end])
        previous = end
    sni = values.get(b"SNI\x00")
    uaid = values.get(b"UAID")
    return GQuicHello(
        version=version,
        sni=printable(sni) if sni else None,
        uaid=printable(uaid) if uaid else None,
        tags=tuple(printable(tag.rstrip(b"\x00")) for tag, _ in entries),
    )
