"""The full analysis against tshark's golden files: DNS query names and A/AAAA answers, DHCP host names per
MAC, TLS and QUIC server names per connection, HTTP Host, MAC-to-IP associations, TCP/UDP conversations.

Where homescope and tshark legitimately differ, KNOWN_DIFFERENCES says why in one line, and the test checks
that the fact does differ (an entry that starts to match must be removed).
"""

from __future__ import annotations

from collections import Counter
from functools import cache
from typing import Any

import pytest

from engine.address_scope import AddressScope, classify_text
from engine.dataframes import AnalysisResult, analyse
from engine.report import build_report
from tests.conftest import all_fixture_names, fixture_path
from tests.golden.tshark_facts import load_golden

KNOWN_DIFFERENCES: dict[str, dict[str, str]] = {
    "arkime_80211http.pcap": {
        "http_hosts": "a retransmitted request: tshark skips it, homescope counts every request sent",
    },
    "dpkt_nb6-http.pcap": {
        "http_hosts": "one request travels inside L2TP, which tshark opens and homescope does not",
        "tcp_conversations": "the same L2TP tunnel carries one TCP conversation over IPv6",
    },
    "ndpi_fuzz-2006-06-26-2594.pcap": {
        "dns_names": "fuzzed names: tshark prints bad bytes as U+FFFD, homescope escapes them like dig",
        "mac_ip": "fuzzed IPv4 headers: tshark shows addresses, homescope stops at the damaged header",
        "tcp_conversations": "fuzzed headers: homescope keeps later fragments as port-less flows",
        "udp_conversations": "fuzzed headers: homescope keeps later fragments as port-less flows",
    },
    "ndpi_malformed_dns.pcap": {
        "dns_names": "an over-long name: tshark shows <Name too long>, homescope drops the message",
        "dns_answers": "the same over-long name",
        "mac_ip": "an all-zero source MAC (a loopback capture) is not a device to homescope",
    },
    "pcpp_pcapng-example.pcapng": {
        "mac_ip": "an all-zero source MAC (a loopback capture) is not a device to homescope",
    },
    "pcpp_solaris.snoop": {
        fact: "Solaris snoop is not pcap or pcapng: tshark reads it, homescope names the format and stops"
        for fact in ("mac_ip", "tcp_conversations", "udp_conversations")
    },
    "suricata-verify_bug-6875_fuzz_corrupt.pcap": {
        "tcp_conversations": "tshark reads this fuzzed file with another record layout (test_golden_traffic)",
    },
    "zeek_quic_chromium-google-de-fragmented.pcap": {
        "mac_ip": "frames with a multicast source MAC (33:33:...): a group MAC is never a device",
    },
}

_NOT_A_DEVICE_ADDRESS = {
    AddressScope.UNSPECIFIED,
    AddressScope.MULTICAST_LINK,
    AddressScope.MULTICAST_SITE_ORG,
    AddressScope.MULTICAST_GLOBAL,
    AddressScope.BROADCAST,
}


@cache
def _analysis(name: str) -> tuple[AnalysisResult, dict[str, Any]]:
    result = analyse(fixture_path(name))
    return result, build_report(result.snapshot, result.sources)


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host[1 : host.find("]")]
    return host.split(":", 1)[0] if host.count(":") == 1 else host


def _facts(
    golden: dict[str, Any], result: AnalysisResult, report: dict[str, Any]
) -> dict[str, tuple[Any, Any]]:
    """Each fact as (tshark's value, homescope's value)."""
    entries = result.snapshot.metadata.dns.entries if result.snapshot.metadata else []
    messages = [m for m in golden.get("dns", []) if m["protocol"] == "dns" and not m["in_icmp_error"]]
    facts: dict[str, tuple[Any, Any]] = {
        "dns_names": (
            {q["name"] for m in messages for q in m["queries"]},
            {e.name for e in entries if e.kind == "dns"},
        ),
        "dns_answers": (
            {
                (q["name"], rec["value"])
                for m in messages
                if m["response"]
                for q in m["queries"]
                for rec in m["records"]
                if rec["section"] == "answer" and rec["type"] in (1, 28) and "value" in rec
            },
            {
                (e.name, a.split(" ", 1)[1])
                for e in entries
                if e.kind == "dns"
                for a in e.answers
                if a.startswith(("A ", "AAAA "))
            },
        ),
        "dhcp_hostnames": (
            {mac: set(names) for mac, names in golden.get("dhcp_hostnames", {}).items()},
            {c["client"]: set(c["hostnames"]) for c in report["dhcp"] if c["hostnames"]},
        ),
        "http_hosts": (
            Counter(
                _host_name(h["host"]) for h in golden.get("http", []) if h["protocol"] == "http" and h["host"]
            ),
            Counter({h["name"]: h["count"] for h in report["http_hosts"]}),
        ),
    }
    flows = result.flows
    named = flows[flows.server_name.map(lambda v: isinstance(v, str))] if len(flows) else flows

    def connections(rows: Any) -> set[tuple[Any, ...]]:
        return {
            (r.client, int(r.client_port), r.server, int(r.server_port), r.server_name)
            for r in rows.itertuples()
        }

    tls = named[(named.transport == "TCP") & (named.protocol != "HTTP")] if len(named) else named
    quic = named[named.transport == "UDP"] if len(named) else named
    facts["tls_sni"] = (
        {
            (t["src"], t["sport"], t["dst"], t["dport"], t["sni"])
            for t in golden.get("tls_sni", [])
            if t["sni"]
        },
        connections(tls),
    )
    facts["quic_sni"] = (
        {
            (q["src"], q["sport"], q["dst"], q["dport"], q["sni"])
            for q in golden.get("quic_sni", [])
            if q["sni"]
        }
        | {
            (q["src"], q["sport"], q["dst"], q["dport"], q["sni"])
            for q in golden.get("gquic", [])
            if q.get("sni")
        },
        connections(quic),
    )
    facts["mac_ip"] = _mac_ip(golden, report)
    for proto, transport in (("tcp", "TCP"), ("udp", "UDP")):
        facts[f"{proto}_conversations"] = (
            _golden_conversations(golden, proto),
            _our_conversations(flows[flows.transport == transport] if len(flows) else flows),
        )
    return facts


