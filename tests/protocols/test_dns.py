"""DNS message parser: crafted edge cases, real captures checked against tshark, and fuzzing."""

from __future__ import annotations

import struct
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.protocols.dns import (
    AnsweredName,
    EdnsOption,
    MxData,
    OptData,
    RawData,
    SoaData,
    SrvData,
    SvcbData,
    decode_name,
    name_labels,
    names_answered,
    opcode_name,
    parse_dns,
    parse_dns_tcp,
    rcode_name,
    type_name,
)
from engine.protocols.errors import MalformedMessage
from tests.protocols.captured import payloads, tcp_stream
from tests.protocols.fuzzing import FUZZ, MUTATIONS, QUICK, Mutation, mutated, only_malformed
from tests.protocols.wire import character_strings, dns_header, dns_name, dns_question, dns_rr

# ------------------------------------------------------------------------------------ header and flags


def test_query_header_and_flags() -> None:
    msg = parse_dns(dns_header(0xBEEF, 0x0130, qd=1) + dns_question(dns_name("Example", "COM"), 28))
    assert msg.id == 0xBEEF
    assert not msg.is_response
    assert msg.opcode == 0
    assert (msg.flags.aa, msg.flags.tc, msg.flags.rd, msg.flags.ra, msg.flags.ad, msg.flags.cd) == (
        False,
        False,
        True,
        False,
        True,
        True,
    )
    assert msg.questions[0].name == "Example.COM"  # case kept as sent
    assert msg.questions[0].qtype == 28
    assert msg.questions[0].qclass == 1
    assert msg.questions[0].unicast_response is False
    assert (msg.answers, msg.authorities, msg.additionals) == ((), (), ())
    assert msg.truncated is False
    assert msg.problems == ()


def test_response_flags_opcode_and_rcode() -> None:
    # QR, opcode 5 (UPDATE), AA, TC, RA, rcode 3 (NXDOMAIN)
    msg = parse_dns(dns_header(1, 0x8000 | (5 << 11) | 0x0400 | 0x0200 | 0x0080 | 3))
    assert msg.is_response
    assert msg.opcode == 5
    assert opcode_name(msg.opcode) == "UPDATE"
    assert msg.flags.aa and msg.flags.tc and msg.flags.ra and not msg.flags.rd
    assert msg.rcode == 3
    assert rcode_name(msg.rcode) == "NXDOMAIN"


@pytest.mark.parametrize("size", [0, 1, 11])
def test_header_shorter_than_12_bytes_raises(size: int) -> None:
    with pytest.raises(MalformedMessage) as info:
        parse_dns(dns_header(qd=1)[:size])
    assert info.value.reason == "dns-short-header"


def test_root_name_is_a_dot() -> None:
    msg = parse_dns(dns_header(qd=1) + dns_question(b"\x00", 2))
    assert msg.questions[0].name == "."


def test_labels_are_escaped_like_dig() -> None:
    name = dns_name(b"a.b", b"back\\slash", b"sp ace", b"\x00\x7f\xff", b"caf\xc3\xa9")
    msg = parse_dns(dns_header(qd=1) + dns_question(name))
    assert msg.questions[0].name == "a\\.b.back\\\\slash.sp ace.\\000\\127\\255.caf\\195\\169"
    assert name_labels(msg.questions[0].name) == [
        b"a.b",
        b"back\\slash",
        b"sp ace",
        b"\x00\x7f\xff",
        b"caf\xc3\xa9",
    ]


# -------------------------------------------------------------------------------- compression pointers


def test_compression_pointer_backwards_is_followed() -> None:
    # question www.example.com at 12; the answer's owner points to it, the CNAME target to "example.com"
    question = dns_question(dns_name("www", "example", "com"))
    answer = dns_rr(dns_name(pointer=12), 5, dns_name("cdn", pointer=16))
    msg = parse_dns(dns_header(qd=1, an=1) + question + answer)
    assert msg.answers[0].name == "www.example.com"
    assert msg.answers[0].value == "cdn.example.com"
    assert msg.problems == ()


