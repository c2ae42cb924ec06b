"""DHCP (v4 and v6) as seen on the wire: per client, the host name, vendor class, requested and assigned
addresses and the request fingerprint (the option list, which tells operating systems apart)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from engine.metadata.device_names import DeviceRef
from engine.protocols.dhcp import DhcpMessage
from engine.protocols.dhcpv6 import Dhcpv6Message


@dataclass(slots=True)
class DhcpClient:
    """What DHCP says about one client (by MAC, or by DUID for DHCPv6 without a MAC)."""

    client: str  # MAC, or "duid:<hex>"
    device: DeviceRef
    hostnames: dict[str, None] = field(default_factory=dict)
    fqdns: dict[str, None] = field(default_factory=dict)
    vendor_classes: dict[str, None] = field(default_factory=dict)
    requested: dict[str, None] = field(default_factory=dict)
    assigned: dict[str, None] = field(default_factory=dict)  # from ACK (v4) or IA addresses (v6)
    fingerprint: str | None = None  # the parameter request list, comma separated
    messages: dict[str, int] = field(default_factory=dict)  # message type name -> count
    servers: dict[str, None] = field(default_factory=dict)
    first_ts: float = 0.0
    last_ts: float = 0.0

    def copy(self) -> DhcpClient:
        return replace(
            self,
            hostnames=dict(self.hostnames),
            fqdns=dict(self.fqdns),
            vendor_classes=dict(self.vendor_classes),
            requested=dict(self.requested),
            assigned=dict(self.assigned),
            messages=dict(self.messages),
            servers=dict(self.servers),
        )


class DhcpLog:
    def __init__(self) -> None:
        self._clients: dict[str, DhcpClient] = {}
        self.malformed: dict[str, int] = {}

    def _client(self, key: str, device: DeviceRef, ts: float) -> DhcpClient:
        c = self._clients.get(key)
        if c is None:
            c = self._clients[key] = DhcpClient(key, device, first_ts=ts, last_ts=ts)
        if c.device == -1:
            c.device = device
        c.first_ts = min(c.first_ts, ts)
        c.last_ts = max(c.last_ts, ts)
        return c

    def add_v4(self, msg: DhcpMessage, device: DeviceRef, ts: float, server: str | None) -> DhcpClient | None:
        if msg.client_mac is None:
            return None
        c = self._client(msg.client_mac, device, ts)
        kind = msg.message_type_name or ("BOOTREQUEST" if msg.op == 1 else "BOOTREPLY")
        c.messages[kind] = c.messages.get(kind, 0) + 1
        if msg.hostname:
            c.hostnames[msg.hostname] = None
        if msg.client_fqdn is not None and msg.client_fqdn.name:
            c.fqdns[msg.client_fqdn.name] = None
        if msg.vendor_class:
            c.vendor_classes[msg.vendor_class] = None
        if msg.requested_ip:
            c.requested[msg.requested_ip] = None
        if msg.op == 1 and msg.parameter_request_list:
            c.fingerprint = ",".join(str(o) for o in msg.parameter_request_list)
        if msg.op == 2 and msg.message_type_name == "ACK" and msg.yiaddr not in ("0.0.0.0", ""):
            c.assigned[msg.yiaddr] = None
        if msg.op == 2 and (msg.server_id or server):
            c.servers[msg.server_id or server or ""] = None
        return c

    def add_v6(self, msg: Dhcpv6Message, device: DeviceRef, ts: float) -> DhcpClient | None:
        inner = msg.innermost
        duid = inner.client_duid
        if duid is None:
            return None
        key = duid.mac or f"duid:{duid.hex}"
        c = self._client(key, device, ts)
        name = inner.msg_type_name
        c.messages[f"v6 {name}"] = c.messages.get(f"v6 {name}", 0) + 1
        if inner.client_fqdn:
            c.fqdns[inner.client_fqdn] = None
        if inner.vendor_class is not None and inner.vendor_class.data:
            c.vendor_classes[" ".join(inner.vendor_class.data)] = None
        if name in ("REPLY", "ADVERTISE"):
            for a in inner.addresses:
                c.assigned[a] = None
        elif inner.addresses:
            for a in inner.addresses:
                c.requested[a] = None
        return c

    def snapshot(self) -> list[DhcpClient]:
        return [c.copy() for c in self._clients.values()]
