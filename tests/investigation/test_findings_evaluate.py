"""`evaluate` as a whole: order, options and their errors, purity, evidence that points at real things,
and the building blocks (quiet windows, group statistics)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from engine.analysis import Analysis, run_capture
from engine.capture.source import CaptureSet
from engine.config import QuietHours
from engine.errors import ConfigError
from engine.findings import RULES, Severity, evaluate, needs_geo, rule_options
from engine.findings.groups import group_ids, grouped_median, grouped_quantile
from engine.findings.local_time import QuietWindows
from tests.investigation.home_traffic import CAMERA, DAY0, ESP32, PHONE, TV, Home, analyse_home, settings_for

REPO = Path(__file__).resolve().parents[2]
NOON = DAY0 + 12 * 3600


def busy_home() -> Home:
    home = Home()
    home.router_presence(NOON)
    for device in (ESP32, PHONE, TV, CAMERA):
        home.dns(NOON + 0.5, device, "time.example.net", "52.10.0.1")
    for i in range(30):
        home.tls(NOON + 10 + i * 10, ESP32, "34.120.5.6", "api.transit.example")
    home.http(NOON + 20, TV, "52.1.2.3", "update.example.tv")
    home.tcp_session(NOON + 21, CAMERA, "52.1.2.4", 23, request=b"login: admin\r\n")
    home.dns(NOON + 22, PHONE, "example.org", "52.1.1.1", resolver="8.8.8.8")
    home.tcp_session(NOON + 23, TV, "52.1.2.9", 11095)
    return home


def test_findings_are_sorted_by_severity_then_size(tmp_path: Path) -> None:
    found = evaluate(analyse_home(busy_home(), tmp_path).snapshot, settings_for())
    assert len(found) >= 5
    keys = [(-int(f.severity), -f.size) for f in found]
    assert keys == sorted(keys)
    assert found[0].severity == Severity.WARNING  # Telnet


def test_evaluate_is_pure_and_repeatable(tmp_path: Path) -> None:
    snapshot = analyse_home(busy_home(), tmp_path).snapshot
    assert snapshot.flows is not None
    before = {k: v.copy() for k, v in snapshot.flows.closed.columns.items()}
    first = evaluate(snapshot, settings_for())
    second = evaluate(snapshot, settings_for())
    assert [f.as_dict() for f in first] == [f.as_dict() for f in second]
    for k, v in snapshot.flows.closed.columns.items():
        assert np.array_equal(v, before[k])


def test_evidence_points_at_real_flows_names_and_bins(tmp_path: Path) -> None:
    result = analyse_home(busy_home(), tmp_path)
    snapshot = result.snapshot
    assert snapshot.flows is not None and snapshot.metadata is not None
    serials = set(snapshot.flows.all()[0].columns["serial"].tolist())
    names = {e.name for e in snapshot.metadata.dns.entries} | set(snapshot.metadata.name_table)
    for found in snapshot.metadata.remote_names.values():
        names |= {n.name for n in found}
    for f in evaluate(snapshot, settings_for()):
        assert set(f.evidence.flows) <= serials, f.key
        assert f.evidence.flow_count >= len(f.evidence.flows)
        assert set(f.evidence.dns_names) <= names | set(f.evidence.addresses), f.key
        for b in f.evidence.bins:
            assert b % f.evidence.bin_seconds == 0
        json.dumps(f.as_dict())  # JSON-ready


def test_keys_tell_findings_apart(tmp_path: Path) -> None:
    found = evaluate(analyse_home(busy_home(), tmp_path).snapshot, settings_for())
    assert len({f.key for f in found}) == len(found)


def test_a_traffic_only_analysis_has_no_findings(tmp_path: Path) -> None:
    path = busy_home().write(tmp_path / "home.pcap")
    analysis = Analysis(depth="traffic")
    run_capture(CaptureSet([str(path)]), analysis)
    assert evaluate(analysis.snapshot(), settings_for()) == []


def test_a_live_snapshot_mid_capture(tmp_path: Path) -> None:
    """The TUI evaluates snapshots while flows are still active: those count too."""
    path = busy_home().write(tmp_path / "home.pcap")
    analysis = Analysis()
    run_capture(CaptureSet([str(path)]), analysis, finish=False)
    snapshot = analysis.snapshot()
    assert snapshot.flows is not None and len(snapshot.flows.active)
    assert {f.rule for f in evaluate(snapshot, settings_for())} >= {"plaintext", "periodic", "dns_bypass"}


@pytest.mark.parametrize(
    ("findings", "message"),
    [
        ({"nightly": {"enabled": False}}, "unknown rule 'nightly'"),
        ({"periodic": {"min_contact": 3}}, "unknown option 'min_contact' (did you mean 'min_contacts'?)"),
        ({"periodic": {"min_contacts": "ten"}}, "findings.periodic.min_contacts: expected a whole number"),
        ({"periodic": {"min_contacts": 2}}, "of at least 3"),
        ({"periodic": {"enabled": "yes"}}, "expected true or false"),
        ({"dns_bypass": {"severity": "critical"}}, 'one of "info", "notice", "warning"'),
        ({"unusual_port": {"common_ports": [80, "443"]}}, "a list of whole numbers"),
        ({"watchlist": {"countries": "CN"}}, "a list of strings"),
    ],
)
def test_option_errors(findings: dict[str, dict[str, object]], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        rule_options(settings_for(findings))


def test_options_from_a_config_file(tmp_path: Path) -> None:
    from engine.config import load_settings

    config = tmp_path / "config.toml"
    config.write_text(
        '[findings.periodic]\nmin_contacts = 20\n[findings.watchlist]\ncountries = ["CN", "RU"]\n'
        "[findings.night_traffic]\nenabled = false\n",
        encoding="utf-8",
    )
    options = rule_options(load_settings(config))
    assert options["periodic"].integer("min_contacts") == 20
    assert options["periodic"].number("burst_s") == 2.0  # untouched defaults stay
    assert options["watchlist"].strings("countries") == ("CN", "RU")
    assert options["night_traffic"].flag("enabled") is False


def test_geo_is_needed_only_for_countries_and_organisations() -> None:
    assert not needs_geo(settings_for())
    assert not needs_geo(settings_for({"watchlist": {"domains": ["example.com"]}}))
    assert needs_geo(settings_for({"watchlist": {"countries": ["CN"]}}))
    assert not needs_geo(settings_for({"watchlist": {"countries": ["CN"], "enabled": False}}))


def test_every_option_is_documented() -> None:
    doc = (REPO / "docs" / "findings.md").read_text(encoding="utf-8")
    for name, rule in RULES.items():
        assert f"`[findings.{name}]`" in doc, name
        for option in rule.options:
            assert f"`{option.name}`" in doc, f"{name}.{option.name}"


# ---- quiet windows ----------------------------------------------------------------------------------------


def _ts(text: str, tz: str = "UTC") -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp()


def test_quiet_windows_run_past_midnight() -> None:
    quiet = QuietHours(time(23, 0), time(6, 0))
    w = QuietWindows.build(quiet, UTC, _ts("2024-01-10 12:00"), _ts("2024-01-12 12:00"))
    starts = [datetime.fromtimestamp(s, UTC).strftime("%d %H:%M") for s in w.starts]
    assert starts == ["10 23:00", "11 23:00"]  # the windows that touch the span
    span = np.array([_ts("2024-01-10 22:00")]), np.array([_ts("2024-01-11 01:00")])
    assert w.overlap(*span)[0] == pytest.approx(2 * 3600)
    assert w.overlap(np.array([_ts("2024-01-10 22:00")]), np.array([_ts("2024-01-11 23:30")]))[
        0
    ] == pytest.approx(7 * 3600 + 1800)
    inside = w.contains(np.array([_ts("2024-01-11 05:59"), _ts("2024-01-11 06:00"), _ts("2024-01-11 23:00")]))
    assert inside.tolist() == [True, False, True]


def test_quiet_windows_follow_daylight_saving() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    quiet = QuietHours(time(23, 0), time(6, 0))
    # the night clocks go forward (31 March 2024, 02:00 -> 03:00): the night is an hour shorter
    first, last = _ts("2024-03-29 12:00", "Europe/Berlin"), _ts("2024-03-31 12:00", "Europe/Berlin")
    w = QuietWindows.build(quiet, berlin, first, last)
    lengths = {
        datetime.fromtimestamp(s, berlin).strftime("%d"): e - s for s, e in zip(w.starts, w.ends, strict=True)
    }
    assert lengths["30"] == 6 * 3600 and lengths["29"] == 7 * 3600


def test_a_daytime_window() -> None:
    quiet = QuietHours(time(9, 0), time(17, 0))  # a shop closed... or an office empty
    w = QuietWindows.build(quiet, UTC, _ts("2024-01-10 00:00"), _ts("2024-01-10 23:00"))
    assert w.overlap(np.array([_ts("2024-01-10 08:00")]), np.array([_ts("2024-01-10 10:00")]))[0] == 3600


# ---- group statistics -------------------------------------------------------------------------------------


def test_group_statistics() -> None:
    gid, first = group_ids(np.array([3, 1, 3, 1, 2]), np.array([0, 0, 0, 1, 0]))
    assert len(first) == 4 and gid[0] == gid[2] and gid[1] != gid[3]
    values = np.array([5.0, 1.0, 3.0, 2.0, 4.0, 10.0])
    groups = np.array([0, 0, 0, 1, 1, 2])
    assert grouped_median(values, groups, 4)[:3].tolist() == [3.0, 3.0, 10.0]
    assert np.isnan(grouped_median(values, groups, 4)[3])
    assert grouped_quantile(values, groups, 3, 0.25).tolist() == [1.0, 2.0, 10.0]
