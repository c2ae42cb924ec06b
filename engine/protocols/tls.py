"""TLS handshake parsing: the ClientHello (server name, ALPN, JA3 and JA4 fingerprints) and the ServerHello.

The ClientHello is read from TLS record-layer bytes, where one handshake message may span several records,
or as a bare handshake message (QUIC carries it in CRYPTO frames, without records). `ClientHelloAssembler`
rebuilds it from the TCP segments of one flow direction: post-quantum key shares make browser ClientHellos
about 1.8 KB, more than one segment.

Fingerprints follow their published definitions: JA3 (Salesforce) as the MD5 of
`version,ciphers,extensions,groups,point_formats`, and JA4 (FoxIO, technical_details/JA4.md). Both leave out
GREASE values (RFC 8701). The tuples on `ClientHello` keep every value as sent, GREASE included, in order.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Final, Literal

from engine.protocols._wire import Buffer, Reader, StreamBuffer, printable
from engine.protocols.errors import MalformedMessage

CONTENT_HANDSHAKE: Final = 0x16
HANDSHAKE_CLIENT_HELLO: Final = 1
HANDSHAKE_SERVER_HELLO: Final = 2

EXT_SERVER_NAME: Final = 0x0000
EXT_SUPPORTED_GROUPS: Final = 0x000A
EXT_EC_POINT_FORMATS: Final = 0x000B
EXT_SIGNATURE_ALGORITHMS: Final = 0x000D
EXT_ALPN: Final = 0x0010
EXT_SUPPORTED_VERSIONS: Final = 0x002B
EXT_ECH: Final = 0xFE0D

# A plaintext record carries at most 2^14 bytes (RFC 8446 §5.1); some stacks overshoot a little.
MAX_RECORD_LENGTH: Final = 16384 + 2048
# Largest handshake message accepted, and the reassembly limit of the assemblers.
MAX_HELLO_LENGTH: Final = 65536

# ServerHello.random of a HelloRetryRequest: SHA-256("HelloRetryRequest") (RFC 8446 §4.1.3)
_HRR_RANDOM: Final = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")

Transport = Literal["t", "q", "d"]

_VERSION_NAMES: Final = {
    0x0002: "SSL 2.0",
    0x0300: "SSL 3.0",
    0x0301: "TLS 1.0",
    0x0302: "TLS 1.1",
    0x0303: "TLS 1.2",
    0x0304: "TLS 1.3",
    0xFEFF: "DTLS 1.0",
    0xFEFD: "DTLS 1.2",
    0xFEFC: "DTLS 1.3",
}
_JA4_VERSIONS: Final = {
    0x0002: "s2",
    0x0300: "s3",
    0x0301: "10",
    0x0302: "11",
    0x0303: "12",
    0x0304: "13",
    0xFEFF: "d1",
    0xFEFD: "d2",
    0xFEFC: "d3",
}


def is_grease(value: int) -> bool:
    """True for the 16 reserved GREASE code points of RFC 8701 (0x0a0a, 0x1a1a, ... 0xfafa)."""
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


def tls_version_name(version: int) -> str:
    """Display name of a protocol version code, such as "TLS 1.3"; hex for unknown codes."""
    return _VERSION_NAMES.get(version, f"0x{version:04x}")


@dataclass(frozen=True, slots=True)
class ClientHello:
    """What a ClientHello tells about its client and the server it wants. Lists keep GREASE values."""

    legacy_version: int
    supported_versions: tuple[int, ...]  # from the supported_versions extension, GREASE removed
    sni: str | None  # first host_name of server_name; with ECH this is the outer (public) name
    alpn: tuple[str, ...]
    cipher_suites: tuple[int, ...]
    extensions: tuple[int, ...]  # extension types in the order sent
    supported_groups: tuple[int, ...]
    ec_point_formats: tuple[int, ...]
    signature_algorithms: tuple[int, ...]
    ech: bool  # encrypted_client_hello (0xfe0d) present; real ECH and GREASE ECH look the same
    ja3_string: str
    ja3: str
    ja4: str

    @property
    def version(self) -> int:
        """Highest version offered: from supported_versions when present, else the legacy version."""
        return max(self.supported_versions) if self.supported_versions else self.legacy_version


@dataclass(frozen=True, slots=True)
class ServerHello:
    """The server's choices, which tell the negotiated TLS version of a flow."""

    legacy_version: int
    version: int  # selected version: supported_versions when present (TLS 1.3), else legacy_version
    cipher_suite: int
    alpn: str | None
    extensions: tuple[int, ...]
    hello_retry_request: bool


