"""DHCPv4 (RFC 2131/2132) and BOOTP message parser (UDP 67/68).

DHCP is where a home device first says who it is: its MAC, the host name it wants, its vendor class
("android-dhcp-13", "MSFT 5.0"), its client FQDN. `parse_dhcp` decodes the fixed header and the options
that carry those, plus what the server hands back (address, DNS servers, router, lease).

Options are read the way RFC 3396 and RFC 2131 4.1 prescribe: an option code that appears several times
is one long option (its pieces concatenated), and option 52 (overload) continues the options in the
`file` and then the `sname` fields. A message without the magic cookie is plain BOOTP: header only.
Options that run past the end keep everything parsed before them and are listed in `problems`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from engine.protocols.dns_names import decode_name
from engine.protocols.errors import MalformedMessage
from engine.protocols.text import safe_text

__all__ = ["MESSAGE_TYPES", "ClientFqdn", "DhcpMessage", "parse_dhcp"]

MAGIC_COOKIE = b"\x63\x82\x53\x63"
_FIXED = struct.Struct("!BBBBIHH4s4s4s4s16s64s128s")
FIXED_LENGTH = _FIXED.size  # 236: everything before the cookie

MESSAGE_TYPES = {
    1: "DISCOVER",
    2: "OFFER",
    3: "REQUEST",
    4: "DECLINE",
    5: "ACK",
    6: "NAK",
    7: "RELEASE",
    8: "INFORM",
    9: "FORCERENEW",
    10: "LEASEQUERY",
    11: "LEASEUNASSIGNED",
    12: "LEASEUNKNOWN",
    13: "LEASEACTIVE",
}

OPT_PAD = 0
OPT_SUBNET_MASK = 1
OPT_ROUTERS = 3
OPT_DNS_SERVERS = 6
OPT_HOSTNAME = 12
OPT_DOMAIN_NAME = 15
OPT_REQUESTED_IP = 50
OPT_LEASE_TIME = 51
OPT_OVERLOAD = 52
OPT_MESSAGE_TYPE = 53
OPT_SERVER_ID = 54
OPT_PARAMETER_REQUEST_LIST = 55
OPT_VENDOR_CLASS = 60
OPT_CLIENT_ID = 61
OPT_CLIENT_FQDN = 81
OPT_END = 255


@dataclass(frozen=True, slots=True)
class ClientFqdn:
    """Option 81 (RFC 4702): the name the client wants registered, and who should update DNS."""

    flags: int  # S 0x01 (server updates A), O 0x02, E 0x04 (name in wire format), N 0x08
    name: str


@dataclass(frozen=True, slots=True)
class DhcpMessage:
    op: int  # 1 request (client to server), 2 reply
    htype: int
    hlen: int
    hops: int
    xid: int
    secs: int
    broadcast: bool
    ciaddr: str
    yiaddr: str
    siaddr: str
    giaddr: str
    client_mac: str | None  # chaddr when it is an Ethernet address (htype 1, hlen 6)
    chaddr_hex: str  # the first hlen bytes of chaddr (all 16 when hlen is out of range)
    server_name: str  # sname, unless it carries options
    boot_file: str  # file, unless it carries options
    is_bootp: bool  # no magic cookie: a BOOTP message, without options
    message_type: int | None
    hostname: str | None
    requested_ip: str | None
    server_id: str | None
    vendor_class: str | None
    client_id: str | None  # hex of the whole option (its first byte is the type, 1 for Ethernet)
    parameter_request_list: tuple[int, ...]
    client_fqdn: ClientFqdn | None
    domain_name: str | None
    dns_servers: tuple[str, ...]
    routers: tuple[str, ...]
    subnet_mask: str | None
    lease_time: int | None
    options: tuple[tuple[int, bytes], ...]  # every option, long options concatenated, in first-seen order
    problems: tuple[str, ...] = ()

    @property
    def message_type_name(self) -> str | None:
        """DISCOVER, OFFER, REQUEST, ..., or `TYPEn` for an unknown value; None for BOOTP."""
        if self.message_type is None:
            return None
        return MESSAGE_TYPES.get(self.message_type, f"TYPE{self.message_type}")

    def option(self, code: int) -> bytes | None:
        """The raw value of an option (concatenated when it was split), or None."""
        for c, value in self.options:
            if c == code:
                return value
        return None


def _ipv4(raw: bytes) -> str:
    return f"{raw[0]}.{raw[1]}.{raw[2]}.{raw[3]}"


def _text(raw: bytes) -> str:
    # Many clients count a C string's terminating NUL in the option length
    return safe_text(raw.rstrip(b"\x00"))


def _walk_options(area: bytes, options: dict[int, bytearray], problems: list[str], where: str) -> None:
    """Add the options of one area (the options field, `file` or `sname`) to `options`."""
    pos = 0
    end = len(area)
    while pos < end:
        code = area[pos]
        if code == OPT_END:
            return
        if code == OPT_PAD:
            pos += 1
            continue
        if pos + 1 >= end:
            problems.append("dhcp-option-past-end")
            return
        length = area[pos + 1]
        value_end = pos + 2 + length
        if value_end > end:
            problems.append("dhcp-option-past-end")
            return
        if code in options:
            options[code] += area[pos + 2 : value_end]  # RFC 3396: a repeated code continues the option
        else:
            options[code] = bytearray(area[pos + 2 : value_end])
        pos = value_end
    if where == "options":
        # a missing end option is common enough on the wire that it is not worth a problem elsewhere
        problems.append("dhcp-no-end-option")


def _addresses(value: bytes | None, problems: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not value or len(value) % 4:
        problems.append("dhcp-bad-option-length")
        return ()
    return tuple(_ipv4(value[i : i + 4]) for i in range(0, len(value), 4))


def _address(value: bytes | None, problems: list[str]) -> str | None:
    if value is None:
        return None
    if len(value) != 4:
        problems.append("dhcp-bad-option-length")
        return None
    return _ipv4(value)


def _client_fqdn(value: bytes | None, problems: list[str]) -> ClientFqdn | None:
    if value is None:
        return None
    if len(value) < 3:
        problems.append("dhcp-bad-option-length")
        return None
    flags = value[0]
    raw_name = bytes(value[3:])
    if flags & 0x04 and raw_name:
        # canonical wire format; a partial name (RFC 4702 2.3.1) simply lacks the root label
        try:
            name, _ = decode_name(raw_name if raw_name.endswith(b"\x00") else raw_name + b"\x00", 0)
        except MalformedMessage:
            problems.append("dhcp-bad-fqdn")
            name = safe_text(raw_name)
        return ClientFqdn(flags, "" if name == "." else name)
    return ClientFqdn(flags, _text(raw_name))


def parse_dhcp(payload: bytes) -> DhcpMessage:
    """Parse a DHCPv4 or BOOTP message (a UDP 67/68 payload).

    Raises `MalformedMessage("dhcp-short-header")` when the 236-byte fixed part is incomplete.
    """
    buf = bytes(payload)
    if len(buf) < FIXED_LENGTH:
        raise MalformedMessage("dhcp-short-header", f"{len(buf)} bytes")
    op, htype, hlen, hops, xid, secs, flags, ci, yi, si, gi, chaddr, sname, file = _FIXED.unpack_from(buf)
    problems: list[str] = []
    options: dict[int, bytearray] = {}
    is_bootp = buf[FIXED_LENGTH : FIXED_LENGTH + 4] != MAGIC_COOKIE
    if not is_bootp:
        _walk_options(buf[FIXED_LENGTH + 4 :], options, problems, "options")
        overload = options.get(OPT_OVERLOAD)
        mode = overload[0] if overload and len(overload) == 1 else 0
        if overload is not None and not (1 <= mode <= 3):
            problems.append("dhcp-bad-option-length")
        # RFC 2131 4.1: the options field first, then file, then sname
        if mode & 1:
            _walk_options(file, options, problems, "file")
        if mode & 2:
            _walk_options(sname, options, problems, "sname")
    else:
        mode = 0
        if len(buf) > FIXED_LENGTH:
            problems.append("dhcp-no-magic-cookie")

    def get(code: int) -> bytes | None:
        value = options.get(code)
        return None if value is None else bytes(value)

    message_type_raw = get(OPT_MESSAGE_TYPE)
    message_type: int | None = None
    if message_type_raw is not None:
        if len(message_type_raw) == 1:
            message_type = message_type_raw[0]
        else:
            problems.append("dhcp-bad-option-length")

    lease_raw = get(OPT_LEASE_TIME)
    lease_time: int | None = None
    if lease_raw is not None:
        if len(lease_raw) == 4:
            lease_time = struct.unpack("!I", lease_raw)[0]
        else:
            problems.append("dhcp-bad-option-length")

    hostname = get(OPT_HOSTNAME)
    vendor_class = get(OPT_VENDOR_CLASS)
    client_id = get(OPT_CLIENT_ID)
    domain = get(OPT_DOMAIN_NAME)
    prl = get(OPT_PARAMETER_REQUEST_LIST)
    ethernet = htype == 1 and hlen == 6
    return DhcpMessage(
        op=op,
        htype=htype,
        hlen=hlen,
        hops=hops,
        xid=xid,
        secs=secs,
        broadcast=bool(flags & 0x8000),
        ciaddr=_ipv4(ci),
        yiaddr=_ipv4(yi),
        siaddr=_ipv4(si),
        giaddr=_ipv4(gi),
        client_mac=":".join(f"{b:02x}" for b in chaddr[:6]) if ethernet else None,
        chaddr_hex=chaddr[: hlen if 0 < hlen <= 16 else 16].hex(),
        server_name="" if mode & 2 else _text(sname.partition(b"\x00")[0]),
        boot_file="" if mode & 1 else _text(file.partition(b"\x00")[0]),
        is_bootp=is_bootp,
        message_type=message_type,
        hostname=None if hostname is None else _text(hostname),
        requested_ip=_address(get(OPT_REQUESTED_IP), problems),
        server_id=_address(get(OPT_SERVER_ID), problems),
        vendor_class=None if vendor_class is None else _text(vendor_class),
        client_id=None if client_id is None else client_id.hex(),
        parameter_request_list=tuple(prl) if prl is not None else (),
        client_fqdn=_client_fqdn(get(OPT_CLIENT_FQDN), problems),
        domain_name=None if domain is None else _text(domain),
        dns_servers=_addresses(get(OPT_DNS_SERVERS), problems),
        routers=_addresses(get(OPT_ROUTERS), problems),
        subnet_mask=_address(get(OPT_SUBNET_MASK), problems),
        lease_time=lease_time,
        options=tuple((code, bytes(value)) for code, value in options.items()),
        problems=tuple(dict.fromkeys(problems)),
    )
