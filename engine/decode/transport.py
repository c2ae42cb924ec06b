"""Transport-layer decoders: TCP (ports, flags, payload offset), UDP, SCTP ports, ICMP, ICMPv6, IGMP.

Only unfragmented packets and first fragments carry a transport header; later fragments keep their IP
protocol but no ports.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.decode.columns import DecodeState
from engine.decode.malformed import Malformed
from engine.decode.packets import Fragment

I64 = npt.NDArray[np.int64]

TCP = 6
UDP = 17
ICMP = 1
IGMP = 2
ICMPV6 = 58
SCTP = 132
UDPLITE = 136


def decode_transport(st: DecodeState) -> None:
    has_l4 = (st.l4 >= 0) & (st.fragment != Fragment.LATER)
    proto = st.ip_proto
    for number, decoder in ((TCP, _tcp), (UDP, _udp), (UDPLITE, _udp)):
        rows = np.flatnonzero(has_l4 & (proto == number))
        if rows.size:
            decoder(st, rows)
    rows = np.flatnonzero(has_l4 & (proto == SCTP))
    if rows.size:
        _ports_only(st, rows, 12, Malformed.SCTP_TRUNCATED)
    rows = np.flatnonzero(has_l4 & ((proto == ICMP) | (proto == ICMPV6) | (proto == IGMP)))
    if rows.size:
        _icmp(st, rows)


def _tcp(st: DecodeState, rows: I64) -> None:
    v = st.v
    l4 = st.l4[rows]
    end = st.end[rows]
    ok = l4 + 20 <= end
    st.flag(rows, ~ok, Malformed.TCP_TRUNCATED)
    ports = v.be32_at(l4, ok)
    word = v.be16_at(l4 + 12, ok)
    offset = ((word >> np.uint16(12)).astype(np.int64)) * 4
    ip_end = st.l4_end[rows]
    bad = ok & ((offset < 20) | (l4 + offset > np.maximum(ip_end, end)))
    st.flag(rows, bad, Malformed.TCP_BAD_DATA_OFFSET)
    r = rows[ok]
    st.sport[r] = (ports[ok] >> np.uint32(16)).astype(np.uint16)
    st.dport[r] = (ports[ok] & np.uint32(0xFFFF)).astype(np.uint16)
    st.tcp_flags[r] = (word[ok] & np.uint16(0xFF)).astype(np.uint8)
    good = ok & ~bad
    r = rows[good]
    payload = (l4 + offset)[good]
    st.payload[r] = payload
    st.payload_len[r] = np.clip(np.minimum(ip_end[good], end[good]) - payload, 0, None)


def _udp(st: DecodeState, rows: I64) -> None:
    v = st.v
    l4 = st.l4[rows]
    end = st.end[rows]
    ok = l4 + 8 <= end
    st.flag(rows, ~ok, Malformed.UDP_TRUNCATED)
    head = v.be64_at(l4, ok)
    length = ((head >> np.uint64(16)) & np.uint64(0xFFFF)).astype(np.int64)
    # a length of 0 is legal for jumbograms; below 8 otherwise it is damaged
    bad = ok & (length > 0) & (length < 8)
    st.flag(rows, bad, Malformed.UDP_BAD_LENGTH)
    r = rows[ok]
    st.sport[r] = (head[ok] >> np.uint64(48)).astype(np.uint16)
    st.dport[r] = ((head[ok] >> np.uint64(32)) & np.uint64(0xFFFF)).astype(np.uint16)
    good = ok & ~bad
    r = rows[good]
    payload = l4[good] + 8
    udp_end = np.where(length[good] >= 8, l4[good] + length[good], st.l4_end[r])
    st.payload[r] = payload
    st.payload_len[r] = np.clip(np.minimum(np.minimum(udp_end, st.l4_end[r]), end[good]) - payload, 0, None)


def _ports_only(st: DecodeState, rows: I64, header: int, reason: Malformed) -> None:
    l4 = st.l4[rows]
    end = st.end[rows]
    ok = l4 + header <= end
    st.flag(rows, ~ok, reason)
    ports = st.v.be32_at(l4, ok)
    r = rows[ok]
    st.sport[r] = (ports[ok] >> np.uint32(16)).astype(np.uint16)
    st.dport[r] = (ports[ok] & np.uint32(0xFFFF)).astype(np.uint16)
    st.payload[r] = (l4 + header)[ok]
    st.payload_len[r] = np.clip(np.minimum(st.l4_end[r], end[ok]) - (l4 + header)[ok], 0, None)


def _icmp(st: DecodeState, rows: I64) -> None:
    l4 = st.l4[rows]
    end = st.end[rows]
    ok = l4 + 4 <= end
    st.flag(rows, ~ok, Malformed.ICMP_TRUNCATED)
    word = st.v.be16_at(l4, ok)
    r = rows[ok]
    st.icmp_type[r] = (word[ok] >> np.uint16(8)).astype(np.uint8)
    st.icmp_code[r] = (word[ok] & np.uint16(0xFF)).astype(np.uint8)
    # the payload of ICMP, ICMPv6 and IGMP is the message body after type, code and checksum
    st.payload[r] = l4[ok] + 4
    st.payload_len[r] = np.clip(np.minimum(st.l4_end[r], end[ok]) - (l4[ok] + 4), 0, None)