def test_pointer_to_itself_is_a_compression_loop() -> None:
    msg = parse_dns(dns_header(qd=1) + dns_question(dns_name(pointer=12)))
    assert msg.questions == ()
    assert msg.problems == ("dns-compression-loop",)
    assert msg.truncated is False


def test_mutual_pointers_are_a_compression_loop() -> None:
    # 12: pointer to 14; 14: pointer to 12 -- the first already points forward
    payload = dns_header(qd=1) + struct.pack("!HH", 0xC000 | 14, 0xC000 | 12) + b"\x00\x01\x00\x01"
    msg = parse_dns(payload)
    assert msg.problems == ("dns-compression-loop",)
    with pytest.raises(MalformedMessage) as info:
        decode_name(payload, 14)  # starting at the second: backwards to 12, then forward to 14 again
    assert info.value.reason == "dns-compression-loop"


def test_pointer_back_into_the_name_being_read_is_a_loop() -> None:
    # label "a" at 12, then a pointer to 12: strictly backwards from the pointer, but it loops
    msg = parse_dns(dns_header(qd=1) + dns_question(dns_name("a", pointer=12)))
    assert msg.problems == ("dns-compression-loop",)


def test_forward_pointer_is_rejected() -> None:
    # question name points at a well-formed name placed after it
    payload = dns_header(qd=1) + dns_question(dns_name(pointer=18)) + dns_name("later")
    msg = parse_dns(payload)
    assert msg.questions == ()
    assert msg.problems == ("dns-compression-loop",)


def test_compression_loop_in_a_later_record_keeps_earlier_ones() -> None:
    first = dns_rr(dns_name("ok", "lan"), 1, bytes([10, 0, 0, 1]))
    looping_at = 12 + len(first)
    second = dns_rr(dns_name(pointer=looping_at), 1, bytes([10, 0, 0, 2]))
    msg = parse_dns(dns_header(an=2) + first + second)
    assert [r.value for r in msg.answers] == ["10.0.0.1"]
    assert msg.problems == ("dns-compression-loop",)


def test_compression_loop_in_record_data_spoils_only_that_record() -> None:
    cname_at = 12 + len(dns_name("x")) + 10
    bad = dns_rr(dns_name("x"), 5, dns_name(pointer=cname_at))
    good = dns_rr(dns_name("y"), 1, bytes([192, 0, 2, 7]))
    msg = parse_dns(dns_header(an=2) + bad + good)
    assert msg.answers[0].value == RawData(struct.pack("!H", 0xC000 | cname_at).hex())
    assert msg.answers[1].value == "192.0.2.7"
    assert msg.problems == ("dns-compression-loop",)


def test_name_of_exactly_255_bytes_is_accepted_and_256_is_not() -> None:
    longest = dns_name(b"a" * 63, b"b" * 63, b"c" * 63, b"d" * 61)
    assert len(longest) == 255
    ok = parse_dns(dns_header(qd=1) + dns_question(longest))
    assert ok.questions[0].name == ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
    too_long = dns_name(b"a" * 63, b"b" * 63, b"c" * 63, b"d" * 62)
    bad = parse_dns(dns_header(qd=1) + dns_question(too_long))
    assert bad.questions == ()
    assert bad.problems == ("dns-name-too-long",)


def test_name_made_too_long_through_pointers_is_rejected() -> None:
    # each name adds a 63-byte label in front of the previous one: the fifth passes 255 bytes
    payload = bytearray(dns_header(qd=5))
    previous = None
    for i in range(5):
        start = len(payload)
        payload += dns_question(
            dns_name(bytes([0x61 + i]) * 63, pointer=previous) if previous else dns_name(b"a" * 63)
        )
        previous = start
    msg = parse_dns(bytes(payload))
    assert len(msg.questions) == 3  # 64, 128 and 192 bytes + root are fine; 256 is not
    assert len(msg.questions[2].name) == 3 * 63 + 2
    assert msg.problems == ("dns-name-too-long",)


def test_label_longer_than_the_message_is_truncation() -> None:
    msg = parse_dns(dns_header(qd=1) + b"\x20abc")
    assert msg.truncated is True
    assert msg.questions == ()
    assert msg.problems == ()