def looks_like_tls_record(payload: bytes) -> bool:
    """Quick check that a payload starts with a TLS record header (any content type, SSL 3.0 to TLS 1.3)."""
    if len(payload) < 5 or not 20 <= payload[0] <= 24 or payload[1] != 3 or payload[2] > 4:
        return False
    length = (payload[3] << 8) | payload[4]
    return 0 < length <= MAX_RECORD_LENGTH


def _starts_handshake(data: Buffer, hs_type: int) -> bool:
    """The first bytes are a handshake record header, followed (when present) by a message of `hs_type`."""
    if len(data) < 5 or data[0] != CONTENT_HANDSHAKE or data[1] != 3 or data[2] > 4:
        return False
    length = (data[3] << 8) | data[4]
    return 0 < length <= MAX_RECORD_LENGTH and (len(data) < 6 or data[5] == hs_type)


def _may_start_handshake(data: Buffer, hs_type: int) -> bool:
    """`_starts_handshake` for a first segment that may hold only part of the record header (clients and
    middleboxes that split the ClientHello to evade filtering send as little as one byte)."""
    if len(data) >= 5:
        return _starts_handshake(data, hs_type)
    return (
        len(data) > 0
        and data[0] == CONTENT_HANDSHAKE
        and (len(data) < 2 or data[1] == 3)
        and (len(data) < 3 or data[2] <= 4)
    )


def _first_handshake_message(data: Buffer, hs_type: int) -> bytes | None:
    """The first handshake message (header included) from the fragments of consecutive handshake records.

    Returns None when the data ends before the message does; raises MalformedMessage when the records or
    the message header are wrong.
    """
    pos = 0
    body = bytearray()
    need = -1
    size = len(data)
    while True:
        if size - pos < 5:
            return None
        ctype, major, minor = data[pos], data[pos + 1], data[pos + 2]
        length = (data[pos + 3] << 8) | data[pos + 4]
        if ctype != CONTENT_HANDSHAKE:
            raise MalformedMessage("not-handshake-record", f"record content type {ctype} at {pos}")
        if major != 3 or minor > 4:
            raise MalformedMessage("bad-record-version", f"record version {major}.{minor}")
        if length == 0 or length > MAX_RECORD_LENGTH:
            raise MalformedMessage("bad-record-length", f"record length {length}")
        fragment = data[pos + 5 : pos + 5 + length]
        body += fragment
        pos += 5 + length
        if need < 0 and len(body) >= 4:
            if body[0] != hs_type:
                raise MalformedMessage(
                    "unexpected-handshake-type", f"handshake type {body[0]}, not {hs_type}"
                )
            need = 4 + int.from_bytes(body[1:4], "big")
            if need > MAX_HELLO_LENGTH:
                raise MalformedMessage("too-large", f"handshake message of {need} bytes")
        if 0 <= need <= len(body):
            return bytes(body[:need])
        if len(fragment) < length:
            return None  # the data ends inside this record


def _message_body(msg: bytes, hs_type: int, name: str) -> Reader:
    head = Reader(msg, what=name)
    if head.u8() != hs_type:
        raise MalformedMessage("unexpected-handshake-type", f"handshake type {msg[0]}, not {hs_type}")
    return head.sub(head.u24(), name)


def parse_client_hello(data: bytes, transport: Transport = "t") -> ClientHello:
    """Parse the ClientHello from TLS record-layer bytes (starting with content type 0x16).

    The handshake message may span several records; bytes after it are ignored. `transport` is the first
    character of the JA4 fingerprint: "t" for TLS over TCP, "q" for QUIC, "d" for DTLS.
    """
    msg = _first_handshake_message(data, HANDSHAKE_CLIENT_HELLO)
    if msg is None:
        raise MalformedMessage("truncated", "the ClientHello continues past the end of the data")
    return parse_client_hello_handshake(msg, transport)


