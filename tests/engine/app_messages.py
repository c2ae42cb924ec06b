"""Application messages for crafted captures (DNS, DHCP, DHCPv6, NetBIOS, SSDP, TLS, HTTP), built from the
protocol specifications with the small wire builders of tests/protocols.

The frames around them come from tests/engine/crafted.py.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Sequence

from tests.engine.crafted import mac
from tests.protocols.builders import client_hello_message, records, sni_ext
from tests.protocols.wire import dhcp_option, dhcpv6_option, dns_header, dns_name, dns_question, dns_rr

TYPE_A, TYPE_CNAME, TYPE_PTR, TYPE_AAAA = 1, 5, 12, 28
DNS_QUERY_FLAGS = 0x0100  # recursion desired
DNS_RESPONSE_FLAGS = 0x8180  # response, recursion desired and available


def name_of(text: str) -> bytes:
    """A DNS name in wire form, uncompressed."""
    return dns_name(*text.rstrip(".").split("."))


def rdata_of(rtype: int, value: str | bytes) -> bytes:
    """Record data: an address (A, AAAA), a name (CNAME, PTR), or the data itself as bytes."""
    if isinstance(value, bytes):
        return value
    if rtype == TYPE_A:
        return ipaddress.IPv4Address(value).packed
    if rtype == TYPE_AAAA:
        return ipaddress.IPv6Address(value).packed
    return name_of(value)  # CNAME, PTR


def dns_query(ident: int, name: str, qtype: int = TYPE_A) -> bytes:
    return dns_header(ident, DNS_QUERY_FLAGS, qd=1) + dns_question(name_of(name), qtype)


def dns_response(
    ident: int,
    name: str,
    qtype: int = TYPE_A,
    answers: Sequence[tuple[str, int, str | bytes]] = (),
    *,
    rcode: int = 0,
) -> bytes:
    """A response repeating the question, with (owner, type, value) answer records."""
    body = dns_question(name_of(name), qtype)
    body += b"".join(dns_rr(name_of(owner), rtype, rdata_of(rtype, value)) for owner, rtype, value in answers)
    return dns_header(ident, DNS_RESPONSE_FLAGS | rcode, qd=1, an=len(answers)) + body


def mdns_announcement(records_: Sequence[tuple[str, int, str | bytes]]) -> bytes:
    """An unsolicited mDNS response (authoritative, no question) with (owner, type, value) records."""
    body = b"".join(
        dns_rr(name_of(owner), rtype, rdata_of(rtype, value), rclass=0x8001)
        for owner, rtype, value in records_
    )
    return dns_header(0, 0x8400, an=len(records_)) + body


def tcp_dns(*messages: bytes) -> bytes:
    """DNS messages as they travel over TCP: each preceded by its 2-byte length."""
    return b"".join(struct.pack(">H", len(m)) + m for m in messages)


# --- DHCP (RFC 2131/2132) -----------------------------------------------------------------------------


def dhcp_message(
    client_mac: str,
    options: Sequence[bytes],
    *,
    op: int = 1,
    xid: int = 0x3903F326,
    yiaddr: str = "0.0.0.0",
    sname: bytes = b"",
    file: bytes = b"",
) -> bytes:
    """A DHCP message: fixed header, magic cookie, the options given (each from `dhcp_option`), end option.

    `sname` and `file` fill those fields (zero-padded): with option 52 they carry more options.
    """
    head = struct.pack(
        ">BBBBIHH4s4s4s4s",
        op,
        1,
        6,
        0,
        xid,
        0,
        0,
        bytes(4),
        ipaddress.IPv4Address(yiaddr).packed,
        bytes(4),
        bytes(4),
    )
    chaddr = mac(client_mac).ljust(16, b"\0")
    return (
        head
        + chaddr
        + sname.ljust(64, b"\0")
        + file.ljust(128, b"\0")
        + b"\x63\x82\x53\x63"
        + b"".join(options)
        + b"\xff"
    )


def dhcp_type(kind: int) -> bytes:
    return dhcp_option(53, bytes([kind]))


def dhcp_address(code: int, address: str) -> bytes:
    return dhcp_option(code, ipaddress.IPv4Address(address).packed)


# --- DHCPv6 (RFC 8415) --------------------------------------------------------------------------------


def dhcpv6_solicit(client_mac: str, fqdn: str, *, txid: int = 0x00ABCD) -> bytes:
    """A Solicit with a DUID-LL client identifier and a client FQDN option (39, RFC 4704)."""
    duid = struct.pack(">HH", 3, 1) + mac(client_mac)
    return (
        bytes([1])
        + txid.to_bytes(3, "big")
        + dhcpv6_option(1, duid)
        + dhcpv6_option(39, b"\x01" + name_of(fqdn))
        + dhcpv6_option(6, struct.pack(">HH", 23, 24))
    )


# --- NetBIOS name service (RFC 1002) --------------------------------------------------------------------


def netbios_name(name: bytes, suffix: int) -> bytes:
    """First-level encoding: 15 characters space-padded, the suffix, each byte as two letters."""
    raw = name.ljust(15, b" ") + bytes([suffix])
    return b"\x20" + bytes(c for b in raw for c in (0x41 + (b >> 4), 0x41 + (b & 0x0F))) + b"\x00"


def nbns_registration(name: bytes, address: str, *, suffix: int = 0x20) -> bytes:
    """A broadcast name registration request (opcode 5) with its NB record."""
    encoded = netbios_name(name, suffix)
    rdata = struct.pack(">H", 0) + ipaddress.IPv4Address(address).packed
    record = encoded + struct.pack(">HHIH", 0x20, 1, 300000, len(rdata)) + rdata
    return struct.pack(">6H", 0x7001, 0x2910, 1, 0, 0, 1) + encoded + b"\x00\x20\x00\x01" + record


# --- SSDP, HTTP, TLS ----------------------------------------------------------------------------------


def ssdp_notify(server: str, location: str) -> bytes:
    return (
        "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=1800\r\n"
        f"LOCATION: {location}\r\nNT: upnp:rootdevice\r\nNTS: ssdp:alive\r\nSERVER: {server}\r\n"
        "USN: uuid:2f402f80-da50-11e1-9b23-001788255acc::upnp:rootdevice\r\n\r\n"
    ).encode()


def http_get(host: str, path: str = "/", user_agent: str = "curl/8.5.0") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {user_agent}\r\nAccept: */*\r\n\r\n".encode()


def tls_client_hello(server_name: str, *, padding: int = 0) -> bytes:
    """A TLS record holding a ClientHello that asks for `server_name` (and is `padding` bytes longer)."""
    return records(client_hello_message(extensions=(sni_ext(server_name.encode()),), padding=padding))