def test_extended_label_type_is_a_problem() -> None:
    msg = parse_dns(dns_header(qd=1) + b"\x41\x00\x00\x01\x00\x01")
    assert msg.problems == ("dns-bad-label-type",)
    with pytest.raises(MalformedMessage) as info:
        decode_name(b"\x80abc", 0)
    assert info.value.reason == "dns-bad-label-type"


# ------------------------------------------------------------------------------------ truncated sections


def test_sections_cut_short_keep_what_was_parsed() -> None:
    full = (
        dns_header(qd=1, an=2, ar=1)
        + dns_question(dns_name("host", "lan"))
        + dns_rr(dns_name(pointer=12), 1, bytes([10, 1, 1, 1]))
        + dns_rr(dns_name(pointer=12), 1, bytes([10, 1, 1, 2]))
    )
    msg = parse_dns(full[:-2])  # the second answer's address is cut in half
    assert msg.truncated is True
    assert [r.value for r in msg.answers] == ["10.1.1.1"]
    assert msg.additionals == ()
    assert msg.problems == ()
    # the same message complete, but with the announced additional record missing
    assert parse_dns(full).truncated is True
    assert len(parse_dns(full).answers) == 2


def test_trailing_bytes_are_a_problem() -> None:
    msg = parse_dns(dns_header(qd=1) + dns_question(dns_name("a")) + b"junk")
    assert msg.questions[0].name == "a"
    assert msg.problems == ("dns-trailing-data",)


# ---------------------------------------------------------------------------------------- record data


def test_typed_record_values() -> None:
    soa = dns_name("ns1", "lan") + dns_name("admin", "lan") + struct.pack("!5I", 7, 3600, 600, 86400, 60)
    records = [
        dns_rr(dns_name("a"), 1, bytes([198, 51, 100, 9])),
        dns_rr(dns_name("a"), 28, bytes.fromhex("20010db8000000000000000000000001")),
        dns_rr(dns_name("a"), 28, bytes.fromhex("00000000000000000000ffffc0000201")),
        dns_rr(dns_name("a"), 15, struct.pack("!H", 10) + dns_name("mail", "lan")),
        dns_rr(dns_name("a"), 33, struct.pack("!HHH", 1, 5, 8009) + dns_name("tv", "local")),
        dns_rr(dns_name("a"), 6, soa),
        dns_rr(dns_name("a"), 2, dns_name("ns2", "lan")),
        dns_rr(dns_name("a"), 39, dns_name("other", "lan")),
        dns_rr(dns_name("a"), 12, dns_name("host", "lan")),
        dns_rr(dns_name("a"), 13, character_strings(b"ARMv7", b"Linux")),
        dns_rr(dns_name("a"), 99, b"\x01\x02\xab"),
    ]
    msg = parse_dns(dns_header(an=len(records)) + b"".join(records))
    assert [r.value for r in msg.answers] == [
        "198.51.100.9",
        "2001:db8::1",
        "::ffff:192.0.2.1",
        MxData(10, "mail.lan"),
        SrvData(1, 5, 8009, "tv.local"),
        SoaData("ns1.lan", "admin.lan", 7, 3600, 600, 86400, 60),
        "ns2.lan",
        "other.lan",
        "host.lan",
        ("ARMv7", "Linux"),
        RawData("0102ab"),
    ]
    assert [type_name(r.rtype) for r in msg.answers] == [
        "A",
        "AAAA",
        "AAAA",
        "MX",
        "SRV",
        "SOA",
        "NS",
        "DNAME",
        "PTR",
        "HINFO",
        "SPF",
    ]
    assert msg.problems == ()


def test_txt_with_non_utf8_and_control_bytes_is_decoded_safely() -> None:
    txt = character_strings(b"fn=Caf\xc3\xa9", b"latin=Caf\xe9", b"esc=\x1b[31m", b"", b"k=v=w")
    msg = parse_dns(dns_header(an=1) + dns_rr(dns_name("t"), 16, txt))
    assert msg.answers[0].value == ("fn=Café", "latin=Caf\\xe9", "esc=\\x1b[31m", "", "k=v=w")


def test_txt_string_running_past_the_record_is_raw_with_a_problem() -> None:
    msg = parse_dns(dns_header(an=1) + dns_rr(dns_name("t"), 16, b"\x05abc"))
    assert msg.answers[0].value == RawData("05616263")
    assert msg.problems == ("dns-bad-rdata",)


