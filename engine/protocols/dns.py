"""DNS message parser, shared by unicast DNS (53, UDP and TCP), mDNS (5353) and LLMNR (5355).

`parse_dns` decodes one message into frozen records; `names_answered` turns a response into the
(queried name, address, CNAME chain) facts the monitor uses to name remote addresses. Names are read and
written by `engine.protocols.dns_names`, record data by `engine.protocols.dns_records`; the names that
used to be defined here are still importable from here.

Damaged input never raises anything but `MalformedMessage`. A message cut short keeps the sections parsed
so far and says `truncated=True`; a structural defect (compression loop, over-long name, bad label type)
stops parsing at the record where it was met and is listed in `problems`. Only a message without a usable
header raises.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace

from engine.protocols.dns_names import (
    MAX_NAME_WIRE_LENGTH,
    TRUNCATED_REASON,
    decode_name,
    name_labels,
    name_text,
    read_name_labels,
)
from engine.protocols.dns_records import (
    TYPE_A,
    TYPE_AAAA,
    TYPE_CNAME,
    TYPE_DNAME,
    TYPE_HINFO,
    TYPE_HTTPS,
    TYPE_MX,
    TYPE_NS,
    TYPE_OPT,
    TYPE_PTR,
    TYPE_SOA,
    TYPE_SRV,
    TYPE_SVCB,
    TYPE_TXT,
    EdnsOption,
    MxData,
    OptData,
    RawData,
    RecordValue,
    SoaData,
    SrvData,
    SvcbData,
    opcode_name,
    parse_rdata,
    rcode_name,
    type_name,
)
from engine.protocols.errors import MalformedMessage

__all__ = [
    "MAX_NAME_WIRE_LENGTH",
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

_HEADER = struct.Struct("!HHHHHH")
_RR_FIXED = struct.Struct("!HHIH")
_U16 = struct.Struct("!H")


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


# ------------------------------------------------------------------------------------------- sections


def _question(buf: bytes, pos: int) -> tuple[DnsQuestion, int]:
    labels, pos = read_name_labels(buf, pos)
    if pos + 4 > len(buf):
        raise MalformedMessage(TRUNCATED_REASON, "question cut")
    qtype, qclass = struct.unpack_from("!HH", buf, pos)
    return DnsQuestion(name_text(labels), qtype, qclass & 0x7FFF, bool(qclass & 0x8000)), pos + 4


def _record(buf: bytes, pos: int, problems: list[str]) -> tuple[DnsRecord, int]:
    labels, pos = read_name_labels(buf, pos)
    if pos + 10 > len(buf):
        raise MalformedMessage(TRUNCATED_REASON, "record header cut")
    rtype, rclass, ttl, rdlength = _RR_FIXED.unpack_from(buf, pos)
    pos += 10
    end = pos + rdlength
    if end > len(buf):
        raise MalformedMessage(TRUNCATED_REASON, "record data cut")
    try:
        value = parse_rdata(buf, pos, end, rtype, rclass=rclass, ttl=ttl)
    except MalformedMessage as exc:
        # The record's extent is known from rdlength, so a damaged value spoils only this record
        problems.append(exc.reason)
        value = RawData(buf[pos:end].hex())
    if rtype == TYPE_OPT:
        # OPT reuses class and TTL for other purposes: no cache-flush bit to split off
        return DnsRecord(name_text(labels), rtype, rclass, False, ttl, value), end
    return DnsRecord(name_text(labels), rtype, rclass & 0x7FFF, bool(rclass & 0x8000), ttl, value), end


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
        if exc.reason == TRUNCATED_REASON:
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
