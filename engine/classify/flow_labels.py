"""Deciding each flow's protocol label: payload signatures of its first packets, then the port table."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.classify.port_table import TCP_TABLE, UDP_TABLE
from engine.classify.protocol_labels import Label
from engine.classify.signatures import payload_signatures
from engine.decode.packets import Packets
from engine.decode.transport import ICMP, ICMPV6, IGMP, TCP, UDP, UDPLITE
from engine.flows.flow_table import FlowAssignment, FlowRecords, FlowTable

# How many payload-carrying packets of a flow are looked at before the port table decides.
INSPECTED_PACKETS = 6
SOURCE_NONE, SOURCE_PORT, SOURCE_PAYLOAD = 0, 1, 2


def inspect_payloads(p: Packets, assignment: FlowAssignment, table: FlowTable) -> None:
    """Apply payload signatures to the first payload packets of flows whose label is still open."""
    flow = assignment.flow
    rows = np.flatnonzero((flow >= 0) & (p.payload_len > 0))
    if not rows.size:
        return
    c = table.cols
    f = flow[rows]
    # a flow's packets in this batch count towards its limit in capture order, as if they came one by one
    order = np.argsort(f, kind="stable")
    grouped = f[order]
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
    rank = np.empty(f.shape[0], dtype=np.int64)
    rank[order] = np.arange(f.shape[0]) - np.repeat(starts, np.diff(np.r_[starts, f.shape[0]]))
    open_ = (c["label_source"][f] != SOURCE_PAYLOAD) & (c["inspected"][f] + rank < INSPECTED_PACKETS)
    rows, f = rows[open_], f[open_]
    if not rows.size:
        return
    labels = payload_signatures(p, rows)
    seen, counts = np.unique(f, return_counts=True)
    c["inspected"][seen] = np.minimum(c["inspected"][seen].astype(np.int64) + counts, 255).astype(np.uint8)
    hit = labels != 0
    if hit.any():
        # the first matching packet of each flow decides (rows are in capture order)
        flows, first = np.unique(f[hit], return_index=True)
        c["label"][flows] = labels[hit][first]
        c["label_source"][flows] = SOURCE_PAYLOAD


_DNS_FORMAT_PORT_LABELS = np.array([Label.MDNS, Label.LLMNR, Label.NBNS], dtype=np.uint16)


def resolve_labels(records: FlowRecords) -> npt.NDArray[np.uint16]:
    """The final label of each flow: its payload label, else its server port's, else its transport's."""
    cols = records.columns
    label = cols["label"].astype(np.uint16).copy()
    from_payload = cols["label_source"] == SOURCE_PAYLOAD
    client_is_b = cols["client"] == 1
    server_port = np.where(client_is_b, records.port_a, records.port_b).astype(np.intp)
    client_port = np.where(client_is_b, records.port_b, records.port_a).astype(np.intp)
    proto = records.proto
    tcp = proto == TCP
    udp = (proto == UDP) | (proto == UDPLITE)
    by_port = np.zeros(label.shape[0], dtype=np.uint16)
    by_port[tcp] = np.where(
        TCP_TABLE[server_port[tcp]] != 0, TCP_TABLE[server_port[tcp]], TCP_TABLE[client_port[tcp]]
    )
    by_port[udp] = np.where(
        UDP_TABLE[server_port[udp]] != 0, UDP_TABLE[server_port[udp]], UDP_TABLE[client_port[udp]]
    )
    fallback = np.full(label.shape[0], Label.OTHER_IP, dtype=np.uint16)
    fallback[tcp] = Label.TCP
    fallback[udp] = Label.UDP
    fallback[proto == ICMP] = Label.ICMP
    fallback[proto == ICMPV6] = Label.ICMPV6
    fallback[proto == IGMP] = Label.IGMP
    fallback[proto == 50] = Label.IPSEC  # ESP
    decided = np.where(by_port != 0, by_port, fallback)
    label = np.where(from_payload, label, decided).astype(np.uint16)
    # mDNS, LLMNR and NetBIOS names speak DNS's wire format: their ports tell them apart from DNS
    dns_format = (label == Label.DNS) & np.isin(by_port, _DNS_FORMAT_PORT_LABELS)
    label[dns_format] = by_port[dns_format]
    # TLS to port 853 is DNS over TLS; QUIC to 853 is DNS over QUIC, counted with it
    dot = ((label == Label.TLS) | (label == Label.QUIC)) & ((server_port == 853) | (client_port == 853))
    label[dot] = Label.DNS_OVER_TLS
    return label
