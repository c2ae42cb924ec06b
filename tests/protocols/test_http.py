"""HTTP/1.x request and response heads."""

from __future__ import annotations

import pytest

from engine.protocols.errors import MalformedMessage
from engine.protocols.http import (
    looks_like_http_request,
    looks_like_http_response,
    parse_http_request,
    parse_http_response,
)
from tests.protocols.builders import frame_payload


def test_request_fields() -> None:
    req = parse_http_request(
        b"POST /api/v1/items?x=1 HTTP/1.1\r\nHost: api.example.com:8080\r\nUser-Agent: curl/8.5.0\r\n"
        b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    )
    assert (req.method, req.target, req.version) == ("POST", "/api/v1/items?x=1", "HTTP/1.1")
    assert (req.host, req.host_name, req.user_agent) == (
        "api.example.com:8080",
        "api.example.com",
        "curl/8.5.0",
    )
    assert req.content_type == "application/json"
    assert req.headers == (
        ("host", "api.example.com:8080"),
        ("user-agent", "curl/8.5.0"),
        ("content-type", "application/json"),
        ("content-length", "2"),
    )
    assert req.headers_complete


def test_header_names_are_case_insensitive_and_lf_line_ends_are_fine() -> None:
    req = parse_http_request(b"GET / HTTP/1.0\nhOsT:   Example.ORG  \nUSER-AGENT:x\n\n")
    assert (req.host, req.host_name, req.user_agent, req.headers_complete) == (
        "Example.ORG",
        "example.org",
        "x",
        True,
    )


def test_first_host_wins_and_folded_lines_continue_a_value() -> None:
    req = parse_http_request(
        b"GET / HTTP/1.1\r\nHost: a.example\r\nX-Long: one\r\n  two\r\nHost: b.example\r\n\r\n"
    )
    assert req.host == "a.example"
    assert ("x-long", "one two") in req.headers


def test_head_cut_at_the_end_of_the_segment_keeps_complete_lines() -> None:
    req = parse_http_request(b"GET /x HTTP/1.1\r\nHost: cut.example\r\nUser-Agent: Mozil")
    assert (req.host, req.user_agent, req.headers_complete) == ("cut.example", None, False)
    req = parse_http_request(b"GET /x HTTP/1.1\r\nHo")
    assert (req.host, req.headers, req.headers_complete) == (None, (), False)


@pytest.mark.parametrize(
    ("host", "name"),
    [
        ("[2001:db8::1]:8080", "2001:db8::1"),
        ("[::1]", "::1"),
        ("10.0.0.1:80", "10.0.0.1"),
        ("h:x", "h:x"),
        ("[bad", None),
    ],
)
def test_host_name_strips_the_port(host: str, name: str | None) -> None:
    assert parse_http_request(f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()).host_name == name


@pytest.mark.parametrize(
    "line",
    [
        b"PROPFIND /dav/ HTTP/1.1",
        b"M-SEARCH * HTTP/1.1",
        b"NOTIFY * HTTP/1.1",
        b"VERSION-CONTROL /f HTTP/1.1",
    ],
)
def test_webdav_and_ssdp_methods(line: bytes) -> None:
    req = parse_http_request(line + b"\r\nHOST: 239.255.255.250:1900\r\n\r\n")
    assert req.method == line.split(b" ")[0].decode()
    assert req.host_name == "239.255.255.250"
    assert looks_like_http_request(line)


def test_control_characters_in_values_are_escaped() -> None:
    req = parse_http_request(b"GET /\xc3\xa9 HTTP/1.1\r\nUser-Agent: a\xffb\tc\r\n\r\n")
    assert req.target == "/\\xc3\\xa9"
    assert req.user_agent == "a\\xffb\\x09c"
    # control characters other than tab are not allowed in a field: the head stops there
    req = parse_http_request(b"GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: \x1b[31mred\r\n\r\n")
    assert (req.host, req.user_agent, req.headers_complete) == ("h", None, False)


