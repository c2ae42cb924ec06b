"""Choosing the packets worth reading in Python, and packing them for the payload inspector.

The choice is made with numpy on the decoder's columns and depends on the packets alone (never on what a
parser made of earlier packets), so the inspector can run in another process and give the same results:
- by port: DNS, mDNS, LLMNR, DHCP, DHCPv6, NetBIOS names, SSDP (every message), DNS over TCP;
- per flow, from the client: the segments of a TLS ClientHello (until one is whole, at most
  `MAX_HELLO_PACKETS`), QUIC Initial packets (at most `MAX_HELLO_PACKETS`), a gQUIC hello, and every HTTP
  request.
Home prefixes are learnt here, on the analysis side, from DHCP acknowledgements and router advertisements,
because address classification needs them at once.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from engine.aggregate.address_book import AddressBook, PacketAddresses
from engine.capture.record_walk import unaligned_view
from engine.decode.packets import Packets
from engine.decode.transport import ICMPV6, TCP, UDP
from engine.devices.device_table import DeviceAssignment
from engine.flows.flow_table import FlowAssignment, FlowTable
from engine.protocols.dhcp import parse_dhcp
from engine.protocols.errors import MalformedMessage

I64 = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]

# What a selected row is
DNS, MDNS, LLMNR, DHCP, DHCPV6, NBNS, SSDP, TCP_DNS, TLS, QUIC, GQUIC, HTTP = range(1, 13)
_PORT_KIND = np.zeros(1 << 16, dtype=np.uint8)
_PORTS = {
    53: DNS,
    5353: MDNS,
    5355: LLMNR,
    67: DHCP,
    68: DHCP,
    546: DHCPV6,
    547: DHCPV6,
    137: NBNS,
    1900: SSDP,
}
for _port, _kind in _PORTS.items():
    _PORT_KIND[_port] = _kind
_HTTP_METHOD_STARTS = np.zeros(1 << 16, dtype=bool)  # first two bytes of the request methods
for _m in (b"GE", b"PO", b"HE", b"PU", b"DE", b"OP", b"PA", b"CO", b"TR", b"PR", b"MK", b"LO", b"UN", b"SE"):
    _HTTP_METHOD_STARTS[int.from_bytes(_m, "big")] = True
_GOOGLE_VERSION_LETTERS = np.array([ord("Q"), ord("T")], dtype=np.uint32)
QUIC_V2 = 0x6B3343CF
MAX_HELLO_PACKETS = 8  # client packets looked at per flow for a TLS or QUIC hello
HELLO_DONE = 255  # flow column "hello_state": 0 untried, 1..MAX packets sent, 255 settled
_ROUTER_ADVERTISEMENT = 134


class InspectedRow(NamedTuple):
    """One packet for the inspector, as plain values (cheap to pickle to another process)."""

    kind: int
    payload: bytes
    ts: float
    sport: int
    dport: int
    src: str
    dst: str
    src_dev: int
    dst_dev: int
    serial: int  # the flow's serial number, -1 when not a flow
    from_a: bool  # direction within the flow
    tcp_seq: int
    stream_start: int  # where the client's TCP stream starts (SYN + 1), -1 when the SYN was not seen


@dataclass(slots=True)
class InspectionBatch:
    rows: list[InspectedRow] = field(default_factory=list)
    closed_serials: list[int] = field(default_factory=list)  # flows that ended: their state can go
    # now and then, the flows the analysis still holds: the names of all others can go
    keep_serials: list[int] | None = None


class RowSelector:
    def __init__(self, book: AddressBook, flows: FlowTable) -> None:
        self.book = book
        self.flows = flows
        self._prefixes_tried: set[str] = set()
        self.prefix_problems = 0

    def select(
        self, p: Packets, addrs: PacketAddresses, fa: FlowAssignment, da: DeviceAssignment
    ) -> list[InspectedRow]:
        has_payload = (p.payload_len > 0) & (addrs.src >= 0)
        proto = p.ip_proto
        udp = has_payload & (proto == UDP)
        tcp = has_payload & (proto == TCP)
        kind = np.where(_PORT_KIND[p.dport] != 0, _PORT_KIND[p.dport], _PORT_KIND[p.sport]).astype(np.uint8)
        kind[~udp] = 0
        kind[tcp & ((p.sport == 53) | (p.dport == 53))] = TCP_DNS
        self._learn_from_dhcp(p, np.flatnonzero(kind == DHCP))
        ra = (proto == ICMPV6) & (p.icmp_type == _ROUTER_ADVERTISEMENT) & (p.payload_len >= 12)
        for row in np.flatnonzero(ra).tolist():
            self._learn_from_router_advertisement(p.payload_bytes(row))
        self._hello_rows(p, fa, udp & (kind == 0), tcp & (kind == 0), kind)
        rows = np.flatnonzero(kind != 0)
        if not rows.size:
            return []
        return self._pack(p, rows, kind, addrs, fa, da)

    def _hello_rows(
        self, p: Packets, fa: FlowAssignment, udp: Mask, tcp: Mask, kind: npt.NDArray[np.uint8]
    ) -> None:
        """Mark the client packets that may carry a server name (TLS, QUIC, gQUIC, HTTP) in `kind`."""
        cols = self.flows.cols
        flow = fa.flow
        from_client = fa.from_client(cols["client"])
        data = p.data if len(p.data) >= 64 else p.data + bytes(64)
        u8 = np.frombuffer(data, dtype=np.uint8)
        be16 = unaligned_view(data, ">u2")
        be32 = unaligned_view(data, ">u4")
        length = p.payload_len
        at = np.where(tcp | udp, p.payload, 0)
        first = np.where(tcp | udp, u8[at], 0)
        two = np.where(tcp & (length >= 2), be16[np.where(length >= 2, at, 0)], 0)
        kind[tcp & from_client & _HTTP_METHOD_STARTS[two]] = HTTP
        state = np.where(flow >= 0, cols["hello_state"][np.maximum(flow, 0)], HELLO_DONE)
        open_ = from_client & (state != HELLO_DONE) & (kind == 0)
        version = np.where(udp & (length >= 5), be32[np.where(length >= 5, at, 0) + 1], 0).astype(np.uint32)
        google = np.isin(version >> 24, _GOOGLE_VERSION_LETTERS) & ((first & 0x80) != 0)
        at9 = np.where(udp & (length >= 13), at + 9, 0)
        old_google = np.isin(be32[at9].astype(np.uint32) >> 24, _GOOGLE_VERSION_LETTERS)
        old_google &= ((first & 0x89) == 0x09) & (length >= 13)
        initial_type = np.where(version == QUIC_V2, 1, 0)
        quic = udp & ((first & 0xC0) == 0xC0) & (((first >> 4) & 3) == initial_type) & ~google
        gquic = udp & (google | old_google)
        # A TLS hello starts the client's stream: with the SYN seen, a segment further into the stream may be
        # the hello's second part arriving first, and is looked at too.
        isn = np.where(flow >= 0, cols["client_isn"][np.maximum(flow, 0)], -1)
        l4 = np.maximum(p.l4, 0)
        seq = np.zeros(p.l4.shape[0], dtype=np.int64)
        if tcp.any():
            seq = np.where(tcp & (p.l4 >= 0), be32[np.where(tcp, l4 + 4, 0)].astype(np.int64), 0)
        offset = (seq - isn - 1) % (1 << 32)
        out_of_order = tcp & (isn >= 0) & (offset > 0) & (offset < 1 << 16)
        tls_start = tcp & ((first == 0x16) | out_of_order)
        whole = _whole_client_hello(u8, p.payload, length)
        # Walk the client packets of flows still open, in capture order: every one counts towards the flow's
        # limit, so a flow costs at most MAX_HELLO_PACKETS iterations of this loop.
        hello_state = cols["hello_state"]
        rows = np.flatnonzero(open_ & (tcp | udp))
        for row, f, is_tcp, starts_tls, is_quic, is_gquic, complete in zip(
            rows.tolist(),
            flow[rows].tolist(),
            tcp[rows].tolist(),
            tls_start[rows].tolist(),
            quic[rows].tolist(),
            gquic[rows].tolist(),
            whole[rows].tolist(),
            strict=True,
        ):
            sent = int(hello_state[f])
            if sent == HELLO_DONE:
                continue  # settled by an earlier row of this batch
            if sent == 0 and not (starts_tls or is_quic or is_gquic):
                hello_state[f] = HELLO_DONE  # its first client payload carries no hello
                continue
            if is_tcp:
                kind[row] = TLS  # the hello's first segment, or one that may continue it
            elif is_quic:
                kind[row] = QUIC
            elif is_gquic:
                kind[row] = GQUIC
            sent += 1
            done = complete or is_gquic or sent >= MAX_HELLO_PACKETS
            hello_state[f] = HELLO_DONE if done else sent

    def _pack(
        self,
        p: Packets,
        rows: I64,
        kind: npt.NDArray[np.uint8],
        addrs: PacketAddresses,
        fa: FlowAssignment,
        da: DeviceAssignment,
    ) -> list[InspectedRow]:
        """The rows as plain Python values, gathered once per batch (indexing numpy arrays one element at a
        time would cost more than the parsing)."""
        data = p.data
        text = self.book.text
        flow = fa.flow[rows]
        serial = np.where(flow >= 0, self.flows.cols["serial"][np.maximum(flow, 0)], -1)
        l4 = p.l4[rows]
        tcp_rows = (p.ip_proto[rows] == TCP) & (l4 >= 0)
        seq = np.zeros(rows.shape[0], dtype=np.int64)
        if tcp_rows.any():
            be32 = unaligned_view(data if len(data) >= 64 else data + bytes(64), ">u4")
            seq[tcp_rows] = be32[l4[tcp_rows] + 4]
        isn = np.where(flow >= 0, self.flows.cols["client_isn"][np.maximum(flow, 0)], -1)
        stream_start = np.where(isn >= 0, (isn + 1) % (1 << 32), -1)
        out = []
        for values in zip(
            kind[rows].tolist(),
            p.payload[rows].tolist(),
            p.payload_len[rows].tolist(),
            p.ts[rows].tolist(),
            p.sport[rows].tolist(),
            p.dport[rows].tolist(),
            addrs.src[rows].tolist(),
            addrs.dst[rows].tolist(),
            da.src[rows].tolist(),
            da.dst[rows].tolist(),
            serial.tolist(),
            fa.from_a[rows].tolist(),
            seq.tolist(),
            stream_start.tolist(),
            strict=True,
        ):
            k, off, n, ts, sport, dport, src, dst, sdev, ddev, ser, from_a, tcp_seq, start = values
            out.append(
                InspectedRow(
                    k,
                    data[off : off + n],
                    ts,
                    sport,
                    dport,
                    text(src),
                    text(dst),
                    sdev,
                    ddev,
                    ser,
                    from_a,
                    tcp_seq,
                    start,
                )
            )
        return out

    # ---- home prefixes ------------------------------------------------------------------------------

    def _learn(self, prefix: str, source: str) -> None:
        """Learn a home prefix once; implausible ones (a /4 lease, a link-local prefix) are ignored."""
        if prefix in self._prefixes_tried:
            return
        self._prefixes_tried.add(prefix)
        try:
            self.book.home.learn_prefix(prefix, source)
        except ValueError:
            self.prefix_problems += 1

    def _learn_from_dhcp(self, p: Packets, rows: I64) -> None:
        for row in rows.tolist():
            payload = p.payload_bytes(row)
            # only server replies (op 2) can be acknowledgements with a subnet mask
            if len(payload) < 240 or payload[0] != 2:
                continue
            try:
                msg = parse_dhcp(payload)
            except MalformedMessage:
                continue  # the inspector counts it
            if msg.message_type_name == "ACK" and msg.subnet_mask and msg.yiaddr != "0.0.0.0":
                self._learn(f"{msg.yiaddr}/{msg.subnet_mask}", "dhcp")

    def _learn_from_router_advertisement(self, body: bytes) -> None:
        """The on-link prefixes a router advertises (prefix information options)."""
        pos = 12  # after checksum: hop limit, flags, lifetime, reachable time, retransmit timer
        while pos + 8 <= len(body):
            option, units = body[pos], body[pos + 1]
            if units == 0:
                return
            if option == 3 and units == 4 and pos + 32 <= len(body):
                prefix = ipaddress.IPv6Address(body[pos + 16 : pos + 32])
                self._learn(f"{prefix}/{body[pos + 2]}", "router advertisement")
            pos += units * 8


def _whole_client_hello(u8: npt.NDArray[np.uint8], payload: I64, length: I64) -> Mask:
    """Per row: the payload starts with a TLS handshake record holding a whole ClientHello."""
    ok = length >= 9
    at = np.where(ok, payload, 0)

    def byte(k: int) -> I64:
        return np.where(ok, u8[at + k], 0).astype(np.int64)

    record_end = 5 + (byte(3) << 8 | byte(4))
    message_end = 9 + (byte(6) << 16 | byte(7) << 8 | byte(8))
    result: Mask = (
        ok & (byte(0) == 0x16) & (byte(5) == 1) & (message_end <= record_end) & (record_end <= length)
    )
    return result
