"""NetBIOS name service and datagram parsers: encoded names, records, captures against tshark, fuzzing."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.protocols.errors import MalformedMessage
from engine.protocols.netbios import (
    NbnsAddress,
    NbnsMessage,
    NetbiosName,
    decode_netbios_name,
    parse_nbdgm,
    parse_nbns,
    suffix_meaning,
)
from tests.protocols.captured import payloads
from tests.protocols.fuzzing import FUZZ, MUTATIONS, Mutation, mutated, only_malformed


def encode(name: bytes, suffix: int, scope: bytes = b"") -> bytes:
    """First-level encoding (RFC 1001 14.1): 15 characters space-padded, the suffix, two letters a byte."""
    raw = name.ljust(15, b" ") + bytes([suffix])
    letters = bytes(c for b in raw for c in (0x41 + (b >> 4), 0x41 + (b & 0x0F)))
    out = b"\x20" + letters
    for label in scope.split(b".") if scope else []:
        out += bytes([len(label)]) + label
    return out + b"\x00"


def header(ident: int, flags: int, *, qd: int = 0, an: int = 0, ns: int = 0, ar: int = 0) -> bytes:
    return struct.pack("!6H", ident, flags, qd, an, ns, ar)


def nb_record(name: bytes, *entries: tuple[int, bytes], ttl: int = 300000) -> bytes:
    rdata = b"".join(struct.pack("!H", flags) + address for flags, address in entries)
    return name + struct.pack("!HHIH", 0x20, 1, ttl, len(rdata)) + rdata


def test_first_level_encoding_decodes() -> None:
    assert decode_netbios_name(encode(b"FILESERVER", 0x20)[1:33]) == ("FILESERVER", 0x20)
    assert decode_netbios_name(b"CKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") == ("*", 0x00)  # "*" padded with NULs
    with pytest.raises(MalformedMessage) as info:
        decode_netbios_name(b"ZZ" * 16)
    assert info.value.reason == "nbns-bad-name"


def test_broadcast_query() -> None:
    msg = parse_nbns(header(0x1A2B, 0x0110, qd=1) + encode(b"NAS", 0x20) + b"\x00\x20\x00\x01")
    assert (msg.id, msg.opcode_name, msg.is_response, msg.broadcast, msg.recursion_desired) == (
        0x1A2B,
        "query",
        False,
        True,
        True,
    )
    assert msg.names == (NetbiosName("NAS", 0x20, "", None, "file server"),)
    assert msg.names[0].display == "NAS<20>"
    assert msg.addresses == ()


def test_group_registration_with_compressed_record_name() -> None:
    # registrations repeat the question's name as a pointer to offset 12
    question = encode(b"WORKGROUP", 0x00) + b"\x00\x20\x00\x01"
    record = nb_record(b"\xc0\x0c", (0x8000, bytes([192, 168, 1, 20])))
    msg = parse_nbns(header(7, 0x2910, qd=1, ar=1) + question + record)
    assert msg.opcode_name == "registration"
    assert msg.names == (NetbiosName("WORKGROUP", 0x00, "", True, "domain/workgroup"),)
    assert msg.addresses == (NbnsAddress("WORKGROUP", 0x00, "192.168.1.20", True, "B"),)


def test_positive_response_with_several_addresses_and_scope() -> None:
    name = encode(b"PRINTER", 0x00, scope=b"corp.example")
    record = nb_record(name, (0x6000, bytes([10, 0, 0, 5])), (0x6000, bytes([10, 0, 1, 5])))
    msg = parse_nbns(header(9, 0x8500, an=1) + record)
    assert msg.is_response and msg.authoritative
    assert msg.names == (NetbiosName("PRINTER", 0, "corp.example", False, "workstation"),)
    assert [(a.address, a.node_type) for a in msg.addresses] == [("10.0.0.5", "H"), ("10.0.1.5", "H")]


def test_node_status_response_lists_names_and_mac() -> None:
    table = b"".join(
        name.ljust(15, b" ") + bytes([suffix]) + struct.pack("!H", flags)
        for name, suffix, flags in (
            (b"DESKTOP-1", 0x00, 0x0400),
            (b"HOME", 0x00, 0x8400),
            (b"DESKTOP-1", 0x20, 0x0400),
        )
    )
    rdata = bytes([3]) + table + bytes.fromhex("001122334455") + bytes(40)
    record = encode(b"*", 0) + struct.pack("!HHIH", 0x21, 1, 0, len(rdata)) + rdata
    msg = parse_nbns(header(3, 0x8400, an=1) + record)
    assert msg.unit_id == "00:11:22:33:44:55"
    assert [(n.display, n.group, n.meaning) for n in msg.names] == [
        ("*<00>", None, "workstation"),
        ("DESKTOP-1<00>", False, "workstation"),
        ("HOME<00>", True, "domain/workgroup"),
        ("DESKTOP-1<20>", False, "file server"),
    ]


def test_bad_encoding_and_loops_are_problems() -> None:
    bad = parse_nbns(header(1, 0x0110, qd=1) + b"\x20" + b"Q" * 32 + b"\x00\x00\x20\x00\x01")
    assert bad.names == ()
    assert bad.problems == ("nbns-bad-name",)
    short_label = parse_nbns(header(1, 0x0110, qd=1) + b"\x03ABC\x00\x00\x20\x00\x01")
    assert short_label.problems == ("nbns-bad-name",)
    loop = parse_nbns(header(1, 0x0110, qd=1) + b"\xc0\x0c\x00\x20\x00\x01")
    assert loop.problems == ("nbns-compression-loop",)


def test_truncated_message_keeps_the_question() -> None:
    question = encode(b"TV", 0x00) + b"\x00\x20\x00\x01"
    record = nb_record(b"\xc0\x0c", (0x0000, bytes([192, 168, 1, 9])))
    msg = parse_nbns((header(4, 0x2910, qd=1, ar=1) + question + record)[:-3])
    assert msg.truncated is True
    assert [n.display for n in msg.names] == ["TV<00>"]
    assert msg.addresses == ()


def test_short_header_raises() -> None:
    with pytest.raises(MalformedMessage) as info:
        parse_nbns(b"\x00" * 11)
    assert info.value.reason == "nbns-short-header"
    with pytest.raises(MalformedMessage) as info:
        parse_nbdgm(b"\x11\x02")
    assert info.value.reason == "nbdgm-short-header"


def test_suffix_meanings() -> None:
    assert suffix_meaning(0x00) == "workstation"
    assert suffix_meaning(0x00, True) == "domain/workgroup"
    assert suffix_meaning(0x20) == "file server"
    assert suffix_meaning(0x1C) == "domain controllers"
    assert suffix_meaning(0x1D) == "master browser"
    assert suffix_meaning(0x42) == "unknown"


# ------------------------------------------------------------------------------------ real captures


def test_arkime_registrations_match_tshark() -> None:
    frames = payloads("arkime_nbns.pcap", 137)
    # tshark -e nbns.flags.opcode -e nbns.name -e nbns.addr -e nbns.nb_flags.group, frames 1-4
    expected = {
        1: ("MDJR98", 0x03, False, "messenger"),
        2: ("WORKGROUP", 0x00, True, "domain/workgroup"),
        3: ("MDJR98", 0x00, False, "workstation"),
        4: ("MDJR98", 0x20, False, "file server"),
        26: ("WORKGROUP", 0x1E, True, "browser election"),
        41: ("WORKGROUP", 0x1D, False, "master browser"),
        56: ("MARTIN ROSENAU", 0x03, False, "messenger"),
    }
    for number, (name, suffix, group, meaning) in expected.items():
        msg = parse_nbns(frames[number])
        assert msg.opcode == 5
        assert msg.names == (NetbiosName(name, suffix, "", group, meaning),)
        assert msg.addresses == (NbnsAddress(name, suffix, "192.168.239.129", group, "B"),)
    # frame 48: <01><02>__MSBROWSE__<02><01>, a group name
    (browse,) = parse_nbns(frames[48]).names
    assert (browse.name, browse.suffix, browse.group) == ("\\x01\\x02__MSBROWSE__\\x02", 0x01, True)


def test_netbios_queries_and_node_status_match_tshark() -> None:
    frames = payloads("ndpi_netbios.pcap", 137)
    # tshark -e nbns.id -e nbns.flags.broadcast -e nbns.name, frame 5
    query = parse_nbns(frames[5])
    assert (query.id, query.broadcast, [n.display for n in query.names]) == (0x9A1E, True, ["OZI<1c>"])
    # frame 69: positive response GUNNAR<00> -> 10.0.4.24, nbns.nb_flags.ont 0 (B-node)
    answer = parse_nbns(frames[69])
    assert answer.addresses == (NbnsAddress("GUNNAR", 0x00, "10.0.4.24", False, "B"),)
    # frame 55: node status, tshark -O nbns: GUNNAR<00>, VIGILANT_GROUP<00> (group), GUNNAR<20>,
    # VIGILANT_GROUP<1e> (group), nbns.unit_id 00:1c:c4:10:79:0f
    status = parse_nbns(frames[55])
    assert status.unit_id == "00:1c:c4:10:79:0f"
    assert [(n.display, n.group) for n in status.names[1:]] == [
        ("GUNNAR<00>", False),
        ("VIGILANT_GROUP<00>", True),
        ("GUNNAR<20>", False),
        ("VIGILANT_GROUP<1e>", True),
    ]
    assert all(parse_nbns(p).problems == () for p in frames.values())


def test_browser_announcements_match_tshark() -> None:
    frames = payloads("arkime_nbns.pcap", 138)
    # tshark -e nbdgm.type -e nbdgm.source_name -e nbdgm.destination_name -e browser.command
    #        -e browser.server -e browser.os_major -e browser.os_minor -e browser.server_type, frame 30
    host = parse_nbdgm(frames[30])
    assert (host.msg_type, host.source_ip, host.source_port) == (0x11, "192.168.239.129", 138)
    assert host.source_name is not None and host.source_name.display == "MDJR98<00>"
    assert host.destination_name is not None and host.destination_name.display == "WORKGROUP<1d>"
    assert host.mailslot == "\\MAILSLOT\\BROWSE"
    assert host.browser is not None
    assert (host.browser.command_name, host.browser.server_name) == ("host announcement", "MDJR98")
    assert (host.browser.os_version, host.browser.server_type) == ("4.0", 0x00402003)
    # frame 36: election request from MDJR98; frame 55: domain announcement of WORKGROUP by MDJR98
    election = parse_nbdgm(frames[36]).browser
    assert election is not None and (election.command, election.server_name) == (8, "MDJR98")
    domain = parse_nbdgm(frames[55]).browser
    assert domain is not None
    assert (domain.command_name, domain.server_name, domain.comment, domain.server_type) == (
        "domain announcement",
        "WORKGROUP",
        "MDJR98",
        0x80402000,
    )
    # ndpi_netbios frame 20: host announcement of NVR9 (Windows 6.1)
    nvr = parse_nbdgm(payloads("ndpi_netbios.pcap", 138)[20]).browser
    assert nvr is not None and (nvr.server_name, nvr.os_version) == ("NVR9", "6.1")


def test_fuzzed_capture_raises_nothing_but_malformed_message() -> None:
    frames = payloads("ndpi_fuzz-2006-06-26-2594.pcap", 137)
    assert len(frames) == 102  # tshark: nbns frames 102
    flagged = set()
    for number, payload in frames.items():
        msg = only_malformed(parse_nbns, payload)
        assert isinstance(msg, NbnsMessage)  # every payload here has a full header
        if msg.problems or msg.truncated:
            flagged.add(number)
    # tshark -Y "nbns && _ws.malformed": every frame tshark finds malformed is flagged here too
    tshark_malformed = {
        3,
        95,
        97,
        115,
        126,
        127,
        128,
        157,
        188,
        190,
        291,
        307,
        341,
        362,
        457,
        462,
        470,
        479,
        509,
    }
    tshark_malformed |= {534, 565, 611, 675}
    assert tshark_malformed <= flagged
    # we are stricter about the first-level encoding: tshark decodes frame 1's "...OSAC..." (an 'S' is
    # not a nibble) as ECI_DOMAIN<1c> where we report the name as damaged
    assert parse_nbns(frames[1]).problems == ("nbns-bad-name",)
    assert len(flagged) == 47


# ---------------------------------------------------------------------------------------- properties


def _seeds() -> list[bytes]:
    return [
        *list(payloads("arkime_nbns.pcap", 137, 138).values())[::4],
        *[p for n, p in payloads("ndpi_netbios.pcap", 137).items() if n in (5, 55, 69)],
    ]


def _both(data: bytes) -> object:
    try:
        first: object = parse_nbns(data)
    except MalformedMessage:
        first = None
    return first, parse_nbdgm(data)


@FUZZ
@given(MUTATIONS)
def test_mutated_messages_raise_only_malformed_message(mutation: Mutation) -> None:
    for data in mutated(_seeds(), mutation):
        only_malformed(_both, data)


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_malformed_message(data: bytes) -> None:
    only_malformed(_both, data)
