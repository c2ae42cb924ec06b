"""Names announced over mDNS and LLMNR."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from engine.protocols.dns import parse_dns
from engine.protocols.mdns import AnnouncedName, announced_names, split_service_instance
from tests.protocols.captured import payloads
from tests.protocols.fuzzing import FUZZ, MUTATIONS, Mutation, mutated, only_malformed
from tests.protocols.wire import character_strings, dns_header, dns_name, dns_rr

CAST = "_googlecast._tcp"


def _chromecast_response() -> bytes:
    instance = dns_name(b"Living Room TV", "_googlecast", "_tcp", "local")
    records = [
        dns_rr(dns_name("_googlecast", "_tcp", "local"), 12, instance, ttl=120),
        dns_rr(instance, 33, struct.pack("!HHH", 0, 0, 8009) + dns_name("Chromecast-abc", "local"), 0x8001),
        dns_rr(
            instance,
            16,
            character_strings(b"id=abc", b"md=Chromecast Ultra", b"fn=Salon \xc3\xa9cran", b"ve=05"),
        ),
        dns_rr(dns_name("Chromecast-abc", "local"), 1, bytes([192, 168, 1, 40]), 0x8001),
        dns_rr(dns_name("40", "1", "168", "192", "in-addr", "arpa"), 12, dns_name("Chromecast-abc", "local")),
    ]
    return dns_header(0, 0x8400, an=3, ar=2) + b"".join(records)


def test_chromecast_announcement() -> None:
    names = announced_names(parse_dns(_chromecast_response()))
    assert names == [
        AnnouncedName("mdns-service", "Living Room TV", service=CAST, target="Chromecast-abc", port=8009),
        AnnouncedName("mdns-txt", "Living Room TV", service=CAST, key="md", value="Chromecast Ultra"),
        AnnouncedName("mdns-txt", "Living Room TV", service=CAST, key="fn", value="Salon écran"),
        AnnouncedName("mdns-host", "Chromecast-abc", address="192.168.1.40"),
    ]


def test_queries_announce_nothing() -> None:
    # a query's known answers describe other devices
    query = bytearray(_chromecast_response())
    query[2:4] = b"\x00\x00"
    assert announced_names(parse_dns(bytes(query))) == []


def test_ptr_without_srv_names_the_instance_and_reverse_ptr_names_the_host() -> None:
    records = dns_rr(
        dns_name("_ipp", "_tcp", "local"), 12, dns_name(b"Office Printer", "_ipp", "_tcp", "local")
    )
    records += dns_rr(dns_name("9", "0", "168", "192", "in-addr", "arpa"), 12, dns_name("printer", "local"))
    records += dns_rr(
        dns_name("_services", "_dns-sd", "_udp", "local"), 12, dns_name("_ipp", "_tcp", "local")
    )
    names = announced_names(parse_dns(dns_header(0, 0x8400, an=3) + records))
    assert names == [
        AnnouncedName("mdns-service", "Office Printer", service="_ipp._tcp"),
        AnnouncedName("mdns-host", "printer", address="192.168.0.9"),
    ]


def test_raop_md_is_not_a_model_but_am_is() -> None:
    instance = dns_name(b"5855CA1B2BB3@Kitchen", "_raop", "_tcp", "local")
    txt = dns_rr(instance, 16, character_strings(b"md=0,1,2", b"am=AudioAccessory5,1", b"Model=X"))
    assert announced_names(parse_dns(dns_header(0, 0x8400, an=1) + txt)) == [
        AnnouncedName(
            "mdns-txt", "5855CA1B2BB3@Kitchen", service="_raop._tcp", key="am", value="AudioAccessory5,1"
        ),
        AnnouncedName("mdns-txt", "5855CA1B2BB3@Kitchen", service="_raop._tcp", key="model", value="X"),
    ]


def test_llmnr_response_names() -> None:
    body = dns_name("DESKTOP-7Q") + struct.pack("!HH", 1, 1)
    body += dns_rr(dns_name(pointer=12), 1, bytes([10, 0, 0, 23]), ttl=30)
    body += dns_rr(dns_name(pointer=12), 28, b"\xfe\x80" + b"\x00" * 13 + b"\x17", ttl=30)
    msg = parse_dns(dns_header(0x51, 0x8000, qd=1, an=2) + body)
    assert announced_names(msg, llmnr=True) == [
        AnnouncedName("llmnr", "DESKTOP-7Q", address="10.0.0.23"),
        AnnouncedName("llmnr", "DESKTOP-7Q", address="fe80::17"),
    ]
    # the same answer read as mDNS names nothing: "DESKTOP-7Q" is not a .local name
    assert announced_names(msg) == []


def test_split_service_instance() -> None:
    assert split_service_instance("Living Room._googlecast._tcp.local") == ("Living Room", CAST)
    assert split_service_instance("Luca\\226\\128\\153s iMac._companion-link._tcp.local") == (
        "Luca’s iMac",
        "_companion-link._tcp",
    )
    assert split_service_instance("Bob\\.s TV._airplay._tcp.local") == ("Bob.s TV", "_airplay._tcp")
    assert split_service_instance("_googlecast._tcp.local") is None
    assert split_service_instance("_printer._sub._http._tcp.local") is None
    assert split_service_instance("host.local") is None


def test_telegram_capture_matches_tshark() -> None:
    frames = payloads("ndpi_telegram.pcap", 5353)
    # tshark -e dns.srv.target -e dns.srv.port -e dns.a -e dns.txt, frame 4
    assert announced_names(parse_dns(frames[4])) == [
        AnnouncedName(
            "mdns-service",
            "sonos7828CA05FACC",
            service="_spotify-connect._tcp",
            target="sonos7828CA05FACC",
            port=1400,
        ),
        AnnouncedName("mdns-host", "sonos7828CA05FACC", address="192.168.1.69"),
    ]
    # frame 11: "Luca’s iMac._companion-link._tcp.local" SRV Lucas-iMac.local:49157, TXT model=iMac11,3
    assert announced_names(parse_dns(frames[11])) == [
        AnnouncedName(
            "mdns-service", "Luca’s iMac", service="_companion-link._tcp", target="Lucas-iMac", port=49157
        ),
        AnnouncedName("mdns-txt", "Luca’s iMac", service="_device-info._tcp", key="model", value="iMac11,3"),
        AnnouncedName("mdns-host", "Lucas-iMac", address="192.168.1.77"),
    ]


def test_apple_tv_capture_matches_tshark() -> None:
    frames = payloads("nfstream_mdns_sll.pcap", 5353)
    names = announced_names(parse_dns(frames[8]))
    # tshark -e dns.a -e dns.aaaa, frame 8
    assert [n.address for n in names if n.source == "mdns-host"] == [
        "fe80::5a55:caff:fe1b:2bb3",
        "65.50.38.201",
        "2607:f1e8:41b6:3901:5a55:caff:fe1b:2bb3",
        "2002:4132:2696:c:5a55:caff:fe1b:2bb3",
        "fec0::c:5a55:caff:fe1b:2bb3",
    ]
    assert {n.name for n in names if n.source == "mdns-host"} == {"Apple-TV-3"}
    # tshark -e dns.srv.target -e dns.srv.port: Apple-TV-3.local 7000 and 49152
    assert [(n.name, n.service, n.target, n.port) for n in names if n.source == "mdns-service"] == [
        ("Apple TV (3)", "_airplay._tcp", "Apple-TV-3", 7000),
        ("5855CA1B2BB3@Apple TV", "_raop._tcp", "Apple-TV-3", 49152),
    ]
    # tshark -e dns.txt: model=K66AP (device-info), am=AppleTV2,1, model=AppleTV2,1
    assert [(n.service, n.key, n.value) for n in names if n.source == "mdns-txt"] == [
        ("_device-info._tcp", "model", "K66AP"),
        ("_raop._tcp", "am", "AppleTV2,1"),
        ("_airplay._tcp", "model", "AppleTV2,1"),
    ]


def test_reverse_lookup_answer_names_the_host() -> None:
    frames = payloads("pcpp_DnsPackets.pcap", 5353)
    # tshark -e dns.ptr.domain_name -e dns.a, frame 421:
    # 2.0.0.10.in-addr.arpa PTR Yaels-iPhone.local, Yaels-iPhone.local A 10.0.0.2
    assert announced_names(parse_dns(frames[421])) == [
        AnnouncedName("mdns-host", "Yaels-iPhone", address="10.0.0.2")
    ]


def test_zeek_mdns_host_addresses_match_tshark() -> None:
    frames = payloads("zeek_mdns.pcap", 5353)
    # tshark -e dns.a -e dns.aaaa, frame 23
    assert {(n.name, n.address) for n in announced_names(parse_dns(frames[23]))} == {
        ("johanna-QEMU-Virtual-Machine", "10.0.2.7"),
        ("johanna-QEMU-Virtual-Machine", "fd52:429e:c03c:8235:5968:5bc6:1563:f82f"),
        ("johanna-QEMU-Virtual-Machine", "fd52:429e:c03c:8235:883c:d6ff:fee1:4dc4"),
    }


def _seeds() -> list[bytes]:
    real = [p for p in payloads("nfstream_mdns_sll.pcap", 5353).values() if len(p) > 100][:30]
    return [*real, _chromecast_response()]


def _announce(data: bytes) -> object:
    msg = parse_dns(data)
    return announced_names(msg), announced_names(msg, llmnr=True)


@FUZZ
@given(MUTATIONS)
def test_mutated_announcements_raise_only_malformed_message(
    mutation: Mutation,
) -> None:
    for data in mutated(_seeds(), mutation):
        only_malformed(_announce, data)


@FUZZ
@given(st.binary(max_size=400))
def test_arbitrary_bytes_announce_safely(data: bytes) -> None:
    only_malformed(_announce, b"\x00\x00\x84\x00" + data)