def parse_client_hello_handshake(msg: bytes, transport: Transport = "t") -> ClientHello:
    """Parse a bare ClientHello handshake message (type, 24-bit length, body), as QUIC carries it."""
    r = _message_body(msg, HANDSHAKE_CLIENT_HELLO, "ClientHello")
    legacy_version = r.u16()
    r.skip(32)  # random
    sid_len = r.u8()
    if sid_len > 32:
        raise MalformedMessage("bad-session-id", f"session id of {sid_len} bytes")
    r.skip(sid_len)
    ciphers = r.u16_list(r.u16())
    r.skip(r.u8())  # compression methods

    sni: str | None = None
    alpn_raw: tuple[bytes, ...] = ()
    versions: tuple[int, ...] = ()
    groups: tuple[int, ...] = ()
    point_formats: tuple[int, ...] = ()
    sig_algs: tuple[int, ...] = ()
    ext_types: list[int] = []
    if r.remaining:  # extensions are optional before TLS 1.2
        exts = r.sub(r.u16(), "ClientHello extensions")
        if r.remaining:
            raise MalformedMessage("trailing-bytes", f"{r.remaining} bytes after the ClientHello extensions")
        seen: set[int] = set()
        while exts.remaining:
            ext_type = exts.u16()
            ext = exts.sub(exts.u16(), f"extension 0x{ext_type:04x}")
            ext_types.append(ext_type)
            if ext_type in seen:
                continue  # a repeated extension is a protocol error; the first one counts
            seen.add(ext_type)
            if ext_type == EXT_SERVER_NAME:
                sni = _server_name(ext)
            elif ext_type == EXT_ALPN:
                alpn_raw = _alpn_list(ext)
            elif ext_type == EXT_SUPPORTED_GROUPS:
                groups = ext.u16_list(ext.u16())
            elif ext_type == EXT_EC_POINT_FORMATS:
                point_formats = tuple(ext.take(ext.u8()))
            elif ext_type == EXT_SIGNATURE_ALGORITHMS:
                sig_algs = ext.u16_list(ext.u16())
            elif ext_type == EXT_SUPPORTED_VERSIONS:
                versions = tuple(v for v in ext.u16_list(ext.u8()) if not is_grease(v))

    extensions = tuple(ext_types)
    ja3_string = ",".join(
        (
            str(legacy_version),
            "-".join(str(c) for c in ciphers if not is_grease(c)),
            "-".join(str(e) for e in extensions if not is_grease(e)),
            "-".join(str(g) for g in groups if not is_grease(g)),
            "-".join(str(f) for f in point_formats),
        )
    )
    version = max(versions) if versions else legacy_version
    return ClientHello(
        legacy_version=legacy_version,
        supported_versions=versions,
        sni=sni,
        alpn=tuple(printable(a) for a in alpn_raw),
        cipher_suites=ciphers,
        extensions=extensions,
        supported_groups=groups,
        ec_point_formats=point_formats,
        signature_algorithms=sig_algs,
        ech=EXT_ECH in extensions,
        ja3_string=ja3_string,
        ja3=hashlib.md5(ja3_string.encode(), usedforsecurity=False).hexdigest(),
        ja4=ja4_fingerprint(
            transport,
            version,
            ciphers=ciphers,
            extensions=extensions,
            signature_algorithms=sig_algs,
            first_alpn=alpn_raw[:1],
        ),
    )


def _server_name(ext: Reader) -> str | None:
    names = ext.sub(ext.u16(), "server_name list")
    while names.remaining:
        name_type = names.u8()
        name = names.take(names.u16())
        if name_type == 0:  # host_name
            return printable(name)
    return None


def _alpn_list(ext: Reader) -> tuple[bytes, ...]:
    protocols = ext.sub(ext.u16(), "ALPN list")
    out = []
    while protocols.remaining:
        out.append(protocols.take(protocols.u8()))
    return tuple(out)


def _is_alnum(byte: int) -> bool:
    return 0x30 <= byte <= 0x39 or 0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A


def _ja4_alpn(first: bytes) -> str:
    if not first:
        return "00"
    a, z = first[0], first[-1]
    if _is_alnum(a) and _is_alnum(z):
        return chr(a) + chr(z)
    hexed = first.hex()  # a non-alphanumeric end: first and last hex digits instead
    return hexed[0] + hexed[-1]


