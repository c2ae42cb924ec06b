"""Handing the few packets that need it to the protocol parsers, and filing what they say.

Rows are chosen with numpy (by port, first payload byte, flow state); only those are parsed in Python:
DNS/mDNS/LLMNR, DHCP, DHCPv6, NetBIOS names, SSDP, ICMPv6 router advertisements, HTTP requests, and TLS
and QUIC handshakes until each flow's server name is known.
"""

from __future__ import annotations

import ipaddress
import struct
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from engine.aggregate.address_book import AddressBook, PacketAddresses
from engine.capture.record_walk import unaligned_view
from engine.decode.packets import Packets
from engine.decode.transport import ICMPV6, TCP, UDP
from engine.devices.device_table import DeviceAssignment, DeviceTable
from engine.flows.flow_table import FlowAssignment, FlowRecords, FlowTable
from engine.metadata.device_names import DeviceNames, DeviceNamesSnapshot
from engine.metadata.dhcp_log import DhcpClient, DhcpLog
from engine.metadata.dns_log import LOG_LIMIT, DnsLog, DnsSnapshot
from engine.metadata.remote_names import NameSeen, RemoteNames
from engine.metadata.server_names import ServerNames, ServerNameStats, is_doh_server_name
from engine.protocols.dhcp import DhcpMessage, parse_dhcp
from engine.protocols.dhcpv6 import parse_dhcpv6
from engine.protocols.dns import DnsMessage, names_answered, parse_dns, parse_dns_tcp
from engine.protocols.errors import MalformedMessage
from engine.protocols.http import parse_http_request_brief
from engine.protocols.mdns import AnnouncedName, announced_names
from engine.protocols.netbios import NbnsMessage, parse_nbns
from engine.protocols.quic import QuicInitialAssembler, gquic_version, parse_gquic_chlo, version_name
from engine.protocols.ssdp import SsdpMessage, parse_ssdp
from engine.protocols.tls import (
    ClientHelloAssembler,
    ClientHelloBrief,
    parse_client_hello_brief,
    tls_version_name,
)

I64 = npt.NDArray[np.int64]

# UDP ports of the protocols read here
DNS, MDNS, LLMNR, DHCP, DHCPV6, NBNS, SSDP = range(1, 8)
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
_DNS_KIND_NAMES = {DNS: "dns", MDNS: "mdns", LLMNR: "llmnr"}
_HTTP_METHOD_STARTS = np.zeros(1 << 16, dtype=bool)  # first two bytes of the request methods
for _m in (b"GE", b"PO", b"HE", b"PU", b"DE", b"OP", b"PA", b"CO", b"TR", b"PR", b"MK", b"LO", b"UN", b"SE"):
    _HTTP_METHOD_STARTS[int.from_bytes(_m, "big")] = True
NAME_UNTRIED, NAME_PENDING, NAME_SETTLED = 0, 1, 2
QUIC_V2 = 0x6B3343CF
_GOOGLE_VERSION_LETTERS = np.array([ord("Q"), ord("T")], dtype=np.uint32)
_TCP_DNS_LIMIT = 1 << 16
_ROUTER_ADVERTISEMENT = 134


class _Datagram(NamedTuple):
    kind: int
    payload: bytes
    ts: float
    sport: int
    dport: int
    src: str
    dst: str
    src_dev: int
    dst_dev: int


_PARSE_CACHE = 4096
_CACHED_PARSERS: dict[int, Callable[[bytes], object]] = {
    MDNS: parse_dns,
    LLMNR: parse_dns,
    NBNS: parse_nbns,
    SSDP: parse_ssdp,
}


@dataclass(frozen=True, slots=True)
class ResolverOverEncryption:
    """A device using DNS over HTTPS, seen by the server name it asked for."""

    device: int
    client: str
    server: str
    name: str
    count: int


@dataclass(frozen=True, slots=True)
class MetadataSnapshot:
    dns: DnsSnapshot
    remote_names: dict[str, list[NameSeen]]  # address text -> names, best first
    device_names: DeviceNamesSnapshot
    dhcp: list[DhcpClient]
    server_names: list[ServerNameStats]
    name_table: list[str]  # server name ids (flow column "server_name") -> name
    doh: list[ResolverOverEncryption]
    malformed: dict[str, int]  # "protocol: reason" -> messages


