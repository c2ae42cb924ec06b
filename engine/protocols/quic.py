"""QUIC: long headers, Initial packet decryption, Initial frames, ClientHello reassembly, and Google QUIC.

Client Initial packets are encrypted with keys anyone can derive from the client's first Destination
Connection ID (RFC 9001 §5.2; RFC 9369 §3.3 for QUIC v2), so the ClientHello inside, and its server name,
can be read passively. `QuicInitialAssembler` decrypts the Initial packets of one connection and rebuilds
the CRYPTO stream, which browsers split across packets and frames in any order.

Google QUIC (gQUIC, versions "Q0xx") before Q050 sends its client hello (CHLO) unencrypted; `parse_gquic_chlo`
reads its SNI and UAID tags. Q050 and the TLS-based T0xx versions encrypt it and are only recognised.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from engine.protocols._wire import Reader, StreamBuffer, printable
from engine.protocols.errors import MalformedMessage
from engine.protocols.tls import MAX_HELLO_LENGTH, ClientHello, parse_client_hello_handshake

QUIC_V1: Final = 0x00000001
QUIC_V2: Final = 0x6B3343CF
QUIC_V2_DRAFT: Final = 0x709A50C4  # provisional code point of draft-ietf-quic-v2
VERSION_NEGOTIATION: Final = 0x00000000

_SALT_V1: Final = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")
_SALT_V2: Final = bytes.fromhex("0dede3def700a6db819381be6e269dcbf9bd2ed9")
_SALT_DRAFT_29: Final = bytes.fromhex("afbfec289993d24c9e9786f19c6111e04390a899")  # drafts 29-32
_SALT_DRAFT_23: Final = bytes.fromhex("c3eef712c72ebb5a11a7d2432bb46365bef9f502")  # drafts 23-28


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

_GOOGLE_VERSION: Final = re.compile(rb"[QT]0[0-9][0-9]")


def _is_draft(version: int) -> bool:
    return 0xFF000000 < version <= 0xFF0000FF


def _has_v1_layout(version: int) -> bool:
    # one length byte per connection id, token and Length fields: draft-22 onwards
    return version == QUIC_V1 or 0xFF000016 <= version <= 0xFF0000FF


def _types_for(version: int) -> tuple[PacketType, ...] | None:
    """Meaning of the two packet-type bits, for versions with the RFC 9000 long-header layout."""
    if version in (QUIC_V2, QUIC_V2_DRAFT):
        return _V2_TYPES
    if _has_v1_layout(version):
        return _V1_TYPES
    if _GOOGLE_VERSION.fullmatch(version.to_bytes(4, "big")) and version >= 0x51303530:  # Q050, T050, T051
        return _V1_TYPES
    return None


def _salt_for(version: int) -> bytes | None:
    if version == QUIC_V1:
        return _SALT_V1
    if version in (QUIC_V2, QUIC_V2_DRAFT):
        return _SALT_V2
    if 0xFF00001D <= version <= 0xFF000020:
        return _SALT_DRAFT_29
    if 0xFF000017 <= version <= 0xFF00001C:
        return _SALT_DRAFT_23
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
    if _GOOGLE_VERSION.fullmatch(raw):
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
    if 0x51303030 <= version < 0x51303530 and _GOOGLE_VERSION.fullmatch(version.to_bytes(4, "big")):
        raise MalformedMessage("gquic-header", f"{version_name(version)} packet")
    types = _types_for(version)
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


def is_quic_initial(datagram: bytes) -> bool:
    """Quick check: the datagram starts with an Initial packet of a version whose Initials can be read."""
    if len(datagram) < 7 or datagram[0] & 0xC0 != 0xC0:
        return False
    version = int.from_bytes(datagram[1:5], "big")
    if _salt_for(version) is None:
        return False
    types = _types_for(version)
    return types is not None and types[(datagram[0] >> 4) & 3] is PacketType.INITIAL and datagram[5] <= 20


# --- Initial keys and packet protection (RFC 9001 §5) ---


@dataclass(frozen=True, slots=True)
class InitialKeys:
    """Initial packet protection of one direction: the traffic secret and the key, IV and HP key from it."""

    secret: bytes
    key: bytes
    iv: bytes
    hp: bytes


def _hkdf_expand_label(secret: bytes, label: bytes, length: int) -> bytes:
    """TLS 1.3 HKDF-Expand-Label with an empty context; one SHA-256 block covers every length used here."""
    full = b"tls13 " + label
    info = length.to_bytes(2, "big") + bytes([len(full)]) + full + b"\x00"
    return hmac.digest(secret, info + b"\x01", hashlib.sha256)[:length]


def initial_keys(version: int, dcid: bytes, *, server: bool = False) -> InitialKeys:
    """Keys protecting Initial packets of `version`, from the client's first Destination Connection ID."""
    salt = _salt_for(version)
    if salt is None:
        raise MalformedMessage("unsupported-version", f"no Initial salt for {version_name(version)}")
    initial_secret = hmac.digest(salt, dcid, hashlib.sha256)  # HKDF-Extract
    secret = _hkdf_expand_label(initial_secret, b"server in" if server else b"client in", 32)
    prefix = b"quicv2 " if version in (QUIC_V2, QUIC_V2_DRAFT) else b"quic "
    return InitialKeys(
        secret=secret,
        key=_hkdf_expand_label(secret, prefix + b"key", 16),
        iv=_hkdf_expand_label(secret, prefix + b"iv", 12),
        hp=_hkdf_expand_label(secret, prefix + b"hp", 16),
    )


