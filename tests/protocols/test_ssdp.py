"""SSDP parser: NOTIFY, M-SEARCH and responses, sloppy formatting, captures against tshark, fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.protocols.errors import MalformedMessage
from engine.protocols.ssdp import MAX_HEADERS, parse_ssdp
from tests.protocols.captured import payloads
from tests.protocols.fuzzing import FUZZ, MUTATIONS, Mutation, mutated, only_malformed

NOTIFY = (
    b"NOTIFY * HTTP/1.1\r\n"
    b"HOST: 239.255.255.250:1900\r\n"
    b"CACHE-CONTROL: max-age=1800\r\n"
    b"LOCATION: http://192.168.1.30:49152/description.xml\r\n"
    b"NT: urn:schemas-upnp-org:device:MediaRenderer:1\r\n"
    b"NTS: ssdp:alive\r\n"
    b"SERVER: Linux/3.10 UPnP/1.0 Sonos/70.3-35220 (ZPS12)\r\n"
    b"USN: uuid:RINCON_000E58A0B1C201400::urn:schemas-upnp-org:device:MediaRenderer:1\r\n"
    b"\r\n"
)


def test_notify() -> None:
    msg = parse_ssdp(NOTIFY)
    assert (msg.kind, msg.method, msg.target, msg.status, msg.version) == (
        "notify",
        "NOTIFY",
        "*",
        None,
        "HTTP/1.1",
    )
    assert msg.server == "Linux/3.10 UPnP/1.0 Sonos/70.3-35220 (ZPS12)"
    assert msg.location == "http://192.168.1.30:49152/description.xml"
    assert msg.nt == "urn:schemas-upnp-org:device:MediaRenderer:1"
    assert msg.nts == "ssdp:alive"
    assert msg.usn == "uuid:RINCON_000E58A0B1C201400::urn:schemas-upnp-org:device:MediaRenderer:1"
    assert msg.cache_control == "max-age=1800"
    assert msg.max_age == 1800
    assert msg.st is None and msg.user_agent is None
    assert [name for name, _ in msg.headers] == [
        "host",
        "cache-control",
        "location",
        "nt",
        "nts",
        "server",
        "usn",
    ]
    assert msg.problems == ()


def test_response_with_lf_only_and_odd_spacing() -> None:
    payload = (
        b"HTTP/1.1 200 OK\n"
        b"Cache-Control:max-age = 120\n"
        b"  St :  roku:ecp  \n"
        b"Location: http://10.0.0.8:8060/\n"
        b"Server: Roku/12.5.0 UPnP/1.0 Roku/12.5.0\n"
        b"ext:\n"
        b"\n"
        b"ignored body: yes\n"
    )
    msg = parse_ssdp(payload)
    assert (msg.kind, msg.status, msg.method) == ("response", 200, None)
    assert msg.st == "roku:ecp"
    assert msg.header("EXT") == ""
    assert msg.header("ignored body") is None
    assert msg.max_age == 120
    assert msg.server == "Roku/12.5.0 UPnP/1.0 Roku/12.5.0"


def test_m_search_lower_case_method_and_user_agent() -> None:
    msg = parse_ssdp(
        b'm-search * HTTP/1.1\r\nMAN: "ssdp:discover"\r\nST: ssdp:all\r\n'
        b"USER-AGENT: Android/13 UPnP/1.1\r\n\r\n"
    )
    assert (msg.kind, msg.method) == ("m-search", "M-SEARCH")
    assert msg.st == "ssdp:all"
    assert msg.user_agent == "Android/13 UPnP/1.1"
    assert msg.header("man") == '"ssdp:discover"'


def test_junk_lines_non_utf8_and_nuls_are_tolerated() -> None:
    payload = (
        b"\r\nNOTIFY * HTTP/1.1\r\nthis line has no colon\r\n"
        b"SERVER: Caf\xe9 \x1b[2J\r\n: empty name\r\nNT: x\x00\x00"
    )
    msg = parse_ssdp(payload)
    assert msg.kind == "notify"
    assert msg.server == "Caf\\xe9 \\x1b[2J"
    assert msg.nt == "x"
    assert msg.problems == ("ssdp-bad-header-line",)


def test_other_methods_and_duplicates() -> None:
    msg = parse_ssdp(b"SUBSCRIBE /evt HTTP/1.1\r\nNT: first\r\nNT: second\r\n\r\n")
    assert (msg.kind, msg.method, msg.target) == ("request", "SUBSCRIBE", "/evt")
    assert msg.nt == "first"
    assert msg.headers == (("nt", "first"), ("nt", "second"))


def test_max_age_edge_cases() -> None:
    assert parse_ssdp(b'HTTP/1.1 200 OK\r\nCache-Control: no-cache, MAX-AGE="90"\r\n').max_age == 90
    assert parse_ssdp(b"HTTP/1.1 200 OK\r\nCache-Control: max-age=soon\r\n").max_age is None
    assert parse_ssdp(b"HTTP/1.1 200 OK\r\n").max_age is None


def test_header_count_is_capped() -> None:
    payload = b"NOTIFY * HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(MAX_HEADERS + 10))
    msg = parse_ssdp(payload)
    assert len(msg.headers) == MAX_HEADERS
    assert msg.problems == ("ssdp-too-many-headers",)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "ssdp-empty"),
        (b"\r\n\r\n", "ssdp-empty"),
        (b"\x16\x03\x01\x02\x00\x01\x00", "ssdp-bad-start-line"),
        (b"HELLO WORLD\r\n", "ssdp-bad-start-line"),
        (b"HTTP/1.1 OK\r\n", "ssdp-bad-start-line"),
        (b'<?xml version="1.0"?><soap:Envelope/>', "ssdp-bad-start-line"),
    ],
)
def test_not_http_raises(payload: bytes, reason: str) -> None:
    with pytest.raises(MalformedMessage) as info:
        parse_ssdp(payload)
    assert info.value.reason == reason


# ------------------------------------------------------------------------------------ real captures


def test_dial_m_search_matches_tshark() -> None:
    frames = payloads("zeek_home-multicast-short.pcap", 1900)
    # tshark -e http.request.method -e http.host -e http.request.line, frame 5
    msg = parse_ssdp(frames[5])
    assert (msg.kind, msg.method, msg.target) == ("m-search", "M-SEARCH", "*")
    assert msg.headers == (
        ("host", "239.255.255.250:1900"),
        ("man", '"ssdp:discover"'),
        ("mx", "1"),
        ("st", "urn:dial-multiscreen-org:service:dial:1"),
    )
    # the same DIAL search from the phones in ndpi_telegram (frame 2) and ndpi_iphone (frame 18)
    assert parse_ssdp(payloads("ndpi_telegram.pcap", 1900)[2]).st == "urn:dial-multiscreen-org:service:dial:1"
    assert parse_ssdp(payloads("ndpi_iphone.pcap", 1900)[18]).headers == msg.headers


def test_bare_start_line_on_another_port() -> None:
    # tshark shows these as "data" (port 32412): data.data 4d2d534541524348202a20485454502f312e310d0a
    frames = payloads("ndpi_ssdp-m-search.pcap", 32412)
    assert len(frames) == 19
    msg = parse_ssdp(frames[1])
    assert (msg.kind, msg.headers, msg.problems) == ("m-search", (), ())


# ---------------------------------------------------------------------------------------- properties


@FUZZ
@given(MUTATIONS)
def test_mutated_messages_raise_only_malformed_message(mutation: Mutation) -> None:
    seeds = [NOTIFY, payloads("zeek_home-multicast-short.pcap", 1900)[5]]
    for data in mutated(seeds, mutation):
        only_malformed(parse_ssdp, data)


@FUZZ
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_malformed_message(data: bytes) -> None:
    only_malformed(parse_ssdp, data)
    only_malformed(parse_ssdp, b"HTTP/1.1 200 OK\r\n" + data)
