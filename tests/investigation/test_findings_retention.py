"""The findings do not depend on what the analysis keeps of closed flows: every rule reads the contact log
(engine/flows/contacts.py), which every closed flow goes into, so `evaluate` gives the same findings under
the "all", "recent" (the monitor) and "largest" (`homescope report`) retention policies, with the payload
inspector in this process or in its own, and mid-capture as at the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest

import engine.analysis as analysis_module
import engine.capture.pcap as pcap_module
import engine.capture.pcapng as pcapng_module
from engine.analysis import Analysis, AnalysisSnapshot, run_capture
from engine.capture.source import CaptureSet
from engine.config import Settings
from engine.findings import Finding, evaluate
from engine.flows.closed_flows import Retention
from engine.flows.contacts import ContactLimits
from tests.conftest import fixture_path
from tests.investigation.home_traffic import (
    CAMERA,
    DAY0,
    ESP32,
    LAPTOP,
    PHONE,
    TV,
    Device,
    Home,
    settings_for,
)

POLICIES: list[tuple[Retention, int | None]] = [("all", None), ("recent", 5), ("largest", 5)]


def analysed(
    path: Path,
    retention: Retention,
    limit: int | None,
    *,
    inspector: Literal["local", "process"] = "local",
    finish: bool = True,
    limits: ContactLimits | None = None,
) -> AnalysisSnapshot:
    analysis = Analysis(
        closed_flow_retention=retention, closed_flow_limit=limit, inspector=inspector, contact_limits=limits
    )
    try:
        run_capture(CaptureSet([str(path)]), analysis, finish=finish)
        return analysis.snapshot()
    finally:
        analysis.close()


def as_data(findings: list[Finding]) -> list[dict[str, Any]]:
    return [f.as_dict() for f in findings]


def same_under_every_policy(
    path: Path, settings: Settings, *, finish: bool = True, limits: ContactLimits | None = None
) -> list[Finding]:
    """The findings under each retention policy; asserts they are equal, and that the policies kept less."""
    results = []
    for retention, limit in POLICIES:
        snapshot = analysed(path, retention, limit, finish=finish, limits=limits)
        assert snapshot.flows is not None and snapshot.contacts is not None
        if limit is not None:
            assert len(snapshot.flows.closed) <= 2 * limit
        results.append(evaluate(snapshot, settings))
    baseline = as_data(results[0])
    for (retention, _), found in zip(POLICIES[1:], results[1:], strict=True):
        assert as_data(found) == baseline, retention
    return results[0]


# ---- bundled and shared captures ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("smarthomefw_tplink-plug_wlan2.4.pcap", None),
        ("iotdataset_schlage-lock-01.pcap", {"periodic": {"min_contacts": 7}}),
        ("ndpi_nest_log_sink.pcap", None),
        ("ndpi_gnutella.pcap", None),
        ("zeek_wikipedia.pcap", None),
        ("ndpi_googledns_android10.pcap", None),
        ("ndpi_dns_doh.pcap", None),
        ("pcpp_DnsPackets.pcap", None),
        ("ndpi_ubntac2.pcap", {"periodic": {"include_lan": True, "min_contacts": 8}}),
    ],
)
def test_fixtures_give_the_same_findings_under_every_policy(
    name: str, options: dict[str, dict[str, object]] | None
) -> None:
    found = same_under_every_policy(fixture_path(name), settings_for(options))
    assert found, "each of these captures has findings"


def test_the_plug_beacon_survives_every_policy() -> None:
    """The HS110's 60 s check-ins are small flows: the first a "largest" or "recent" retention lets go."""
    path = fixture_path("smarthomefw_tplink-plug_wlan2.4.pcap")
    for retention, limit in POLICIES:
        (f,) = [f for f in evaluate(analysed(path, retention, limit), settings_for()) if f.rule == "periodic"]
        assert f.remote is not None and f.remote.name == "use1-api.tplinkra.com", retention
        assert f.details["interval_s"] == pytest.approx(60, abs=0.5)
        assert "about 1,440 times a day" in f.explanation


# ---- a crafted home with something for every rule ---------------------------------------------------------

NIGHT = DAY0 + 86400 + 1 * 3600  # 01:00 UTC


