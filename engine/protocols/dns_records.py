"""DNS resource record data: the record types, the typed values of their data and how they are parsed,
and the mnemonics of record types, response codes and opcodes.

A/AAAA data reads as address text, CNAME/PTR/NS/DNAME as a name, TXT/HINFO as its character-strings, MX,
SOA, SRV, SVCB/HTTPS and OPT as the dataclasses below; any other type, or data that fails to decode, is kept
as `RawData` hex.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from engine.protocols.dns_names import decode_name
from engine.protocols.errors import MalformedMessage
from engine.protocols.text import safe_text

__all__ = [
    "TYPE_A",
    "TYPE_AAAA",
    "TYPE_CNAME",
    "TYPE_DNAME",
    "TYPE_HINFO",
    "TYPE_HTTPS",
    "TYPE_MX",
    "TYPE_NS",
    "TYPE_OPT",
    "TYPE_PTR",
    "TYPE_SOA",
    "TYPE_SRV",
    "TYPE_SVCB",
    "TYPE_TXT",
    "EdnsOption",
    "MxData",
    "OptData",
    "RawData",
    "RecordValue",
    "SoaData",
    "SrvData",
    "SvcbData",
    "opcode_name",
    "parse_rdata",
    "rcode_name",
    "type_name",
]

# Record types the parser gives a typed value to
TYPE_A = 1
TYPE_NS = 2
TYPE_CNAME = 5
TYPE_SOA = 6
TYPE_PTR = 12
TYPE_HINFO = 13
TYPE_MX = 15
TYPE_TXT = 16
TYPE_AAAA = 28
TYPE_SRV = 33
TYPE_DNAME = 39
TYPE_OPT = 41
TYPE_SVCB = 64
TYPE_HTTPS = 65

_U16 = struct.Struct("!H")


@dataclass(frozen=True, slots=True)
class MxData:
    preference: int
    exchange: str


@dataclass(frozen=True, slots=True)
class SoaData:
    mname: str
    rname: str
    serial: int
    refresh: int
    retry: int
    expire: int
    minimum: int


@dataclass(frozen=True, slots=True)
class SrvData:
    priority: int
    weight: int
    port: int
    target: str


@dataclass(frozen=True, slots=True)
class SvcbData:
    """SVCB / HTTPS (RFC 9460). Priority 0 is alias mode: only `target` is meaningful."""

    priority: int
    target: str
    alpn: tuple[str, ...] = ()
    no_default_alpn: bool = False
    port: int | None = None
    ipv4hint: tuple[str, ...] = ()
    ipv6hint: tuple[str, ...] = ()
    ech: bool = False  # an ECH config is published (its content is opaque here)
    mandatory: tuple[int, ...] = ()
    other_keys: tuple[int, ...] = ()  # SvcParamKeys present but not decoded


@dataclass(frozen=True, slots=True)
class EdnsOption:
    code: int
    data_hex: str


@dataclass(frozen=True, slots=True)
class OptData:
    """The EDNS(0) pseudo-record (RFC 6891)."""

    udp_size: int
    extended_rcode: int  # the upper 8 bits of the 12-bit rcode, as carried in the record
    version: int
    dnssec_ok: bool
    options: tuple[EdnsOption, ...] = ()


@dataclass(frozen=True, slots=True)
class RawData:
    """Record data of a type not decoded here, or that failed to decode, as lower-case hex."""

    hex: str


# A/AAAA: address text; CNAME/PTR/NS/DNAME: a name; TXT/HINFO: its character-strings
RecordValue = str | tuple[str, ...] | MxData | SoaData | SrvData | SvcbData | OptData | RawData


# ---------------------------------------------------------------------------------------- parsing


def _rdata_name(buf: bytes, pos: int, end: int) -> tuple[str, int]:
    name, after = decode_name(buf, pos)
    if after > end:
        raise MalformedMessage("dns-bad-rdata", "name runs past the record data")
    return name, after


def _character_strings(buf: bytes, pos: int, end: int) -> tuple[str, ...]:
    strings: list[str] = []
    while pos < end:
        length = buf[pos]
        nxt = pos + 1 + length
        if nxt > end:
            raise MalformedMessage("dns-bad-rdata", "character-string runs past the record data")
        strings.append(safe_text(buf[pos + 1 : nxt]))
        pos = nxt
    return tuple(strings)


def _ipv6_text(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6, raw)


def _ipv4_text(raw: bytes) -> str:
    return f"{raw[0]}.{raw[1]}.{raw[2]}.{raw[3]}"


def _svcb(buf: bytes, pos: int, end: int) -> SvcbData:
    if end - pos < 3:
        raise MalformedMessage("dns-bad-rdata", "SVCB record too short")
    priority = _U16.unpack_from(buf, pos)[0]
    target, pos = _rdata_name(buf, pos + 2, end)
    alpn: tuple[str, ...] = ()
    port: int | None = None
    ipv4: tuple[str, ...] = ()
    ipv6: tuple[str, ...] = ()
    mandatory: tuple[int, ...] = ()
    no_default_alpn = False
    ech = False
    others: list[int] = []
    while pos < end:
        if end - pos < 4:
            raise MalformedMessage("dns-bad-rdata", "SvcParam header cut")
        key, length = struct.unpack_from("!HH", buf, pos)
        value_end = pos + 4 + length
        if value_end > end:
            raise MalformedMessage("dns-bad-rdata", f"SvcParam {key} runs past the record data")
        value = buf[pos + 4 : value_end]
        if key == 0 and length % 2 == 0:
            mandatory = tuple(_U16.unpack_from(value, i)[0] for i in range(0, length, 2))
        elif key == 1:
            alpn = _character_strings(value, 0, length)
        elif key == 2:
            no_default_alpn = True
        elif key == 3 and length == 2:
            port = _U16.unpack_from(value)[0]
        elif key == 4 and length % 4 == 0:
            ipv4 = tuple(_ipv4_text(value[i : i + 4]) for i in range(0, length, 4))
        elif key == 5:
            ech = True
        elif key == 6 and length % 16 == 0:
            ipv6 = tuple(_ipv6_text(value[i : i + 16]) for i in range(0, length, 16))
        else:
            others.append(key)
        pos = value_end
    return SvcbData(priority, target, alpn, no_default_alpn, port, ipv4, ipv6, ech, mandatory, tuple(others))


def _opt(buf: bytes, pos: int, end: int, rclass: int, ttl: int) -> OptData:
    options: list[EdnsOption] = []
    while pos < end:
        if end - pos < 4:
            raise MalformedMessage("dns-bad-rdata", "EDNS option header cut")
        code, length = struct.unpack_from("!HH", buf, pos)
        if pos + 4 + length > end:
            raise MalformedMessage("dns-bad-rdata", f"EDNS option {code} runs past the record data")
        options.append(EdnsOption(code, buf[pos + 4 : pos + 4 + length].hex()))
        pos += 4 + length
    return OptData(rclass, ttl >> 24, (ttl >> 16) & 0xFF, bool(ttl & 0x8000), tuple(options))


def parse_rdata(buf: bytes, pos: int, end: int, rtype: int, *, rclass: int, ttl: int) -> RecordValue:
    """The typed value of a record's data in buf[pos:end]; raises MalformedMessage when it is damaged."""
    length = end - pos
    if rtype == TYPE_A:
        if length != 4:
            raise MalformedMessage("dns-bad-rdata", f"A record of {length} bytes")
        return _ipv4_text(buf[pos:end])
    if rtype == TYPE_AAAA:
        if length != 16:
            raise MalformedMessage("dns-bad-rdata", f"AAAA record of {length} bytes")
        return _ipv6_text(buf[pos:end])
    if rtype in (TYPE_CNAME, TYPE_PTR, TYPE_NS, TYPE_DNAME):
        return _rdata_name(buf, pos, end)[0]
    if rtype == TYPE_MX:
        if length < 3:
            raise MalformedMessage("dns-bad-rdata", "MX record too short")
        return MxData(_U16.unpack_from(buf, pos)[0], _rdata_name(buf, pos + 2, end)[0])
    if rtype == TYPE_SRV:
        if length < 7:
            raise MalformedMessage("dns-bad-rdata", "SRV record too short")
        priority, weight, port = struct.unpack_from("!HHH", buf, pos)
        return SrvData(priority, weight, port, _rdata_name(buf, pos + 6, end)[0])
    if rtype in (TYPE_TXT, TYPE_HINFO):
        return _character_strings(buf, pos, end)
    if rtype == TYPE_SOA:
        mname, after = _rdata_name(buf, pos, end)
        rname, after = _rdata_name(buf, after, end)
        if end - after < 20:
            raise MalformedMessage("dns-bad-rdata", "SOA record too short")
        return SoaData(mname, rname, *struct.unpack_from("!IIIII", buf, after))
    if rtype in (TYPE_SVCB, TYPE_HTTPS):
        return _svcb(buf, pos, end)
    if rtype == TYPE_OPT:
        return _opt(buf, pos, end, rclass, ttl)
    return RawData(buf[pos:end].hex())


