"""The TLS hellos: the ClientHello (server name, ALPN, JA3 and JA4 fingerprints) and the ServerHello.

The ClientHello is read from TLS record-layer bytes, where one handshake message may span several records,
or as a bare handshake message (QUIC carries it in CRYPTO frames, without records). The tuples on
`ClientHello` keep every value as sent, GREASE included, in order.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from engine.protocols._wire import Buffer, Reader, printable
from engine.protocols.errors import MalformedMessage
from engine.protocols.tls_codes import (
    CONTENT_HANDSHAKE,
    EXT_ALPN,
    EXT_EC_POINT_FORMATS,
    EXT_ECH,
    EXT_SERVER_NAME,
    EXT_SIGNATURE_ALGORITHMS,
    EXT_SUPPORTED_GROUPS,
    EXT_SUPPORTED_VERSIONS,
    HANDSHAKE_CLIENT_HELLO,
    HANDSHAKE_SERVER_HELLO,
    is_grease,
)
from engine.protocols.tls_fingerprints import Transport, ja3_fingerprint, ja3_string, ja4_fingerprint

__all__ = [
    "MAX_HELLO_LENGTH",
    "MAX_RECORD_LENGTH",
    "ClientHello",
    "ClientHelloBrief",
    "ServerHello",
    "first_handshake_message",
    "looks_like_tls_record",
    "parse_client_hello",
    "parse_client_hello_brief",
    "parse_client_hello_handshake",
    "parse_server_hello",
    "parse_server_hello_handshake",
    "starts_handshake",
]

# A plaintext record carries at most 2^14 bytes (RFC 8446 §5.1); some stacks overshoot a little.
MAX_RECORD_LENGTH: Final = 16384 + 2048
# Largest handshake message accepted, and the reassembly limit of the assemblers.
MAX_HELLO_LENGTH: Final = 65536

# ServerHello.random of a HelloRetryRequest: SHA-256("HelloRetryRequest") (RFC 8446 §4.1.3)
_HRR_RANDOM: Final = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")


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


def starts_handshake(data: Buffer, hs_type: int) -> bool:
    """The first bytes are a handshake record header, followed (when present) by a message of `hs_type`."""
    if len(data) < 5 or data[0] != CONTENT_HANDSHAKE or data[1] != 3 or data[2] > 4:
        return False
    length = (data[3] << 8) | data[4]
    return 0 < length <= MAX_RECORD_LENGTH and (len(data) < 6 or data[5] == hs_type)


def may_start_handshake(data: Buffer, hs_type: int) -> bool:
    """`starts_handshake` for a first segment that may hold only part of the record header (clients and
    middleboxes that split the ClientHello to evade filtering send as little as one byte)."""
    if len(data) >= 5:
        return starts_handshake(data, hs_type)
    return (
        len(data) > 0
        and data[0] == CONTENT_HANDSHAKE
        and (len(data) < 2 or data[1] == 3)
        and (len(data) < 3 or data[2] <= 4)
    )


def first_handshake_message(data: Buffer, hs_type: int) -> bytes | None:
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
    msg = first_handshake_message(data, HANDSHAKE_CLIENT_HELLO)
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
    ja3 = ja3_string(
        legacy_version,
        ciphers=ciphers,
        extensions=extensions,
        supported_groups=groups,
        ec_point_formats=point_formats,
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
        ja3_string=ja3,
        ja3=ja3_fingerprint(ja3),
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


def parse_server_hello(data: bytes) -> ServerHello:
    """Parse the ServerHello from TLS record-layer bytes (the first handshake message of the server)."""
    msg = first_handshake_message(data, HANDSHAKE_SERVER_HELLO)
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
