"""The DNS log through the whole analysis: queries matched with responses (latency, rcode, answers), mDNS
apart, DNS over TCP however messages fall into segments, malformed messages counted and never fatal, names
for remote addresses from answers (through CNAME chains), and which resolver each device uses (plain DNS,
DNS over TLS, DNS over HTTPS)."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest

from engine.analysis import AnalysisSnapshot
from engine.metadata.dns_log import DnsEntry
from engine.report import build_report
from engine.views.devices import device_views
from engine.views.remotes import remote_views
from tests.conftest import fixture_path
from tests.engine.app_messages import (
    TYPE_A,
    TYPE_AAAA,
    TYPE_CNAME,
    dns_query,
    dns_response,
    mdns_announcement,
    name_of,
    tcp_dns,
)
from tests.engine.crafted import BASE_TS, Rec, analyse_paths, ethernet, ipv4, ipv6, tcp, udp, write_pcap
from tests.protocols.wire import dns_header

PHONE, LAPTOP, ROUTER, QUAD9 = "192.168.1.20", "192.168.1.30", "192.168.1.1", "9.9.9.9"
PHONE_MAC, LAPTOP_MAC, ROUTER_MAC = "f0:18:98:aa:bb:01", "3c:22:fb:00:00:02", "b8:27:eb:12:34:56"
MACS = {PHONE: PHONE_MAC, LAPTOP: LAPTOP_MAC, ROUTER: ROUTER_MAC}
WEB = "93.184.216.34"
TYPE_SOA, TYPE_MX, TYPE_SRV = 6, 15, 33


def frame(packet: bytes, src: str, dst: str) -> bytes:
    ethertype = 0x86DD if packet[0] >> 4 == 6 else 0x0800
    return ethernet(packet, ethertype, src=MACS.get(src, ROUTER_MAC), dst=MACS.get(dst, ROUTER_MAC))


def dns_udp(src: str, dst: str, sport: int, dport: int, message: bytes) -> bytes:
    return frame(ipv4(udp(sport, dport, message), src=src, dst=dst), src, dst)


def analyse_timed(tmp_path: Path, timed: list[tuple[float, bytes]], **options: Any) -> AnalysisSnapshot:
    recs = []
    for t, f in timed:
        us = round(t * 1_000_000)
        recs.append(Rec(f, sec=BASE_TS + us // 1_000_000, frac=us % 1_000_000))
    return analyse_paths([write_pcap(tmp_path / "dns.pcap", recs)], **options)[0]


def entries(snapshot: AnalysisSnapshot) -> list[DnsEntry]:
    assert snapshot.metadata is not None
    return snapshot.metadata.dns.entries


def device_id(snapshot: AnalysisSnapshot, mac: str) -> int:
    (view,) = [v for v in device_views(snapshot) if v.key == mac]
    return view.id


# --- matching queries and responses ---------------------------------------------------------------------


@pytest.fixture
def lookups(tmp_path: Path) -> AnalysisSnapshot:
    answer = [("example.com", TYPE_A, WEB)]
    return analyse_timed(
        tmp_path,
        [
            (0.0, dns_udp(PHONE, ROUTER, 40000, 53, dns_query(0x0101, "example.com"))),
            (0.025, dns_udp(ROUTER, PHONE, 53, 40000, dns_response(0x0101, "example.com", TYPE_A, answer))),
            (1.0, dns_udp(PHONE, ROUTER, 40001, 53, dns_query(0x0202, "nope.example"))),
            (1.5, dns_udp(ROUTER, PHONE, 53, 40001, dns_response(0x0202, "nope.example", rcode=3))),
            (2.0, dns_udp(PHONE, ROUTER, 40002, 53, dns_query(0x0303, "broken.example", TYPE_AAAA))),
            (
                2.2,
                dns_udp(ROUTER, PHONE, 53, 40002, dns_response(0x0303, "broken.example", TYPE_AAAA, rcode=2)),
            ),
            # a response whose query was not captured
            (3.0, dns_udp(ROUTER, LAPTOP, 53, 40003, dns_response(0x0404, "example.org", TYPE_A, answer))),
            # a query never answered, and a response with the right name but another id
            (4.0, dns_udp(LAPTOP, QUAD9, 40004, 53, dns_query(0x0505, "slow.example"))),
            (4.3, dns_udp(QUAD9, LAPTOP, 53, 40004, dns_response(0x0506, "slow.example", rcode=5))),
        ],
    )


def test_queries_matched_with_responses(lookups: AnalysisSnapshot) -> None:
    got = [(e.name, e.qtype_name, e.query_seen, e.rcode_name, e.answers) for e in entries(lookups)]
    assert got == [
        ("example.com", "A", True, "NOERROR", (f"A {WEB}",)),
        ("nope.example", "A", True, "NXDOMAIN", ()),
        ("broken.example", "AAAA", True, "SERVFAIL", ()),
        ("example.org", "A", False, "NOERROR", (f"A {WEB}",)),
        ("slow.example", "A", True, None, ()),
        ("slow.example", "A", False, "REFUSED", ()),
    ]
    assert [e.latency for e in entries(lookups)] == [
        pytest.approx(0.025, abs=1e-6),
        pytest.approx(0.5, abs=1e-6),
        pytest.approx(0.2, abs=1e-6),
        None,
        None,
        None,
    ]
    first = entries(lookups)[0]
    assert first.ts == pytest.approx(BASE_TS)
    assert (first.kind, first.transport, first.client, first.server) == ("dns", "udp", PHONE, ROUTER)
    assert first.client_device == device_id(lookups, PHONE_MAC)
    # the response without its query is the laptop's, from the router
    lone = entries(lookups)[3]
    assert (lone.client, lone.server, lone.client_device) == (LAPTOP, ROUTER, device_id(lookups, LAPTOP_MAC))


def test_report_names_and_rcodes(lookups: AnalysisSnapshot) -> None:
    dns = build_report(lookups, [])["dns"]
    assert dns["messages"] == 6
    names = {(n["name"], n["type"]): n for n in dns["names"]}
    assert names["nope.example", "A"]["rcodes"] == {"NXDOMAIN": 1}
    assert (names["slow.example", "A"]["queries"], names["slow.example", "A"]["responses"]) == (1, 1)
    assert names["slow.example", "A"]["rcodes"] == {"REFUSED": 1}
    assert names["example.com", "A"]["answers"] == [f"A {WEB}"]
    assert names["example.com", "A"]["devices"] == ["Apple aa:bb:01"]


def test_resolver_use_per_device(lookups: AnalysisSnapshot) -> None:
    assert lookups.metadata is not None
    use = {(r.device, r.client, r.server): r.queries for r in lookups.metadata.dns.resolvers}
    assert use == {
        (device_id(lookups, PHONE_MAC), PHONE, ROUTER): 3,
        (device_id(lookups, LAPTOP_MAC), LAPTOP, QUAD9): 1,
    }
    resolvers = build_report(lookups, [])["dns"]["resolvers"]
    assert [(r["device"]["key"], r["server"], r["kind"], r["queries"]) for r in resolvers] == [
        (PHONE_MAC, ROUTER, "dns", 3),
        (LAPTOP_MAC, QUAD9, "dns", 1),
    ]


# --- names for remote addresses ---------------------------------------------------------------------------


def test_cname_chain_names_the_final_address(tmp_path: Path) -> None:
    chain = [
        ("www.example.com", TYPE_CNAME, "www.example.com.cdn.example.net"),
        ("www.example.com.cdn.example.net", TYPE_CNAME, "e1234.a.cdn.example.org"),
        ("e1234.a.cdn.example.org", TYPE_A, WEB),
        ("e1234.a.cdn.example.org", TYPE_A, "93.184.216.35"),
    ]
    snapshot = analyse_timed(
        tmp_path,
        [
            (0.0, dns_udp(PHONE, ROUTER, 40000, 53, dns_query(7, "www.example.com"))),
            (0.01, dns_udp(ROUTER, PHONE, 53, 40000, dns_response(7, "www.example.com", TYPE_A, chain))),
            (0.1, frame(ipv4(tcp(50000, 443, flags=0x02), 6, src=PHONE, dst=WEB), PHONE, WEB)),
        ],
    )
    assert snapshot.metadata is not None
    for address in (WEB, "93.184.216.35"):
        (seen,) = snapshot.metadata.remote_names[address]
        assert (seen.name, seen.sources, seen.count) == ("www.example.com", {"dns"}, 1)
    (remote,) = remote_views(snapshot)
    assert (remote.address, remote.name, remote.names) == (
        WEB,
        "www.example.com",
        (("www.example.com", ("dns",)),),
    )
    assert entries(snapshot)[0].answers == (
        "CNAME www.example.com.cdn.example.net",
        "CNAME e1234.a.cdn.example.org",
        f"A {WEB}",
        "A 93.184.216.35",
    )


def test_mdns_announcement_logged_apart_with_its_sender_as_client(tmp_path: Path) -> None:
    phone_ll = "fe80::1c2b:3c4d:5e6f:7081"
    announcement = mdns_announcement(
        [("Lucas-iPhone.local", TYPE_AAAA, phone_ll), ("Lucas-iPhone.local", TYPE_A, PHONE)]
    )
    mdns = ethernet(
        ipv6(udp(5353, 5353, announcement), src=phone_ll, dst="ff02::fb"),
        0x86DD,
        src=PHONE_MAC,
        dst="33:33:00:00:00:fb",
    )
    snapshot = analyse_timed(tmp_path, [(0.0, mdns)])
    (entry,) = entries(snapshot)
    assert (entry.kind, entry.client, entry.server, entry.name, entry.query_seen) == (
        "mdns",
        phone_ll,
        "ff02::fb",
        "Lucas-iPhone.local",
        False,
    )
    assert entry.answers == (f"AAAA {phone_ll}", f"A {PHONE}")
    assert entry.client_device == device_id(snapshot, PHONE_MAC)
    assert snapshot.metadata is not None
    assert snapshot.metadata.dns.resolvers == []  # multicast name resolution has no resolver
    assert snapshot.metadata.remote_names == {}  # nor does it name remote addresses
    dns = build_report(snapshot, [])["dns"]
    assert [(n["name"], n["type"], n["kind"], n["responses"]) for n in dns["names"]] == [
        ("Lucas-iPhone.local", "AAAA", "mdns", 1)
    ]


def test_answers_in_presentation_form(tmp_path: Path) -> None:
    mx = struct.pack(">H", 10) + name_of("mail.example.com")
    srv = struct.pack(">HHH", 0, 0, 8009) + name_of("Chromecast-1a2b.local")
    soa = (
        name_of("ns1.example.com")
        + name_of("hostmaster.example.com")
        + struct.pack(">5I", 2024, 7200, 900, 86400, 300)
    )
    snapshot = analyse_timed(
        tmp_path,
        [
            (0.0, dns_udp(PHONE, ROUTER, 40000, 53, dns_query(1, "example.com", TYPE_MX))),
            (
                0.01,
                dns_udp(
                    ROUTER,
                    PHONE,
                    53,
                    40000,
                    dns_response(1, "example.com", TYPE_MX, [("example.com", TYPE_MX, mx)]),
                ),
            ),
            (0.02, dns_udp(PHONE, ROUTER, 40001, 53, dns_query(2, "example.com", TYPE_SOA))),
            (
                0.03,
                dns_udp(
                    ROUTER,
                    PHONE,
                    53,
                    40001,
                    dns_response(2, "example.com", TYPE_SOA, [("example.com", TYPE_SOA, soa)]),
                ),
            ),
            (0.04, dns_udp(PHONE, ROUTER, 40002, 53, dns_query(3, "example.com", 99))),
            (
                0.05,
                dns_udp(
                    ROUTER,
                    PHONE,
                    53,
                    40002,
                    dns_response(3, "example.com", 99, [("example.com", 99, b"\x0a\x0b")]),
                ),
            ),
            (
                0.1,
                dns_udp(
                    PHONE,
                    "224.0.0.251",
                    5353,
                    5353,
                    mdns_announcement([("Chromecast-1a2b._googlecast._tcp.local", TYPE_SRV, srv)]),
                ),
            ),
        ],
    )
    assert [e.answers for e in entries(snapshot)] == [
        ("MX 10 mail.example.com",),
        ("SOA ns1.example.com hostmaster.example.com 2024 7200 900 86400 300",),
        ("SPF \\# 2 0a0b",),  # an undecoded type in the RFC 3597 form
        ("SRV 0 0 8009 Chromecast-1a2b.local",),
    ]


# --- DNS over TCP -----------------------------------------------------------------------------------------


def test_dns_over_tcp_however_messages_fall_into_segments(tmp_path: Path) -> None:
    q1, q2 = dns_query(0x0A01, "one.example"), dns_query(0x0A02, "two.example", TYPE_AAAA)
    r1 = dns_response(0x0A01, "one.example", TYPE_A, [("one.example", TYPE_A, WEB)])
    r2 = dns_response(0x0A02, "two.example", TYPE_AAAA, [("two.example", TYPE_AAAA, "2606:2800:220:1::1")])
    stream_down = tcp_dns(r1, r2)
    cut = 9  # inside the first response's header

    def seg(up: bool, payload: bytes, flags: int, seq: int) -> bytes:
        if up:
            return frame(
                ipv4(tcp(50000, 53, payload, flags=flags, seq=seq), 6, src=PHONE, dst=QUAD9), PHONE, QUAD9
            )
        return frame(
            ipv4(tcp(53, 50000, payload, flags=flags, seq=seq), 6, src=QUAD9, dst=PHONE), QUAD9, PHONE
        )

    snapshot = analyse_timed(
        tmp_path,
        [
            (0.0, seg(True, b"", 0x02, 100)),
            (0.01, seg(False, b"", 0x12, 500)),
            # both queries in one segment
            (0.02, seg(True, tcp_dns(q1, q2), 0x18, 101)),
            # the first response split across two segments, the second response with its end: both are
            # complete at 0.06
            (0.05, seg(False, stream_down[:cut], 0x18, 501)),
            (0.06, seg(False, stream_down[cut:], 0x18, 501 + cut)),
        ],
    )
    got = [(e.name, e.qtype_name, e.transport, e.rcode_name, e.answers) for e in entries(snapshot)]
    assert got == [
        ("one.example", "A", "tcp", "NOERROR", (f"A {WEB}",)),
        ("two.example", "AAAA", "tcp", "NOERROR", ("AAAA 2606:2800:220:1::1",)),
    ]
    assert [round(e.latency or -1, 6) for e in entries(snapshot)] == [0.04, 0.04]
    assert snapshot.metadata is not None
    assert snapshot.metadata.remote_names["2606:2800:220:1::1"][0].name == "two.example"
    assert [(r.server, r.queries) for r in snapshot.metadata.dns.resolvers] == [(QUAD9, 2)]


# --- malformed messages -----------------------------------------------------------------------------------


def compression_loop_query() -> bytes:
    """A question whose name is a pointer to itself (offset 12)."""
    return dns_header(0x0B0B, 0x0100, qd=1) + b"\xc0\x0c" + struct.pack(">HH", 1, 1)


def truncated_response() -> bytes:
    """A response cut inside its answer record."""
    full = dns_response(0x0C0C, "cut.example", TYPE_A, [("cut.example", TYPE_A, WEB)])
    return full[:-6]


def test_malformed_messages_are_counted_and_never_fatal(tmp_path: Path) -> None:
    snapshot = analyse_timed(
        tmp_path,
        [
            (0.0, dns_udp(PHONE, ROUTER, 40000, 53, compression_loop_query())),
            (0.1, dns_udp(PHONE, ROUTER, 40001, 53, dns_query(0x0C0C, "cut.example"))),
            (0.2, dns_udp(ROUTER, PHONE, 53, 40001, truncated_response())),
            (0.3, dns_udp(PHONE, ROUTER, 40002, 53, b"\x12\x34\x01\x00")),  # shorter than a header
            (0.4, dns_udp(PHONE, ROUTER, 40003, 53, dns_query(0x0D0D, "fine.example"))),
        ],
    )
    report = build_report(snapshot, [])
    assert report["malformed_messages"] == {
        "dns: dns-compression-loop": 1,
        "dns: dns-truncated": 1,
        "dns: dns-short-header": 1,
    }
    assert report["dns"]["malformed"] == {
        "dns-compression-loop": 1,
        "dns-truncated": 1,
        "dns-short-header": 1,
    }
    # what could be read is still logged: the cut response answers its query, without the cut record
    got = [(e.name, e.query_seen, e.rcode_name, e.answers) for e in entries(snapshot)]
    assert got == [("cut.example", True, "NOERROR", ()), ("fine.example", True, None, ())]


def test_malformed_dns_fixture(tmp_path: Path) -> None:
    """ndpi_malformed_dns.pcap: responses with an over-long name, logged as far as they go, and counted."""
    snapshot, _ = analyse_paths([fixture_path("ndpi_malformed_dns.pcap")])
    report = build_report(snapshot, [])
    assert report["malformed_messages"] == {"dns: dns-name-too-long": 4}
    assert [(e.name, e.query_seen, e.rcode_name) for e in entries(snapshot)] == [
        ("www.xt.com", True, "NOERROR"),
        ("www.xt.com", False, "NOERROR"),
        ("www.xt.com", True, "NOERROR"),
        ("www.xt.com", False, "NOERROR"),
    ]


# --- encrypted DNS: DNS over TLS and DNS over HTTPS -------------------------------------------------------


def _resolvers(name: str) -> list[dict[str, Any]]:
    snapshot, statuses = analyse_paths([fixture_path(name)])
    resolvers: list[dict[str, Any]] = build_report(snapshot, statuses)["dns"]["resolvers"]
    return resolvers


def test_dns_over_tls_fixture() -> None:
    """ndpi_googledns_android10.pcap: Android's private DNS, TLS to dns.google on port 853."""
    resolvers = _resolvers("ndpi_googledns_android10.pcap")
    assert [(r["client"], r["server"], r["kind"], r["flows"]) for r in resolvers] == [
        ("192.168.1.159", "8.8.4.4", "dot", 5),
        ("192.168.1.159", "8.8.8.8", "dot", 2),
    ]
    assert {r["device"]["key"] for r in resolvers} == {"6a:0f:da:86:9b:90"}


def test_dns_over_https_fixture() -> None:
    """ndpi_dns_doh.pcap: Firefox asking mozilla.cloudflare-dns.com over HTTPS."""
    resolvers = _resolvers("ndpi_dns_doh.pcap")
    assert resolvers == [
        {
            "device": {"name": "Apple bd:5e:24", "key": "78:31:c1:bd:5e:24"},
            "client": "172.20.10.4",
            "server": "104.16.248.249",
            "kind": "doh",
            "server_name": "mozilla.cloudflare-dns.com",
            "connections": 1,
        }
    ]
