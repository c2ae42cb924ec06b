"""Sanity checks of the tshark golden files themselves, so that a broken regeneration is caught.

These tests do not run tshark and do not test homescope: they check that each golden file is
internally consistent, belongs to the capture it names, and agrees with the packet counts listed in
the fixtures' SOURCES.md files. Golden files of captures that only exist in `../shared` are skipped
when that folder is absent.
"""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, SHARED_PCAPS, all_fixture_names, fixture_path
from tests.golden.tshark_facts import (
    GOLDEN_DIR,
    LINK_LEVEL_NAMES,
    classify_protocols,
    innermost_ethertype_counts,
    innermost_ip_protocol_counts,
    load_golden,
)

GOLDEN_NAMES = sorted(p.name.removesuffix(".json") for p in GOLDEN_DIR.glob("*.json"))


def _listed_packet_counts(sources: Path) -> dict[str, str]:
    """File name -> the "packets" cell of a SOURCES.md capture table."""
    if not sources.exists():
        return {}
    counts: dict[str, str] = {}
    column: int | None = None
    for line in sources.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if "packets" in cells and cells[0] == "file":
            column = cells.index("packets")
            continue
        if column is not None and len(cells) > column and not set(cells[0]) <= {"-", ":"}:
            counts[cells[0]] = cells[column]
    return counts


LISTED = {
    **_listed_packet_counts(SHARED_PCAPS / "SOURCES.md"),
    **_listed_packet_counts(FIXTURES / "SOURCES.md"),
}


def _golden(name: str) -> tuple[dict[str, Any], Path]:
    path = fixture_path(name)  # skips shared-only captures when ../shared is absent
    golden = load_golden(name)
    assert golden is not None
    return golden, path


@pytest.mark.parametrize("name", all_fixture_names())
def test_every_capture_has_a_golden_file(name: str) -> None:
    assert load_golden(name) is not None, f"run python tests/golden/make_golden.py --only {name}"


