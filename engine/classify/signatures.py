"""Payload signatures, checked vectorised over the first bytes of many packets at once.

Each check looks only at the first 16 bytes of the application payload (and the payload length and
transport), so a batch is classified with a few numpy operations. A signature only has to be right on the
first packets of a flow, which is where the flow labeller applies it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.capture.record_walk import unaligned_view
from engine.classify.protocol_labels import Label
from engine.decode.packets import Packets
from engine.decode.transport import TCP, UDP

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]


def _u32(text: bytes) -> int:
    return int.from_bytes(text[:4], "big")


_HTTP_STARTS = np.array(
    [_u32(m) for m in (b"GET ", b"POST", b"HEAD", b"PUT ", b"DELE", b"OPTI", b"PATC", b"CONN", b"HTTP")],
    dtype=np.uint64,
)
_SSH = _u32(b"SSH-")
_STUN_COOKIE = 0x2112A442
_QUIC_VERSIONS = np.array([0x00000001, 0x6B3343CF, 0x00000000], dtype=np.uint64)
_GQUIC_PREFIXES = np.array([_u32(b"Q0\0\0") >> 16, _u32(b"T0\0\0") >> 16], dtype=np.uint64)
_BITTORRENT = _u32(b"\x13Bit")
_BENCODE_DICT = np.array([_u32(b"d1:a"), _u32(b"d1:r"), _u32(b"d1:e"), _u32(b"d1:q")], dtype=np.uint64)
_RTP_PAYLOAD_TYPES = np.zeros(128, dtype=bool)
_RTP_PAYLOAD_TYPES[[0, 3, 4, 8, 9, 10, 11, 18, 26, 31, 32, 33, 34]] = True
_RTP_PAYLOAD_TYPES[96:128] = True
_SIP_STARTS = np.array(
    [_u32(m) for m in (b"INVI", b"REGI", b"SIP/", b"OPTI", b"SUBS", b"NOTI", b"BYE ")], dtype=np.uint64
)
_NAME_START = np.zeros(256, dtype=bool)  # characters a DNS name's first label starts with
_NAME_START[
    [*range(ord("a"), ord("z") + 1), *range(ord("A"), ord("Z") + 1), *range(ord("0"), ord("9") + 1)]
] = True
_NAME_START[[ord("_"), ord("-")]] = True
_DHCP_COOKIE = 0x63825363
_RTSP_STARTS = np.array([_u32(b"RTSP"), _u32(b"DESC"), _u32(b"SETU"), _u32(b"PLAY")], dtype=np.uint64)


def _payload_words(p: Packets, rows: I64) -> tuple[U64, U64, I64]:
    """The first 16 payload bytes of each row as two big-endian words (zero-padded) and the length."""
    data = p.data if len(p.data) >= 64 else p.data + bytes(64)
    be64 = unaligned_view(data, ">u8")
    u8 = np.frombuffer(data, dtype=np.uint8)
    off = p.payload[rows]
    length = p.payload_len[rows]
    words = []
    for base in (0, 8):
        full = length >= base + 8
        safe = np.where(full, off + base, 0)
        w = np.where(full, be64[np.minimum(safe, be64.shape[0] - 1)], 0).astype(np.uint64)
        partial = np.flatnonzero(~full & (length > base))
        if partial.size:
            # payloads ending within these 8 bytes: assemble the bytes that exist, zeros after them
            part = np.zeros(partial.size, dtype=np.uint64)
            for k in range(8):
                has = length[partial] > base + k
                byte = u8[np.where(has, off[partial] + base + k, 0)].astype(np.uint64)
                part |= np.where(has, byte, 0).astype(np.uint64) << np.uint64(56 - 8 * k)
            w[partial] = part
        words.append(w)
    return words[0], words[1], length


def payload_signatures(p: Packets, rows: I64) -> npt.NDArray[np.uint16]:
    """A label per row from its payload's first bytes, or 0 when no signature matches."""
    out = np.zeros(rows.shape[0], dtype=np.uint16)
    if not rows.size:
        return out
    w0, w1, length = _payload_words(p, rows)
    proto = p.ip_proto[rows]
    tcp = proto == TCP
    udp = proto == UDP
    b0 = w0 >> np.uint64(56)
    b1 = (w0 >> np.uint64(48)) & np.uint64(0xFF)
    b2 = (w0 >> np.uint64(40)) & np.uint64(0xFF)
    first4 = w0 >> np.uint64(32)
    bytes_4_7 = w0 & np.uint64(0xFFFFFFFF)

    def mark(cond: npt.NDArray[np.bool_], label: Label) -> None:
        out[cond & (out == 0)] = label

    # TLS record: content type 20..23, version 3.x with minor <= 4, on TCP
    mark(tcp & (b0 >= 20) & (b0 <= 23) & (b1 == 3) & (b2 <= 4) & (length >= 5), Label.TLS)
    mark(tcp & np.isin(first4, _HTTP_STARTS), Label.HTTP)
    mark(tcp & (first4 == _SSH), Label.SSH)
    mark(tcp & (first4 == _BITTORRENT), Label.BITTORRENT)
    mark(tcp & np.isin(first4, _RTSP_STARTS), Label.RTSP)
    # STUN: magic cookie in bytes 4..7 and the two top bits of the type clear
    mark((b0 & np.uint64(0xC0) == 0) & (bytes_4_7 == _STUN_COOKIE) & (length >= 20), Label.STUN)
    # QUIC long header: fixed bit and long-header bit, then a known version
    long_header = udp & ((b0 & np.uint64(0xC0)) == 0xC0) & (length >= 7)
    version = (w0 >> np.uint64(24)) & np.uint64(0xFFFFFFFF)
    draft = (version >> np.uint64(8)) == 0xFF0000
    mark(long_header & (np.isin(version, _QUIC_VERSIONS) | draft), Label.QUIC)
    # gQUIC: Q046+ in a long header, or the older public header with the version flag and "Q0" at byte 9
    mark(
        udp & ((b0 & np.uint64(0x80)) != 0) & np.isin(version >> np.uint64(16), _GQUIC_PREFIXES), Label.GQUIC
    )
    old_gquic_version = (w1 >> np.uint64(40)) & np.uint64(0xFFFF)  # bytes 9..10
    mark(
        udp & ((b0 & np.uint64(0x01)) != 0) & np.isin(old_gquic_version, _GQUIC_PREFIXES) & (length >= 13),
        Label.GQUIC,
    )
    # DTLS record: content type 20..23, version 0xFEFF (1.0), 0xFEFD (1.2) or 0xFEFC (1.3)
    mark(udp & (b0 >= 20) & (b0 <= 23) & (b1 == 0xFE) & (b2 >= 0xFC), Label.DTLS)
    # WireGuard: message type 1..4 followed by three zero bytes, with the exact handshake sizes
    wg_type = udp & (b0 >= 1) & (b0 <= 4) & (((w0 >> np.uint64(32)) & np.uint64(0xFFFFFF)) == 0)
    wg_size = np.where(
        b0 == 1, length == 148, np.where(b0 == 2, length == 92, np.where(b0 == 3, length == 64, length >= 32))
    )
    mark(wg_type & wg_size & ((b0 != 4) | (length % 16 == 0)), Label.WIREGUARD)
    mark(udp & np.isin(first4, _BENCODE_DICT), Label.BITTORRENT)
    mark(np.isin(first4, _SIP_STARTS) & (tcp | udp), Label.SIP)
    # RTP version 2 with a common payload type, on UDP between unprivileged ports
    sport, dport = p.sport[rows], p.dport[rows]
    rtp = (
        udp
        & ((b0 & np.uint64(0xC0)) == 0x80)
        & _RTP_PAYLOAD_TYPES[(b1 & np.uint64(0x7F)).astype(np.intp)]
        & (length >= 12)
        & (sport >= 1024)
        & (dport >= 1024)
    )
    mark(rtp, Label.RTP)
    # DNS on any port, where clear: a standard query or response for one name whose first label is sane
    flags = (w0 >> np.uint64(32)) & np.uint64(0xFFFF)
    qdcount = (w0 >> np.uint64(16)) & np.uint64(0xFFFF)
    ancount = w0 & np.uint64(0xFFFF)
    nscount = w1 >> np.uint64(48)
    arcount = (w1 >> np.uint64(32)) & np.uint64(0xFFFF)
    label_len = (w1 >> np.uint64(24)) & np.uint64(0xFF)
    label_char = (w1 >> np.uint64(16)) & np.uint64(0xFF)
    is_response = (flags & np.uint64(0x8000)) != 0
    header_ok = ((flags >> np.uint64(11)) & np.uint64(0xF)) == 0
    header_ok &= (flags & np.uint64(0x0040)) == 0
    counts_ok = np.where(is_response, ancount <= 64, (ancount == 0) & (nscount == 0) & (arcount <= 1))
    name_ok = (label_len >= 1) & (label_len <= 63) & _NAME_START[label_char.astype(np.intp)]
    mark(udp & (length >= 17) & header_ok & (qdcount == 1) & counts_ok & name_ok, Label.DNS)
    # NTP: exactly 48 bytes, version 3 or 4, a client/server/broadcast mode, a stratum up to 16
    ntp_version = (b0 >> np.uint64(3)) & np.uint64(7)
    ntp_mode = b0 & np.uint64(7)
    mark(udp & (length == 48) & (ntp_version >= 3) & (ntp_version <= 4) & (ntp_mode >= 1) & (ntp_mode <= 5)
         & (b1 <= 16), Label.NTP)  # fmt: skip
    # DHCP: BOOTP op, Ethernet hardware type and length, and the magic cookie at byte 236
    dhcp = udp & (length >= 240) & ((b0 == 1) | (b0 == 2)) & (b1 == 1) & (b2 == 6)
    if dhcp.any():
        data = p.data if len(p.data) >= 64 else p.data + bytes(64)
        be32 = unaligned_view(data, ">u4")
        at = np.where(dhcp, p.payload[rows] + 236, 0)
        dhcp &= be32[at] == _DHCP_COOKIE
        mark(dhcp, Label.DHCP)
    return out