# -------------------------------------------------------------------------------------- mnemonics


_TYPE_NAMES = {
    1: "A",
    2: "NS",
    5: "CNAME",
    6: "SOA",
    12: "PTR",
    13: "HINFO",
    15: "MX",
    16: "TXT",
    17: "RP",
    18: "AFSDB",
    24: "SIG",
    25: "KEY",
    28: "AAAA",
    29: "LOC",
    33: "SRV",
    35: "NAPTR",
    36: "KX",
    37: "CERT",
    39: "DNAME",
    41: "OPT",
    42: "APL",
    43: "DS",
    44: "SSHFP",
    45: "IPSECKEY",
    46: "RRSIG",
    47: "NSEC",
    48: "DNSKEY",
    49: "DHCID",
    50: "NSEC3",
    51: "NSEC3PARAM",
    52: "TLSA",
    53: "SMIMEA",
    55: "HIP",
    59: "CDS",
    60: "CDNSKEY",
    61: "OPENPGPKEY",
    62: "CSYNC",
    63: "ZONEMD",
    64: "SVCB",
    65: "HTTPS",
    99: "SPF",
    108: "EUI48",
    109: "EUI64",
    249: "TKEY",
    250: "TSIG",
    251: "IXFR",
    252: "AXFR",
    255: "ANY",
    256: "URI",
    257: "CAA",
}

