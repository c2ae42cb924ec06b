"""NetBIOS over TCP/IP (RFC 1001/1002): the name service (UDP 137) and datagram service (UDP 138).

Windows machines, NAS boxes and printers register and query their NetBIOS names by broadcast, so NBNS
is often the only place a LAN device says its Windows name. Names travel "first-level encoded": the
16-byte name (15 characters padded with spaces, then a suffix byte saying what the name is for) is sent
as 32 letters `A`..`P`, one per nibble, in a DNS-style label followed by the scope.

`parse_nbns` reads questions, registrations, releases and responses (including node-status responses,
which list every name a machine holds and its MAC). `parse_nbdgm` reads the datagram header and, for the
browser protocol's announcements carried in it, the announced server name and comment.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from engine.protocols.dns_names import read_name_labels
from engine.protocols.errors import MalformedMessage
from engine.protocols.text import safe_text

__all__ = [
    "BrowserAnnouncement",
    "NbdgmMessage",
    "NbnsAddress",
    "NbnsMessage",
    "NetbiosName",
    "decode_netbios_name",
    "parse_nbdgm",
    "parse_nbns",
    "suffix_meaning",
]

OPCODES = {
    0: "query",
    5: "registration",
    6: "release",
    7: "wack",
    8: "refresh",
    9: "refresh",
    15: "multihomed",
}
TYPE_NB = 0x20
TYPE_NBSTAT = 0x21
NODE_TYPES = ("B", "P", "M", "H")
_TRUNCATED = "nbns-truncated"

# (suffix, group) → what the name is for; group None means "either"
_UNIQUE_MEANINGS = {
    0x00: "workstation",
    0x01: "messenger",
    0x03: "messenger",
    0x06: "RAS server",
    0x1B: "domain master browser",
    0x1D: "master browser",
    0x1F: "NetDDE",
    0x20: "file server",
    0x21: "RAS client",
    0xBE: "network monitor agent",
    0xBF: "network monitor",
}
_GROUP_MEANINGS = {
    0x00: "domain/workgroup",
    0x01: "master browser",
    0x1C: "domain controllers",
    0x1E: "browser election",
}


def suffix_meaning(suffix: int, group: bool | None = None) -> str:
    """What a name with this suffix is for. Without the group flag, the usual reading is taken."""
    if group is True:
        return _GROUP_MEANINGS.get(suffix) or _UNIQUE_MEANINGS.get(suffix, "unknown")
    if group is False:
        return _UNIQUE_MEANINGS.get(suffix) or _GROUP_MEANINGS.get(suffix, "unknown")
    # unknown flag: 0x00 is most often a workstation, 0x1C/0x1E are always groups
    return _UNIQUE_MEANINGS.get(suffix) or _GROUP_MEANINGS.get(suffix, "unknown")


@dataclass(frozen=True, slots=True)
class NetbiosName:
    name: str  # the 15 name characters, trailing spaces removed, made safe to print
    suffix: int  # the 16th byte
    scope: str = ""  # NetBIOS scope, almost always empty
    group: bool | None = None  # None when the message does not say
    meaning: str = ""

    @property
    def display(self) -> str:
        """`NAME<20>`, the usual way of writing a NetBIOS name."""
        return f"{self.name}<{self.suffix:02x}>"


@dataclass(frozen=True, slots=True)
class NbnsAddress:
    """An address a name maps to, from an NB record (responses, registrations, refreshes)."""

    name: str
    suffix: int
    address: str
    group: bool
    node_type: str  # B, P, M or H


@dataclass(frozen=True, slots=True)
class NbnsMessage:
    id: int
    opcode: int
    is_response: bool
    rcode: int
    authoritative: bool
    truncation_flag: bool  # the TC header bit
    recursion_desired: bool
    recursion_available: bool
    broadcast: bool
    names: tuple[NetbiosName, ...]  # distinct names from questions, records and node-status lists
    addresses: tuple[NbnsAddress, ...]
    unit_id: str | None = None  # the MAC a node-status response reports
    truncated: bool = False  # the message was cut short: what was parsed is kept
    problems: tuple[str, ...] = ()

    @property
    def opcode_name(self) -> str:
        return OPCODES.get(self.opcode, f"opcode{self.opcode}")


def _decode_label(label: bytes) -> tuple[str, int]:
    if len(label) != 32:
        raise MalformedMessage("nbns-bad-name", f"encoded name of {len(label)} bytes")
    raw = bytearray(16)
    for i in range(16):
        hi = label[2 * i] - 0x41
        lo = label[2 * i + 1] - 0x41
        if not (0 <= hi < 16 and 0 <= lo < 16):
            raise MalformedMessage("nbns-bad-name", "character outside A..P")
        raw[i] = (hi << 4) | lo
    # trailing spaces pad ordinary names; NULs pad the "*" wildcard of node-status queries
    return safe_text(bytes(raw[:15]).rstrip(b" \x00")), raw[15]


def decode_netbios_name(label: bytes) -> tuple[str, int]:
    """Decode a 32-letter first-level-encoded label into (name, suffix). Raises MalformedMessage."""
    return _decode_label(label)


def _read_name(buf: bytes, pos: int) -> tuple[NetbiosName, int]:
    try:
        labels, after = read_name_labels(buf, pos)
    except MalformedMessage as exc:
        if exc.reason == "dns-truncated":
            raise MalformedMessage(_TRUNCATED, str(exc)) from None
        raise MalformedMessage("nbns-" + exc.reason.removeprefix("dns-"), str(exc)) from None
    if not labels:
        raise MalformedMessage("nbns-bad-name", "empty name")
    name, suffix = _decode_label(labels[0])
    scope = ".".join(safe_text(label) for label in labels[1:])
    return NetbiosName(name, suffix, scope), after


def _ipv4(raw: bytes) -> str:
    return f"{raw[0]}.{raw[1]}.{raw[2]}.{raw[3]}"


def parse_nbns(payload: bytes) -> NbnsMessage:
    """Parse a NetBIOS name service message (a UDP 137 payload).

    Raises `MalformedMessage("nbns-short-header")` below 12 bytes. A name that is not first-level
    encoded, or a compression loop, stops parsing there with a problem; a message cut short keeps what
    was parsed and says `truncated`.
    """
    buf = bytes(payload)
    if len(buf) < 12:
        raise MalformedMessage("nbns-short-header", f"{len(buf)} bytes")
    ident, flags, qdcount, ancount, nscount, arcount = struct.unpack_from("!6H", buf)
    names: list[NetbiosName] = []
    addresses: list[NbnsAddress] = []
    problems: list[str] = []
    unit_id: str | None = None
    truncated = False
    groups: dict[tuple[str, int], bool] = {}
    pos = 12
    try:
        for _ in range(qdcount):
            name, pos = _read_name(buf, pos)
            if pos + 4 > len(buf):
                raise MalformedMessage(_TRUNCATED, "question cut")
            pos += 4
            names.append(name)
        for _ in range(ancount + nscount + arcount):
            name, pos = _read_name(buf, pos)
            if pos + 10 > len(buf):
                raise MalformedMessage(_TRUNCATED, "record header cut")
            rtype, _rclass, _ttl, rdlength = struct.unpack_from("!HHIH", buf, pos)
            pos += 10
            end = pos + rdlength
            if end > len(buf):
                raise MalformedMessage(_TRUNCATED, "record data cut")
            names.append(name)
            if rtype == TYPE_NB:
                if rdlength % 6:
                    problems.append("nbns-bad-rdata")
                for entry in range(pos, end - 5, 6):
                    nb_flags = struct.unpack_from("!H", buf, entry)[0]
                    group = bool(nb_flags & 0x8000)
                    groups.setdefault((name.name, name.suffix), group)
                    addresses.append(
                        NbnsAddress(
                            name.name,
                            name.suffix,
                            _ipv4(buf[entry + 2 : entry + 6]),
                            group,
                            NODE_TYPES[(nb_flags >> 13) & 3],
                        )
                    )
            elif rtype == TYPE_NBSTAT and flags & 0x8000 and rdlength:
                unit_id = _node_status(buf, pos, end, names, groups=groups, problems=problems)
            pos = end
    except MalformedMessage as exc:
        if exc.reason == _TRUNCATED:
            truncated = True
        else:
            problems.append(exc.reason)

    distinct: dict[tuple[str, int, str], NetbiosName] = {}
    for n in names:
        key = (n.name, n.suffix, n.scope)
        if key not in distinct:
            known = groups.get((n.name, n.suffix))
            distinct[key] = NetbiosName(n.name, n.suffix, n.scope, known, suffix_meaning(n.suffix, known))
    return NbnsMessage(
        id=ident,
        opcode=(flags >> 11) & 0xF,
        is_response=bool(flags & 0x8000),
        rcode=flags & 0xF,
        authoritative=bool(flags & 0x0400),
        truncation_flag=bool(flags & 0x0200),
        recursion_desired=bool(flags & 0x0100),
        recursion_available=bool(flags & 0x0080),
        broadcast=bool(flags & 0x0010),
        names=tuple(distinct.values()),
        addresses=tuple(addresses),
        unit_id=unit_id,
        truncated=truncated,
        problems=tuple(dict.fromkeys(problems)),
    )


def _node_status(
    buf: bytes,
    pos: int,
    end: int,
    names: list[NetbiosName],
    *,
    groups: dict[tuple[str, int], bool],
    problems: list[str],
) -> str | None:
    """Read a node-status (NBSTAT) answer: its name table into `names`, and the unit ID (MAC)."""
    count = buf[pos]
    pos += 1
    for _ in range(count):
        if pos + 18 > end:
            problems.append("nbns-bad-rdata")
            return None
        raw = buf[pos : pos + 15]
        name = safe_text(raw.rstrip(b" \x00"))
        suffix = buf[pos + 15]
        groups.setdefault((name, suffix), bool(buf[pos + 16] & 0x80))
        names.append(NetbiosName(name, suffix))
        pos += 18
    if pos + 6 > end:
        return None
    return ":".join(f"{b:02x}" for b in buf[pos : pos + 6])


# ---------------------------------------------------------------------------------- datagram service

BROWSER_COMMANDS = {
    1: "host announcement",
    2: "announcement request",
    8: "election request",
    9: "get backup list request",
    10: "get backup list response",
    11: "become backup",
    12: "domain announcement",
    13: "master announcement",
    14: "reset browser state",
    15: "local master announcement",
}


@dataclass(frozen=True, slots=True)
class BrowserAnnouncement:
    """A browser-protocol message (\\MAILSLOT\\BROWSE). For a domain announcement, `server_name` is the
    workgroup and `comment` its master browser."""

    command: int
    server_name: str | None
    comment: str | None = None
    os_version: str | None = None  # "major.minor" from announcements
    server_type: int | None = None  # SV_TYPE_* bits

    @property
    def command_name(self) -> str:
        return BROWSER_COMMANDS.get(self.command, f"command{self.command}")


@dataclass(frozen=True, slots=True)
class NbdgmMessage:
    msg_type: int  # 0x10 direct unique, 0x11 direct group, 0x12 broadcast, 0x13 error, 0x14-0x16 query
    source_ip: str
    source_port: int
    source_name: NetbiosName | None
    destination_name: NetbiosName | None
    mailslot: str | None = None
    browser: BrowserAnnouncement | None = None
    problems: tuple[str, ...] = ()


def _c_string(buf: bytes, pos: int, end: int) -> str:
    nul = buf.find(b"\x00", pos, end)
    return safe_text(buf[pos : nul if nul >= 0 else end])


def _browser(data: bytes) -> BrowserAnnouncement | None:
    if not data:
        return None
    command = data[0]
    if command in (1, 12, 15) and len(data) >= 32:
        # update count, periodicity, 16-byte name, OS version, server type, browser version, signature
        server = safe_text(data[6:22].partition(b"\x00")[0])
        server_type = struct.unpack_from("<I", data, 24)[0]
        return BrowserAnnouncement(
            command, server, _c_string(data, 32, len(data)), f"{data[22]}.{data[23]}", server_type
        )
    if command == 8 and len(data) >= 14:
        return BrowserAnnouncement(command, _c_string(data, 14, len(data)))
    return BrowserAnnouncement(command, None)


def _mailslot(buf: bytes, smb: int, problems: list[str]) -> tuple[str | None, BrowserAnnouncement | None]:
    """The mailslot name and browser message of an SMB Trans request starting at `smb`."""
    if buf[smb : smb + 4] != b"\xffSMB" or len(buf) < smb + 33 or buf[smb + 4] != 0x25:
        return None, None
    words = buf[smb + 32]
    params = smb + 33
    if words < 14 or len(buf) < params + 2 * words + 2:
        problems.append("nbdgm-bad-smb")
        return None, None
    # word 11 is the data count, word 12 the data offset (from the start of the SMB header)
    data_count, data_offset = struct.unpack_from("<HH", buf, params + 22)
    name_at = params + 2 * words + 2  # after the byte count
    mailslot = _c_string(buf, name_at, len(buf))
    data_start = smb + data_offset
    data = buf[data_start : data_start + data_count]
    if mailslot.upper().startswith("\\MAILSLOT\\BROWSE") or mailslot.upper() == "\\MAILSLOT\\LANMAN":
        return mailslot, _browser(data)
    return mailslot, None


def parse_nbdgm(payload: bytes) -> NbdgmMessage:
    """Parse a NetBIOS datagram service message (a UDP 138 payload).

    Raises `MalformedMessage("nbdgm-short-header")` when the 10-byte header is incomplete.
    """
    buf = bytes(payload)
    if len(buf) < 10:
        raise MalformedMessage("nbdgm-short-header", f"{len(buf)} bytes")
    msg_type = buf[0]
    source_ip = _ipv4(buf[4:8])
    source_port = struct.unpack_from("!H", buf, 8)[0]
    problems: list[str] = []
    source: NetbiosName | None = None
    destination: NetbiosName | None = None
    mailslot: str | None = None
    browser: BrowserAnnouncement | None = None
    try:
        if 0x10 <= msg_type <= 0x12:
            source, pos = _read_name(buf, 14)
            destination, pos = _read_name(buf, pos)
            mailslot, browser = _mailslot(buf, pos, problems)
        elif 0x14 <= msg_type <= 0x16:
            destination, _ = _read_name(buf, 10)
    except MalformedMessage as exc:
        problems.append(exc.reason.replace("nbns-", "nbdgm-"))
    if source is not None:
        source = NetbiosName(source.name, source.suffix, source.scope, None, suffix_meaning(source.suffix))
    if destination is not None:
        group = True if msg_type == 0x11 else None  # only "direct group" says what the destination is
        meaning = suffix_meaning(destination.suffix, group)
        destination = NetbiosName(destination.name, destination.suffix, destination.scope, group, meaning)
    return NbdgmMessage(
        msg_type, source_ip, source_port, source, destination, mailslot, browser, tuple(problems)
    )