def test_wrong_size_address_is_raw_and_parsing_goes_on() -> None:
    records = dns_rr(dns_name("a"), 1, b"\x01\x02\x03") + dns_rr(dns_name("b"), 28, b"\x00" * 4)
    records += dns_rr(dns_name("c"), 1, b"\x0a\x00\x00\x05")
    msg = parse_dns(dns_header(an=3) + records)
    assert [r.value for r in msg.answers] == [RawData("010203"), RawData("00000000"), "10.0.0.5"]
    assert msg.problems == ("dns-bad-rdata", "dns-bad-rdata")


def test_https_record_with_alpn_port_hints_and_ech() -> None:
    params = (
        struct.pack("!HH", 0, 2) + struct.pack("!H", 1)  # mandatory: alpn
        + struct.pack("!HH", 1, 6) + character_strings(b"h2", b"h3")
        + struct.pack("!HH", 3, 2) + struct.pack("!H", 8443)
        + struct.pack("!HH", 4, 8) + bytes([192, 0, 2, 1, 192, 0, 2, 2])
        + struct.pack("!HH", 5, 3) + b"\xfe\x0d\x00"
        + struct.pack("!HH", 6, 16) + bytes.fromhex("20010db8000000000000000000000053")
        + struct.pack("!HH", 7, 1) + b"x"
    )  # fmt: skip
    rdata = struct.pack("!H", 1) + dns_name("svc", "example", "net") + params
    msg = parse_dns(dns_header(an=1) + dns_rr(dns_name("example", "net"), 65, rdata))
    assert msg.answers[0].rtype == 65
    assert msg.answers[0].value == SvcbData(
        priority=1,
        target="svc.example.net",
        alpn=("h2", "h3"),
        port=8443,
        ipv4hint=("192.0.2.1", "192.0.2.2"),
        ipv6hint=("2001:db8::53",),
        ech=True,
        mandatory=(1,),
        other_keys=(7,),
    )


def test_svcb_alias_mode_with_root_target() -> None:
    msg = parse_dns(dns_header(an=1) + dns_rr(dns_name("_dns", "resolver", "arpa"), 64, b"\x00\x00\x00"))
    assert msg.answers[0].value == SvcbData(priority=0, target=".")


def test_edns_opt_record_extends_the_rcode() -> None:
    # ttl field: extended rcode 1, version 0, DO bit; header rcode 0 -> rcode 16 (BADVERS)
    opt = (
        b"\x00"
        + struct.pack("!HHIH", 41, 1232, (1 << 24) | 0x8000, 8)
        + struct.pack("!HH", 10, 4)
        + b"\xaa\xbb\xcc\xdd"
    )
    msg = parse_dns(dns_header(flags=0x8180, ar=1) + opt)
    assert msg.rcode == 16
    assert rcode_name(msg.rcode) == "BADVERS"
    record = msg.additionals[0]
    assert (record.name, record.rtype, record.rclass, record.cache_flush) == (".", 41, 1232, False)
    assert record.value == OptData(1232, 1, 0, True, (EdnsOption(10, "aabbccdd"),))
    assert msg.opt == record.value


def test_opt_with_udp_size_above_32767_keeps_its_class_field_whole() -> None:
    opt = b"\x00" + struct.pack("!HHIH", 41, 0xFFFF, 0, 0)
    msg = parse_dns(dns_header(ar=1) + opt)
    assert msg.additionals[0].rclass == 0xFFFF
    assert msg.opt == OptData(0xFFFF, 0, 0, False)


def test_mdns_unicast_response_and_cache_flush_bits_are_split_off() -> None:
    question = dns_question(dns_name("printer", "local"), 255, 0x8001)
    answer = dns_rr(dns_name(pointer=12), 1, bytes([169, 254, 1, 2]), rclass=0x8001, ttl=120)
    plain = dns_rr(dns_name(pointer=12), 28, b"\xfe\x80" + b"\x00" * 13 + b"\x01", rclass=1, ttl=120)
    msg = parse_dns(dns_header(0, 0x8400, qd=1, an=2) + question + answer + plain)
    assert (msg.questions[0].qclass, msg.questions[0].unicast_response) == (1, True)
    assert [(r.rclass, r.cache_flush) for r in msg.answers] == [(1, True), (1, False)]
    assert msg.answers[1].value == "fe80::1"


