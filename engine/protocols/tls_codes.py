"""TLS code points the parsers and fingerprints share: the handshake record type, handshake and extension
types, protocol versions and their names, and GREASE (RFC 8701).
"""

from __future__ import annotations

from typing import Final

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
    "is_grease",
    "tls_version_name",
]

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


def is_grease(value: int) -> bool:
    """True for the 16 reserved GREASE code points of RFC 8701 (0x0a0a, 0x1a1a, ... 0xfafa)."""
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


def tls_version_name(version: int) -> str:
    """Display name of a protocol version code, such as "TLS 1.3"; hex for unknown codes."""
    return _VERSION_NAMES.get(version, f"0x{version:04x}")