def mixed_home() -> Home:
    home = Home()
    start = DAY0 + 20 * 3600
    home.router_presence(start)
    for device in (ESP32, PHONE, LAPTOP, CAMERA, TV):
        home.dns(start + 0.5, device, "time.example.net", "52.10.0.1")
    # a gadget checking in every minute through the night: 150 small flows, behind rotating addresses
    for i in range(150):
        server = f"34.120.5.{6 + i % 3}"
        home.tls(NIGHT + i * 60 + (0.3 if i % 2 else -0.3), ESP32, server, "api.beacon.example")
    # a runaway client, ~170 an hour for three hours
    t = NIGHT
    k = 0
    while t < NIGHT + 3 * 3600:
        k += 1
        t += 5 + (k * 7919) % 31
        home.tls(t, TV, "52.7.7.7", "ads.example.tv")
    # big uploads that a "largest" retention keeps instead of all of the above
    for k in range(12):
        home.tls(NIGHT + 600 + k * 300, CAMERA, "52.1.2.4", "upload.camcloud.example", extra_up=200)
        home.tls(NIGHT + 610 + k * 300, LAPTOP, "52.1.9.9", "backup.example", extra_up=150)
    home.http(NIGHT + 30, TV, "52.1.2.3", "update.example.tv")
    home.tcp_session(NIGHT + 31, CAMERA, "52.1.2.5", 23, request=b"login: admin\r\n")
    home.tls(NIGHT + 32, PHONE, "1.1.1.1", "one.one.one.one", port=853)
    home.tls(NIGHT + 33, LAPTOP, "104.16.248.249", "mozilla.cloudflare-dns.com")
    home.dns(NIGHT + 34, TV, "ads.example.tv", "52.7.7.7", resolver="8.8.8.8")
    home.tcp_session(NIGHT + 35, TV, "52.1.2.9", 6667)
    home.tls(NIGHT + 36, PHONE, "52.1.3.3", "telemetry.vendor.example")
    guest = Device("da:a1:19:00:00:09", "192.168.1.99")
    for k in range(6):
        home.dns(NIGHT + 1800 + k, guest, "example.com", "52.1.1.1")
    return home


SETTINGS: dict[str, dict[str, object]] = {
    "watchlist": {"domains": ["vendor.example"]},
    "upload_heavy": {"min_bytes_up": 100_000},
}


@pytest.fixture(scope="module")
def mixed_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mixed_home().write(tmp_path_factory.mktemp("mixed") / "home.pcap")


def test_every_rule_gives_the_same_findings_under_every_policy(mixed_capture: Path) -> None:
    found = same_under_every_policy(mixed_capture, settings_for(SETTINGS))
    kinds = {(f.rule, f.kind) for f in found}
    assert kinds >= {
        ("periodic", "beaconing"),
        ("periodic", "high-rate"),
        ("night_traffic", "night-traffic"),
        ("plaintext", "plaintext"),
        ("dns_bypass", "dot"),
        ("dns_bypass", "doh"),
        ("dns_bypass", "dns"),
        ("unusual_port", "unusual-port"),
        ("upload_heavy", "upload-heavy"),
        ("watchlist", "watchlist"),
        ("new_device", "new-device"),
    }
    (beacon,) = [f for f in found if f.kind == "beaconing" and f.details["endpoint"] == "api.beacon.example"]
    assert beacon.device is not None and beacon.device.key == ESP32.mac
    assert beacon.details["contacts"] == 150 and beacon.evidence.flow_count == 150
    assert len(beacon.evidence.addresses) == 3


def test_mid_capture_snapshots_agree_too(mixed_capture: Path) -> None:
    """The monitor evaluates snapshots while flows are still active."""
    found = same_under_every_policy(mixed_capture, settings_for(SETTINGS), finish=False)
    assert {f.rule for f in found} >= {"periodic", "night_traffic", "plaintext"}


def test_full_rings_give_the_same_findings_under_every_policy(mixed_capture: Path) -> None:
    """With rings of 16 flows, the log lets flows go itself: still the same under every policy, and the
    rhythms are still found (read from the newest flows, counted in full)."""
    limits = ContactLimits(ring=16)
    found = same_under_every_policy(mixed_capture, settings_for(SETTINGS), limits=limits)
    (beacon,) = [f for f in found if f.kind == "beaconing" and f.details["endpoint"] == "api.beacon.example"]
    assert beacon.details["interval_s"] == pytest.approx(60, abs=0.5)
    assert beacon.details["contacts"] == 150 and beacon.evidence.flow_count == 150
    (runaway,) = [f for f in found if f.kind == "high-rate"]
    assert runaway.details["per_hour"] > 120


@pytest.fixture
def tiny_batches(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Captures read 40 packets at a time; the inspector asked for names every few batches."""
    monkeypatch.setattr(pcap_module, "MAX_BATCH_RECORDS", 40)
    monkeypatch.setattr(pcapng_module, "MAX_BATCH_RECORDS", 40)
    monkeypatch.setattr(analysis_module, "_PRUNE_EVERY", 3)
    monkeypatch.setattr(analysis_module, "_NAME_FLOWS_EVERY", 4)
    yield


@pytest.mark.usefixtures("tiny_batches")
@pytest.mark.parametrize("name", ["ndpi_nest_log_sink.pcap", "smarthomefw_tplink-plug_wlan2.4.pcap"])
def test_an_inspector_process_names_the_flows_it_no_longer_holds(name: str) -> None:
    """In its own process, the inspector names closed flows on request (a round trip), before it forgets
    the names of flows the analysis let go: the same findings as with the inspector in this process."""
    path = fixture_path(name)
    local = as_data(evaluate(analysed(path, "largest", 5), settings_for()))
    process = as_data(evaluate(analysed(path, "largest", 5, inspector="process"), settings_for()))
    assert process == local and local
    assert any(f["remote"] and f["remote"]["name"] for f in local)


def test_the_contact_log_holds_every_closed_flow(mixed_capture: Path) -> None:
    for retention, limit in POLICIES:
        snapshot = analysed(mixed_capture, retention, limit)
        assert snapshot.flows is not None and snapshot.contacts is not None
        assert snapshot.contacts.flows == len(snapshot.flows.closed) + snapshot.flows.closed_dropped
        assert snapshot.contacts.evicted_keys == 0
