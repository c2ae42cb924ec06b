"""Findings in `homescope report`: the `findings` section of the JSON document (evaluated with the user's
settings), the readable summary, the schema documentation, and exit codes that findings never change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.analysis import Analysis, run_capture
from engine.capture.source import CaptureSet
from engine.findings import evaluate
from engine.report import build_report, render_text
from tests.conftest import REPO, fixture_path
from tests.investigation.home_traffic import CAMERA, DAY0, ESP32, PHONE, TV, Home, analyse_home, settings_for
from tui.cli import main

NOON = DAY0 + 12 * 3600


def home() -> Home:
    h = Home()
    h.router_presence(NOON)
    for device in (ESP32, PHONE, TV, CAMERA):
        h.dns(NOON + 0.5, device, "time.example.net", "52.10.0.1")
    for i in range(30):
        h.tls(NOON + 10 + i * 10, ESP32, "34.120.5.6", "api.transit.example")
    h.http(NOON + 20, TV, "52.1.2.3", "update.example.tv")
    h.tcp_session(NOON + 21, CAMERA, "52.1.2.4", 23, request=b"login: admin\r\n")
    h.dns(NOON + 22, PHONE, "example.org", "52.1.1.1", resolver="8.8.8.8")
    return h


def test_the_report_lists_the_findings_most_severe_first(tmp_path: Path) -> None:
    result = analyse_home(home(), tmp_path)
    settings = settings_for()
    report = build_report(result.snapshot, result.sources, settings=settings)
    expected = [f.as_dict() for f in evaluate(result.snapshot, settings)]
    assert report["findings"] == expected and len(expected) >= 4
    assert report["findings"][0]["severity"] == "warning"  # Telnet
    json.dumps(report)
    quiet = settings_for({"periodic": {"enabled": False}})
    rules = {f["rule"] for f in build_report(result.snapshot, result.sources, settings=quiet)["findings"]}
    assert "periodic" not in rules and "plaintext" in rules


def test_the_summary_shows_severity_title_and_explanation(tmp_path: Path) -> None:
    result = analyse_home(home(), tmp_path)
    report = build_report(result.snapshot, result.sources, settings=settings_for())
    text = render_text(report, top=2)
    lines = text.splitlines()
    at = lines.index(next(line for line in lines if line.startswith("Findings (")))
    assert "1 warning" in lines[at] and "most severe first" in lines[at]
    assert lines[at + 1].split()[:3] == ["WARNING", "Unencrypted", "Telnet"]
    assert lines[at + 2].strip() == report["findings"][0]["explanation"]
    assert (
        lines[at + 5].strip() == f"... and {len(report['findings']) - 2} more (homescope findings, or --json)"
    )


def test_a_traffic_only_report_has_no_findings(tmp_path: Path) -> None:
    path = home().write(tmp_path / "home.pcap")
    analysis = Analysis(depth="traffic")
    capture = CaptureSet([str(path)])
    run_capture(capture, analysis)
    report = build_report(analysis.snapshot(), capture.statuses)
    assert "findings" not in report
    assert "Findings" not in render_text(report)


def test_homescope_report_evaluates_with_the_configured_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plug = str(fixture_path("smarthomefw_tplink-plug_wlan2.4.pcap"))
    assert main(["report", "--json", plug]) == 0
    doc = json.loads(capsys.readouterr().out)
    (beacon,) = [f for f in doc["findings"] if f["rule"] == "periodic"]
    assert beacon["remote"]["name"] == "use1-api.tplinkra.com"  # a report keeps only the largest flows
    config = tmp_path / "config.toml"
    config.write_text("[findings.periodic]\nenabled = false\n", encoding="utf-8")
    assert main(["report", "--json", "--config", str(config), plug]) == 0
    assert [f for f in json.loads(capsys.readouterr().out)["findings"] if f["rule"] == "periodic"] == []
    assert main(["report", "--config", str(config), "--traffic-only", plug]) == 0
    assert "Findings" not in capsys.readouterr().out


def test_findings_never_change_the_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(fixture_path("zeek_wikipedia.pcap"))]) == 0
    assert "NOTICE   Unencrypted HTTP" in capsys.readouterr().out
    damaged = str(fixture_path("suricata-verify_smtp-to-comma_corrupt.pcap"))
    assert main(["report", damaged]) == 4  # the damage decides, not the finding
    assert "Unencrypted SMTP" in capsys.readouterr().out


def test_invalid_findings_settings_fail_before_the_analysis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[findings.periodic]\nmin_contact = 3\n", encoding="utf-8")
    assert main(["report", "--config", str(config), str(tmp_path / "missing.pcap")]) == 2
    assert "min_contact" in capsys.readouterr().err


def test_the_schema_documents_the_findings_section() -> None:
    doc = (REPO / "docs" / "report-schema.md").read_text(encoding="utf-8")
    section = doc[doc.index("**`findings[]`**") :]
    for field in ("key", "rule", "kind", "severity", "title", "explanation", "device", "remote", "size"):
        assert f"`{field}`" in section, field
    for field in ("first_ts", "last_ts", "evidence", "details", "flow_count", "bin_seconds"):
        assert f"`{field}`" in section, field
