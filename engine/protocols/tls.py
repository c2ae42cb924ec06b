"""TLS handshake parsing: the ClientHello (server name, ALPN, JA3 and JA4 fingerprints) and the ServerHello.

The public face of the TLS parsers: everything is importable from here, and each subject has its own module.

- `tls_hello`: the ClientHello and ServerHello, read from TLS record-layer bytes (one handshake message may
  span several records) or as bare handshake messages (QUIC carries them in CRYPTO frames), and the brief
  ClientHello the monitor reads on its hot path.
- `tls_assembler`: `ClientHelloAssembler` rebuilds the ClientHello from the TCP segments of one flow
  direction.
- `tls_fingerprints`: JA3 and JA4, as published, leaving out GREASE values.
- `tls_codes`: code points, version names and GREASE (RFC 8701).
"""

from __future__ import annotations

from engine.protocols.tls_assembler import ClientHelloAssembler
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
    tls_version_name,
)
from engine.protocols.tls_fingerprints import Transport, ja4_fingerprint
from engine.protocols.tls_hello import (
    MAX_HELLO_LENGTH,
    MAX_RECORD_LENGTH,
    ClientHello,
    ClientHelloBrief,
    ServerHello,
    looks_like_tls_record,
    parse_client_hello,
    parse_client_hello_brief,
    parse_client_hello_handshake,
    parse_server_hello,
    parse_server_hello_handshake,
)

__all__ = [
    "CONTENT_HANDSHAKE",
    "EXT_ALPN",
    "EXT_ECH",
    "EXT_EC_POINT_FORMATS",
    "EXT_SERVER_NAME",
    "EXT_SIGNATURE_ALGORITHMS",
    "EXT_SUPPORTED_GROUPS",
    "EXT_SUPPORTED_VERSIONS",
    "HANDSHAKE_CLIENT_HELLO",
    "HANDSHAKE_SERVER_HELLO",
    "MAX_HELLO_LENGTH",
    "MAX_RECORD_LENGTH",
    "ClientHello",
    "ClientHelloAssembler",
    "ClientHelloBrief",
    "ServerHello",
    "Transport",
    "is_grease",
    "ja4_fingerprint",
    "looks_like_tls_record",
    "parse_client_hello",
    "parse_client_hello_brief",
    "parse_client_hello_handshake",
    "parse_server_hello",
    "parse_server_hello_handshake",
    "tls_version_name",
]