def test_header_block_stops_at_a_line_that_is_not_a_field() -> None:
    req = parse_http_request(
        b"GET / HTTP/1.1\r\nHost: ok.example\r\n\x00\x01\x02binary\r\nUser-Agent: late\r\n\r\n"
    )
    assert (req.host, req.user_agent, req.headers_complete) == ("ok.example", None, False)
    req = parse_http_request(b"GET / HTTP/1.1\r\nHost: ok.example\r\nno colon here\r\n\r\n")
    assert (len(req.headers), req.headers_complete) == (1, False)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "not-http-request"),
        (b"get / HTTP/1.1\r\n\r\n", "not-http-request"),  # methods are case-sensitive
        (b"FETCH / HTTP/1.1\r\n\r\n", "not-http-request"),
        (b"GET", "not-http-request"),
        (b"", "not-http-request"),
        (b"GET /very/long/url/cut/by/the/segm", "truncated"),
        (b"GET / HTTP/1.1", "truncated"),
        (b"GET /\r\n\r\n", "bad-request-line"),  # HTTP/0.9 style: no version
        (b"GET / HTTP/1.1 extra\r\n\r\n", "bad-request-line"),
        (b"GET /a b HTTP/1.1\r\n\r\n", "bad-request-line"),
        (b"GET / RTSP/1.0\r\n\r\n", "bad-request-line"),
    ],
)
def test_bad_requests(payload: bytes, reason: str) -> None:
    with pytest.raises(MalformedMessage) as info:
        parse_http_request(payload)
    assert info.value.reason == reason


def test_looks_like_http() -> None:
    assert looks_like_http_request(b"GET / HTTP/1.1\r\n")
    assert looks_like_http_request(b"OPTIONS * HTTP/1.1\r\n")
    assert not looks_like_http_request(b"GETX / HTTP/1.1\r\n")
    assert not looks_like_http_request(b"\x16\x03\x01\x00\x10")
    assert not looks_like_http_request(b"GET")
    assert looks_like_http_response(b"HTTP/1.1 200 OK\r\n")
    assert not looks_like_http_response(b"HTTP/2 200")
    assert not looks_like_http_response(b"SSH-2.0-x\r\n")


def test_response_fields() -> None:
    resp = parse_http_response(
        b"HTTP/1.1 302 Found\r\nServer: nginx/1.25.3\r\nLocation: https://example.com/\r\n"
        b"content-type: text/html; charset=utf-8\r\n\r\n<html>"
    )
    assert (resp.version, resp.status, resp.reason) == ("HTTP/1.1", 302, "Found")
    assert (resp.server, resp.location, resp.content_type) == (
        "nginx/1.25.3",
        "https://example.com/",
        "text/html; charset=utf-8",
    )
    assert resp.headers_complete
    bare = parse_http_response(b"HTTP/1.0 204\nX: y\n")
    assert (bare.status, bare.reason, bare.headers, bare.headers_complete) == (204, "", (("x", "y"),), False)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"HTTP/1.1 2000 OK\r\n\r\n", "bad-status-line"),
        (b"HTTP/1.1 OK\r\n\r\n", "bad-status-line"),
        (b"HTTP/1.1 200 OK", "truncated"),
        (b"ICY 200 OK\r\n", "not-http-response"),
        (b"\x00HTTP/1.1 200 OK\r\n", "not-http-response"),
    ],
)
def test_bad_responses(payload: bytes, reason: str) -> None:
    with pytest.raises(MalformedMessage) as info:
        parse_http_response(payload)
    assert info.value.reason == reason


# --- real captures, expected values from tshark 4.0 ---
# requests:  tshark -Y http.request -T fields -e frame.number -e http.request.method -e http.host
#            -e http.user_agent -e http.request.uri
# responses: tshark -Y http.response -T fields -e frame.number -e http.response.code -e http.server
#            -e http.content_type -e http.location

FIREFOX_36 = (
    "Mozilla/5.0 (X11; U; Linux x86_64; en-US; rv:1.9.2.15) Gecko/20110303 "
    "Ubuntu/10.04 (lucid) Firefox/3.6.15"
)
FIREFOX_35 = (
    "Mozilla/5.0 (X11; U; Linux i686; en-US; rv:1.9.1.8) Gecko/20100214 Ubuntu/9.10 (karmic) Firefox/3.5.8"
)