# --------------------------------------------------------------------------------------- DNS over TCP


def _tcp(message: bytes) -> bytes:
    return struct.pack("!H", len(message)) + message


def test_tcp_stream_with_two_messages_and_one_cut() -> None:
    first = dns_header(1, 0x0100, qd=1) + dns_question(dns_name("one", "lan"))
    second = dns_header(2, 0x8180, qd=1, an=1) + dns_question(dns_name("two", "lan"))
    second += dns_rr(dns_name(pointer=12), 1, bytes([10, 0, 0, 2]))
    third = dns_header(3, 0x8180, qd=1, an=1) + dns_question(dns_name("three", "lan"))
    third += dns_rr(dns_name(pointer=12), 1, bytes([10, 0, 0, 3]))
    stream = _tcp(first) + _tcp(second) + _tcp(third)[:-6]
    messages = parse_dns_tcp(stream)
    assert [m.id for m in messages] == [1, 2, 3]
    assert [m.truncated for m in messages] == [False, False, True]
    assert messages[1].answers[0].value == "10.0.0.2"
    assert messages[2].questions[0].name == "three.lan"
    assert messages[2].answers == ()


def test_tcp_message_cut_at_a_record_boundary_is_still_truncated() -> None:
    message = dns_header(9, 0x0100, qd=1) + dns_question(dns_name("a"))
    stream = struct.pack("!H", len(message) + 20) + message
    (parsed,) = parse_dns_tcp(stream)
    assert parsed.questions[0].name == "a"
    assert parsed.truncated is True


def test_tcp_stream_edge_cases() -> None:
    assert parse_dns_tcp(b"") == []
    assert parse_dns_tcp(b"\x00") == []
    # the next message's header is not captured yet
    message = dns_header(5, 0x0100)
    assert [m.id for m in parse_dns_tcp(_tcp(message) + b"\x00\x20\x00\x06")] == [5]
    with pytest.raises(MalformedMessage) as info:
        parse_dns_tcp(b"\x00\x03abc")
    assert info.value.reason == "dns-short-header"
    # a bad length after a good message ends the stream without losing the good one
    assert [m.id for m in parse_dns_tcp(_tcp(message) + b"\x00\x02ab")] == [5]


# --------------------------------------------------------------------------------------------- helpers


def test_names_answered_follows_cname_chains() -> None:
    body = dns_question(dns_name("WWW", "Example", "com"))
    body += dns_rr(dns_name("www", "example", "com"), 5, dns_name("edge", "cdn", "net"), ttl=600)
    body += dns_rr(dns_name("EDGE", "cdn", "net"), 5, dns_name("e1", "cdn", "net"), ttl=60)
    body += dns_rr(dns_name("e1", "cdn", "net"), 1, bytes([203, 0, 113, 1]), ttl=20)
    body += dns_rr(dns_name("e1", "cdn", "net"), 1, bytes([203, 0, 113, 2]), ttl=20)
    body += dns_rr(dns_name("elsewhere", "net"), 28, b"\x20\x01\x0d\xb8" + b"\x00" * 11 + b"\x02", ttl=5)
    msg = parse_dns(dns_header(qd=1, an=5) + body)
    chain = ("WWW.Example.com", "edge.cdn.net", "e1.cdn.net")
    assert names_answered(msg) == [
        AnsweredName("WWW.Example.com", "203.0.113.1", chain, 20),
        AnsweredName("WWW.Example.com", "203.0.113.2", chain, 20),
        AnsweredName("elsewhere.net", "2001:db8::2", ("elsewhere.net",), 5),
    ]