def decode_packet_number(largest: int, truncated: int, nbits: int) -> int:
    """The full packet number closest to `largest` + 1 that ends in `truncated` (RFC 9000 Appendix A.3)."""
    expected = largest + 1
    win = 1 << nbits
    hwin = win // 2
    candidate = (expected & ~(win - 1)) | truncated
    if candidate <= expected - hwin and candidate < (1 << 62) - win:
        return candidate + win
    if candidate > expected + hwin and candidate >= win:
        return candidate - win
    return candidate


@dataclass(frozen=True, slots=True)
class DecryptedPacket:
    header: QuicLongHeader
    packet_number: int
    plain_header: bytes  # the header with protection removed: the AEAD's associated data
    payload: bytes  # the decrypted frames


def decrypt_packet(
    datagram: bytes, header: QuicLongHeader, keys: InitialKeys, largest_pn: int = -1
) -> DecryptedPacket:
    """Remove header protection and decrypt one long-header packet (AES-128-GCM, as Initials use).

    `largest_pn` is the largest packet number decrypted so far in this packet-number space (-1: none).
    Raises `decrypt-failed` when the authentication tag does not match: wrong keys or damaged bytes.
    """
    if header.length is None:
        raise MalformedMessage("no-length", f"{header.packet_type.value} packet has no Length field")
    pn_offset = header.pn_offset
    sample_at = pn_offset + 4  # sampled as if the packet number were 4 bytes long
    if sample_at + 16 > header.end:
        raise MalformedMessage("truncated", "packet too short to sample for header protection")
    encryptor = Cipher(algorithms.AES(keys.hp), modes.ECB()).encryptor()
    mask = encryptor.update(datagram[sample_at : sample_at + 16])
    first = header.first_byte ^ (mask[0] & 0x0F)
    pn_len = (first & 0x03) + 1
    truncated_pn = int.from_bytes(datagram[pn_offset : pn_offset + pn_len], "big") ^ int.from_bytes(
        mask[1 : 1 + pn_len], "big"
    )
    packet_number = decode_packet_number(largest_pn, truncated_pn, 8 * pn_len)
    plain_header = (
        bytes([first]) + datagram[header.start + 1 : pn_offset] + truncated_pn.to_bytes(pn_len, "big")
    )
    nonce = (int.from_bytes(keys.iv, "big") ^ packet_number).to_bytes(12, "big")
    ciphertext = datagram[pn_offset + pn_len : header.end]
    try:
        payload = AESGCM(keys.key).decrypt(nonce, ciphertext, plain_header)
    except (InvalidTag, ValueError) as exc:
        raise MalformedMessage("decrypt-failed", f"packet {packet_number}: {type(exc).__name__}") from None
    return DecryptedPacket(header, packet_number, plain_header, payload)