def _mac_ip(golden: dict[str, Any], report: dict[str, Any]) -> tuple[Any, Any]:
    """Addresses each MAC sent from. A router forwards internet hosts' packets, so for a router only its
    own (non-internet) addresses are compared."""
    devices = {d["key"]: d for d in report["devices"]}
    expected, actual = {}, {}
    for mac, ips in golden.get("mac_ip", {}).get("ip_source", {}).items():
        wanted = {ip for ip in ips if classify_text(ip) not in _NOT_A_DEVICE_ADDRESS}
        device = devices.get(mac)
        if device is not None and device["router"]:
            wanted = {ip for ip in wanted if classify_text(ip) != AddressScope.GLOBAL}
        ours = set(device["ipv4"] + device["ipv6"]) if device is not None else set()
        if device is not None and device["router"]:
            ours = {ip for ip in ours if classify_text(ip) != AddressScope.GLOBAL}
        expected[mac], actual[mac] = wanted, ours
    return expected, actual


def _golden_conversations(golden: dict[str, Any], proto: str) -> dict[tuple[Any, ...], tuple[int, int]]:
    """Frames and bytes per 5-tuple, both directions together (tshark splits by stream index, homescope
    by idle time: both are summed per 5-tuple)."""
    out: Counter[tuple[Any, ...]] = Counter()
    for c in golden.get("conversations", {}).get(proto, []):
        a, b = (c["address_a"], c["port_a"]), (c["address_b"], c["port_b"])
        key = (a, b) if a <= b else (b, a)
        out[(*key, "frames")] += c["frames"]
        out[(*key, "bytes")] += c["bytes"]
    return {k: v for k, v in out.items() if v}


def _our_conversations(flows: Any) -> dict[tuple[Any, ...], int]:
    out: Counter[tuple[Any, ...]] = Counter()
    for r in flows.itertuples():
        a, b = (r.client, int(r.client_port)), (r.server, int(r.server_port))
        key = (a, b) if a <= b else (b, a)
        out[(*key, "frames")] += int(r.packets_up + r.packets_down)
        out[(*key, "bytes")] += int(r.bytes_up + r.bytes_down)
    return {k: v for k, v in out.items() if v}


CAPTURES = [n for n in all_fixture_names() if n not in ("zeek_empty.pcap",)]


@pytest.mark.parametrize("name", CAPTURES)
def test_full_analysis_matches_tshark(name: str) -> None:
    golden = load_golden(name)
    if golden is None:
        pytest.skip(f"no golden file for {name} (tshark missing?)")
    if not golden.get("readable", True):
        pytest.skip(f"tshark cannot read {name} (see test_bad_input)")
    result, report = _analysis(name)
    known = KNOWN_DIFFERENCES.get(name, {})
    for fact, (expected, actual) in _facts(golden, result, report).items():
        if fact in known:
            assert expected != actual, f"{name}: {fact} now matches tshark; remove the known difference"
        else:
            assert actual == expected, f"{name}: {fact} differs from tshark"


def test_names_learnt_passively_name_the_remotes() -> None:
    """The point of it all: remote addresses get the names the devices asked for, with their sources."""
    result, report = _analysis("ndpi_iphone.pcap")
    names = {n["ip"]: n for n in report["names"]}
    keyvalue = names["17.248.185.87"]
    assert keyvalue["name"] == "p26-keyvalueservice.icloud.com"
    assert keyvalue["names"][0]["sources"] == ["dns", "tls-sni"]
    assert result.remotes.set_index("ip").loc["17.248.185.87", "name"] == "p26-keyvalueservice.icloud.com"
