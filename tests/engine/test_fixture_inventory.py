"""Every fixture capture read through the engine, checked against what SOURCES.md says about it (format,
link types, packets, size, duration) and against the wire-byte totals capinfos (Wireshark 4.0.17) reported
for it. No tshark is needed at test time: its numbers are written down here and in SOURCES.md."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import FIXTURES, SHARED_PCAPS, all_fixture_names, fixture_path
from tests.engine.crafted import report_for

# capinfos -T -r -c -d -M: packets and data bytes (the sum of the original, on-the-wire lengths)
CAPINFOS: dict[str, tuple[int, int]] = {
    "arkime_80211http.pcap": (26, 11832),
    "arkime_bigendian.pcap": (2, 196),
    "arkime_nbns.pcap": (62, 8567),
    "arkime_nflog.pcap": (10, 2564),
    "arkime_v6.pcap": (161, 25651),
    "arkime_wireshark-dhcpv6.pcap": (12, 1411),
    "arkime_wireshark-lldp.pcap": (3, 595),
    "dpkt_nb6-http.pcap": (62, 7793),
    "dpkt_truncated_dns_2.pcap": (1, 282),
    "iotdataset_schlage-lock-01.pcap": (11150, 1720358),
    "iotfw_dhcp-xiaomi.pcap": (12, 4171),
    "iotfw_dns-office.pcap": (46, 6292),
    "joy_firefox58.pcap": (831, 523866),
    "markofu_ppa_http-fault-post.pcap": (25, 8453),
    "ndpi_TivoDVR.pcap": (2, 422),
    "ndpi_dlt_ppp.pcap": (1, 1230),
    "ndpi_dns_doh.pcap": (142, 20362),
    "ndpi_fuzz-2006-06-26-2594.pcap": (691, 99997),
    "ndpi_gnutella.pcap": (3905, 578474),
    "ndpi_googledns_android10.pcap": (532, 132894),
    "ndpi_http_ipv6.pcap": (193, 66327),
    "ndpi_iphone.pcap": (500, 221902),
    "ndpi_malformed_dns.pcap": (6, 5860),
    "ndpi_nest_log_sink.pcap": (1000, 129986),
    "ndpi_netbios.pcap": (261, 24812),
    "ndpi_ssdp-m-search.pcap": (19, 1197),
    "ndpi_stun_pcapng-named-pcap.pcap": (201, 28828),
    "ndpi_telegram.pcap": (1566, 336825),
    "ndpi_tplink_shp.pcap": (251, 17821),
    "ndpi_tuya_lp.pcap": (98, 21948),
    "ndpi_ubntac2.pcap": (8, 1736),
    "ndpi_upnp.pcap": (14, 9912),
    "ndpi_xiaomi.pcap": (52, 11467),
    "nfstream_mdns_sll.pcap": (292, 97908),
    "pcpp_DnsPackets.pcap": (464, 57942),
    "pcpp_four_ipv6_http_streams.pcap": (81, 40670),
    "pcpp_null_loopback.pcap": (3, 924),
    "pcpp_raw_ip.pcap": (100, 31018),
    "pcpp_sll.pcap": (518, 451558),
    "pcpp_sll2.pcap": (3, 211),
    "smarthomefw_tplink-plug_wan.pcap": (742, 197864),
    "smarthomefw_tplink-plug_wlan2.4.pcap": (888, 241744),
    "smarthomefw_tuya-motion_wlan2.4.pcap": (489, 51671),
    "zeek_NTP_sync.pcap": (32, 3315),
    "zeek_dhcp.pcap": (9, 2972),
    "zeek_dns-https.pcap": (2, 273),
    "zeek_empty.pcap": (0, 0),
    "zeek_home-multicast-short.pcap": (6, 518),
    "zeek_icmp6-nd-options.pcap": (20, 1800),
    "zeek_icmp_nd_dnssl.pcap": (2, 660),
    "zeek_linuxsll-arp.pcap": (12, 744),
    "zeek_mdns.pcap": (24, 4854),
    "zeek_quic_chromium-google-de-fragmented.pcap": (917, 980376),
    "zeek_quic_curl-http3-google-de.pcap": (48, 32040),
    "zeek_tls13-ech.pcap": (69, 15318),
    "zeek_wikipedia.pcap": (136, 25260),
    "chrissanders_arp_resolution.pcapng": (2, 88),
    "chrissanders_dhcp6_outlease_acquisition.pcapng": (4, 614),
    "chrissanders_dhcp_nolease_initialization.pcapng": (4, 1372),
    "chrissanders_dns_tcp.pcapng": (14, 2815),
    "chrissanders_http_espn.pcapng": (956, 652181),
    "chrissanders_http_ip4and6.pcapng": (20, 2695),
    "iotfw_tp-link.pcapng": (253, 63572),
    "ndpi_sonos.pcapng": (61, 29332),
    "nfstream_dhcp_big_endian.pcapng": (4, 1312),
    "pcpp_many_interfaces-1.pcapng": (64, 15954),
    "pcpp_pcapng-example.pcapng": (159, 57465),
    "zeek_pcapng-multi-interface.pcapng": (6, 798),
}

# The readable part of the damaged files (packets and wire bytes as tshark -T fields -e frame.len lists them)
DAMAGED: dict[str, tuple[int, int, str, int]] = {
    # name: (packets, wire bytes, problem kind, problem offset)
    "dpkt_truncated_dns_2.pcap": (1, 282, "truncated", 240),
    "markofu_ppa_http-fault-post.pcap": (25, 8453, "truncated", 8877),
    # SOURCES.md says "2 readable": Wireshark guesses a pcap variant with 24-byte record headers for this
    # fuzzed file (it shows packet 1 with MACs shifted by 8 bytes and packet 2 at a negative time with a
    # 1 MiB length). Read as standard pcap, record 2 at byte 228 claims 1,409,179,648 captured bytes.
    "suricata-verify_bug-6875_fuzz_corrupt.pcap": (1, 188, "corrupt", 228),
    "suricata-verify_smtp-to-comma_corrupt.pcap": (18, 3383, "corrupt", 3695),
}

LINKTYPES = {
    "ether": {1},
    "ieee-802-11-radiotap": {127},
    "nflog": {239},
    "linux-sll": {113},
    "linux-sll2": {276},
    "null": {0},
    "ppp": {9},
    "rawip": {12, 14, 101},
}
FORMATS = {"pcap": "pcap", "nsecpcap": "pcap-nsec", "pcapng": "pcapng"}


def _sources_table() -> dict[str, dict[str, str]]:
    """The fixture table of SOURCES.md (the shared one lists every capture; the bundled one, fewer)."""
    doc = SHARED_PCAPS / "SOURCES.md"
    if not doc.exists():
        doc = FIXTURES / "SOURCES.md"
    rows: dict[str, dict[str, str]] = {}
    header: list[str] | None = None
    for line in doc.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            header = None if not line.strip() else header
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == "file":
            header = cells
        elif header and not set(cells[0]) <= set("-: "):
            rows[cells[0]] = dict(zip(header, cells, strict=False))
    return rows


SOURCES = _sources_table()


def test_sources_table_was_read() -> None:
    bundled = [p for p in FIXTURES.iterdir() if p.suffix != ".md"]
    assert len(bundled) >= 50
    assert len(SOURCES) >= len(bundled)
    assert SOURCES["arkime_bigendian.pcap"]["packets"] == "2"


def _leading_int(text: str) -> int | None:
    match = re.match(r"(\d+)", text.replace(",", ""))
    return int(match.group(1)) if match else None


@pytest.mark.parametrize("name", all_fixture_names())
def test_fixture_matches_its_description(name: str) -> None:
    path = fixture_path(name)
    report: dict[str, Any] = report_for([path])
    (source,) = report["sources"]
    row = SOURCES.get(name)
    assert row is not None, f"{name} is not described in SOURCES.md"
    assert source["size"] == path.stat().st_size
    if "size (bytes)" in row:
        assert source["size"] == int(row["size (bytes)"])

    if name == "pcpp_solaris.snoop":
        assert source["format"] == "unknown"
        assert source["packets"] == 0
        assert [p["kind"] for p in source["problems"]] == ["unsupported-format"]
        assert "snoop" in source["problems"][0]["message"]
        return

    assert source["format"] == FORMATS[row["format"]]
    linktypes = {lt["linktype"]: lt["packets"] for lt in source["link_types"]}
    listed = row["link type"]
    if listed == "per-packet":
        assert len(linktypes) > 1
    elif listed.startswith("linktype "):
        assert set(linktypes) == {int(listed.split()[1])}
    elif source["packets"]:
        assert set(linktypes) <= LINKTYPES[listed] and len(linktypes) == 1
    assert sum(linktypes.values()) == source["packets"]

    fatal = [p for p in source["problems"] if p["fatal"]]
    if name in DAMAGED:
        packets, wire, kind, offset = DAMAGED[name]
        assert (source["packets"], source["bytes"]) == (packets, wire)
        assert [(p["kind"], p["offset"]) for p in fatal] == [(kind, offset)]
        assert source["complete"] is False
        return

    assert fatal == []
    assert source["complete"] is True
    expected = _leading_int(row["packets"])
    assert source["packets"] == expected
    assert report["totals"]["packets"] == expected
    if name in CAPINFOS:
        assert (source["packets"], source["bytes"]) == CAPINFOS[name]
        assert report["totals"]["bytes"] == CAPINFOS[name][1]
    assert source["captured_bytes"] <= source["bytes"]
    duration = row.get("duration (s)", "")
    if re.fullmatch(r"\d+(\.\d+)?", duration) and report["totals"]["untimed_packets"] == 0:
        assert report["totals"]["duration"] == pytest.approx(float(duration), abs=0.051)


def test_every_capture_of_the_shared_folder_has_capinfos_numbers() -> None:
    if not SHARED_PCAPS.exists():
        pytest.skip("../shared/fixtures/pcaps is not present")
    names = {p.name for p in SHARED_PCAPS.iterdir() if p.suffix != ".md"}
    unsupported = {"pcpp_solaris.snoop", "tcpdump_kday6_unsupported-linktype.pcap"}
    assert names - set(CAPINFOS) - set(DAMAGED) == unsupported


def test_bundled_fixtures_are_a_subset_of_the_shared_ones() -> None:
    # demo/ is a folder built from the bundled captures, so only files count here
    bundled = {p.name for p in FIXTURES.iterdir() if p.is_file() and p.suffix != ".md"}
    assert bundled <= set(SOURCES)
    if SHARED_PCAPS.exists():
        for name in bundled:
            assert (FIXTURES / name).read_bytes() == (SHARED_PCAPS / name).read_bytes(), name


def test_timestamps_far_out_of_range_are_left_out_of_the_span() -> None:
    report: dict[str, Any] = report_for([fixture_path("nfstream_dhcp_big_endian.pcapng")])
    # tshark shows these four DHCP packets in the year 151991: their clock was wrong
    assert report["totals"]["untimed_packets"] == 4
    assert report["totals"]["first_ts"] is None
    assert [p["kind"] for p in report["sources"][0]["problems"]] == ["timestamps-out-of-range"]
