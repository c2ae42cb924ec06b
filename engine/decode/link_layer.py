"""Link-layer decoders, one per link type, vectorised over the rows of a batch that use that link type.

Each decoder sets the MAC columns where its framing has them, and the network-layer EtherType and offset.
EtherType wrappers (802.1Q/802.1ad tags, PPPoE sessions, MPLS, LLC/SNAP) are unwrapped in one place for
every link type that can carry them.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.decode.columns import DecodeState, Rows
from engine.decode.malformed import Malformed
from engine.decode.packets import (
    ETH_IPV4,
    ETH_IPV6,
    ETH_MPLS,
    ETH_MPLS_MULTICAST,
    ETH_PPPOE_SESSION,
    ETH_QINQ,
    ETH_QINQ_OLD,
    ETH_VLAN,
    LinkClass,
)

I64 = npt.NDArray[np.int64]

_VLAN_TYPES = np.zeros(1 << 16, dtype=bool)  # EtherTypes of VLAN tags, as a lookup table
_VLAN_TYPES[[ETH_VLAN, ETH_QINQ, ETH_QINQ_OLD]] = True
_MAX_WRAPPERS = 8  # deeper stacks than this are left as they are


def _rows_index(st: DecodeState, rows: Rows) -> I64:
    return np.arange(st.n)[rows] if isinstance(rows, slice) else rows


def _ip_by_version(st: DecodeState, l3: I64, ok: npt.NDArray[np.bool_]) -> npt.NDArray[np.uint16]:
    """EtherType from the IP version nibble, for framings without a protocol field (raw IP, MPLS)."""
    version = st.v.u8_at(l3, ok) >> 4
    return np.where(version == 4, ETH_IPV4, np.where(version == 6, ETH_IPV6, 0)).astype(np.uint16)


def set_network(st: DecodeState, rows: Rows, ethertype: npt.NDArray[np.uint16], l3: I64) -> None:
    """Record the EtherType and network offset of `rows`, unwrapping tags and encapsulations first."""
    ethertype = ethertype.copy()
    l3 = l3.copy()
    idx = _rows_index(st, rows)
    end = st.end[idx]
    vlan = np.zeros(idx.shape[0], dtype=np.uint16)
    klass = np.zeros(idx.shape[0], dtype=np.uint8)
    v = st.v
    for _ in range(_MAX_WRAPPERS):
        live = l3 >= 0
        is_vlan = live & _VLAN_TYPES[ethertype]
        is_pppoe = live & (ethertype == ETH_PPPOE_SESSION)
        is_mpls = live & ((ethertype == ETH_MPLS) | (ethertype == ETH_MPLS_MULTICAST))
        is_llc = live & (ethertype <= 1500) & (klass == 0)
        if not (is_vlan.any() or is_pppoe.any() or is_mpls.any() or is_llc.any()):
            break
        if is_vlan.any():
            w = np.flatnonzero(is_vlan)
            ok = l3[w] + 4 <= end[w]
            st.flag(idx[w], ~ok, Malformed.LINK_TRUNCATED)
            klass[w[~ok]] = LinkClass.MALFORMED
            tci = v.be16_at(l3[w], ok)
            first = (vlan[w] == 0) & ok
            vlan[w[first]] = tci[first] & 0x0FFF
            ethertype[w] = np.where(ok, v.be16_at(l3[w] + 2, ok), 0)
            l3[w] = np.where(ok, l3[w] + 4, -1)
        if is_pppoe.any():
            w = np.flatnonzero(is_pppoe)
            ok = l3[w] + 8 <= end[w]
            st.flag(idx[w], ~ok, Malformed.PPPOE_TRUNCATED)
            klass[w[~ok]] = LinkClass.MALFORMED
            mapped = _ppp_to_ethertype(v.be16_at(l3[w] + 6, ok))
            # a PPP control packet (LCP, IPCP, ...) has no network layer: it stays a PPPoE session frame
            carries = ok & (mapped != 0)
            ethertype[w] = np.where(carries, mapped, np.where(ok, ETH_PPPOE_SESSION, 0))
            l3[w] = np.where(carries, l3[w] + 8, -1)
        if is_mpls.any():
            w = np.flatnonzero(is_mpls)
            pos = l3[w].copy()
            done = np.zeros(w.shape[0], dtype=bool)
            cut = np.zeros(w.shape[0], dtype=bool)  # a label runs past the captured bytes
            for _label in range(_MAX_WRAPPERS):
                fits = pos + 4 <= end[w]
                cut |= ~done & ~fits
                ok = ~done & fits
                bottom = (v.u8_at(pos + 2, ok) & 1).astype(bool)
                pos = np.where(ok, pos + 4, pos)
                done |= bottom | ~ok
                if done.all():
                    break
            ok = ~cut & (pos < end[w])
            st.flag(idx[w], ~ok, Malformed.MPLS_TRUNCATED)
            klass[w[~ok]] = LinkClass.MALFORMED
            inner = _ip_by_version(st, pos, ok)
            # an MPLS payload that is not IP stays an MPLS frame without a network layer
            ethertype[w] = np.where(inner != 0, inner, np.where(ok, ethertype[w], 0))
            l3[w] = np.where(inner != 0, pos, -1)
        if is_llc.any():
            w = np.flatnonzero(is_llc)
            ok = l3[w] + 3 <= end[w]
            head = v.be32_at(l3[w], ok & (l3[w] + 4 <= end[w])) >> np.uint32(8)  # DSAP, SSAP, control
            snap = ok & (head == 0xAAAA03) & (l3[w] + 8 <= end[w])
            ethertype[w] = np.where(snap, v.be16_at(l3[w] + 6, snap), 0)
            klass[w[~snap]] = LinkClass.LLC
            l3[w] = np.where(snap, l3[w] + 8, -1)
    klass[(ethertype == 0) & (klass == 0)] = LinkClass.NO_NETWORK_LAYER
    ethertype[klass != 0] = 0
    st.ethertype[idx] = ethertype
    st.l3[idx] = np.where(ethertype != 0, l3, -1)
    st.link_class[idx] = np.maximum(st.link_class[idx], klass)
    tagged = vlan != 0
    if tagged.any():
        st.vlan[idx[tagged]] = vlan[tagged]


def _ppp_to_ethertype(proto: npt.NDArray[np.uint16]) -> npt.NDArray[np.uint16]:
    out = np.zeros(proto.shape[0], dtype=np.uint16)
    out[proto == 0x0021] = ETH_IPV4
    out[proto == 0x0057] = ETH_IPV6
    out[(proto == 0x0281) | (proto == 0x0283)] = ETH_MPLS
    return out


def decode_ethernet(st: DecodeState, rows: Rows) -> None:
    start, end = st.start[rows], st.end[rows]
    ok = end - start >= 14
    if not ok.all():
        st.flag(rows, ~ok, Malformed.LINK_TRUNCATED)
    v = st.v
    w0 = v.be64_at(start, ok)
    w1 = v.be64_at(start + 6, ok)
    st.dst_mac[rows] = w0 >> np.uint64(16)
    st.src_mac[rows] = w1 >> np.uint64(16)
    st.has_src_mac[rows] = ok
    st.has_dst_mac[rows] = ok
    ethertype = (w1 & np.uint64(0xFFFF)).astype(np.uint16)
    l3 = np.where(ok, start + 14, -1)
    klass = np.where(ok, 0, LinkClass.MALFORMED).astype(np.uint8)
    st.link_class[rows] = klass
    set_network(st, rows, ethertype, l3)


def decode_raw_ip(st: DecodeState, rows: Rows) -> None:
    start, end = st.start[rows], st.end[rows]
    ok = end > start
    st.flag(rows, ~ok, Malformed.LINK_TRUNCATED)
    ethertype = _ip_by_version(st, start, ok)
    st.ethertype[rows] = ethertype
    st.l3[rows] = np.where(ethertype != 0, start, -1)
    st.link_class[rows] = np.where(ethertype != 0, 0, LinkClass.NO_NETWORK_LAYER)


def decode_fixed_ip(st: DecodeState, rows: Rows, ethertype: int) -> None:
    """Link types 228 (IPv4) and 229 (IPv6): the packet is an IP header of a known version."""
    st.ethertype[rows] = ethertype
    st.l3[rows] = st.start[rows]


# Address families of the BSD loopback header (they differ between systems for IPv6)
_AF_INET = 2
_AF_INET6 = (10, 23, 24, 28, 30)


def decode_null(st: DecodeState, rows: Rows, network_order: bool) -> None:
    """BSD NULL (host byte order of the capturing machine) and LOOP (network byte order) framing."""
    start, end = st.start[rows], st.end[rows]
    ok = end - start >= 4
    st.flag(rows, ~ok, Malformed.LINK_TRUNCATED)
    if network_order:
        value = st.v.be32_at(start, ok).astype(np.int64)
    else:
        # The header is in the capturing machine's byte order, which the file does not record. As
        # Wireshark does: a value with its high half set is byte-swapped, unless it is a 16-bit AF value
        # written little-endian into the high half; a value in the second byte alone is shifted down.
        le = st.v.le32_at(start, ok).astype(np.int64)
        be = st.v.be32_at(start, ok).astype(np.int64)
        high = (le & 0xFFFF0000) != 0
        af16 = high & ((le & 0xFF000000) == 0) & ((le & 0x00FF0000) < 0x00060000)
        low_shift = ~high & ((le & 0xFF) == 0) & ((le & 0xFF00) < 0x0600)
        value = np.where(high, np.where(af16, le >> 16, be), np.where(low_shift, le >> 8, le))
    # some systems put an EtherType there instead of an address family
    ethertype = np.where(value > 1500, value & 0xFFFF, 0).astype(np.uint16)
    ethertype[value == _AF_INET] = ETH_IPV4
    ethertype[np.isin(value, _AF_INET6)] = ETH_IPV6
    ethertype[~ok] = 0
    st.ethertype[rows] = ethertype
    st.l3[rows] = np.where(ethertype != 0, start + 4, -1)
    st.link_class[rows] = np.where(ethertype != 0, 0, LinkClass.NO_NETWORK_LAYER)


def decode_ppp(st: DecodeState, rows: Rows) -> None:
    """PPP and PPP in HDLC-like framing: optional FF 03 address/control, then a 1- or 2-byte protocol."""
    start, end = st.start[rows], st.end[rows]
    ok = end - start >= 2
    st.flag(rows, ~ok, Malformed.LINK_TRUNCATED)
    v = st.v
    has_ac = ok & (v.be16_at(start, ok) == 0xFF03)
    pos = np.where(has_ac, start + 2, start)
    ok2 = ok & (pos + 1 <= end)
    first = v.u8_at(pos, ok2)
    compressed = (first & 1) == 1  # protocol field compression: a single odd byte
    ok3 = ok2 & (compressed | (pos + 2 <= end))
    proto = np.where(compressed, first.astype(np.uint16), v.be16_at(pos, ok3 & ~compressed))
    l3 = np.where(compressed, pos + 1, pos + 2)
    ethertype = _ppp_to_ethertype(proto.astype(np.uint16))
    ethertype[~ok3] = 0
    st.link_class[rows] = np.where(ethertype != 0, 0, LinkClass.NO_NETWORK_LAYER)
    set_network(st, rows, ethertype, np.where(ethertype != 0, l3, -1))


def decode_sll(st: DecodeState, rows: Rows) -> None:
    """Linux cooked capture v1: 16-byte header; the address is the sender's link-layer address."""
    start, end = st.start[rows], st.end[rows]
    ok = end - start >= 16
    st.flag(rows, ~ok, Malformed.LINK_TRUNCATED)
    v = st.v
    arphrd = v.be16_at(start + 2, ok)
    alen = v.be16_at(start + 4, ok)
    is_mac = ok & (alen == 6) & ((arphrd == 1) | (arphrd == 772) | (arphrd == 801))
    st.src_mac[rows] = np.where(is_mac, v.be64_at(start + 6, ok) >> np.uint64(16), 0)
    st.has_src_mac[rows] = is_mac
    proto = v.be16_at(start + 14, ok)
    _cooked_protocol(st, rows, proto, np.where(ok, start + 16, -1), ok)


