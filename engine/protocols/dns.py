"""DNS message parser, shared by unicast DNS (53, UDP and TCP), mDNS (5353) and LLMNR (5355).

`parse_dns` decodes one message into frozen records; `names_answered` turns a response into the
(queried name, address, CNAME chain) facts the monitor uses to name remote addresses.

Names come out in presentation form as `dig` prints them, case kept as sent: labels joined with `.`, the
root as `.`, and inside a label `\\.` for a dot, `\\\\` for a backslash and `\\DDD` (decimal) for bytes
outside printable ASCII. A space stays a space: mDNS service instances are full of them and escaping them
would only make the monitor harder to read.

Damaged input never raises anything but `MalformedMessage`. A message cut short keeps the sections parsed
so far and says `truncated=True`; a structural defect (compression loop, over-long name, bad label type)
stops parsing at the record where it was met and is listed in `problems`. Only a message without a usable
header raises.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, replace

from engine.protocols.errors import MalformedMessage
from engine.protocols.text import safe_text

__all__ = [
    "AnsweredName",
    "DnsFlags",
    "DnsMessage",
    "DnsQuestion",
    "DnsRecord",
    "EdnsOption",
    "MxData",
    "OptData",
    "RawData",
    "RecordValue",
    "SoaData",
    "SrvData",
    "SvcbData",
    "decode_name",
    "name_labels",
    "names_answered",
    "opcode_name",
    "parse_dns",
    "parse_dns_tcp",
    "rcode_name",
    "read_name_labels",
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

MAX_NAME_WIRE_LENGTH = 255  # RFC 1035 2.3.4, counting every length byte and the root label
_TRUNCATED = "dns-truncated"
_HEADER = struct.Struct("!HHHHHH")
_RR_FIXED = struct.Struct("!HHIH")
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")


# --------------------------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class DnsFlags:
    """Header flag bits. `raw` is the whole 16-bit flags word (including QR, opcode and rcode)."""

    aa: bool
    tc: bool
    rd: bool
    ra: bool
    ad: bool
    cd: bool
    raw: int


@dataclass(frozen=True, slots=True)
class DnsQuestion:
    name: str
    qtype: int
    qclass: int  # without the mDNS unicast-response bit
    unicast_response: bool  # mDNS "QU" bit: the top bit of the class field


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


@dataclass(frozen=True, slots=True)
class DnsRecord:
    name: str
    rtype: int
    rclass: int  # without the mDNS cache-flush bit (for OPT: the raw field, the UDP payload size)
    cache_flush: bool  # mDNS: the top bit of the class field
    ttl: int  # for OPT: the raw field (extended rcode, version, flags)
    value: RecordValue


@dataclass(frozen=True, slots=True)
class DnsMessage:
    id: int
    is_response: bool
    opcode: int
    rcode: int  # including the EDNS extended rcode when an OPT record is present
    flags: DnsFlags
    questions: tuple[DnsQuestion, ...]
    answers: tuple[DnsRecord, ...]
    authorities: tuple[DnsRecord, ...]
    additionals: tuple[DnsRecord, ...]
    truncated: bool = False  # cut short: the sections above are what could be parsed
    problems: tuple[str, ...] = ()

    @property
    def opt(self) -> OptData | None:
        """The EDNS OPT record's data, when the message has one."""
        for record in self.additionals:
            if isinstance(record.value, OptData):
                return record.value
        return None


@dataclass(frozen=True, slots=True)
class AnsweredName:
    """An address a response gave for a queried name, with the CNAME chain that led there."""

    query: str  # the name the client asked for (as sent in the question)
    address: str
    chain: tuple[str, ...]  # every name from `query` to the owner of the address record, both included
    ttl: int


# ---------------------------------------------------------------------------------------------- names

# How each byte appears inside a label in presentation form
_LABEL_ESCAPES = [chr(b) if 0x20 <= b < 0x7F else f"\\{b:03d}" for b in range(256)]
_LABEL_ESCAPES[ord(".")] = "\\."
_LABEL_ESCAPES[ord("\\")] = "\\\\"
_NEEDS_ESCAPE = bytes(b for b in range(256) if _LABEL_ESCAPES[b] != chr(b))


def _label_text(label: bytes) -> str:
    # Fast path: most labels are plain hostnames; bytes.translate with a delete table runs in C
    if len(label.translate(None, _NEEDS_ESCAPE)) == len(label):
        return label.decode("ascii")
    return "".join([_LABEL_ESCAPES[b] for b in label])


def _name_text(labels: list[bytes]) -> str:
    if not labels:
        return "."
    # Fast path: check all labels at once; only names with bytes to escape go label by label
    joined = b"".join(labels)
    if len(joined.translate(None, _NEEDS_ESCAPE)) == len(joined):
        return b".".join(labels).decode("ascii")
    return ".".join([_label_text(label) for label in labels])


