"""`homescope report --json` against tshark's golden files: totals, MACs, IP hosts, EtherTypes, IP protocols.

Every capture with a golden file is compared exactly. Where homescope and tshark legitimately differ, the
difference is listed in KNOWN_DIFFERENCES with a one-line reason, and the test checks that the fact does
differ: an entry that starts to match must be removed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.analysis import Analysis, run_capture
from engine.capture.source import CaptureSet
from engine.report import build_report
from tests.conftest import FIXTURES, REPO, all_fixture_names, fixture_path
from tests.golden.tshark_facts import innermost_ethertype_counts, innermost_ip_protocol_counts, load_golden

FACTS = ("totals", "macs", "hosts", "ethertypes", "ip_protocols")

KNOWN_DIFFERENCES: dict[str, dict[str, str]] = {
    "dpkt_nb6-http.pcap": {
        "hosts": "tshark opens L2TP (UDP 1701) and counts the IPv6 hosts inside; homescope does not",
        "ip_protocols": "the same L2TP tunnel: tshark counts the inner IPv6 protocols, homescope outer UDP",
    },
    "ndpi_fuzz-2006-06-26-2594.pcap": {
        "ethertypes": "two fuzzed frames have a type/length field of 0: tshark calls it EtherType 0, "
        "homescope an 802.3 frame with LLC",
        "ip_protocols": "fuzzed IPv4 headers with a bad length or version: tshark shows an IP layer, "
        "homescope counts them as malformed before the IP layer",
    },
    "pcpp_solaris.snoop": {
        fact: "Solaris snoop is not pcap or pcapng: tshark reads it, homescope names the format and stops"
        for fact in FACTS
    },
    "suricata-verify_bug-6875_fuzz_corrupt.pcap": {
        fact: "tshark guesses a different pcap record layout for this fuzzed file; homescope reads it like "
        "libpcap (tcpdump): one packet, then an impossible record length"
        for fact in FACTS
    },
}


def _report(path: Path) -> dict[str, Any]:
    analysis = Analysis(depth="traffic")
    capture = CaptureSet([str(path)])
    run_capture(capture, analysis)
    return build_report(analysis.snapshot(), capture.statuses)


def _endpoints(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, int]]:
    fields = ("tx_packets", "tx_bytes", "rx_packets", "rx_bytes")
    return {r[key]: {f: r[f] for f in fields} for r in rows}


def _expected_and_actual(golden: dict[str, Any], report: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    fields = ("tx_packets", "tx_bytes", "rx_packets", "rx_bytes")
    gt, rt = golden["totals"], report["totals"]
    totals = (
        {k: gt[k] for k in ("packets", "bytes", "captured_bytes")},
        {k: rt[k] for k in ("packets", "bytes", "captured_bytes")},
    )
    macs = (
        {m: {f: v[f] for f in fields} for m, v in golden["macs"].items()},
        _endpoints(report["macs"], "mac"),
    )
    hosts = (
        {h: {f: v[f] for f in fields} for h, v in golden["hosts"].items()},
        _endpoints(report["hosts"], "ip"),
    )
    packets, nbytes = innermost_ethertype_counts(golden), innermost_ethertype_counts(golden, "bytes")
    golden_types = {_link_key(k): (v, nbytes[k]) for k, v in packets.items()}
    ours = {int(e["ethertype"], 16): (e["packets"], e["bytes"]) for e in report["ethertypes"]}
    ours.update({e["kind"]: (e["packets"], e["bytes"]) for e in report["link_layer"]})
    packets, nbytes = innermost_ip_protocol_counts(golden), innermost_ip_protocol_counts(golden, "bytes")
    golden_protocols = {k: (v, nbytes[k]) for k, v in packets.items()}
    our_protocols = {e["protocol"]: (e["packets"], e["bytes"]) for e in report["ip_protocols"]}
    return {
        "totals": totals,
        "macs": macs,
        "hosts": hosts,
        "ethertypes": (golden_types, ours),
        "ip_protocols": (golden_protocols, our_protocols),
    }


def _link_key(key: int | str) -> int | str:
    # tshark's word for a frame with no usable link-layer header; homescope counts it as malformed
    return (
        {"unknown": "malformed", "ppp-control": "no-network-layer"}.get(key, key)
        if isinstance(key, str)
        else key
    )


GOLDEN_CAPTURES = [name for name in all_fixture_names() if name not in ("zeek_empty.pcap",)]


@pytest.mark.parametrize("name", GOLDEN_CAPTURES)
def test_report_matches_tshark(name: str) -> None:
    path = fixture_path(name)
    golden = load_golden(name)
    if golden is None:
        pytest.skip(f"no golden file for {name} (tshark missing?)")
    if not golden.get("readable", True):
        pytest.skip(f"tshark cannot read {name}: {golden.get('unreadable_reason')} (see test_bad_input)")
    report = _report(path)
    known = KNOWN_DIFFERENCES.get(name, {})
    for fact, (expected, actual) in _expected_and_actual(golden, report).items():
        if fact in known:
            assert expected != actual, f"{name}: {fact} now matches tshark; remove the known difference"
        else:
            assert actual == expected, f"{name}: {fact} differs from tshark"


def test_cli_json_is_the_same_report() -> None:
    """The command-line JSON is the document the tests compare (through a real subprocess)."""
    path = FIXTURES / "joy_firefox58.pcap"
    done = subprocess.run(
        [sys.executable, "-m", "tui", "report", str(path), "--json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["schema"] == "homescope.report/1"
    golden = load_golden("joy_firefox58.pcap")
    assert golden is not None
    assert doc["totals"]["packets"] == golden["totals"]["packets"] == 831
    assert doc["totals"]["bytes"] == golden["totals"]["bytes"]
    assert _endpoints(doc["macs"], "mac") == _expected_and_actual(golden, doc)["macs"][0]
