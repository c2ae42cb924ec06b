"""The findings, export and lookup subcommands, run as the command line will run them: parsed by a parser
their register() built, run through run(args), checked for output, messages and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.errors import ExitCode
from tests.conftest import REPO, fixture_path
from tui.cli import main


def homescope(*argv: str) -> int:
    return main(list(argv))


def test_findings_text(capsys: pytest.CaptureFixture[str]) -> None:
    code = homescope("findings", str(fixture_path("zeek_wikipedia.pcap")), "--timezone", "UTC")
    out = capsys.readouterr()
    assert code == ExitCode.OK
    assert "NOTICE   Unencrypted HTTP - Universal e0:1d:b5" in out.out
    assert "9 flows (#" in out.out and out.err == ""


def test_findings_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = homescope("findings", str(fixture_path("ndpi_googledns_android10.pcap")), "--json")
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["schema"] == "homescope.findings/1"
    assert [(f["rule"], f["kind"]) for f in doc["findings"]] == [("dns_bypass", "dot")] * 2
    assert doc["rules"]["periodic"]["min_contacts"] == 10
    assert set(doc["findings"][0]["evidence"]) == {
        "flows",
        "flow_count",
        "dns_names",
        "bins",
        "bin_seconds",
        "addresses",
    }


def test_findings_rule_and_severity_filters(capsys: pytest.CaptureFixture[str]) -> None:
    wiki = str(fixture_path("zeek_wikipedia.pcap"))
    homescope("findings", wiki, "--json", "--min-severity", "notice")
    assert {f["severity"] for f in json.loads(capsys.readouterr().out)["findings"]} == {"notice"}
    homescope("findings", wiki, "--json", "--rule", "dns_bypass")
    doc = json.loads(capsys.readouterr().out)
    assert doc["findings"] == [] and list(doc["rules"]) == ["dns_bypass"]
    assert homescope("findings", wiki, "--rule", "nightly") == ExitCode.USAGE
    assert "no rule 'nightly'" in capsys.readouterr().err


def test_findings_missing_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = homescope("findings", str(tmp_path / "nope.pcap"))
    out = capsys.readouterr()
    assert code == ExitCode.NO_INPUT and out.out == ""
    assert "no such file" in out.err and "Traceback" not in out.err


def test_findings_damaged_input(capsys: pytest.CaptureFixture[str]) -> None:
    code = homescope("findings", str(fixture_path("suricata-verify_smtp-to-comma_corrupt.pcap")))
    out = capsys.readouterr()
    assert code == ExitCode.PARTIAL and "Unencrypted SMTP" in out.out and out.err


def test_findings_bad_configuration(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[findings.periodic]\nmin_contacts = "ten"\n', encoding="utf-8")
    code = homescope("findings", str(fixture_path("zeek_wikipedia.pcap")), "--config", str(config))
    err = capsys.readouterr().err
    assert code == ExitCode.USAGE
    assert "Invalid configuration: findings.periodic.min_contacts: expected a whole number" in err


def test_export(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = homescope(
        "export", str(fixture_path("zeek_wikipedia.pcap")), "--format", "json", "--out", str(out),
        "--tables", "devices,flows", "--tables", "findings",
    )  # fmt: skip
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "devices.json",
        "findings.json",
        "flows.json",
        "manifest.json",
    ]
    assert "wrote 3 tables" in capsys.readouterr().err


def test_export_anonymised_with_the_stored_key(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    wiki = str(fixture_path("zeek_wikipedia.pcap"))
    for name in ("a", "b"):
        assert (
            homescope("export", wiki, "--out", str(tmp_path / name), "--anonymise", "--tables", "devices")
            == 0
        )
    a, b = ((tmp_path / n / "devices.csv").read_text(encoding="utf-8") for n in "ab")
    assert a == b and "00:24:7e:e0:1d:b5" not in a and "mac-" in a
    keys = list(Path.home().rglob("export.key"))  # in the (redirected) user data folder
    assert len(keys) == 1
    assert (
        homescope(
            "export",
            wiki,
            "--out",
            str(tmp_path / "c"),
            "--anonymise",
            "--key",
            "mine",
            "--tables",
            "devices",
        )
        == 0
    )
    assert (tmp_path / "c" / "devices.csv").read_text(encoding="utf-8") != a
    capsys.readouterr()


def test_export_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    wiki = str(fixture_path("zeek_wikipedia.pcap"))
    assert homescope("export", wiki, "--out", str(tmp_path), "--key", "k") == ExitCode.USAGE
    assert "--key is only used with --anonymise" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        homescope("export", wiki, "--out", str(tmp_path), "--tables", "packets")
    assert "no table 'packets'" in capsys.readouterr().err


def test_export_into_an_unwritable_place(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    code = homescope("export", str(fixture_path("zeek_wikipedia.pcap")), "--out", str(blocker / "sub"))
    err = capsys.readouterr().err
    assert code == ExitCode.USAGE and "Export failed" in err and "Traceback" not in err


def test_lookup_offline(capsys: pytest.CaptureFixture[str]) -> None:
    assert homescope("lookup", "8.8.8.8") == 0
    out = capsys.readouterr()
    assert "country:      United States (US)" in out.out and "GOOGLE" in out.out
    assert "not asked (add --online" in out.out and out.err == ""
    assert homescope("lookup", "192.168.1.20", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["scope"] == "private" and doc["geo"]["status"] == "local" and doc["online"] is None


def test_lookup_with_a_capture(capsys: pytest.CaptureFixture[str]) -> None:
    code = homescope("lookup", "8.8.4.4", "--capture", str(fixture_path("ndpi_googledns_android10.pcap")))
    out = capsys.readouterr().out
    assert code == 0 and "seen as:      dns.google (tls-sni)" in out
    assert "private MAC 86:9b:90" in out


def test_lookup_online_says_so_and_caches(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.enrich import online

    calls: list[str] = []

    def rdap(address: str, timeout: float) -> dict[str, Any]:
        calls.append(address)
        return {"asn": "15169", "asn_description": "GOOGLE, US", "network_name": "GOGL"}

    monkeypatch.setattr(online, "rdap_with_ipwhois", rdap)
    monkeypatch.setattr(online, "reverse_with_dnspython", lambda address, timeout: ["dns.google"])
    assert homescope("lookup", "8.8.8.8", "--online") == 0
    out = capsys.readouterr()
    assert "the address is sent to the regional internet registries" in out.err
    assert "AS15169 GOOGLE, US" in out.out and "reverse DNS:  dns.google" in out.out
    assert homescope("lookup", "8.8.8.8") == 0  # later, offline: the cached answer
    out = capsys.readouterr()
    assert "ok (cached)" in out.out and out.err == "" and calls == ["8.8.8.8"]


def test_lookup_bad_address(capsys: pytest.CaptureFixture[str]) -> None:
    assert homescope("lookup", "example.com") == ExitCode.USAGE
    assert "not an IPv4 or IPv6 address" in capsys.readouterr().err


def test_building_the_parser_imports_nothing_heavy() -> None:
    code = (
        "import argparse, sys\n"
        "from tui.subcommands import SUBCOMMANDS\n"
        "sub = argparse.ArgumentParser().add_subparsers()\n"
        "for m in SUBCOMMANDS: m.register(sub)\n"
        "heavy = ('numpy', 'pandas', 'engine.findings', 'geoip2fast', 'ipwhois')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