def _read_labels(buf: bytes, offset: int) -> tuple[list[bytes], int]:
    """The labels of the wire-format name at `offset`, and the offset just after it in the message.

    Compression pointers must point strictly below the start of the stretch of labels being read (the
    name's own start, then each pointer's target), so every jump goes further back and a loop is
    impossible; together with the 255-byte limit this bounds the work for any input.
    """
    labels: list[bytes] = []
    end = len(buf)
    pos = offset
    floor = offset
    after = -1
    wire_length = 1  # the terminating root label
    while True:
        if pos >= end:
            raise MalformedMessage(_TRUNCATED, f"name at {offset} runs past the end")
        length = buf[pos]
        if length == 0:
            return labels, (pos + 1 if after < 0 else after)
        kind = length & 0xC0
        if kind == 0xC0:
            if pos + 1 >= end:
                raise MalformedMessage(_TRUNCATED, f"pointer at {pos} cut")
            target = ((length & 0x3F) << 8) | buf[pos + 1]
            if target >= floor:
                raise MalformedMessage("dns-compression-loop", f"pointer at {pos} to {target}")
            if after < 0:
                after = pos + 2
            pos = floor = target
            continue
        if kind:
            # 0x40 (RFC 2673 binary labels, obsolete) and 0x80 (reserved)
            raise MalformedMessage("dns-bad-label-type", f"label type {kind:#x} at {pos}")
        wire_length += length + 1
        if wire_length > MAX_NAME_WIRE_LENGTH:
            raise MalformedMessage("dns-name-too-long", f"name at {offset}")
        nxt = pos + 1 + length
        if nxt > end:
            raise MalformedMessage(_TRUNCATED, f"label at {pos} runs past the end")
        labels.append(buf[pos + 1 : nxt])
        pos = nxt


def decode_name(buf: bytes, offset: int) -> tuple[str, int]:
    """The name at `offset` of a DNS message (or any wire-format name), and the offset after it.

    Raises `MalformedMessage` with reason `dns-truncated`, `dns-compression-loop`, `dns-name-too-long` or
    `dns-bad-label-type`.
    """
    labels, after = _read_labels(buf, offset)
    return _name_text(labels), after


def read_name_labels(buf: bytes, offset: int) -> tuple[list[bytes], int]:
    """Like `decode_name`, but the raw labels (for protocols such as NetBIOS that encode inside them)."""
    return _read_labels(buf, offset)


def name_labels(name: str) -> list[bytes]:
    """The raw labels of a name in this module's presentation form (the inverse of the escaping)."""
    if name in (".", ""):
        return []
    if "\\" not in name:
        return [label.encode("ascii", "replace") for label in name.rstrip(".").split(".")]
    labels: list[bytes] = []
    current = bytearray()
    i = 0
    n = len(name)
    while i < n:
        ch = name[i]
        if ch == "\\" and i + 1 < n:
            digits = name[i + 1 : i + 4]
            if len(digits) == 3 and digits.isascii() and digits.isdigit():
                current.append(min(int(digits), 255))
                i += 4
            else:
                current += name[i + 1].encode("ascii", "replace")
                i += 2
            continue
        if ch == ".":
            labels.append(bytes(current))
            current.clear()
        else:
            current += ch.encode("ascii", "replace")
        i += 1
    if current:
        labels.append(bytes(current))
    return labels


# ---------------------------------------------------------------------------------------- record data


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


def _rdata(buf: bytes, pos: int, end: int, rtype: int, *, rclass: int, ttl: int) -> RecordValue:
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


# ------------------------------------------------------------------------------------------- sections


def _question(buf: bytes, pos: int) -> tuple[DnsQuestion, int]:
    labels, pos = _read_labels(buf, pos)
    if pos + 4 > len(buf):
        raise MalformedMessage(_TRUNCATED, "question cut")
    qtype, qclass = struct.unpack_from("!HH", buf, pos)
    return DnsQuestion(_name_text(labels), qtype, qclass & 0x7FFF, bool(qclass & 0x8000)), pos + 4


def _record(buf: bytes, pos: int, problems: list[str]) -> tuple[DnsRecord, int]:
    labels, pos = _read_labels(buf, pos)
    if pos + 10 > len(buf):
        raise MalformedMessage(_TRUNCATED, "record header cut")
    rtype, rclass, ttl, rdlength = _RR_FIXED.unpack_from(buf, pos)
    pos += 10
    end = pos + rdlength
    if end > len(buf):
        raise MalformedMessage(_TRUNCATED, "record data cut")
    try:
        value = _rdata(buf, pos, end, rtype, rclass=rclass, ttl=ttl)
    except MalformedMessage as exc:
        # The record's extent is known from rdlength, so a damaged value spoils only this record
        problems.append(exc.reason)
        value = RawData(buf[pos:end].hex())
    if rtype == TYPE_OPT:
        # OPT reuses class and TTL for other purposes: no cache-flush bit to split off
        return DnsRecord(_name_text(labels), rtype, rclass, False, ttl, value), end
    return DnsRecord(_name_text(labels), rtype, rclass & 0x7FFF, bool(rclass & 0x8000), ttl, value), end