@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_golden_file_belongs_to_its_capture(name: str) -> None:
    golden, path = _golden(name)
    assert golden["schema"] == 1
    assert golden["capture"]["name"] == name
    assert golden["capture"]["size"] == path.stat().st_size
    assert golden["capture"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest(), (
        "the capture changed: regenerate its golden file"
    )
    assert re.match(r"\d+\.\d+\.\d+", golden["tshark"]["version"])
    assert golden["complete"] == (golden["readable"] and golden["tshark"]["exit_status"] == 0)


@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_packet_count_matches_sources(name: str) -> None:
    golden, _ = _golden(name)
    listed = LISTED.get(name)
    if listed is None:
        pytest.skip(f"{name} is not listed in a SOURCES.md")
    number = re.match(r"\d+", listed)
    assert number is not None, listed
    if not golden["readable"]:
        assert int(number.group()) == 0 or golden["tshark"]["error"], listed
        return
    assert golden["totals"]["packets"] == int(number.group())
    if "corrupt" in listed or "TRUNCATED" in listed:
        assert not golden["complete"]


@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_totals_are_consistent(name: str) -> None:
    golden, _ = _golden(name)
    if not golden["readable"]:
        assert "totals" not in golden
        return
    totals = golden["totals"]
    by_path = golden["frames_by_protocols"].values()
    assert totals["packets"] == sum(e["packets"] for e in by_path) > 0
    assert totals["bytes"] == sum(e["bytes"] for e in by_path)
    assert Decimal(totals["first_ts"]) <= Decimal(totals["last_ts"])
    for fact in ("macs", "eth_endpoints"):
        for direction in ("tx", "rx"):
            assert sum(e[f"{direction}_packets"] for e in golden[fact].values()) <= totals["packets"]
            assert sum(e[f"{direction}_bytes"] for e in golden[fact].values()) <= totals["bytes"]
    assert sum(innermost_ip_protocol_counts(golden).values()) <= totals["packets"]
    ethertypes = innermost_ethertype_counts(golden)
    assert sum(ethertypes.values()) == totals["packets"]
    assert sum(innermost_ethertype_counts(golden, "bytes").values()) == totals["bytes"]
    for key in ethertypes:
        assert isinstance(key, int) or key in LINK_LEVEL_NAMES


def _ethernet_only(name: str) -> bool:
    """Readable, and every frame Ethernet: tshark's eth endpoints tap then sees every frame."""
    golden = load_golden(name)
    return bool(
        golden is not None
        and golden["readable"]
        and all(p == "eth" or p.startswith("eth:") for p in golden["frames_by_protocols"])
    )


ETHERNET_ONLY = [name for name in GOLDEN_NAMES if _ethernet_only(name)]


@pytest.mark.parametrize("name", ETHERNET_ONLY)
def test_ethernet_only_captures_agree_with_the_eth_endpoints_tap(name: str) -> None:
    golden, _ = _golden(name)
    assert set(golden["macs"]) == set(golden["eth_endpoints"])
    for mac, ours in golden["macs"].items():
        tap = golden["eth_endpoints"][mac]
        assert ours == {k: tap[k] for k in ours}, mac


@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_conversations_are_consistent(name: str) -> None:
    golden, _ = _golden(name)
    if not golden["readable"]:
        return
    for rows in golden["conversations"].values():
        for row in rows:
            assert row["frames"] == row["frames_a_to_b"] + row["frames_b_to_a"]
            assert row["bytes"] is not None, row
            assert row["bytes"] == row["bytes_a_to_b"] + row["bytes_b_to_a"]
            assert row["frames"] <= golden["totals"]["packets"]


@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_per_frame_records_are_consistent(name: str) -> None:
    golden, _ = _golden(name)
    if not golden["readable"]:
        return
    packets = golden["totals"]["packets"]
    for fact in ("dns", "dhcp", "dhcpv6", "tls_sni", "quic_sni", "gquic", "http"):
        frames = [r["frame"] for r in golden[fact]]
        assert frames == sorted(frames), fact
        assert all(1 <= f <= packets for f in frames), fact
    names = {q["name"] for r in golden["dns"] if not r["in_icmp_error"] for q in r["queries"]}
    assert set(golden["dns_query_names"]) == names
    for record in golden["tls_sni"]:
        assert record["first_frame"] <= record["frame"]
        assert record["reassembled"] == (len(record["segments"]) > 1)
    for mac, hostnames in golden["dhcp_hostnames"].items():
        assert any(r["client_mac"] == mac and r["hostname"] in hostnames for r in golden["dhcp"])


@pytest.mark.parametrize(
    ("protocols", "expected"),
    [
        ("eth:ethertype:ip:tcp:tls", 0x0800),
        ("eth:ethertype:vlan:ethertype:ipv6:udp:dns", 0x86DD),
        ("eth:ethertype:vlan:ethertype:arp", 0x0806),
        ("eth:ethertype:pppoes:ppp:ip:udp:l2tp:ppp:ipv6:tcp", 0x0800),
        ("eth:ethertype:pppoes:ppp:lcp", 0x8864),
        ("eth:ethertype:pppoed", 0x8863),
        ("eth:ethertype:mpls:ip:icmp", 0x0800),
        ("eth:ethertype:eapol", 0x888E),
        ("eth:llc:stp", "llc"),
        ("eth:llc:aarp", 0x80F3),
        ("eth:llc:ipx", None),
        ("eth:ipx", "802.3-raw"),
        ("eth:ethertype:data", None),
        ("eth", None),
        ("sll:ethertype:ip:udp:mdns", 0x0800),
        ("raw:ipv6:tcp", 0x86DD),
        ("null:ip:udp:dns", 0x0800),
        ("ppp:ip:udp:quic:tls", 0x0800),
        ("ppp:lcp", "ppp-control"),
        ("radiotap:wlan_radio:wlan:llc:ip:tcp:http", 0x0800),
        ("radiotap:wlan_radio:wlan:wlan.mgt", "wlan-mgmt"),
        ("radiotap:wlan_radio:wlan", None),
    ],
)
def test_classify_protocols(protocols: str, expected: int | str | None) -> None:
    assert classify_protocols(protocols) == expected


def test_load_golden_of_a_missing_capture_is_none() -> None:
    assert load_golden("no-such-capture.pcap") is None
