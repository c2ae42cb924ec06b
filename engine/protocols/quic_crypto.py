"""QUIC Initial packet protection (RFC 9001 §5; RFC 9369 §3.3 for QUIC v2): the Initial secrets and keys
derived from the client's first Destination Connection ID with HKDF-Expand-Label, header protection, packet
decryption and packet numbers.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from engine.protocols.errors import MalformedMessage
from engine.protocols.quic_headers import QUIC_V1, QUIC_V2, QUIC_V2_DRAFT, QuicLongHeader, version_name

__all__ = [
    "DecryptedPacket",
    "InitialKeys",
    "decode_packet_number",
    "decrypt_packet",
    "initial_keys",
    "initial_salt",
]

_SALT_V1: Final = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")
_SALT_V2: Final = bytes.fromhex("0dede3def700a6db819381be6e269dcbf9bd2ed9")
_SALT_DRAFT_29: Final = bytes.fromhex("afbfec289993d24c9e9786f19c6111e04390a899")  # drafts 29-32
_SALT_DRAFT_23: Final = bytes.fromhex("c3eef712c72ebb5a11a7d2432bb46365bef9f502")  # drafts 23-28


def initial_salt(version: int) -> bytes | None:
    """The salt of the Initial secret of `version`; None for a version whose Initials cannot be read."""
    if version == QUIC_V1:
        return _SALT_V1
    if version in (QUIC_V2, QUIC_V2_DRAFT):
        return _SALT_V2
    if 0xFF00001D <= version <= 0xFF000020:
        return _SALT_DRAFT_29
    if 0xFF000017 <= version <= 0xFF00001C:
        return _SALT_DRAFT_23
    return None


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
    salt = initial_salt(version)
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
