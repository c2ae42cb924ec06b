"""Network-layer decoders: IPv4 (options, fragments), IPv6 (extension headers), IP tunnels, ARP."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.decode.columns import DecodeState
from engine.decode.malformed import Malformed
from engine.decode.packets import ETH_ARP, ETH_IPV4, ETH_IPV6, IPV4_MAPPED, ArpFields, Fragment, TunnelLayers

I64 = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]

IPPROTO_IPIP = 4
IPPROTO_IPV6 = 41
# IPv6 extension headers of the form (next header, length in 8-octet units beyond the first)
_EXT_GENERIC = np.array([0, 43, 60, 135, 139, 140], dtype=np.uint8)
_EXT_FRAGMENT = 44
_EXT_AH = 51
_MAX_EXTENSIONS = 8
_MAX_TUNNEL_DEPTH = 2


def decode_network(st: DecodeState) -> None:
    et = st.ethertype
    v4 = np.flatnonzero(et == ETH_IPV4)
    if v4.size:
        decode_ipv4(st, v4, st.l3[v4])
    v6 = np.flatnonzero(et == ETH_IPV6)
    if v6.size:
        decode_ipv6(st, v6, st.l3[v6])
    _decode_tunnels(st)
    arp = np.flatnonzero(et == ETH_ARP)
    if arp.size:
        _decode_arp(st, arp)


def decode_ipv4(st: DecodeState, rows: I64, l3: I64) -> Mask:
    """Decode IPv4 headers at `l3` for `rows`; returns which rows were decoded."""
    v = st.v
    end = st.end[rows]
    ok = (l3 >= 0) & (l3 + 20 <= end)
    st.flag(rows, ~ok, Malformed.IPV4_TRUNCATED)
    w0 = v.be32_at(l3, ok)
    version = w0 >> np.uint32(28)
    ihl = ((w0 >> np.uint32(24)) & np.uint32(15)).astype(np.int64) * 4
    total = (w0 & np.uint32(0xFFFF)).astype(np.int64)
    bad = ok & (version != 4)
    st.flag(rows, bad, Malformed.IPV4_BAD_VERSION)
    ok &= ~bad
    bad = ok & (ihl < 20)
    st.flag(rows, bad, Malformed.IPV4_BAD_HEADER_LENGTH)
    ok &= ~bad
    # a total length of 0 comes from TCP segmentation offload on the capturing host: use the frame
    tso = total == 0
    bad = ok & ~tso & (total < ihl)
    st.flag(rows, bad, Malformed.IPV4_BAD_TOTAL_LENGTH)
    ok &= ~bad
    w1 = v.be32_at(l3 + 4, ok)
    w2 = v.be32_at(l3 + 8, ok)
    addrs = v.be64_at(l3 + 12, ok)
    frag = w1 & np.uint32(0xFFFF)
    more = (frag & np.uint32(0x2000)) != 0
    offset = frag & np.uint32(0x1FFF)
    good = rows[ok]
    st.ip_version[good] = 4
    st.src_hi[good] = 0
    st.dst_hi[good] = 0
    st.src_lo[good] = (addrs[ok] >> np.uint64(32)) | IPV4_MAPPED
    st.dst_lo[good] = (addrs[ok] & np.uint64(0xFFFFFFFF)) | IPV4_MAPPED
    st.ttl[good] = (w2[ok] >> np.uint32(24)).astype(np.uint8)
    st.ip_proto[good] = ((w2[ok] >> np.uint32(16)) & np.uint32(0xFF)).astype(np.uint8)
    st.fragment[good] = np.where(offset[ok] > 0, Fragment.LATER, np.where(more[ok], Fragment.FIRST, 0))
    l4 = l3 + ihl
    header_cut = ok & (l4 > end)  # options run past the captured bytes
    st.flag(rows, header_cut, Malformed.IPV4_TRUNCATED)
    ip_end = np.where(tso, st.start[rows] + st.wirelen[rows], l3 + total)
    st.l4[good] = np.where(header_cut[ok], -1, l4[ok])
    st.l4_end[good] = np.minimum(ip_end, end)[ok]
    return ok


def decode_ipv6(st: DecodeState, rows: I64, l3: I64) -> Mask:
    """Decode IPv6 headers and extension headers at `l3` for `rows`; returns which rows were decoded."""
    v = st.v
    end = st.end[rows]
    ok = (l3 >= 0) & (l3 + 40 <= end)
    st.flag(rows, ~ok, Malformed.IPV6_TRUNCATED)
    w0 = v.be64_at(l3, ok)
    bad = ok & ((w0 >> np.uint64(60)) != 6)
    st.flag(rows, bad, Malformed.IPV6_BAD_VERSION)
    ok &= ~bad
    plen = ((w0 >> np.uint64(16)) & np.uint64(0xFFFF)).astype(np.int64)
    nh = ((w0 >> np.uint64(8)) & np.uint64(0xFF)).astype(np.uint8)
    hlim = (w0 & np.uint64(0xFF)).astype(np.uint8)
    good = rows[ok]
    st.ip_version[good] = 6
    st.src_hi[good] = v.be64_at(l3[ok] + 8)
    st.src_lo[good] = v.be64_at(l3[ok] + 16)
    st.dst_hi[good] = v.be64_at(l3[ok] + 24)
    st.dst_lo[good] = v.be64_at(l3[ok] + 32)
    st.ttl[good] = hlim[ok]
    # payload length 0 is a jumbogram or segmentation offload: the packet runs to the end of the frame
    ip_end = np.where(plen == 0, st.start[rows] + st.wirelen[rows], l3 + 40 + plen)
    l4_end = np.minimum(ip_end, end)
    l4 = np.where(ok, l3 + 40, -1)
    fragment = np.zeros(rows.shape[0], dtype=np.uint8)
    for _ in range(_MAX_EXTENSIONS):
        generic = (l4 >= 0) & np.isin(nh, _EXT_GENERIC)
        frag = (l4 >= 0) & (nh == _EXT_FRAGMENT)
        auth = (l4 >= 0) & (nh == _EXT_AH)
        step = generic | frag | auth
        if not step.any():
            break
        need = np.where(frag, 8, 2)
        fits = step & (l4 + need <= end)
        st.flag(rows, step & ~fits, Malformed.IPV6_EXTENSION_TRUNCATED)
        next_nh = v.u8_at(l4, fits)
        hdr_len = v.u8_at(l4 + 1, fits).astype(np.int64)
        size = np.where(frag, 8, np.where(auth, (hdr_len + 2) * 4, (hdr_len + 1) * 8))
        fields = v.be16_at(l4 + 2, fits & frag)
        frag_offset = fields >> np.uint16(3)
        later = fits & frag & (frag_offset > 0)
        first = fits & frag & (frag_offset == 0) & ((fields & 1) == 1)
        fragment[later] = Fragment.LATER
        fragment[first] = Fragment.FIRST
        nh = np.where(fits, next_nh, nh)
        new_l4 = l4 + size
        past = fits & (new_l4 > end)
        st.flag(rows, past, Malformed.IPV6_EXTENSION_TRUNCATED)
        l4 = np.where(step, np.where(fits & ~past, new_l4, -1), l4)
    st.ip_proto[good] = nh[ok]
    st.fragment[good] = fragment[ok]
    st.l4[good] = l4[ok]
    st.l4_end[good] = l4_end[ok]
    return ok


def _decode_tunnels(st: DecodeState) -> None:
    """IPv6-in-IPv4 (6in4, 6to4), IP-in-IP and IPv6-in-IPv6: keep the outer addresses, decode the inner."""
    layers: list[TunnelLayers] = []
    for _ in range(_MAX_TUNNEL_DEPTH):
        tunnelled = (
            (st.l4 >= 0)
            & (st.fragment == Fragment.NONE)
            & ((st.ip_proto == IPPROTO_IPV6) | (st.ip_proto == IPPROTO_IPIP))
        )
        rows = np.flatnonzero(tunnelled)
        if not rows.size:
            break
        layers.append(
            TunnelLayers(
                rows=rows,
                version=st.ip_version[rows].copy(),
                src_hi=st.src_hi[rows].copy(),
                src_lo=st.src_lo[rows].copy(),
                dst_hi=st.dst_hi[rows].copy(),
                dst_lo=st.dst_lo[rows].copy(),
            )
        )
        inner = st.l4[rows]
        inner_v6 = st.ip_proto[rows] == IPPROTO_IPV6
        # the outer layer is kept in `layers`; the columns now describe the inner packet
        st.l4[rows] = -1
        if inner_v6.any():
            decode_ipv6(st, rows[inner_v6], inner[inner_v6])
        if (~inner_v6).any():
            decode_ipv4(st, rows[~inner_v6], inner[~inner_v6])
    if layers:
        st.tunnels = TunnelLayers(
            rows=np.concatenate([t.rows for t in layers]),
            version=np.concatenate([t.version for t in layers]),
            src_hi=np.concatenate([t.src_hi for t in layers]),
            src_lo=np.concatenate([t.src_lo for t in layers]),
            dst_hi=np.concatenate([t.dst_hi for t in layers]),
            dst_lo=np.concatenate([t.dst_lo for t in layers]),
        )


def _decode_arp(st: DecodeState, rows: I64) -> None:
    v = st.v
    l3 = st.l3[rows]
    end = st.end[rows]
    ok = l3 + 8 <= end
    st.flag(rows, ~ok, Malformed.ARP_TRUNCATED)
    head = v.be64_at(l3, ok)
    ptype = (head >> np.uint64(32)) & np.uint64(0xFFFF)
    hlen = (head >> np.uint64(24)) & np.uint64(0xFF)
    plen = (head >> np.uint64(16)) & np.uint64(0xFF)
    ether_ipv4 = ok & (ptype == ETH_IPV4) & (hlen == 6) & (plen == 4)
    full = ether_ipv4 & (l3 + 28 <= end)
    st.flag(rows, ether_ipv4 & ~full, Malformed.ARP_TRUNCATED)
    if not full.any():
        return
    r = rows[full]
    p = l3[full]
    st.arp = ArpFields(
        rows=r,
        op=(head[full] & np.uint64(0xFFFF)).astype(np.uint16),
        sender_mac=v.be64_at(p + 8) >> np.uint64(16),
        sender_ip=v.be32_at(p + 14),
        target_mac=v.be64_at(p + 18) >> np.uint64(16),
        target_ip=v.be32_at(p + 24),
    )