def test_names_answered_survives_a_cname_loop() -> None:
    body = dns_question(dns_name("a", "lan"))
    body += dns_rr(dns_name("a", "lan"), 5, dns_name("b", "lan"))
    body += dns_rr(dns_name("b", "lan"), 5, dns_name("a", "lan"))
    body += dns_rr(dns_name("b", "lan"), 1, bytes([10, 9, 9, 9]))
    msg = parse_dns(dns_header(qd=1, an=3) + body)
    assert names_answered(msg) == [AnsweredName("a.lan", "10.9.9.9", ("a.lan", "b.lan"), 300)]
    no_address = parse_dns(dns_header(qd=1, an=2) + body[: -len(dns_rr(dns_name("b", "lan"), 1, b"1234"))])
    assert names_answered(no_address) == []


def test_type_and_rcode_names() -> None:
    assert [type_name(t) for t in (1, 28, 65, 64, 41, 47, 255, 65280)] == [
        "A",
        "AAAA",
        "HTTPS",
        "SVCB",
        "OPT",
        "NSEC",
        "ANY",
        "TYPE65280",
    ]
    assert [rcode_name(r) for r in (0, 2, 5, 23, 4095)] == [
        "NOERROR",
        "SERVFAIL",
        "REFUSED",
        "BADCOOKIE",
        "RCODE4095",
    ]


@QUICK
@given(st.lists(st.binary(min_size=1, max_size=63), max_size=4))
def test_name_labels_inverts_the_escaping(labels: list[bytes]) -> None:
    wire = dns_name(*labels)
    text, after = decode_name(wire, 0)
    assert after == len(wire)
    assert name_labels(text) == labels


# ------------------------------------------------------------------------------------ real captures


def test_pcpp_dns_response_matches_tshark() -> None:
    frames = payloads("pcpp_DnsPackets.pcap", 53, 5353, 5355)
    # tshark -e dns.id -e dns.qry.name -e dns.a -e dns.resp.ttl, frame 2
    msg = parse_dns(frames[2])
    assert msg.id == 0x8185
    assert msg.is_response and msg.rcode == 0
    assert [q.name for q in msg.questions] == ["www.google.com"]
    assert [r.value for r in msg.answers] == [
        "173.194.112.19",
        "173.194.112.18",
        "173.194.112.17",
        "173.194.112.16",
        "173.194.112.20",
    ]
    assert {r.ttl for r in msg.answers} == {112}
    assert names_answered(msg)[0] == AnsweredName(
        "www.google.com", "173.194.112.19", ("www.google.com",), 112
    )


def test_pcpp_cname_chain_matches_tshark() -> None:
    frames = payloads("pcpp_DnsPackets.pcap", 53)
    # tshark -e dns.resp.type -e dns.cname -e dns.a, frame 9: CNAME then 16 A records
    msg = parse_dns(frames[9])
    assert [r.rtype for r in msg.answers] == [5] + [1] * 16
    assert msg.answers[0].value == "www-google-analytics.l.google.com"
    answered = names_answered(msg)
    assert len(answered) == 16
    assert answered[0] == AnsweredName(
        "www.google-analytics.com",
        "212.199.205.226",
        ("www.google-analytics.com", "www-google-analytics.l.google.com"),
        114,
    )
    # frame 12: www.meetingcpp.com CNAME meetingcpp.com A 81.169.145.151 (ttl 150)
    assert names_answered(parse_dns(frames[12])) == [
        AnsweredName("www.meetingcpp.com", "81.169.145.151", ("www.meetingcpp.com", "meetingcpp.com"), 150)
    ]


def test_pcpp_llmnr_and_mdns_queries_match_tshark() -> None:
    frames = payloads("pcpp_DnsPackets.pcap", 5353, 5355)
    # tshark -e dns.id -e dns.qry.name -e dns.qry.type: LLMNR over IPv6 (21) and IPv4 (28)
    wpad = parse_dns(frames[21])
    assert (wpad.id, [(q.name, q.qtype) for q in wpad.questions]) == (0xA706, [("wpad", 1)])
    assert [(q.name, q.qtype) for q in parse_dns(frames[28]).questions] == [("Bichman", 255)]
    # mDNS frame 25: two PTR questions, dns.qry.qu 0
    services = parse_dns(frames[25])
    assert [(q.name, q.qtype, q.unicast_response) for q in services.questions] == [
        ("_apple-mobdev._tcp.local", 12, False),
        ("_sleep-proxy._udp.local", 12, False),
    ]
    # frame 418: probe with dns.qry.qu 1, an authority A record, and OPT (dns.rr.udp_payload_size 0x05a0,
    # dns.opt.code 4 "Owner", dns.opt.data 00df581faa4f3f9d)
    probe = parse_dns(frames[418])
    assert (probe.questions[0].name, probe.questions[0].qtype) == ("Yaels-iPhone.local", 255)
    assert probe.questions[0].unicast_response is True
    assert [(r.name, r.value, r.cache_flush) for r in probe.authorities] == [
        ("Yaels-iPhone.local", "10.0.0.2", False)
    ]
    assert probe.opt == OptData(1440, 0, 0, False, (EdnsOption(4, "00df581faa4f3f9d"),))