# --- Frames of Initial packets (RFC 9000 §12.4: only these five may appear) ---

FRAME_PADDING: Final = 0x00
FRAME_PING: Final = 0x01
FRAME_ACK: Final = 0x02
FRAME_ACK_ECN: Final = 0x03
FRAME_CRYPTO: Final = 0x06
FRAME_CONNECTION_CLOSE: Final = 0x1C
FRAME_CONNECTION_CLOSE_APP: Final = 0x1D

_NOT_PADDING: Final = re.compile(rb"[^\x00]")


@dataclass(frozen=True, slots=True)
class ConnectionClose:
    error_code: int
    frame_type: int | None  # the frame that caused a transport error; None for application closes
    reason: str
    application: bool


@dataclass(frozen=True, slots=True)
class InitialFrames:
    crypto: tuple[tuple[int, bytes], ...]  # (offset, data) of each CRYPTO frame, in packet order
    ping: bool
    ack: bool
    connection_close: ConnectionClose | None
    stopped_at: int | None  # type of a frame that may not appear here, where reading stopped


def parse_initial_frames(payload: bytes) -> InitialFrames:
    """Read the frames of a decrypted Initial (or Handshake) packet, stopping at any other frame type."""
    r = Reader(payload, what="QUIC frames")
    crypto: list[tuple[int, bytes]] = []
    ping = ack = False
    close: ConnectionClose | None = None
    stopped_at: int | None = None
    while r.remaining:
        frame_type = r.varint()
        if frame_type == FRAME_PADDING:
            found = _NOT_PADDING.search(payload, r.pos, r.end)
            r.pos = found.start() if found else r.end
        elif frame_type == FRAME_PING:
            ping = True
        elif frame_type in (FRAME_ACK, FRAME_ACK_ECN):
            ack = True
            r.varint()  # largest acknowledged
            r.varint()  # ack delay
            ranges = r.varint()
            r.varint()  # first range
            if ranges > r.remaining // 2:  # each further range is at least 2 bytes
                raise MalformedMessage("truncated", f"ACK with {ranges} ranges in {r.remaining} bytes")
            for _ in range(ranges):
                r.varint()  # gap
                r.varint()  # range length
            if frame_type == FRAME_ACK_ECN:
                r.varint()  # ECT(0)
                r.varint()  # ECT(1)
                r.varint()  # ECN-CE
        elif frame_type == FRAME_CRYPTO:
            offset = r.varint()
            crypto.append((offset, r.take(r.varint())))
        elif frame_type in (FRAME_CONNECTION_CLOSE, FRAME_CONNECTION_CLOSE_APP):
            code = r.varint()
            cause = r.varint() if frame_type == FRAME_CONNECTION_CLOSE else None
            reason = printable(r.take(r.varint()))
            close = ConnectionClose(code, cause, reason, frame_type == FRAME_CONNECTION_CLOSE_APP)
        else:
            stopped_at = frame_type
            break
    return InitialFrames(tuple(crypto), ping, ack, close, stopped_at)


