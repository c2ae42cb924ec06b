"""The decoded form of a record batch: one numpy column per header field, one row per packet.

IP addresses of both families share one representation, two uint64 halves of a 128-bit address, with IPv4
stored as an IPv4-mapped IPv6 address (::ffff:a.b.c.d). MAC addresses are uint64 holding 48 bits. Offsets
point into `data` and are -1 where a layer is absent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]
U16 = npt.NDArray[np.uint16]
U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]

IPV4_MAPPED = np.uint64(0x0000FFFF00000000)

# EtherTypes the decoder gives meaning to
ETH_IPV4 = 0x0800
ETH_ARP = 0x0806
ETH_IPV6 = 0x86DD
ETH_VLAN = 0x8100
ETH_QINQ = 0x88A8
ETH_QINQ_OLD = 0x9100
ETH_PPPOE_DISCOVERY = 0x8863
ETH_PPPOE_SESSION = 0x8864
ETH_MPLS = 0x8847
ETH_MPLS_MULTICAST = 0x8848


class LinkClass(IntEnum):
    """What a frame is at the link layer when it carries no network-layer EtherType."""

    NETWORK = 0  # carries an EtherType (see the ethertype column)
    LLC = 1  # IEEE 802.2 LLC without SNAP (spanning tree, NetBIOS over LLC, ...)
    WLAN_MANAGEMENT = 2
    WLAN_CONTROL = 3
    WLAN_NULL_DATA = 4
    WLAN_PROTECTED = 5  # encrypted 802.11 data: nothing above the link layer is visible
    WLAN_OTHER = 6
    UNSUPPORTED_LINKTYPE = 7
    NO_NETWORK_LAYER = 8  # e.g. a PPP control packet, a loopback frame of another family
    MALFORMED = 9  # the link-layer header itself is damaged


# Stable keys of the link-level kinds, for reports and JSON
LINK_CLASS_KEYS = {
    LinkClass.LLC: "llc",
    LinkClass.WLAN_MANAGEMENT: "wlan-mgmt",
    LinkClass.WLAN_CONTROL: "wlan-ctrl",
    LinkClass.WLAN_NULL_DATA: "wlan-null",
    LinkClass.WLAN_PROTECTED: "wlan-protected",
    LinkClass.WLAN_OTHER: "wlan-other",
    LinkClass.UNSUPPORTED_LINKTYPE: "unsupported-linktype",
    LinkClass.NO_NETWORK_LAYER: "no-network-layer",
    LinkClass.MALFORMED: "malformed",
}

LINK_CLASS_NAMES = {
    LinkClass.LLC: "802.2 LLC",
    LinkClass.WLAN_MANAGEMENT: "802.11 management",
    LinkClass.WLAN_CONTROL: "802.11 control",
    LinkClass.WLAN_NULL_DATA: "802.11 null data",
    LinkClass.WLAN_PROTECTED: "802.11 protected data",
    LinkClass.WLAN_OTHER: "802.11 other",
    LinkClass.UNSUPPORTED_LINKTYPE: "unsupported link type",
    LinkClass.NO_NETWORK_LAYER: "no network layer",
    LinkClass.MALFORMED: "malformed link layer",
}


class Fragment(IntEnum):
    NONE = 0
    FIRST = 1  # first fragment: carries the transport header
    LATER = 2  # later fragment: payload only, no ports


@dataclass(slots=True)
class TunnelLayers:
    """Outer IP layers of tunnelled packets (IPv6-in-IPv4, IP-in-IP): row index and outer addresses."""

    rows: I64
    version: U8
    src_hi: U64
    src_lo: U64
    dst_hi: U64
    dst_lo: U64


@dataclass(slots=True)
class ArpFields:
    """ARP requests and replies for Ethernet/IPv4: row index, operation, sender and target."""

    rows: I64
    op: U16
    sender_mac: U64
    sender_ip: U32
    target_mac: U64
    target_ip: U32


@dataclass(slots=True)
class Packets:
    """Decoded columns of one record batch. See the module docstring for the representations."""

    data: bytes
    source_index: int
    ts: F64
    wirelen: I64
    caplen: I64
    start: I64
    end: I64  # start + caplen: the first byte after the captured packet
    linktype: U16
    # link layer
    src_mac: U64
    dst_mac: U64
    has_src_mac: Bool
    has_dst_mac: Bool
    vlan: U16  # outermost VLAN id, 0 when untagged
    ethertype: U16  # network protocol as an EtherType, 0 when there is none
    link_class: U8  # LinkClass
    l3: I64
    # network layer (innermost IP header)
    ip_version: U8  # 0, 4 or 6
    src_hi: U64
    src_lo: U64
    dst_hi: U64
    dst_lo: U64
    ip_proto: U8  # upper-layer protocol after IPv6 extension headers
    ttl: U8
    fragment: U8  # Fragment
    l4: I64
    l4_end: I64  # end of the IP payload: the IP length field, clipped to the captured bytes
    # transport layer
    sport: U16
    dport: U16
    tcp_flags: U8
    icmp_type: U8
    icmp_code: U8
    payload: I64  # offset of the application payload, -1 when there is none
    payload_len: I64  # captured payload bytes
    # problems: 0, or a Malformed code for the first defect found
    malformed: U8
    snaplen_cut: Bool  # a header was cut by the capture's snap length (not a defect of the packet)
    tunnels: TunnelLayers | None = None
    arp: ArpFields | None = None
    extras: dict[str, object] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    @property
    def is_ip(self) -> Bool:
        result: Bool = self.ip_version != 0
        return result

    def slice(self, start: int, stop: int) -> Packets:
        """Rows start..stop-1 as Packets sharing this batch's buffer (views, no copies)."""
        fields: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, np.ndarray):
                fields[name] = value[start:stop]
            else:
                fields[name] = value
        # the sparse layers keep only their rows inside the slice, renumbered
        for name in ("tunnels", "arp"):
            layer = getattr(self, name)
            if layer is None:
                continue
            keep = (layer.rows >= start) & (layer.rows < stop)
            if not keep.any():
                fields[name] = None
                continue
            parts: dict[str, Any] = {f: getattr(layer, f)[keep] for f in layer.__dataclass_fields__}
            parts["rows"] = parts["rows"] - start
            fields[name] = type(layer)(**parts)
        fields["extras"] = {}
        return Packets(**fields)

    def payload_bytes(self, row: int, limit: int | None = None) -> bytes:
        """The captured application payload of one packet (copied out of the batch buffer)."""
        off = int(self.payload[row])
        if off < 0:
            return b""
        length = int(self.payload_len[row])
        if limit is not None:
            length = min(length, limit)
        return self.data[off : off + length]


def mac_to_str(value: int) -> str:
    return ":".join(f"{(value >> s) & 0xFF:02x}" for s in range(40, -8, -8))


def ip_to_str(hi: int, lo: int) -> str:
    """Text form of an address in the shared 128-bit representation (IPv4-mapped means IPv4)."""
    import ipaddress

    if hi == 0 and (lo >> 32) == 0xFFFF:
        return str(ipaddress.IPv4Address(lo & 0xFFFFFFFF))
    return str(ipaddress.IPv6Address((hi << 64) | lo))