def test_pcpp_mdns_cache_flush_bits_match_tshark() -> None:
    frames = payloads("pcpp_DnsPackets.pcap", 5353)
    # tshark -e dns.resp.cache_flush -e dns.resp.type, frame 421: PTR, A, NSEC, NSEC flagged (1,1,1,1),
    # then OPT (0: tshark reads its class field's top bit too; here it is the UDP size)
    msg = parse_dns(frames[421])
    records = msg.answers + msg.authorities + msg.additionals
    assert [(r.rtype, r.cache_flush) for r in records] == [
        (12, True),
        (1, True),
        (47, True),
        (47, True),
        (41, False),
    ]
    assert msg.answers[0].value == "Yaels-iPhone.local"


def test_every_pcpp_message_parses_cleanly() -> None:
    frames = payloads("pcpp_DnsPackets.pcap", 53, 5353, 5355)
    assert len(frames) == 464  # tshark: dns 428 + llmnr 6 + mdns 15 + IPv6 15
    messages = [parse_dns(p) for p in frames.values()]
    assert all(m.problems == () and not m.truncated for m in messages)
    assert sum(m.is_response for m in messages) == 226  # tshark -Y "dns.flags.response==1" | wc -l


def test_zeek_https_record_matches_tshark() -> None:
    frames = payloads("zeek_dns-https.pcap", 53)
    msg = parse_dns(frames[2])
    # tshark -O dns, frame 2: SvcPriority 1, TargetName <Root>, alpn, ipv4hint, ipv6hint; OPT 4096
    (record,) = msg.answers
    assert (record.name, record.rtype, record.ttl) == ("cloudflare.com", 65, 129)
    assert record.value == SvcbData(
        priority=1,
        target=".",
        alpn=("h3", "h3-29", "h3-28", "h3-27", "h2"),
        ipv4hint=("104.16.132.229", "104.16.133.229"),
        ipv6hint=("2606:4700::6810:84e5", "2606:4700::6810:85e5"),
    )
    assert msg.opt is not None and msg.opt.udp_size == 4096
    assert parse_dns(frames[1]).questions[0].qtype == 65


def test_dns_over_tcp_capture_matches_tshark() -> None:
    # the response to the ANY query is split over frames 8 (1 byte) and 10 (1418 bytes)
    # tshark -e dns.id -e dns.resp.type -e dns.count.answers, frame 10 (reassembled)
    (response,) = parse_dns_tcp(tcp_stream("chrissanders_dns_tcp.pcapng", 53, 45818))
    assert response.id == 0xB4C3
    assert [r.rtype for r in response.answers] == [48, 48, 48, 48, 46, 43, 43, 46]
    assert {r.name for r in response.answers} == {"ripe.net"}
    assert response.truncated is False
    query = tcp_stream("chrissanders_dns_tcp.pcapng", 45818, 53)
    doubled = parse_dns_tcp(query + query[:-3])  # the second copy loses the end of its question
    assert [(m.id, m.truncated) for m in doubled] == [(0xB4C3, False), (0xB4C3, True)]
    assert [(q.name, q.qtype) for q in doubled[0].questions] == [("ripe.net", 255)]
    assert doubled[1].questions == ()