def parse_dns(payload: bytes, *, answers_only: bool = False) -> DnsMessage:
    """Parse one DNS, mDNS or LLMNR message (the UDP payload, or one TCP message without its length).

    With `answers_only`, the authority and additional sections are not read (left empty): a monitor that
    only logs questions and answers saves their parsing, often half of a response. Raises
    `MalformedMessage("dns-short-header")` when there are fewer than 12 bytes.
    """
    buf = bytes(payload)
    if len(buf) < 12:
        raise MalformedMessage("dns-short-header", f"{len(buf)} bytes")
    ident, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(buf)
    questions: list[DnsQuestion] = []
    sections: tuple[list[DnsRecord], list[DnsRecord], list[DnsRecord]] = ([], [], [])
    problems: list[str] = []
    truncated = False
    pos = 12
    try:
        for _ in range(qdcount):
            question, pos = _question(buf, pos)
            questions.append(question)
        counts = (ancount, 0, 0) if answers_only else (ancount, nscount, arcount)
        for section, count in zip(sections, counts, strict=True):
            for _ in range(count):
                record, pos = _record(buf, pos, problems)
                section.append(record)
    except MalformedMessage as exc:
        if exc.reason == _TRUNCATED:
            truncated = True
        else:
            problems.append(exc.reason)
    else:
        if pos < len(buf) and not answers_only:
            problems.append("dns-trailing-data")

    rcode = flags & 0xF
    opts = [r.value for r in sections[2] if isinstance(r.value, OptData)]
    if opts:
        rcode |= opts[0].extended_rcode << 4
        if len(opts) > 1:
            problems.append("dns-multiple-opt")
    return DnsMessage(
        id=ident,
        is_response=bool(flags & 0x8000),
        opcode=(flags >> 11) & 0xF,
        rcode=rcode,
        flags=DnsFlags(
            aa=bool(flags & 0x0400),
            tc=bool(flags & 0x0200),
            rd=bool(flags & 0x0100),
            ra=bool(flags & 0x0080),
            ad=bool(flags & 0x0020),
            cd=bool(flags & 0x0010),
            raw=flags,
        ),
        questions=tuple(questions),
        answers=tuple(sections[0]),
        authorities=tuple(sections[1]),
        additionals=tuple(sections[2]),
        truncated=truncated,
        problems=tuple(problems),
    )


def parse_dns_tcp(stream: bytes) -> list[DnsMessage]:
    """Parse the DNS messages of one direction of a TCP stream (each preceded by a 2-byte length).

    A message cut at the end of `stream` is parsed as far as it goes and marked truncated. A length that
    cannot hold a header means the stream is not (or no longer) DNS: parsing stops there, and raises
    `MalformedMessage` only when no message could be read at all.
    """
    buf = bytes(stream)
    messages: list[DnsMessage] = []
    pos = 0
    end = len(buf)
    while pos + 2 <= end:
        length = _U16.unpack_from(buf, pos)[0]
        body = buf[pos + 2 : pos + 2 + length]
        if length < 12 or len(body) < 12:
            if not messages and length < 12:
                raise MalformedMessage("dns-short-header", f"TCP message of {length} bytes")
            break  # an unusable length, or the next message's header is not captured yet
        message = parse_dns(body)
        if len(body) < length and not message.truncated:
            # cut exactly at a record boundary: the counts may still have been met by what was
            # parsed, but the bytes the length promised are missing
            message = replace(message, truncated=True)
        messages.append(message)
        pos += 2 + length
    return messages


# -------------------------------------------------------------------------------------------- helpers


def _lower(name: str) -> str:
    # DNS names compare case-insensitively in ASCII only (RFC 4343)
    return name.lower() if name.isascii() else name


def names_answered(msg: DnsMessage) -> list[AnsweredName]:
    """The addresses a response's answer section gives, each with the name asked for and CNAME chain.

    A/AAAA answers reachable from a question through CNAMEs are credited to that question's name;
    others (mDNS announcements carry no question) are credited to their own owner name.
    """
    cnames: dict[str, str] = {}
    addresses: dict[str, list[DnsRecord]] = {}
    for record in msg.answers:
        key = _lower(record.name)
        if record.rtype == TYPE_CNAME and isinstance(record.value, str):
            cnames.setdefault(key, record.value)
        elif record.rtype in (TYPE_A, TYPE_AAAA) and isinstance(record.value, str):
            addresses.setdefault(key, []).append(record)
    if not addresses:
        return []

    found: list[AnsweredName] = []
    credited: set[str] = set()
    for question in msg.questions:
        chain = [question.name]
        key = _lower(question.name)
        seen = {key}
        while key in cnames:
            target = cnames[key]
            following = _lower(target)
            if following in seen:  # a CNAME loop in the answer: stop before the repeat
                break
            seen.add(following)
            key = following
            chain.append(target)
        for record in addresses.get(key, ()):
            found.append(AnsweredName(question.name, str(record.value), tuple(chain), record.ttl))
        credited.add(key)
    for key, records in addresses.items():
        if key not in credited:
            found.extend(AnsweredName(r.name, str(r.value), (r.name,), r.ttl) for r in records)
    return found


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