@pytest.mark.parametrize(
    ("name", "frame", "host", "agent", "target"),
    [
        ("zeek_wikipedia.pcap", 6, "www.wikipedia.org", FIREFOX_36, "/"),
        (
            "zeek_wikipedia.pcap",
            53,
            "upload.wikimedia.org",
            FIREFOX_36,
            "/wikipedia/commons/6/63/Wikipedia-logo.png",
        ),
        ("chrissanders_http_espn.pcapng", 6, "www.espn.com", FIREFOX_35, "/"),
        ("chrissanders_http_espn.pcapng", 14, "espn.go.com", FIREFOX_35, "/"),
        ("pcpp_four_ipv6_http_streams.pcap", 12, "www.uk6x.com", None, "/style1.css"),
        ("arkime_80211http.pcap", 8, "qq.com", None, "/static/css/base.css"),
        ("ndpi_xiaomi.pcap", 52, "203.107.1.65", None, None),
    ],
)
def test_real_requests_match_tshark(
    name: str, frame: int, host: str, agent: str | None, target: str | None
) -> None:
    req = parse_http_request(frame_payload(name, frame).payload)
    assert req.method == "GET"
    assert req.host == host
    if agent is not None:
        assert req.user_agent == agent
    if target is not None:
        assert req.target == target
    assert req.headers_complete


def test_real_xiaomi_request_details() -> None:
    req = parse_http_request(frame_payload("ndpi_xiaomi.pcap", 52).payload)
    assert req.user_agent == "Dalvik/2.1.0 (Linux; U; Android 10; Redmi Note 9 Pro MIUI/V12.0.3.0.QJZMIXM)"
    assert req.target.startswith("/164566/sign_d?host=appmarket.micloud.xiaomi.net&sdk=android_1.3.3")


def test_real_head_split_across_segments() -> None:
    # tshark shows this request in frame 855, after reassembling frames 854 and 855; frame 854 alone
    # already holds the Host and User-Agent, and its Cookie line is cut by the segment end
    req = parse_http_request(frame_payload("chrissanders_http_espn.pcapng", 854).payload)
    assert (req.host, req.user_agent, req.headers_complete) == ("w88.go.com", FIREFOX_35, False)
    assert req.headers[-1][0] == "referer"
    assert "cookie" not in dict(req.headers)


@pytest.mark.parametrize(
    ("name", "frame", "status", "server", "content_type", "location"),
    [
        (
            "chrissanders_http_espn.pcapng",
            7,
            301,
            "Apache",
            "text/html; charset=iso-8859-1",
            "http://espn.go.com/",
        ),
        # tshark reports this one in frame 121, the last of its 28 segments; its head is in frame 45
        ("chrissanders_http_espn.pcapng", 45, 200, "Microsoft-IIS/6.0", "text/css", None),
        ("chrissanders_http_espn.pcapng", 248, 200, "Microsoft-IIS/6.0", "image/jpeg", None),
        ("zeek_wikipedia.pcap", 7, 304, None, "text/html; charset=utf-8", None),
        # tshark reports this response in frame 7, where the body's reassembly ends; its head is in frame 5
        (
            "pcpp_four_ipv6_http_streams.pcap",
            5,
            200,
            "Apache/2.0.51 (FreeBSD)",
            "text/html; charset=ISO-8859-1",
            None,
        ),
        ("arkime_80211http.pcap", 6, 200, "nginx/1.13.3", "text/html", None),
    ],
)
def test_real_responses_match_tshark(
    *, name: str, frame: int, status: int, server: str | None, content_type: str | None, location: str | None
) -> None:
    resp = parse_http_response(frame_payload(name, frame).payload)
    assert (resp.status, resp.server, resp.content_type, resp.location) == (
        status,
        server,
        content_type,
        location,
    )


def test_real_ssdp_discovery_on_a_port_tshark_does_not_dissect() -> None:
    # tshark shows these UDP 32412 datagrams as data; each is a bare M-SEARCH request line
    req = parse_http_request(frame_payload("ndpi_ssdp-m-search.pcap", 1).payload)
    assert (req.method, req.target, req.version, req.headers, req.headers_complete) == (
        "M-SEARCH",
        "*",
        "HTTP/1.1",
        (),
        False,
    )
