"""Test helpers: payloads of real captures, and byte builders for ClientHellos and protected QUIC Initials."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cache

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from engine.capture import CaptureSet
from engine.decode import decode
from engine.protocols.quic import initial_keys
from tests.conftest import fixture_path


@dataclass(frozen=True, slots=True)
class Segment:
    frame: int  # 1-based, as tshark numbers frames
    ip_proto: int
    sport: int
    dport: int
    seq: int  # TCP sequence number, 0 for UDP
    payload: bytes


@cache
def capture_payloads(name: str) -> tuple[Segment, ...]:
    """Every packet with an application payload in a fixture capture."""
    out = []
    frame = 0
    for batch in CaptureSet([str(fixture_path(name))]).batches():
        p = decode(batch)
        for row in range(len(p)):
            frame += 1
            payload = p.payload_bytes(row)
            if not payload:
                continue
            proto = int(p.ip_proto[row])
            seq = 0
            if proto == 6:
                at = int(p.l4[row]) + 4
                seq = int.from_bytes(p.data[at : at + 4], "big")
            out.append(Segment(frame, proto, int(p.sport[row]), int(p.dport[row]), seq, payload))
    return tuple(out)


def frame_payload(name: str, frame: int) -> Segment:
    for seg in capture_payloads(name):
        if seg.frame == frame:
            return seg
    raise LookupError(f"{name} has no payload in frame {frame}")


# --- TLS ---


def ext(ext_type: int, body: bytes) -> bytes:
    return struct.pack(">HH", ext_type, len(body)) + body


def u16_list(values: list[int] | tuple[int, ...], length_bytes: int = 2) -> bytes:
    body = b"".join(struct.pack(">H", v) for v in values)
    return len(body).to_bytes(length_bytes, "big") + body


def sni_ext(name: bytes) -> bytes:
    entry = b"\x00" + struct.pack(">H", len(name)) + name
    return ext(0x0000, struct.pack(">H", len(entry)) + entry)


def alpn_ext(*protocols: bytes) -> bytes:
    body = b"".join(bytes([len(p)]) + p for p in protocols)
    return ext(0x0010, struct.pack(">H", len(body)) + body)


def client_hello_message(
    ciphers: tuple[int, ...] = (0x1301, 0x1302, 0xC02B),
    extensions: tuple[bytes, ...] | None = (),
    legacy_version: int = 0x0303,
    session_id: bytes = bytes(32),
    padding: int = 0,
) -> bytes:
    """A ClientHello handshake message (header included); `padding` adds a padding extension of that size.

    `extensions=None` leaves the extensions block out, as TLS 1.0 clients may.
    """
    exts = b"".join(extensions or ())
    if padding:
        exts += ext(0x0015, bytes(padding))
    body = (
        struct.pack(">H", legacy_version)
        + bytes(range(32))
        + bytes([len(session_id)])
        + session_id
        + u16_list(ciphers)
        + b"\x01\x00"
        + (b"" if extensions is None else struct.pack(">H", len(exts)) + exts)
    )
    return b"\x01" + len(body).to_bytes(3, "big") + body


def records(message: bytes, sizes: tuple[int, ...] = ()) -> bytes:
    """`message` in TLS handshake records whose fragments have the given sizes (the rest in one record)."""
    out = bytearray()
    pos = 0
    for size in (*sizes, len(message)):
        chunk = message[pos : pos + size]
        if not chunk:
            break
        out += b"\x16\x03\x01" + struct.pack(">H", len(chunk)) + chunk
        pos += len(chunk)
    return bytes(out)


# --- QUIC ---


def varint(value: int) -> bytes:
    if value < 0x40:
        return bytes([value])
    if value < 0x4000:
        return struct.pack(">H", value | 0x4000)
    if value < 0x40000000:
        return struct.pack(">I", value | 0x80000000)
    return struct.pack(">Q", value | 0xC000000000000000)


def crypto_frame(offset: int, data: bytes) -> bytes:
    return b"\x06" + varint(offset) + varint(len(data)) + data


def protect_long(
    packet_type_bits: int,
    version: int,
    dcid: bytes,
    packet_number: int,
    frames: bytes,
    *,
    scid: bytes = b"",
    key_dcid: bytes | None = None,
    token: bytes | None = b"",
    pn_len: int = 2,
    pad_to: int = 0,
) -> bytes:
    """A long-header packet protected with Initial keys from `key_dcid` (default `dcid`), as RFC 9001 §5.

    `token=None` leaves the token field out (0-RTT and Handshake packets have none).
    """
    keys = initial_keys(version, key_dcid if key_dcid is not None else dcid)
    if pad_to:
        frames += bytes(max(0, pad_to - len(frames)))
    frames += bytes(max(0, 4 - pn_len - len(frames)))  # room for the header-protection sample
    first = 0xC0 | (packet_type_bits << 4) | (pn_len - 1)
    head = bytes([first]) + version.to_bytes(4, "big") + bytes([len(dcid)]) + dcid + bytes([len(scid)]) + scid
    if token is not None:
        head += varint(len(token)) + token
    head += varint(pn_len + len(frames) + 16)
    pn_offset = len(head)
    header = head + (packet_number & ((1 << (8 * pn_len)) - 1)).to_bytes(pn_len, "big")
    nonce = (int.from_bytes(keys.iv, "big") ^ packet_number).to_bytes(12, "big")
    packet = bytearray(header + AESGCM(keys.key).encrypt(nonce, frames, header))
    sample = bytes(packet[pn_offset + 4 : pn_offset + 20])
    mask = Cipher(algorithms.AES(keys.hp), modes.ECB()).encryptor().update(sample)
    packet[0] ^= mask[0] & 0x0F
    for i in range(pn_len):
        packet[pn_offset + i] ^= mask[1 + i]
    return bytes(packet)