def _sha12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def ja4_fingerprint(
    transport: Transport,
    version: int,
    *,
    ciphers: tuple[int, ...],
    extensions: tuple[int, ...],
    signature_algorithms: tuple[int, ...],
    first_alpn: tuple[bytes, ...],
) -> str:
    """JA4 from ClientHello fields (GREASE still in; it is removed here). `first_alpn` is () or (first,)."""
    ciphers = tuple(c for c in ciphers if not is_grease(c))
    exts = tuple(e for e in extensions if not is_grease(e))
    sni = "d" if EXT_SERVER_NAME in exts else "i"
    alpn = _ja4_alpn(first_alpn[0]) if first_alpn else "00"
    part_a = (
        f"{transport}{_JA4_VERSIONS.get(version, '00')}{sni}"
        f"{min(len(ciphers), 99):02d}{min(len(exts), 99):02d}{alpn}"
    )
    part_b = _sha12(",".join(sorted(f"{c:04x}" for c in ciphers))) if ciphers else "000000000000"
    hashed_exts = sorted(f"{e:04x}" for e in exts if e not in (EXT_SERVER_NAME, EXT_ALPN))
    if hashed_exts:
        text = ",".join(hashed_exts)
        sigs = [f"{s:04x}" for s in signature_algorithms if not is_grease(s)]
        if sigs:
            text += "_" + ",".join(sigs)
        part_c = _sha12(text)
    else:
        part_c = "000000000000"
    return f"{part_a}_{part_b}_{part_c}"


def parse_server_hello(data: bytes) -> ServerHello:
    """Parse the ServerHello from TLS record-layer bytes (the first handshake message of the server)."""
    msg = _first_handshake_message(data, HANDSHAKE_SERVER_HELLO)
    if msg is None:
        raise MalformedMessage("truncated", "the ServerHello continues past the end of the data")
    return parse_server_hello_handshake(msg)


def parse_server_hello_handshake(msg: bytes) -> ServerHello:
    """Parse a bare ServerHello handshake message (type, 24-bit length, body)."""
    r = _message_body(msg, HANDSHAKE_SERVER_HELLO, "ServerHello")
    legacy_version = r.u16()
    random = r.take(32)
    sid_len = r.u8()
    if sid_len > 32:
        raise MalformedMessage("bad-session-id", f"session id of {sid_len} bytes")
    r.skip(sid_len)
    cipher = r.u16()
    r.skip(1)  # compression method
    version = legacy_version
    alpn: str | None = None
    ext_types: list[int] = []
    if r.remaining:
        exts = r.sub(r.u16(), "ServerHello extensions")
        while exts.remaining:
            ext_type = exts.u16()
            ext = exts.sub(exts.u16(), f"extension 0x{ext_type:04x}")
            ext_types.append(ext_type)
            if ext_type == EXT_SUPPORTED_VERSIONS:
                version = ext.u16()
            elif ext_type == EXT_ALPN:
                protocols = _alpn_list(ext)
                alpn = printable(protocols[0]) if protocols else None
    return ServerHello(
        legacy_version=legacy_version,
        version=version,
        cipher_suite=cipher,
        alpn=alpn,
        extensions=tuple(ext_types),
        hello_retry_request=random == _HRR_RANDOM,
    )


@dataclass(frozen=True, slots=True)
class ClientHelloBrief:
    """What the monitor needs from a ClientHello on the hot path: names and versions, no fingerprints."""

    sni: str | None
    alpn: tuple[str, ...]
    version: int  # the highest offered version (supported_versions without GREASE, else legacy)
    ech: bool


_U16 = struct.Struct("!H")


def parse_client_hello_brief(msg: bytes) -> ClientHelloBrief:
    """The server name, ALPN, version and ECH flag of a bare ClientHello handshake message.

    About ten times faster than `parse_client_hello_handshake`: it jumps over everything it does not
    need. It checks the same structure (lengths inside their containers) and raises MalformedMessage.
    """
    try:
        if len(msg) < 4 or msg[0] != HANDSHAKE_CLIENT_HELLO:
            raise MalformedMessage("not-client-hello")
        end = 4 + int.from_bytes(msg[1:4], "big")
        if end > len(msg):
            raise MalformedMessage("truncated", "the ClientHello continues past the end of the data")
        (legacy,) = _U16.unpack_from(msg, 4)
        pos = 4 + 2 + 32
        pos += 1 + msg[pos]  # session id
        pos += 2 + _U16.unpack_from(msg, pos)[0]  # cipher suites
        pos += 1 + msg[pos]  # compression methods
        sni: str | None = None
        alpn: tuple[str, ...] = ()
        versions: list[int] = []
        ech = False
        if pos < end:
            ext_end = pos + 2 + _U16.unpack_from(msg, pos)[0]
            if ext_end > end:
                raise MalformedMessage("truncated", "extensions run past the ClientHello")
            pos += 2
            while pos + 4 <= ext_end:
                ext_type, length = struct.unpack_from("!HH", msg, pos)
                body = pos + 4
                pos = body + length
                if pos > ext_end:
                    raise MalformedMessage("truncated", f"extension 0x{ext_type:04x} runs past the list")
                if ext_type == EXT_SERVER_NAME and sni is None and length >= 5 and msg[body + 2] == 0:
                    name_len = _U16.unpack_from(msg, body + 3)[0]
                    if body + 5 + name_len <= pos:
                        sni = printable(msg[body + 5 : body + 5 + name_len])
                elif ext_type == EXT_ALPN and not alpn and length >= 2:
                    items, i, stop = [], body + 2, min(pos, body + 2 + _U16.unpack_from(msg, body)[0])
                    while i < stop:
                        n = msg[i]
                        items.append(printable(msg[i + 1 : i + 1 + n]))
                        i += 1 + n
                    alpn = tuple(items)
                elif ext_type == EXT_SUPPORTED_VERSIONS and length >= 1:
                    count = msg[body] // 2
                    versions = [
                        v
                        for (v,) in (_U16.unpack_from(msg, body + 1 + 2 * k) for k in range(count))
                        if not is_grease(v)
                    ]
                elif ext_type == EXT_ECH:
                    ech = True
    except (IndexError, struct.error):
        raise MalformedMessage("truncated", "the ClientHello is cut short") from None
    return ClientHelloBrief(sni=sni, alpn=alpn, version=max(versions) if versions else legacy, ech=ech)