class QuicInitialAssembler:
    """Rebuilds the ClientHello from the client Initial packets of one QUIC connection.

    Feed the client-to-server datagrams of the connection (the caller keys connections); `feed` returns the
    ClientHello once, when the CRYPTO stream holds all of it. Keys come from the Destination Connection ID of
    the first client Initial seen; after a Retry the client's new DCID is tried too. Fails (`failed`, with a
    `reason`) when the first datagram holds no decryptable Initial, the ClientHello is damaged, the CRYPTO
    data would pass `MAX_CRYPTO_BYTES`, or more than `MAX_PACKETS` Initial packets (`MAX_DATAGRAMS`
    datagrams) were needed.
    """

    MAX_CRYPTO_BYTES: Final = MAX_HELLO_LENGTH
    MAX_PACKETS: Final = 16
    MAX_DATAGRAMS: Final = 64

    __slots__ = (
        "_buffer",
        "_datagrams",
        "_decrypted",
        "_keys",
        "_largest_pn",
        "_packets",
        "client_hello",
        "dcid",
        "reason",
        "version",
    )

    def __init__(self) -> None:
        self._buffer: StreamBuffer | None = StreamBuffer(self.MAX_CRYPTO_BYTES)
        self._keys: InitialKeys | None = None
        self._largest_pn = -1
        self._packets = 0
        self._datagrams = 0
        self._decrypted = 0
        self.version: int | None = None
        self.dcid: bytes | None = None  # the DCID the keys came from
        self.client_hello: ClientHello | None = None
        self.reason: str | None = None

    @property
    def done(self) -> bool:
        return self.client_hello is not None

    @property
    def failed(self) -> bool:
        return self.reason is not None

    def _fail(self, reason: str) -> None:
        self.reason = reason
        self._buffer = None

    def feed(self, datagram: bytes) -> ClientHello | None:
        """Add one client datagram; the ClientHello when this one completes it, else None. Never raises."""
        if self._buffer is None:
            return None
        self._datagrams += 1
        if self._datagrams > self.MAX_DATAGRAMS:
            self._fail("too-many-datagrams")
            return None
        try:
            return self._feed(datagram)
        except MalformedMessage as exc:
            self._fail(exc.reason)
            return None

    def _feed(self, datagram: bytes) -> ClientHello | None:
        offset = 0
        initials = 0
        while offset < len(datagram) and datagram[offset] & 0x80:
            try:
                header = parse_long_header(datagram, offset)
            except MalformedMessage:
                if self._decrypted == 0 and offset == 0:
                    raise
                break  # a damaged packet later in a datagram, or trailing bytes: keep what was read
            if header.length is None:
                break
            offset = header.end
            if header.packet_type is not PacketType.INITIAL:
                continue
            initials += 1
            hello = self._initial(datagram, header)
            if hello is not None or self._buffer is None:
                return hello
        if initials == 0 and self._decrypted == 0:
            self._fail("no-initial")
        return None

    def _initial(self, datagram: bytes, header: QuicLongHeader) -> ClientHello | None:
        self._packets += 1
        if self._packets > self.MAX_PACKETS:
            self._fail("too-many-packets")
            return None
        if self._keys is None:
            self._keys = initial_keys(header.version, header.dcid)
            self.version, self.dcid = header.version, header.dcid
        elif header.version != self.version:
            return None  # a packet of another version: not this connection's
        try:
            packet = decrypt_packet(datagram, header, self._keys, self._largest_pn)
        except MalformedMessage:
            if self._decrypted == 0:
                raise  # fail fast: not QUIC, or not the start of the connection
            if header.dcid == self.dcid:
                return None  # one damaged packet of a connection that already decrypted: skip it
            # after a Retry the client derives new Initial keys from the DCID it was given
            retry_keys = initial_keys(header.version, header.dcid)
            try:
                packet = decrypt_packet(datagram, header, retry_keys, -1)
            except MalformedMessage:
                return None
            self._keys, self.dcid = retry_keys, header.dcid
        self._decrypted += 1
        self._largest_pn = max(self._largest_pn, packet.packet_number)
        frames = parse_initial_frames(packet.payload)
        buffer = self._buffer
        if buffer is None:
            return None
        for crypto_offset, data in frames.crypto:
            buffer.add(crypto_offset, data)
        prefix = buffer.prefix
        if len(prefix) < 4:
            return None
        if prefix[0] != 1:
            raise MalformedMessage(
                "not-client-hello", f"CRYPTO stream starts with handshake type {prefix[0]}"
            )
        need = 4 + int.from_bytes(prefix[1:4], "big")
        if need > self.MAX_CRYPTO_BYTES:
            raise MalformedMessage("too-large", f"ClientHello of {need} bytes")
        if len(prefix) < need:
            return None
        hello = parse_client_hello_handshake(bytes(prefix[:need]), "q")
        self.client_hello = hello
        self._buffer = None
        return hello


# --- Google QUIC ---


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
        if not _GOOGLE_VERSION.fullmatch(raw):
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
    if not _GOOGLE_VERSION.fullmatch(raw):
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