_RCODE_NAMES = {
    0: "NOERROR",
    1: "FORMERR",
    2: "SERVFAIL",
    3: "NXDOMAIN",
    4: "NOTIMP",
    5: "REFUSED",
    6: "YXDOMAIN",
    7: "YXRRSET",
    8: "NXRRSET",
    9: "NOTAUTH",
    10: "NOTZONE",
    11: "DSOTYPENI",
    16: "BADVERS",
    17: "BADKEY",
    18: "BADTIME",
    19: "BADMODE",
    20: "BADNAME",
    21: "BADALG",
    22: "BADTRUNC",
    23: "BADCOOKIE",
}

_OPCODE_NAMES = {0: "QUERY", 1: "IQUERY", 2: "STATUS", 4: "NOTIFY", 5: "UPDATE", 6: "DSO"}


def type_name(rtype: int) -> str:
    """The mnemonic of a record type, or `TYPEnnn` (RFC 3597) for one without."""
    return _TYPE_NAMES.get(rtype, f"TYPE{rtype}")


def rcode_name(rcode: int) -> str:
    """The mnemonic of a response code (extended codes included), or `RCODEnnn`."""
    return _RCODE_NAMES.get(rcode, f"RCODE{rcode}")


def opcode_name(opcode: int) -> str:
    return _OPCODE_NAMES.get(opcode, f"OPCODE{opcode}")
