"""QUIC: client Initial packets, their frames, and ClientHello reassembly.

Client Initial packets are encrypted with keys anyone can derive from the client's first Destination
Connection ID (RFC 9001 §5.2; RFC 9369 §3.3 for QUIC v2), so the ClientHello inside, and its server name,
can be read passively. `QuicInitialAssembler` decrypts the Initial packets of one connection and rebuilds
the CRYPTO stream, which browsers split across packets and frames in any order.

The other QUIC subjects have their own modules: `quic_headers` (versions and long headers), `quic_crypto`
(Initial keys and packet protection) and `gquic` (Google QUIC, whose CHLO before Q050 is unencrypted). The
names that used to be defined here are still importable from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from engine.protocols._wire import Reader, StreamBuffer, printable
from engine.protocols.errors import MalformedMessage
from engine.protocols.gquic import GQuicHello, gquic_version, parse_gquic_chlo
from engine.protocols.quic_crypto import (
    DecryptedPacket,
    InitialKeys,
    decode_packet_number,
    decrypt_packet,
    initial_keys,
    initial_salt,
)
from engine.protocols.quic_headers import (
    QUIC_V1,
    QUIC_V2,
    QUIC_V2_DRAFT,
    VERSION_NEGOTIATION,
    PacketType,
    QuicLongHeader,
    packet_types,
    parse_long_header,
    version_name,
)
from engine.protocols.tls_hello import MAX_HELLO_LENGTH, ClientHello, parse_client_hello_handshake

__all__ = [
    "FRAME_ACK",
    "FRAME_ACK_ECN",
    "FRAME_CONNECTION_CLOSE",
    "FRAME_CONNECTION_CLOSE_APP",
    "FRAME_CRYPTO",
    "FRAME_PADDING",
    "FRAME_PING",
    "QUIC_V1",
    "QUIC_V2",
    "QUIC_V2_DRAFT",
    "VERSION_NEGOTIATION",
    "ConnectionClose",
    "DecryptedPacket",
    "GQuicHello",
    "InitialFrames",
    "InitialKeys",
    "PacketType",
    "QuicInitialAssembler",
    "QuicLongHeader",
    "decode_packet_number",
    "decrypt_packet",
    "gquic_version",
    "initial_keys",
    "is_quic_initial",
    "parse_gquic_chlo",
    "parse_initial_frames",
    "parse_long_header",
    "version_name",
]


def is_quic_initial(datagram: bytes) -> bool:
    """Quick check: the datagram starts with an Initial packet of a version whose Initials can be read."""
    if len(datagram) < 7 or datagram[0] & 0xC0 != 0xC0:
        return False
    version = int.from_bytes(datagram[1:5], "big")
    if initial_salt(version) is None:
        return False
    types = packet_types(version)
    return types is not None and types[(datagram[0] >> 4) & 3] is PacketType.INITIAL and datagram[5] <= 20


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
