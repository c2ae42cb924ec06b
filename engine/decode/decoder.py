"""Decoding a record batch into packet columns: link layer by link type, then network and transport."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine import linktypes as lt
from engine.capture.records import RecordBatch
from engine.decode.columns import DecodeState, Rows
from engine.decode.link_layer import (
    decode_ethernet,
    decode_fixed_ip,
    decode_null,
    decode_ppp,
    decode_raw_ip,
    decode_sll,
    decode_sll2,
    decode_unsupported,
)
from engine.decode.malformed import Malformed
from engine.decode.network import decode_network
from engine.decode.nflog import decode_nflog
from engine.decode.packets import ETH_IPV4, ETH_IPV6, Packets
from engine.decode.transport import decode_transport
from engine.decode.wireless import decode_80211, decode_radiotap

LinkDecoder = Callable[[DecodeState, Rows], None]

LINK_DECODERS: dict[int, LinkDecoder] = {
    lt.ETHERNET: decode_ethernet,
    lt.RAW: decode_raw_ip,
    lt.RAW_12: decode_raw_ip,
    lt.RAW_14: decode_raw_ip,
    lt.IPV4: lambda st, rows: decode_fixed_ip(st, rows, ETH_IPV4),
    lt.IPV6: lambda st, rows: decode_fixed_ip(st, rows, ETH_IPV6),
    lt.NULL: lambda st, rows: decode_null(st, rows, network_order=False),
    lt.LOOP: lambda st, rows: decode_null(st, rows, network_order=True),
    lt.PPP: decode_ppp,
    lt.PPP_HDLC: decode_ppp,
    lt.LINUX_SLL: decode_sll,
    lt.LINUX_SLL2: decode_sll2,
    lt.IEEE802_11: decode_80211,
    lt.IEEE802_11_RADIOTAP: decode_radiotap,
    lt.NFLOG: decode_nflog,
}

# Timestamps outside this range (1970 to 2106, the span of a 32-bit pcap timestamp) cannot be right.
TS_MIN = 0.0
TS_MAX = float(1 << 32)


def is_supported_linktype(linktype: int) -> bool:
    return linktype in LINK_DECODERS


def decode(batch: RecordBatch) -> Packets:
    """Decode every packet of `batch`. Never raises on packet content: defects become `malformed` codes."""
    st = DecodeState(batch)
    if st.n:
        _decode_links(st, batch)
        decode_network(st)
        decode_transport(st)
        bad_ts = ~((batch.ts >= TS_MIN) & (batch.ts < TS_MAX)) & ~np.isnan(batch.ts)
        if bad_ts.any():
            fresh = bad_ts & (st.malformed == 0)
            st.malformed[fresh] = Malformed.TIMESTAMP_OUT_OF_RANGE
    return Packets(
        data=batch.data,
        source_index=batch.source_index,
        ts=batch.ts,
        wirelen=st.wirelen,
        caplen=st.caplen,
        start=st.start,
        end=st.end,
        linktype=batch.linktype,
        src_mac=st.src_mac,
        dst_mac=st.dst_mac,
        has_src_mac=st.has_src_mac,
        has_dst_mac=st.has_dst_mac,
        vlan=st.vlan,
        ethertype=st.ethertype,
        link_class=st.link_class,
        l3=st.l3,
        ip_version=st.ip_version,
        src_hi=st.src_hi,
        src_lo=st.src_lo,
        dst_hi=st.dst_hi,
        dst_lo=st.dst_lo,
        ip_proto=st.ip_proto,
        ttl=st.ttl,
        fragment=st.fragment,
        l4=st.l4,
        l4_end=st.l4_end,
        sport=st.sport,
        dport=st.dport,
        tcp_flags=st.tcp_flags,
        icmp_type=st.icmp_type,
        icmp_code=st.icmp_code,
        payload=st.payload,
        payload_len=st.payload_len,
        malformed=st.malformed,
        snaplen_cut=st.snaplen_cut,
        tunnels=st.tunnels,
        arp=st.arp,
    )


def _decode_links(st: DecodeState, batch: RecordBatch) -> None:
    linktype = batch.linktype
    first = int(linktype[0])
    if (linktype == first).all():
        LINK_DECODERS.get(first, decode_unsupported)(st, slice(None))
        return
    for value in np.unique(linktype).tolist():
        rows = np.flatnonzero(linktype == value)
        LINK_DECODERS.get(int(value), decode_unsupported)(st, rows)