class ClientHelloAssembler:
    """Rebuilds the ClientHello from the client-to-server TCP payloads of one flow direction.

    Feed every payload-carrying segment with its TCP sequence number; `feed` returns the ClientHello once,
    when it is complete. Without `start_seq` the first segment fed must start the stream (and so the first
    TLS record): anything else fails at once, which keeps non-TLS flows cheap. With `start_seq` (the SYN's
    sequence number + 1) the segments may come in any order. Sequence numbers wrap at 2^32; duplicates and
    overlaps keep the first bytes seen. Gives up (`failed`, with a `reason`) on non-TLS data, a damaged
    ClientHello, more than `MAX_SEGMENTS` segments, or more than `MAX_BYTES` of stream.
    """

    MAX_SEGMENTS: Final = 32
    MAX_BYTES: Final = MAX_HELLO_LENGTH

    __slots__ = ("_brief", "_buffer", "_segments", "_start", "_transport", "brief", "client_hello", "reason")

    def __init__(
        self, start_seq: int | None = None, transport: Transport = "t", *, brief: bool = False
    ) -> None:
        self._start = None if start_seq is None else start_seq & 0xFFFFFFFF
        self._transport: Transport = transport
        self._brief = brief  # parse only names and versions (see parse_client_hello_brief)
        self.brief: ClientHelloBrief | None = None
        self._buffer: StreamBuffer | None = StreamBuffer(self.MAX_BYTES)
        self._segments = 0
        self.client_hello: ClientHello | None = None
        self.reason: str | None = None

    @property
    def done(self) -> bool:
        return self.client_hello is not None or self.brief is not None

    @property
    def failed(self) -> bool:
        return self.reason is not None

    def _fail(self, reason: str) -> None:
        self.reason = reason
        self._buffer = None

    def feed(self, seq: int, payload: bytes) -> ClientHello | None:
        """Add one segment; the ClientHello when this segment completes it, else None. Never raises."""
        buffer = self._buffer
        if buffer is None or not payload:
            return None
        self._segments += 1
        if self._segments > self.MAX_SEGMENTS:
            self._fail("too-many-segments")
            return None
        seq &= 0xFFFFFFFF
        if self._start is None:
            if not _may_start_handshake(payload, HANDSHAKE_CLIENT_HELLO):
                self._fail("not-client-hello")
                return None
            self._start = seq
        offset = (seq - self._start) & 0xFFFFFFFF
        if offset >= 0x80000000:  # starts before the stream: keep only what reaches into it
            before = 0x100000000 - offset
            if before >= len(payload):
                return None
            payload, offset = payload[before:], 0
        try:
            if not buffer.add(offset, payload):
                return None
            prefix = buffer.prefix
            if len(prefix) >= 5 and not _starts_handshake(prefix[:6], HANDSHAKE_CLIENT_HELLO):
                self._fail("not-client-hello")
                return None
            msg = _first_handshake_message(prefix, HANDSHAKE_CLIENT_HELLO)
            if msg is None:
                return None
            if self._brief:
                self.brief = parse_client_hello_brief(msg)
                self._buffer = None
                return None
            hello = parse_client_hello_handshake(msg, self._transport)
        except MalformedMessage as exc:
            self._fail(exc.reason)
            return None
        self.client_hello = hello
        self._buffer = None
        return hello
