"""DHCPv6 (RFC 8415) message parser (UDP 546/547).

What the monitor wants from DHCPv6 is who a client is (its DUID, and the MAC inside DUID-LL/LLT, its
FQDN, vendor and user class) and what it was given (addresses, prefixes, DNS servers, search domains).
Relay-forward/relay-reply messages wrap the real message in option 9; it is unwrapped recursively, with a
depth limit so a crafted nest cannot recurse without bound.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from engine.protocols.dns_names import decode_name
from engine.protocols.errors import MalformedMessage
from engine.protocols.text import safe_text

__all__ = ["MESSAGE_TYPES", "Dhcpv6Message", "Duid", "VendorClass", "parse_dhcpv6"]

MESSAGE_TYPES = {
    1: "SOLICIT",
    2: "ADVERTISE",
    3: "REQUEST",
    4: "CONFIRM",
    5: "RENEW",
    6: "REBIND",
    7: "REPLY",
    8: "RELEASE",
    9: "DECLINE",
    10: "RECONFIGURE",
    11: "INFORMATION-REQUEST",
    12: "RELAY-FORW",
    13: "RELAY-REPL",
}

RELAY_FORW = 12
RELAY_REPL = 13
# RFC 8415 HOP_COUNT_LIMIT is 8 relays; a little slack for misconfigured chains, none for abuse
MAX_RELAY_DEPTH = 10

OPT_CLIENTID = 1
OPT_SERVERID = 2
OPT_IA_NA = 3
OPT_IA_TA = 4
OPT_IAADDR = 5
OPT_ORO = 6
OPT_RELAY_MSG = 9
OPT_STATUS_CODE = 13
OPT_USER_CLASS = 15
OPT_VENDOR_CLASS = 16
OPT_DNS_SERVERS = 23
OPT_DOMAIN_LIST = 24
OPT_IA_PD = 25
OPT_IAPREFIX = 26
OPT_CLIENT_FQDN = 39

_DUID_TYPES = {1: "LLT", 2: "EN", 3: "LL", 4: "UUID"}


@dataclass(frozen=True, slots=True)
class Duid:
    """A DHCP unique identifier. `mac` is set for DUID-LL/LLT over Ethernet (hardware type 1)."""

    hex: str
    type: int  # 1 LLT, 2 EN, 3 LL, 4 UUID; 0 when too short to have one
    mac: str | None = None
    enterprise: int | None = None  # DUID-EN

    @property
    def type_name(self) -> str:
        return _DUID_TYPES.get(self.type, f"TYPE{self.type}")


@dataclass(frozen=True, slots=True)
class VendorClass:
    enterprise: int
    data: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Dhcpv6Message:
    msg_type: int
    transaction_id: int | None  # None for relay messages, which have none
    client_duid: Duid | None
    server_duid: Duid | None
    client_fqdn: str | None
    fqdn_flags: int | None
    vendor_class: VendorClass | None
    user_class: tuple[str, ...]
    addresses: tuple[str, ...]  # IAADDR inside IA_NA and IA_TA
    prefixes: tuple[str, ...]  # IAPREFIX inside IA_PD, as "prefix/length"
    dns_servers: tuple[str, ...]
    domain_list: tuple[str, ...]
    option_request: tuple[int, ...]
    options: tuple[int, ...]  # codes of all top-level options, in order
    # relay-forward / relay-reply
    hop_count: int | None = None
    link_address: str | None = None
    peer_address: str | None = None
    relayed: Dhcpv6Message | None = None  # the message carried in option 9
    problems: tuple[str, ...] = ()

    @property
    def msg_type_name(self) -> str:
        return MESSAGE_TYPES.get(self.msg_type, f"TYPE{self.msg_type}")

    @property
    def innermost(self) -> Dhcpv6Message:
        """The client's or server's own message under any relay wrapping."""
        msg = self
        while msg.relayed is not None:
            msg = msg.relayed
        return msg


def _ipv6(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6, raw)


def _options(buf: bytes, pos: int, end: int, problems: list[str]) -> list[tuple[int, bytes]]:
    """The (code, value) options in buf[pos:end]; stops with a problem at one that runs past the end."""
    found: list[tuple[int, bytes]] = []
    while pos < end:
        if end - pos < 4:
            problems.append("dhcpv6-option-past-end")
            break
        code, length = struct.unpack_from("!HH", buf, pos)
        value_end = pos + 4 + length
        if value_end > end:
            problems.append("dhcpv6-option-past-end")
            break
        found.append((code, buf[pos + 4 : value_end]))
        pos = value_end
    return found


def _duid(raw: bytes) -> Duid:
    if len(raw) < 2:
        return Duid(raw.hex(), 0)
    duid_type = struct.unpack_from("!H", raw)[0]
    mac: str | None = None
    enterprise: int | None = None
    # LLT: type, hardware type, time (4), address; LL: type, hardware type, address
    lladdr_at = 8 if duid_type == 1 else 4 if duid_type == 3 else -1
    if lladdr_at > 0 and len(raw) == lladdr_at + 6 and struct.unpack_from("!H", raw, 2)[0] == 1:
        mac = ":".join(f"{b:02x}" for b in raw[lladdr_at:])
    if duid_type == 2 and len(raw) >= 6:
        enterprise = struct.unpack_from("!I", raw, 2)[0]
    return Duid(raw.hex(), duid_type, mac, enterprise)


def _length_prefixed(raw: bytes, pos: int, problems: list[str]) -> tuple[str, ...]:
    """The 2-byte-length-prefixed items of a user or vendor class option."""
    items: list[str] = []
    end = len(raw)
    while pos < end:
        if end - pos < 2:
            problems.append("dhcpv6-bad-option-length")
            break
        length = struct.unpack_from("!H", raw, pos)[0]
        if pos + 2 + length > end:
            problems.append("dhcpv6-bad-option-length")
            break
        items.append(safe_text(raw[pos + 2 : pos + 2 + length]))
        pos += 2 + length
    return tuple(items)


def _names(raw: bytes, problems: list[str]) -> tuple[str, ...]:
    """A list of uncompressed wire-format names (RFC 8415 10); a final partial name is kept."""
    names: list[str] = []
    pos = 0
    while pos < len(raw):
        try:
            name, pos = decode_name(raw, pos)
        except MalformedMessage as exc:
            if exc.reason == "dns-truncated":
                # RFC 4704: a client may send a partial name, without the root label
                try:
                    names.append(decode_name(raw[pos:] + b"\x00", 0)[0])
                    break
                except MalformedMessage:
                    pass
            problems.append("dhcpv6-bad-domain-name")
            break
        names.append(name)
    return tuple(names)


def _ia_addresses(
    value: bytes, header: int, problems: list[str], out: list[str], prefixes: list[str]
) -> None:
    """Collect IAADDR/IAPREFIX sub-options of an IA_NA, IA_TA or IA_PD."""
    if len(value) < header:
        problems.append("dhcpv6-bad-option-length")
        return
    for code, sub in _options(value, header, len(value), problems):
        if code == OPT_IAADDR:
            if len(sub) < 24:
                problems.append("dhcpv6-bad-option-length")
            else:
                out.append(_ipv6(sub[:16]))
        elif code == OPT_IAPREFIX:
            if len(sub) < 25:
                problems.append("dhcpv6-bad-option-length")
            else:
                prefixes.append(f"{_ipv6(sub[9:25])}/{sub[8]}")


def _parse(buf: bytes, depth: int) -> Dhcpv6Message:
    if not buf:
        raise MalformedMessage("dhcpv6-short-header", "empty")
    msg_type = buf[0]
    problems: list[str] = []
    relay = msg_type in (RELAY_FORW, RELAY_REPL)
    header = 34 if relay else 4
    if len(buf) < header:
        raise MalformedMessage("dhcpv6-short-header", f"{len(buf)} bytes for type {msg_type}")
    options = _options(buf, header, len(buf), problems)

    client: Duid | None = None
    server: Duid | None = None
    fqdn: str | None = None
    fqdn_flags: int | None = None
    vendor: VendorClass | None = None
    user_class: tuple[str, ...] = ()
    addresses: list[str] = []
    prefixes: list[str] = []
    dns: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    oro: tuple[int, ...] = ()
    relayed: Dhcpv6Message | None = None
    for code, value in options:
        if code == OPT_CLIENTID and client is None:
            client = _duid(value)
        elif code == OPT_SERVERID and server is None:
            server = _duid(value)
        elif code == OPT_IA_NA:
            _ia_addresses(value, 12, problems, addresses, prefixes)
        elif code == OPT_IA_TA:
            _ia_addresses(value, 4, problems, addresses, prefixes)
        elif code == OPT_IA_PD:
            _ia_addresses(value, 12, problems, addresses, prefixes)
        elif code == OPT_ORO:
            oro = tuple(struct.unpack_from("!H", value, i)[0] for i in range(0, len(value) - 1, 2))
        elif code == OPT_USER_CLASS:
            user_class = _length_prefixed(value, 0, problems)
        elif code == OPT_VENDOR_CLASS:
            if len(value) < 4:
                problems.append("dhcpv6-bad-option-length")
            else:
                vendor = VendorClass(struct.unpack_from("!I", value)[0], _length_prefixed(value, 4, problems))
        elif code == OPT_DNS_SERVERS:
            if len(value) % 16:
                problems.append("dhcpv6-bad-option-length")
            dns = tuple(_ipv6(value[i : i + 16]) for i in range(0, len(value) - 15, 16))
        elif code == OPT_DOMAIN_LIST:
            domains = _names(value, problems)
        elif code == OPT_CLIENT_FQDN:
            if not value:
                problems.append("dhcpv6-bad-option-length")
            else:
                fqdn_flags = value[0]
                names = _names(value[1:], problems)
                fqdn = names[0] if names else ""
        elif code == OPT_RELAY_MSG and relay and relayed is None:
            if depth >= MAX_RELAY_DEPTH:
                problems.append("dhcpv6-relay-too-deep")
                continue
            try:
                relayed = _parse(value, depth + 1)
            except MalformedMessage as exc:
                problems.append(exc.reason)
    return Dhcpv6Message(
        msg_type=msg_type,
        transaction_id=None if relay else int.from_bytes(buf[1:4], "big"),
        client_duid=client,
        server_duid=server,
        client_fqdn=fqdn,
        fqdn_flags=fqdn_flags,
        vendor_class=vendor,
        user_class=user_class,
        addresses=tuple(addresses),
        prefixes=tuple(prefixes),
        dns_servers=dns,
        domain_list=domains,
        option_request=oro,
        options=tuple(code for code, _ in options),
        hop_count=buf[1] if relay else None,
        link_address=_ipv6(buf[2:18]) if relay else None,
        peer_address=_ipv6(buf[18:34]) if relay else None,
        relayed=relayed,
        problems=tuple(dict.fromkeys(problems)),
    )


def parse_dhcpv6(payload: bytes) -> Dhcpv6Message:
    """Parse a DHCPv6 message (a UDP 546/547 payload), unwrapping relay messages.

    Raises `MalformedMessage("dhcpv6-short-header")` when the header is incomplete. A damaged relayed
    message leaves `relayed` empty and its reason in `problems`.
    """
    return _parse(bytes(payload), 0)
