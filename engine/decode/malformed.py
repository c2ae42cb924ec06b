"""Reasons a packet is malformed. A malformed packet is counted under its reason and decoded no further
than the layer before the defect; it still counts in totals and in every layer that was read."""

from __future__ import annotations

from enum import IntEnum


class Malformed(IntEnum):
    OK = 0
    LINK_TRUNCATED = 1
    RADIOTAP_BAD_LENGTH = 2
    WLAN_TRUNCATED = 3
    NFLOG_BAD_TLV = 4
    IPV4_TRUNCATED = 5
    IPV4_BAD_VERSION = 6
    IPV4_BAD_HEADER_LENGTH = 7
    IPV4_BAD_TOTAL_LENGTH = 8
    IPV6_TRUNCATED = 9
    IPV6_BAD_VERSION = 10
    IPV6_EXTENSION_TRUNCATED = 11
    TCP_TRUNCATED = 12
    TCP_BAD_DATA_OFFSET = 13
    UDP_TRUNCATED = 14
    UDP_BAD_LENGTH = 15
    ICMP_TRUNCATED = 16
    ARP_TRUNCATED = 17
    PPPOE_TRUNCATED = 18
    MPLS_TRUNCATED = 19
    SCTP_TRUNCATED = 20
    TIMESTAMP_OUT_OF_RANGE = 21
    IP_BAD_LENGTH_TUNNEL = 22


REASON_TEXT: dict[Malformed, str] = {
    Malformed.LINK_TRUNCATED: "link-layer header shorter than its link type requires",
    Malformed.RADIOTAP_BAD_LENGTH: "radiotap header length runs past the frame",
    Malformed.WLAN_TRUNCATED: "802.11 header cut short",
    Malformed.NFLOG_BAD_TLV: "NFLOG attribute list damaged",
    Malformed.IPV4_TRUNCATED: "IPv4 header cut short",
    Malformed.IPV4_BAD_VERSION: "IPv4 header with a version other than 4",
    Malformed.IPV4_BAD_HEADER_LENGTH: "IPv4 header length below 20 bytes",
    Malformed.IPV4_BAD_TOTAL_LENGTH: "IPv4 total length smaller than its header",
    Malformed.IPV6_TRUNCATED: "IPv6 header cut short",
    Malformed.IPV6_BAD_VERSION: "IPv6 header with a version other than 6",
    Malformed.IPV6_EXTENSION_TRUNCATED: "IPv6 extension header runs past the packet",
    Malformed.TCP_TRUNCATED: "TCP header cut short",
    Malformed.TCP_BAD_DATA_OFFSET: "TCP data offset below 20 bytes or past the packet",
    Malformed.UDP_TRUNCATED: "UDP header cut short",
    Malformed.UDP_BAD_LENGTH: "UDP length field below 8",
    Malformed.ICMP_TRUNCATED: "ICMP header cut short",
    Malformed.ARP_TRUNCATED: "ARP packet cut short",
    Malformed.PPPOE_TRUNCATED: "PPPoE header cut short",
    Malformed.MPLS_TRUNCATED: "MPLS label stack runs past the packet",
    Malformed.SCTP_TRUNCATED: "SCTP header cut short",
    Malformed.TIMESTAMP_OUT_OF_RANGE: "timestamp out of range (before 1970 or after 2106)",
    Malformed.IP_BAD_LENGTH_TUNNEL: "tunnelled IP header damaged",
}

# Short stable keys for reports and JSON.
REASON_KEY: dict[Malformed, str] = {m: m.name.lower().replace("_", "-") for m in Malformed if m}
