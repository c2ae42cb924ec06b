"""Filing what the packets chosen by the row selector say: the DNS log, names for remote addresses, names
devices announce, DHCP, and the server names clients ask for (TLS and QUIC ClientHello, gQUIC, HTTP Host).

It sees only `InspectedRow`s (plain values), so it can run in the analysis process or in a worker process
(engine.metadata.worker) with the same results. Devices are referred to by id, or by MAC for clients known
only from DHCP; flows by serial number.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from engine.metadata.device_names import DeviceNames, DeviceNamesSnapshot, DeviceRef
from engine.metadata.dhcp_log import DhcpClient, DhcpLog
from engine.metadata.dns_log import LOG_LIMIT, DnsLog, DnsSnapshot
from engine.metadata.remote_names import NameSeen, RemoteNames
from engine.metadata.row_selection import (
    DHCP,
    DHCPV6,
    DNS,
    GQUIC,
    HTTP,
    LLMNR,
    MDNS,
    NBNS,
    QUIC,
    SSDP,
    TCP_DNS,
    TLS,
    InspectedRow,
    InspectionBatch,
)
from engine.metadata.server_names import ServerNames, ServerNameStats, is_doh_server_name
from engine.protocols.dhcp import DhcpMessage, parse_dhcp
from engine.protocols.dhcpv6 import parse_dhcpv6
from engine.protocols.dns import DnsMessage, names_answered, parse_dns, parse_dns_tcp
from engine.protocols.errors import MalformedMessage
from engine.protocols.gquic import gquic_version, parse_gquic_chlo
from engine.protocols.http import parse_http_request_brief
from engine.protocols.mdns import AnnouncedName, announced_names
from engine.protocols.netbios import NbnsMessage, parse_nbns
from engine.protocols.quic import QuicInitialAssembler
from engine.protocols.quic_headers import version_name
from engine.protocols.ssdp import SsdpMessage, parse_ssdp
from engine.protocols.tls_assembler import ClientHelloAssembler
from engine.protocols.tls_codes import tls_version_name
from engine.protocols.tls_hello import ClientHelloBrief, parse_client_hello_brief

_DNS_KIND_NAMES = {DNS: "dns", MDNS: "mdns", LLMNR: "llmnr", TCP_DNS: "dns"}
_PARSE_CACHE = 4096
_CACHED_PARSERS: dict[int, Callable[[bytes], object]] = {
    MDNS: parse_dns,
    LLMNR: parse_dns,
    NBNS: parse_nbns,
    SSDP: parse_ssdp,
}
_TCP_DNS_LIMIT = 1 << 16


@dataclass(frozen=True, slots=True)
class ResolverOverEncryption:
    """A device using DNS over HTTPS, seen by the server name it asked for."""

    device: DeviceRef
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
    def __init__(self, *, dns_log_limit: int = LOG_LIMIT) -> None:
        self.dns = DnsLog(dns_log_limit)
        self.remote_names = RemoteNames()
        self.device_names = DeviceNames()
        self.dhcp = DhcpLog()
        self.servers = ServerNames()
        self.malformed: dict[str, int] = {}
        self.flow_names: dict[int, int] = {}  # flow serial -> server name id
        self._doh: dict[tuple[DeviceRef, str, str, str], int] = {}
        self._tls_assemblers: dict[int, ClientHelloAssembler] = {}
        self._quic_assemblers: dict[int, QuicInitialAssembler] = {}
        self._tcp_dns_streams: dict[tuple[int, bool], bytes] = {}
        self._parsed: OrderedDict[tuple[int, bytes], object] = OrderedDict()  # (kind, payload) -> parsed
        self._announcements: dict[int, tuple[DnsMessage, list[AnnouncedName]]] = {}

    def _bad(self, protocol: str, err: MalformedMessage) -> None:
        key = f"{protocol}: {err.reason}"
        self.malformed[key] = self.malformed.get(key, 0) + 1

    def process(self, batch: InspectionBatch) -> None:
        handlers = self._handlers
        for row in batch.rows:
            handlers[row.kind](self, row)
        for serial in batch.closed_serials:
            self._tls_assemblers.pop(serial, None)
            self._quic_assemblers.pop(serial, None)
            self._tcp_dns_streams.pop((serial, True), None)
            self._tcp_dns_streams.pop((serial, False), None)
        if batch.keep_serials is not None:
            self.forget_flows(set(batch.keep_serials))

    def forget_flows(self, keep: set[int]) -> None:
        """Forget the server names of flows other than `keep` (flows the analysis no longer holds)."""
        self.flow_names = {s: n for s, n in self.flow_names.items() if s in keep}

    def _parse_cached(self, kind: int, payload: bytes) -> object:
        """Parse a discovery message, remembering recent payloads: devices repeat their mDNS, SSDP and
        NetBIOS announcements word for word, all day long."""
        key = (kind, payload)  # the same bytes sent to two ports are two different messages
        found = self._parsed.get(key)
        if found is not None:
            self._parsed.move_to_end(key)
            return found
        try:
            result: object = _CACHED_PARSERS[kind](payload)
        except MalformedMessage as err:
            result = err
        self._parsed[key] = result
        if len(self._parsed) > _PARSE_CACHE:
            self._parsed.popitem(last=False)
        return result

    # ---- DNS, mDNS, LLMNR ----------------------------------------------------------------------------

    def _dns(self, row: InspectedRow) -> None:
        kind = row.kind
        if kind == DNS:
            try:
                # unicast DNS: questions and answers are all the log needs
                parsed: object = parse_dns(row.payload, answers_only=True)
            except MalformedMessage as err:
                parsed = err
        else:
            parsed = self._parse_cached(kind, row.payload)
        name = _DNS_KIND_NAMES[kind]
        if isinstance(parsed, MalformedMessage):
            self._bad(name, parsed)
            self.dns.count_malformed(parsed.reason)
            return
        assert isinstance(parsed, DnsMessage)
        self._count_damage(parsed, name)
        self._dns_message(parsed, row, name, "udp")

    def _count_damage(self, msg: DnsMessage, protocol: str) -> None:
        """Count a message the parser could read only in part (a compression loop, a cut record, ...) as
        malformed; what it could read is still logged."""
        problems = [p for p in msg.problems if p != "dns-trailing-data"]
        reason = problems[0] if problems else "dns-truncated" if msg.truncated else None
        if reason is not None:
            self._bad(protocol, MalformedMessage(reason))
            self.dns.count_malformed(reason)

    def _dns_message(self, msg: DnsMessage, row: InspectedRow, kind: str, transport: str) -> None:
        ts, src_dev = row.ts, row.src_dev
        self.dns.add(
            msg, ts=ts, kind=kind, transport=transport, src=row.src, sport=row.sport, dst=row.dst,
            dport=row.dport, src_device=src_dev, dst_device=row.dst_dev,
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

    def _tcp_dns(self, row: InspectedRow) -> None:
        if row.serial < 0:
            return
        key = (row.serial, row.from_a)
        stream = self._tcp_dns_streams.pop(key, b"") + row.payload
        messages, rest = _complete_tcp_dns(stream)
        for raw in messages:
            try:
                msgs = parse_dns_tcp(raw)
            except MalformedMessage as err:
                self._bad("dns", err)
                self.dns.count_malformed(err.reason)
                continue
            for msg in msgs:
                self._count_damage(msg, "dns")
                self._dns_message(msg, row, "dns", "tcp")
        if rest and len(rest) < _TCP_DNS_LIMIT:
            self._tcp_dns_streams[key] = rest

    # ---- DHCP, NetBIOS, SSDP -------------------------------------------------------------------------

    def _dhcp(self, row: InspectedRow) -> None:
        try:
            msg = parse_dhcp(row.payload)
        except MalformedMessage as err:
            self._bad("dhcp", err)
            return
        self._dhcp_message(msg, row)

    def _dhcp_message(self, msg: DhcpMessage, row: InspectedRow) -> None:
        ts = row.ts
        # the client is named by its hardware address, whoever carries the message (relays, servers)
        device: DeviceRef = f"mac:{msg.client_mac}" if msg.client_mac is not None else row.src_dev
        client = self.dhcp.add_v4(msg, device, ts, None if msg.op == 1 else row.src)
        if client is None:
            return
        if msg.hostname:
            self.device_names.add_name(device, msg.hostname, "dhcp-hostname", ts)
        if msg.client_fqdn is not None and msg.client_fqdn.name:
            self.device_names.add_name(device, msg.client_fqdn.name, "dhcp-fqdn", ts)
        if msg.vendor_class:
            self.device_names.add_trait(device, "dhcp vendor class", msg.vendor_class)
        if msg.op == 1 and client.fingerprint:
            self.device_names.add_trait(device, "dhcp fingerprint", client.fingerprint)

    def _dhcpv6(self, row: InspectedRow) -> None:
        try:
            v6 = parse_dhcpv6(row.payload)
        except MalformedMessage as err:
            self._bad("dhcpv6", err)
            return
        inner = v6.innermost
        device: DeviceRef = row.src_dev if inner.msg_type in (1, 3, 4, 5, 6, 8, 9, 11) else row.dst_dev
        if inner.client_duid is not None and inner.client_duid.mac:
            device = f"mac:{inner.client_duid.mac}"
        self.dhcp.add_v6(v6, device, row.ts)
        if inner.client_fqdn:
            self.device_names.add_name(device, inner.client_fqdn, "dhcpv6-fqdn", row.ts)
        if inner.vendor_class is not None and inner.vendor_class.data:
            self.device_names.add_trait(device, "dhcpv6 vendor class", " ".join(inner.vendor_class.data))

    def _nbns(self, row: InspectedRow) -> None:
        nb = self._parse_cached(NBNS, row.payload)
        if isinstance(nb, MalformedMessage):
            self._bad("nbns", nb)
            return
        assert isinstance(nb, NbnsMessage)
        # registrations, refreshes and responses name their sender; queries ask about others
        if nb.is_response or nb.opcode in (5, 8, 9):
            for netbios in nb.names:
                if netbios.group:
                    self.device_names.add_trait(row.src_dev, "netbios group", netbios.name)
                elif netbios.suffix in (0x00, 0x20):
                    meaning = netbios.meaning or None
                    self.device_names.add_name(row.src_dev, netbios.name, "nbns", row.ts, detail=meaning)

    def _ssdp(self, row: InspectedRow) -> None:
        ssdp = self._parse_cached(SSDP, row.payload)
        if isinstance(ssdp, MalformedMessage):
            self._bad("ssdp", ssdp)
            return
        assert isinstance(ssdp, SsdpMessage)
        if ssdp.server:
            self.device_names.add_trait(row.src_dev, "ssdp server", ssdp.server)
        if ssdp.user_agent:
            self.device_names.add_trait(row.src_dev, "ssdp user agent", ssdp.user_agent)

    # ---- server names: TLS, QUIC, gQUIC, HTTP -----------------------------------------------------------

    def _tls(self, row: InspectedRow) -> None:
        serial = row.serial
        if serial in self.flow_names:
            return  # named already (segments after a whole ClientHello)
        asm = self._tls_assemblers.get(serial)
        # a segment holding a whole ClientHello is the stream's start, whatever the SYN said
        hello = None if asm is not None else _whole_client_hello(row.payload)
        if hello is None:
            # the ClientHello spans segments (or is damaged): let the assembler put it together
            if asm is None:
                # With the stream's start known, segments may arrive in any order; but a first segment that
                # opens a TLS record where the SYN said the stream starts elsewhere is taken as the start
                # (a SYN from an earlier connection on the same ports, or a retransmitted SYN with new seq).
                known = row.stream_start >= 0
                opens_record = row.payload[:1] == b"\x16"
                at_start = known and row.tcp_seq == row.stream_start
                start = row.stream_start if known and (at_start or not opens_record) else None
                asm = self._tls_assemblers[serial] = ClientHelloAssembler(start, brief=True)
            asm.feed(row.tcp_seq, row.payload)
            if asm.failed:
                del self._tls_assemblers[serial]
                return
            hello = asm.brief
            if hello is None:
                return
            del self._tls_assemblers[serial]
        if hello.sni:
            details = (tls_version_name(hello.version), *(f"alpn {a}" for a in hello.alpn[:2]))
            if hello.ech:
                details = (*details, "encrypted client hello")
            self._server(row, hello.sni, "tls-sni", details)

    def _quic(self, row: InspectedRow) -> None:
        serial = row.serial
        if serial in self.flow_names:
            return
        asm = self._quic_assemblers.get(serial)
        if asm is None:
            asm = self._quic_assemblers[serial] = QuicInitialAssembler()
        hello = asm.feed(row.payload)
        if asm.failed or hello is not None:
            del self._quic_assemblers[serial]
        if hello is not None and hello.sni:
            quic_version = version_name(asm.version) if asm.version is not None else "QUIC"
            self._server(row, hello.sni, "quic-sni", (quic_version, *(f"alpn {a}" for a in hello.alpn[:2])))

    def _gquic(self, row: InspectedRow) -> None:
        version = gquic_version(row.payload)
        try:
            chlo = parse_gquic_chlo(row.payload)
        except MalformedMessage:
            return  # later gQUIC versions encrypt their hello: nothing to read
        if chlo.sni:
            self._server(row, chlo.sni, "gquic-sni", (version or "gQUIC",))

    def _http(self, row: InspectedRow) -> None:
        try:
            req = parse_http_request_brief(row.payload)
        except MalformedMessage:
            return  # a continuation segment that happens to start with method-like letters
        if not req.host:
            return
        details = (req.user_agent,) if req.user_agent else ()
        self._server(row, _host_name(req.host), "http-host", details)
        if req.user_agent:
            self.device_names.add_trait(row.src_dev, "http user agent", req.user_agent)

    def _server(self, row: InspectedRow, name: str, source: str, details: tuple[str, ...]) -> None:
        name_id = self.servers.seen(
            name, source, device=row.src_dev, server=row.dst, ts=row.ts, details=details
        )
        if row.serial >= 0:
            self.flow_names.setdefault(row.serial, name_id)
        self.remote_names.add(row.dst, name, source, row.ts)
        # a DNS-over-HTTPS server name; on port 853 the same name is DNS over TLS (or QUIC), counted by flow
        if source != "http-host" and row.dport != 853 and is_doh_server_name(name):
            key = (row.src_dev, row.src, row.dst, name.lower())
            self._doh[key] = self._doh.get(key, 0) + 1

    _handlers: ClassVar[dict[int, Callable[[PayloadInspector, InspectedRow], None]]] = {
        DNS: _dns,
        MDNS: _dns,
        LLMNR: _dns,
        TCP_DNS: _tcp_dns,
        DHCP: _dhcp,
        DHCPV6: _dhcpv6,
        NBNS: _nbns,
        SSDP: _ssdp,
        TLS: _tls,
        QUIC: _quic,
        GQUIC: _gquic,
        HTTP: _http,
    }

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