class PayloadInspector:
    def __init__(
        self, book: AddressBook, devices: DeviceTable, flows: FlowTable, *, dns_log_limit: int = LOG_LIMIT
    ) -> None:
        self.book = book
        self.devices = devices
        self.flows = flows
        self.dns = DnsLog(dns_log_limit)
        self.remote_names = RemoteNames()
        self.device_names = DeviceNames()
        self.dhcp = DhcpLog()
        self.servers = ServerNames()
        self.malformed: dict[str, int] = {}
        self._doh: dict[tuple[int, str, str, str], int] = {}
        self._tls: dict[int, ClientHelloAssembler] = {}
        self._quic: dict[int, QuicInitialAssembler] = {}
        self._tcp_dns: dict[tuple[int, bool], bytes] = {}
        self._prefixes_tried: set[str] = set()
        self._parsed: OrderedDict[bytes, object] = OrderedDict()
        self._announcements: dict[int, tuple[DnsMessage, list[AnnouncedName]]] = {}
        flows.on_close.append(self._flows_closed)

    def _bad(self, protocol: str, err: MalformedMessage) -> None:
        key = f"{protocol}: {err.reason}"
        self.malformed[key] = self.malformed.get(key, 0) + 1

    def _flows_closed(self, records: FlowRecords) -> None:
        for serial in records.columns["serial"].tolist():
            self._tls.pop(serial, None)
            self._quic.pop(serial, None)
            self._tcp_dns.pop((serial, True), None)
            self._tcp_dns.pop((serial, False), None)

    def ingest(self, p: Packets, addrs: PacketAddresses, fa: FlowAssignment, da: DeviceAssignment) -> None:
        has_payload = (p.payload_len > 0) & (addrs.src >= 0)
        proto = p.ip_proto
        udp = has_payload & (proto == UDP)
        tcp = has_payload & (proto == TCP)
        kind = np.where(_PORT_KIND[p.dport] != 0, _PORT_KIND[p.dport], _PORT_KIND[p.sport])
        rows = np.flatnonzero(udp & (kind != 0))
        if rows.size:
            for message in self._datagrams(p, rows, kind, addrs, da):
                self._udp_message(message)
        tcp_dns = tcp & ((p.sport == 53) | (p.dport == 53))
        if tcp_dns.any():
            self._tcp_dns_segments(p, np.flatnonzero(tcp_dns), addrs, fa, da)
        ra = (proto == ICMPV6) & (p.icmp_type == _ROUTER_ADVERTISEMENT) & (p.payload_len >= 12)
        for row in np.flatnonzero(ra).tolist():
            self._router_advertisement(p.payload_bytes(row))
        self._server_names(p, addrs, fa, da, udp & (kind == 0), tcp)

    def _datagrams(
        self, p: Packets, rows: I64, kind: npt.NDArray[np.uint8], addrs: PacketAddresses, da: DeviceAssignment
    ) -> Iterator[_Datagram]:
        """The selected rows as plain Python values, gathered once per batch (indexing numpy arrays one
        element at a time would cost more than the parsing)."""
        data = p.data
        text = self.book.text
        columns = zip(
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
            strict=True,
        )
        for k, off, length, ts, sport, dport, src, dst, src_dev, dst_dev in columns:
            yield _Datagram(
                k, data[off : off + length], ts, sport, dport, text(src), text(dst), src_dev, dst_dev
            )

    def _parse_cached(self, kind: int, payload: bytes) -> object:
        """Parse a discovery message, remembering recent payloads: devices repeat their mDNS, SSDP and
        NetBIOS announcements word for word, all day long."""
        found = self._parsed.get(payload)
        if found is not None:
            self._parsed.move_to_end(payload)
            return found
        parser = _CACHED_PARSERS[kind]
        try:
            result: object = parser(payload)
        except MalformedMessage as err:
            result = err
        self._parsed[payload] = result
        if len(self._parsed) > _PARSE_CACHE:
            self._parsed.popitem(last=False)
        return result

    # ---- UDP messages by port --------------------------------------------------------------------------

    def _udp_message(self, d: _Datagram) -> None:
        kind, payload, ts = d.kind, d.payload, d.ts
        src_dev, dst_dev = d.src_dev, d.dst_dev
        if kind in _DNS_KIND_NAMES:
            name = _DNS_KIND_NAMES[kind]
            if kind == DNS:
                try:
                    # unicast DNS: questions and answers are all the log needs
                    parsed: object = parse_dns(payload, answers_only=True)
                except MalformedMessage as err:
                    parsed = err
            else:
                parsed = self._parse_cached(kind, payload)
            if isinstance(parsed, MalformedMessage):
                self._bad(name, parsed)
                self.dns.count_malformed(parsed.reason)
                return
            assert isinstance(parsed, DnsMessage)
            self._dns_message(parsed, d, name, "udp")
        elif kind == DHCP:
            try:
                dhcp = parse_dhcp(payload)
            except MalformedMessage as err:
                self._bad("dhcp", err)
                return
            self._dhcp(dhcp, ts, src_dev, d.src)
        elif kind == DHCPV6:
            try:
                v6 = parse_dhcpv6(payload)
            except MalformedMessage as err:
                self._bad("dhcpv6", err)
                return
            inner = v6.innermost
            device = src_dev if inner.msg_type in (1, 3, 4, 5, 6, 8, 9, 11) else dst_dev
            if inner.client_duid is not None and inner.client_duid.mac:
                device = self.devices.device_for_mac(int(inner.client_duid.mac.replace(":", ""), 16))
            self.dhcp.add_v6(v6, device, ts)
            if inner.client_fqdn:
                self.device_names.add_name(device, inner.client_fqdn, "dhcpv6-fqdn", ts)
            if inner.vendor_class is not None and inner.vendor_class.data:
                self.device_names.add_trait(device, "dhcpv6 vendor class", " ".join(inner.vendor_class.data))
        elif kind == NBNS:
            nb = self._parse_cached(kind, payload)
            if isinstance(nb, MalformedMessage):
                self._bad("nbns", nb)
                return
            assert isinstance(nb, NbnsMessage)
            # registrations, refreshes and responses name their sender; queries ask about others
            if nb.is_response or nb.opcode in (5, 8, 9):
                for netbios in nb.names:
                    if netbios.group:
                        self.device_names.add_trait(src_dev, "netbios group", netbios.name)
                    elif netbios.suffix in (0x00, 0x20):
                        meaning = netbios.meaning or None
                        self.device_names.add_name(src_dev, netbios.name, "nbns", ts, detail=meaning)
        elif kind == SSDP:
            ssdp = self._parse_cached(kind, payload)
            if isinstance(ssdp, MalformedMessage):
                self._bad("ssdp", ssdp)
                return
            assert isinstance(ssdp, SsdpMessage)
            if ssdp.server:
                self.device_names.add_trait(src_dev, "ssdp server", ssdp.server)
            if ssdp.user_agent:
                self.device_names.add_trait(src_dev, "ssdp user agent", ssdp.user_agent)

    def _dns_message(self, msg: DnsMessage, d: _Datagram, kind: str, transport: str) -> None:
        ts, src_dev = d.ts, d.src_dev
        self.dns.add(
            msg, ts=ts, kind=kind, transport=transport, src=d.src, sport=d.sport, dst=d.dst,
            dport=d.dport, src_device=src_dev, dst_device=d.dst_dev,
        )  # fmt: skip
        if not msg.is_response:
            return
        if kind == "dns":
            for answered in names_answered(msg):
                self.remote_names.add(answered.address, answered.query, "dns", ts)
            return
        for name in self._announced(msg, kind):
            if name.source in {"mdns-host", "llmnr"}:
                self.device_names.add_name(src_dev, name.name, name.source, ts)
            elif name.source == "mdns-service":
                self.device_names.add_name(src_dev, name.name, "mdns-service", ts, detail=name.service)
            elif name.source == "mdns-txt" and name.key and name.value:
                if name.key == "fn":
                    self.device_names.add_name(
                        src_dev, name.value, "mdns-friendly-name", ts, detail=name.service
                    )
                else:
                    self.device_names.add_trait(src_dev, name.key, name.value)

    def _announced(self, msg: DnsMessage, kind: str) -> list[AnnouncedName]:
        """Names in an mDNS/LLMNR response; the same (cached) message gives the same names."""
        found = self._announcements.get(id(msg))
        if found is not None and found[0] is msg:
            return found[1]
        names = announced_names(msg, llmnr=kind == "llmnr")
        self._announcements[id(msg)] = (msg, names)
        if len(self._announcements) > _PARSE_CACHE:
            self._announcements.pop(next(iter(self._announcements)))
        return names

    def _tcp_dns_segments(
        self, p: Packets, rows: I64, addrs: PacketAddresses, fa: FlowAssignment, da: DeviceAssignment
    ) -> None:
        serials = self.flows.cols["serial"]
        for row in rows.tolist():
            flow = int(fa.flow[row])
            if flow < 0:
                continue
            key = (int(serials[flow]), bool(fa.from_a[row]))
            stream = self._tcp_dns.pop(key, b"") + p.payload_bytes(row)
            messages, rest = _complete_tcp_dns(stream)
            for raw in messages:
                try:
                    msgs = parse_dns_tcp(raw)
                except MalformedMessage as err:
                    self._bad("dns", err)
                    self.dns.count_malformed(err.reason)
                    continue
                for msg in msgs:
                    datagram = _Datagram(
                        DNS, b"", float(p.ts[row]), int(p.sport[row]), int(p.dport[row]),
                        self.book.text(int(addrs.src[row])), self.book.text(int(addrs.dst[row])),
                        int(da.src[row]), int(da.dst[row]),
                    )  # fmt: skip
                    self._dns_message(msg, datagram, "dns", "tcp")
            if rest and len(rest) < _TCP_DNS_LIMIT:
                self._tcp_dns[key] = rest

    def _dhcp(self, msg: DhcpMessage, ts: float, src_dev: int, src_ip: str) -> None:
        device = src_dev
        if msg.client_mac is not None:
            device = self.devices.device_for_mac(int(msg.client_mac.replace(":", ""), 16))
        client = self.dhcp.add_v4(msg, device, ts, None if msg.op == 1 else src_ip)
        if client is None:
            return
        if msg.hostname:
            self.device_names.add_name(device, msg.hostname, "dhcp-hostname", ts)
        if msg.client_fqdn is not None and msg.client_fqdn.name:
            self.device_names.add_name(device, msg.client_fqdn.name, "dhcp-fqdn", ts)
        if msg.vendor_class:
            self.device_names.add_trait(device, "dhcp vendor class", msg.vendor_class)
        if msg.op == 1 and msg.parameter_request_list:
            self.device_names.add_trait(device, "dhcp fingerprint", client.fingerprint or "")
        if msg.op == 2 and msg.subnet_mask and msg.message_type_name == "ACK" and msg.yiaddr != "0.0.0.0":
            self._learn(f"{msg.yiaddr}/{msg.subnet_mask}", "dhcp")

    def _learn(self, prefix: str, source: str) -> None:
        """Learn a home prefix once; implausible ones (a /4 lease, a link-local prefix) are ignored."""
        if prefix in self._prefixes_tried:
            return
        self._prefixes_tried.add(prefix)
        try:
            self.book.home.learn_prefix(prefix, source)
        except ValueError:
            self.malformed[f"{source}: implausible home prefix"] = (
                self.malformed.get(f"{source}: implausible home prefix", 0) + 1
            )

    def _router_advertisement(self, body: bytes) -> None:
        """Learn the on-link prefixes a router advertises (prefix information options)."""
        pos = 12  # checksum done; hop limit, flags, lifetime, reachable, retrans
        while pos + 8 <= len(body):
            kind, units = body[pos], body[pos + 1]
            if units == 0:
                return
            if kind == 3 and units == 4 and pos + 32 <= len(body):
                length = body[pos + 2]
                prefix = ipaddress.IPv6Address(body[pos + 16 : pos + 32])
                self._learn(f"{prefix}/{length}", "router advertisement")
            pos += units * 8

    # ---- server names: TLS, QUIC, gQUIC, HTTP -----------------------------------------------------------

    def _server_names(
        self,
        p: Packets,
        addrs: PacketAddresses,
        fa: FlowAssignment,
        da: DeviceAssignment,
        udp: npt.NDArray[np.bool_],
        tcp: npt.NDArray[np.bool_],
    ) -> None:
        cols = self.flows.cols
        flow = fa.flow
        from_client = fa.from_client(cols["client"])
        state = np.where(flow >= 0, cols["name_state"][np.maximum(flow, 0)], NAME_SETTLED)
        data = p.data if len(p.data) >= 64 else p.data + bytes(64)
        u8 = np.frombuffer(data, dtype=np.uint8)
        be16 = unaligned_view(data, ">u2")
        at = np.where(tcp | udp, p.payload, 0)  # rows without payload read byte 0 and are masked out
        first = np.where(tcp | udp, u8[at], 0)
        two = np.where(tcp & (p.payload_len >= 2), be16[np.where(p.payload_len >= 2, at, 0)], 0)
        open_ = from_client & (state != NAME_SETTLED)
        tls = tcp & open_ & ((state == NAME_PENDING) | (first == 0x16))
        # QUIC client Initial packets: long header; the packet type bits say Initial (0 in v1, 1 in v2)
        be32 = unaligned_view(data, ">u4")
        version = np.where(udp & (p.payload_len >= 5), be32[np.where(p.payload_len >= 5, at, 0) + 1], 0)
        initial_type = np.where(version == QUIC_V2, 1, 0)
        google = np.isin(version >> 24, _GOOGLE_VERSION_LETTERS)
        quic = udp & open_ & ((first & 0xC0) == 0xC0) & (((first >> 4) & 3) == initial_type) & ~google
        # gQUIC: Q046+ long header with a Google version, or the old public header (version flag, 8-byte
        # connection id) with the version at byte 9
        at9 = np.where(udp & (p.payload_len >= 13), at + 9, 0)
        old_google = np.isin(be32[at9].astype(np.uint32) >> 24, _GOOGLE_VERSION_LETTERS) & (
            (first & 0x89) == 0x09
        )
        gquic = udp & open_ & (((first & 0x80) != 0) & google | old_google & (p.payload_len >= 13))
        http = tcp & from_client & _HTTP_METHOD_STARTS[two]
        # flows whose first client payload is none of these will not name their server
        give_up = (tcp | udp) & open_ & (state == NAME_UNTRIED) & ~tls & ~quic & ~gquic & ~http
        cols["name_state"][flow[give_up]] = NAME_SETTLED
        serials = cols["serial"]
        for row in np.flatnonzero(tls).tolist():
            self._tls_segment(p, row, int(flow[row]), int(serials[flow[row]]), addrs, da)
        for row in np.flatnonzero(quic | gquic).tolist():
            self._quic_datagram(p, row, int(flow[row]), int(serials[flow[row]]), addrs, da)
        for row in np.flatnonzero(http).tolist():
            self._http_request(p, row, int(flow[row]), addrs, da)

    def _named(self, flow: int, name_id: int) -> None:
        cols = self.flows.cols
        if cols["server_name"][flow] < 0:
            cols["server_name"][flow] = name_id
        cols["name_state"][flow] = NAME_SETTLED

    def _tls_segment(
        self, p: Packets, row: int, flow: int, serial: int, addrs: PacketAddresses, da: DeviceAssignment
    ) -> None:
        cols = self.flows.cols
        payload = p.payload_bytes(row)
        asm = self._tls.get(serial)
        hello = None if asm is not None else _whole_client_hello(payload)
        if hello is None:
            # the ClientHello spans segments (or is damaged): let the assembler put it together
            if asm is None:
                asm = self._tls[serial] = ClientHelloAssembler(brief=True)
            (seq,) = struct.unpack_from("!I", p.data, int(p.l4[row]) + 4)
            asm.feed(seq, payload)
            if asm.failed:
                cols["name_state"][flow] = NAME_SETTLED
                del self._tls[serial]
                return
            hello = asm.brief
            if hello is None:
                cols["name_state"][flow] = NAME_PENDING
                return
            del self._tls[serial]
        cols["name_state"][flow] = NAME_SETTLED
        if hello.sni:
            details = (tls_version_name(hello.version), *(f"alpn {a}" for a in hello.alpn[:2]))
            if hello.ech:
                details = (*details, "encrypted client hello")
            self._server(p, row, flow, hello.sni, "tls-sni", details, addrs, da)

    def _quic_datagram(
        self, p: Packets, row: int, flow: int, serial: int, addrs: PacketAddresses, da: DeviceAssignment
    ) -> None:
        payload = p.payload_bytes(row)
        cols = self.flows.cols
        version = gquic_version(payload)
        if version is not None:
            cols["name_state"][flow] = NAME_SETTLED
            try:
                chlo = parse_gquic_chlo(payload)
            except MalformedMessage:
                return  # later gQUIC versions encrypt their hello: nothing to read
            if chlo.sni:
                self._server(p, row, flow, chlo.sni, "gquic-sni", (version,), addrs, da)
            return
        asm = self._quic.get(serial)
        if asm is None:
            asm = self._quic[serial] = QuicInitialAssembler()
        hello = asm.feed(payload)
        if asm.failed:
            cols["name_state"][flow] = NAME_SETTLED
            del self._quic[serial]
            return
        if hello is None:
            cols["name_state"][flow] = NAME_PENDING
            return
        del self._quic[serial]
        cols["name_state"][flow] = NAME_SETTLED
        if hello.sni:
            quic_version = version_name(asm.version) if asm.version is not None else "QUIC"
            details = (quic_version, *(f"alpn {a}" for a in hello.alpn[:2]))
            self._server(p, row, flow, hello.sni, "quic-sni", details, addrs, da)

    def _http_request(
        self, p: Packets, row: int, flow: int, addrs: PacketAddresses, da: DeviceAssignment
    ) -> None:
        try:
            req = parse_http_request_brief(p.payload_bytes(row))
        except MalformedMessage:
            return  # a continuation segment that happens to start with method-like letters
        self.flows.cols["name_state"][flow] = NAME_SETTLED
        if not req.host:
            return
        host = _host_name(req.host)
        details = (req.user_agent,) if req.user_agent else ()
        self._server(p, row, flow, host, "http-host", details, addrs, da)
        if req.user_agent:
            self.device_names.add_trait(int(da.src[row]), "http user agent", req.user_agent)

    def _server(
        self,
        p: Packets,
        row: int,
        flow: int,
        name: str,
        source: str,
        details: tuple[str, ...],
        addrs: PacketAddresses,
        da: DeviceAssignment,
    ) -> None:
        ts = float(p.ts[row])
        server = self.book.text(int(addrs.dst[row]))
        device = int(da.src[row])
        name_id = self.servers.seen(name, source, device=device, server=server, ts=ts, details=details)
        self._named(flow, name_id)
        self.remote_names.add(server, name, source, ts)
        if source != "http-host" and is_doh_server_name(name):
            key = (device, self.book.text(int(addrs.src[row])), server, name.lower())
            self._doh[key] = self._doh.get(key, 0) + 1

    def snapshot(self, dns_last: int | None = None) -> MetadataSnapshot:
        return MetadataSnapshot(
            dns=self.dns.snapshot(dns_last),
            remote_names=self.remote_names.snapshot(),
            device_names=self.device_names.snapshot(),
            dhcp=self.dhcp.snapshot(),
            server_names=self.servers.snapshot(),
            name_table=list(self.servers.names),
            doh=[ResolverOverEncryption(d, c, s, n, k) for (d, c, s, n), k in self._doh.items()],
            malformed=dict(self.malformed),
        )


def _whole_client_hello(payload: bytes) -> ClientHelloBrief | None:
    """The ClientHello of a segment that holds all of it in its first record (the common case), else None."""
    if len(payload) < 9 or payload[0] != 0x16 or payload[5] != 1:
        return None
    record_end = 5 + int.from_bytes(payload[3:5], "big")
    message_end = 9 + int.from_bytes(payload[6:9], "big")
    if message_end > record_end or record_end > len(payload):
        return None
    try:
        return parse_client_hello_brief(payload[5:message_end])
    except MalformedMessage:
        return None  # the assembler will say why


def _complete_tcp_dns(stream: bytes) -> tuple[list[bytes], bytes]:
    """Split a DNS-over-TCP byte stream into its complete length-prefixed messages and the rest."""
    out = []
    pos = 0
    while pos + 2 <= len(stream):
        length = int.from_bytes(stream[pos : pos + 2], "big")
        if pos + 2 + length > len(stream):
            break
        out.append(stream[pos : pos + 2 + length])
        pos += 2 + length
    return out, stream[pos:]


def _host_name(host: str) -> str:
    """A Host field without its port and brackets."""
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end > 0 else host
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host