def test_snap_length_cut_response_is_truncated_like_tshark_shows() -> None:
    (payload,) = payloads("dpkt_truncated_dns_2.pcap", 53).values()
    msg = parse_dns(payload)
    # tshark -e dns.resp.name -e dns.resp.type: the same four records before the cut (types 5,1,2,2)
    assert msg.truncated is True
    assert [(r.name, r.rtype) for r in msg.answers + msg.authorities] == [
        ("mycelium-wallet.s3.amazonaws.com", 5),
        ("s3-1-w.amazonaws.com", 1),
        ("s3-1-w.amazonaws.com", 2),
        ("s3-1-w.amazonaws.com", 2),
    ]
    assert names_answered(msg) == [
        AnsweredName(
            "mycelium-wallet.s3.amazonaws.com",
            "52.217.101.4",
            ("mycelium-wallet.s3.amazonaws.com", "s3-1-w.amazonaws.com"),
            msg.answers[1].ttl,
        )
    ]


def test_malformed_dns_capture_stops_at_the_over_long_name() -> None:
    frames = payloads("ndpi_malformed_dns.pcap", 53)
    for number in (2, 3, 5, 6):
        msg = parse_dns(frames[number])
        # tshark -e dns.qry.name: "www.xt.com,<Name too long>"; tshark goes on past it, we stop there
        assert [q.name for q in msg.questions] == ["www.xt.com"]
        assert msg.problems == ("dns-name-too-long",)
        assert msg.answers == ()
    assert [q.name for q in parse_dns(frames[1]).questions] == ["www.xt.com"]


def test_fuzzed_capture_raises_nothing_but_malformed_message() -> None:
    frames = payloads("ndpi_fuzz-2006-06-26-2594.pcap", 53)
    raised: list[int] = []
    problems: dict[int, tuple[str, ...]] = {}
    for number, payload in frames.items():
        try:
            msg = parse_dns(payload)
        except MalformedMessage as exc:
            assert exc.reason == "dns-short-header"
            raised.append(number)
        else:
            if msg.problems:
                problems[number] = msg.problems
    assert raised == [269, 311]  # 9-byte payloads
    # tshark -e dns.qry.name shows "<Unknown extended label>" for these
    assert problems[25] == ("dns-bad-label-type",)
    assert problems[111] == ("dns-bad-label-type",)
    # frame 684: tshark stops at the A6 record of class 0x0201 ("Malformed Packet"); we keep it raw
    msg = parse_dns(frames[684])
    assert (msg.authorities[0].rtype, msg.authorities[0].rclass) == (38, 0x0201)
    assert msg.authorities[0].value == RawData("036e7331c010")
    assert msg.authorities[1].value == "ns2.cybercity.dk"


# ---------------------------------------------------------------------------------------- properties


def _seeds() -> list[bytes]:
    found = [p for p in payloads("pcpp_DnsPackets.pcap", 53, 5353, 5355).values() if len(p) > 40][:40]
    return found + list(payloads("zeek_dns-https.pcap", 53).values())


def _parse_and_name(data: bytes) -> object:
    msg = parse_dns(data)
    return names_answered(msg)


@FUZZ
@given(st.binary(max_size=600))
def test_arbitrary_bytes_raise_only_malformed_message(data: bytes) -> None:
    only_malformed(_parse_and_name, data)
    only_malformed(parse_dns_tcp, data)


@FUZZ
@given(MUTATIONS)
def test_mutated_real_messages_raise_only_malformed_message(
    mutation: Mutation,
) -> None:
    for data in mutated(_seeds(), mutation):
        only_malformed(_parse_and_name, data)
        only_malformed(parse_dns_tcp, len(data).to_bytes(2, "big") + data)


def test_worst_case_pointer_chains_finish_quickly() -> None:
    # a message packed with names that each point to the previous one: bounded by the 255-byte limit
    body = bytearray(dns_question(dns_name("a")))
    previous = 12
    count = 1
    while len(body) < 60000:
        start = 12 + len(body)
        body += dns_question(dns_name("b", pointer=previous))
        previous = start
        count += 1
    started = time.perf_counter()
    msg = parse_dns(dns_header(qd=count) + bytes(body))
    assert time.perf_counter() - started < 2.0
    assert len(msg.questions) == 127  # "b." * 126 + "a": the 128th would exceed 255 bytes
    assert msg.problems == ("dns-name-too-long",)