def decode_sll2(st: DecodeState, rows: Rows) -> None:
    """Linux cooked capture v2: 20-byte header with the protocol first."""
    start, end = st.start[rows], st.end[rows]
    ok = end - start >= 20
    st.flag(rows, ~ok, Malformed.LINK_TRUNCATED)
    v = st.v
    proto = v.be16_at(start, ok)
    arphrd = v.be16_at(start + 8, ok)
    alen = v.u8_at(start + 11, ok)
    is_mac = ok & (alen == 6) & ((arphrd == 1) | (arphrd == 772) | (arphrd == 801))
    st.src_mac[rows] = np.where(is_mac, v.be64_at(start + 12, ok) >> np.uint64(16), 0)
    st.has_src_mac[rows] = is_mac
    _cooked_protocol(st, rows, proto, np.where(ok, start + 20, -1), ok)


def _cooked_protocol(
    st: DecodeState, rows: Rows, proto: npt.NDArray[np.uint16], l3: I64, ok: npt.NDArray[np.bool_]
) -> None:
    # protocol values below 0x0600 are Linux pseudo-protocols; 0x0004 means an 802.2 LLC frame follows
    llc = ok & (proto == 0x0004)
    ethertype = np.where(proto >= 0x0600, proto, np.where(llc, 0x0004, 0)).astype(np.uint16)
    ethertype[~ok] = 0
    set_network(st, rows, ethertype, l3)


def decode_unsupported(st: DecodeState, rows: Rows) -> None:
    st.link_class[rows] = LinkClass.UNSUPPORTED_LINKTYPE
