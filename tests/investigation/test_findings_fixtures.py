"""The rules on real captures: which fixtures show each behaviour (checked against the flows the engine and
tshark agree on), and which must stay quiet. Quiet hours are read in UTC, the captures' own clock."""

from __future__ import annotations

from functools import cache

import pytest

from engine.dataframes import AnalysisResult, analyse
from engine.findings import Finding, Severity, evaluate
from tests.conftest import fixture_path
from tests.investigation.home_traffic import settings_for


@cache
def _result(name: str) -> AnalysisResult:
    return analyse(fixture_path(name))


def found(name: str, options: dict[str, dict[str, object]] | None = None) -> list[Finding]:
    return evaluate(_result(name).snapshot, settings_for(options))


def kinds(findings: list[Finding], rule: str | None = None) -> list[tuple[str, str]]:
    return sorted((f.rule, f.kind) for f in findings if rule is None or f.rule == rule)


def test_android_private_dns_is_dns_over_tls() -> None:
    """Android 10 "Private DNS": DNS over TLS to dns.google at 8.8.8.8 and 8.8.4.4, port 853."""
    result = found("ndpi_googledns_android10.pcap")
    assert kinds(result) == [("dns_bypass", "dot"), ("dns_bypass", "dot")]
    assert {f.remote.address for f in result if f.remote} == {"8.8.8.8", "8.8.4.4"}
    assert all(f.remote and f.remote.name == "dns.google" and f.remote.port == 853 for f in result)
    assert all("DNS over TLS" in f.explanation for f in result)


def test_firefox_dns_over_https() -> None:
    (f,) = found("ndpi_dns_doh.pcap")
    assert (f.rule, f.kind, f.severity) == ("dns_bypass", "doh", Severity.NOTICE)
    assert f.remote is not None and f.remote.name == "mozilla.cloudflare-dns.com"
    assert f.evidence.flow_count == 1


def test_browsing_wikipedia_is_plaintext_http_and_dns() -> None:
    result = found("zeek_wikipedia.pcap")
    assert kinds(result) == [("plaintext", "plaintext"), ("plaintext", "plaintext")]
    by_title = {f.title: f for f in result}
    http = by_title["Unencrypted HTTP"]
    assert http.severity == Severity.NOTICE and http.evidence.flow_count == 9
    assert {"upload.wikimedia.org", "www.wikipedia.org"} <= set(http.evidence.dns_names)
    assert by_title["Unencrypted DNS"].severity == Severity.INFO
    # one resolver for everyone: no bypass; a few seconds of browsing: no rhythm
    assert kinds(result, "dns_bypass") == [] and kinds(result, "periodic") == []


def test_nest_log_uploads_use_an_unusual_port_at_night() -> None:
    """The Nest uploads logs to weave-logsink.nest.com on TCP 11095, after 01:00 UTC, at irregular times."""
    result = found("ndpi_nest_log_sink.pcap")
    assert kinds(result) == [("night_traffic", "night-traffic"), ("unusual_port", "unusual-port")]
    port = next(f for f in result if f.rule == "unusual_port")
    assert port.title == "Unusual port TCP 11095" and port.evidence.flow_count == 13
    night = next(f for f in result if f.rule == "night_traffic")
    assert night.remote is not None and night.remote.name == "weave-logsink.nest.com"
    assert kinds(result, "periodic") == []  # uploads every 3 to 30 minutes: no rhythm


def test_smtp_without_tls() -> None:
    (f,) = found("suricata-verify_smtp-to-comma_corrupt.pcap")
    assert (f.rule, f.title, f.severity) == ("plaintext", "Unencrypted SMTP", Severity.NOTICE)
    assert "STARTTLS" in f.explanation


def test_a_phone_joins_twenty_minutes_in() -> None:
    (f,) = found("pcpp_DnsPackets.pcap")
    assert (f.rule, f.device and f.device.name) == ("new_device", "Yaels-iPhone")
    assert "20 min" in f.explanation


def test_gnutella_is_one_peer_to_peer_finding() -> None:
    result = found("ndpi_gnutella.pcap")
    ports = [f for f in result if f.kind == "unusual-port"]
    assert len(ports) == 1 and "peer-to-peer" in ports[0].explanation
    assert ports[0].details["port_count"] > 100


@pytest.mark.parametrize(
    "name",
    [
        "ndpi_tplink_shp.pcap",  # Kasa discovery broadcasts on the LAN, one UDP flow per device
        "ndpi_ubntac2.pcap",  # Ubiquiti discovery every 10 s, to the broadcast address: LAN only
        "ndpi_sonos.pcapng",
        "zeek_tls13-ech.pcap",
        "zeek_quic_curl-http3-google-de.pcap",
        "nfstream_mdns_sll.pcap",  # mDNS only: discovery is never plaintext
        "ndpi_ssdp-m-search.pcap",
        "zeek_empty.pcap",
    ],
)
def test_quiet_captures(name: str) -> None:
    result = [f for f in found(name) if f.rule != "new_device"]
    assert result == []


def test_lan_discovery_beacons_with_include_lan() -> None:
    """The Ubiquiti access point announces itself every 10 s; a LAN rhythm counts only when asked for."""
    (f,) = found("ndpi_ubntac2.pcap", {"periodic": {"include_lan": True, "min_contacts": 8}})
    assert f.kind == "beaconing" and f.details["interval_s"] == pytest.approx(10.2, abs=0.1)


def test_tp_link_plug_checks_in_every_minute() -> None:
    """The HS110 plug connects to use1-api.tplinkra.com every 60 s (some minutes skipped)."""
    result = found("smarthomefw_tplink-plug_wlan2.4.pcap")
    (f,) = [f for f in result if f.rule == "periodic"]
    assert f.remote is not None and f.remote.name == "use1-api.tplinkra.com"
    assert f.details["interval_s"] == pytest.approx(60, abs=0.5) and f.severity == Severity.INFO
    assert "about 1,440 times a day" in f.explanation


def test_a_smart_lock_checks_in_daily() -> None:
    """A week of a Schlage lock: one connection to api.allegionengage.com a day (7 in the capture)."""
    result = found("iotdataset_schlage-lock-01.pcap", {"periodic": {"min_contacts": 7}})
    (f,) = [f for f in result if f.rule == "periodic"]
    assert f.details["interval_s"] == pytest.approx(86400, abs=60)
    assert "about once a day" in f.explanation
    assert kinds(found("iotdataset_schlage-lock-01.pcap"), "periodic") == []  # below 10 contacts
