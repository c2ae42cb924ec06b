"""`homescope history info|export|prune`, and the store options other commands take."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from engine.config import load_settings
from engine.store import HistoryStore
from tests.conftest import fixture_path
from tests.store.days import MIDNIGHT, write_days
from tests.store.helpers import record
from tui.cli import main
from tui.subcommands import history


def _run(*argv: str) -> int:
    return main(["history", *argv])


def test_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "h.db"
    with HistoryStore(db, sensor="pi") as store:
        record(store, [fixture_path("ndpi_iphone.pcap")])
    assert _run("--store", str(db), "info", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["sensors"] == ["pi"]
    assert doc["sources"] == doc["complete_sources"] == 1
    assert doc["runs"][0]["finished"] is True
    assert doc["rows"]["flows"] > 0
    assert _run("--store", str(db), "info") == 0
    assert "capture files: 1 (1 read to their end)" in capsys.readouterr().out


def test_info_without_a_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("--store", str(tmp_path / "none.db"), "info") == 3
    assert "no history store here yet" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()


def test_export_a_day(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "h.db"
    with HistoryStore(db, sensor="pi") as store:
        record(store, [write_days(tmp_path / "days.pcap")])
    out = tmp_path / "out"
    assert _run("--store", str(db), "export", str(out), "--day", "2024-03-05") == 0
    assert "flows 24" in capsys.readouterr().out
    assert [p.name for p in (out / "flows" / "sensor=pi").iterdir()] == ["day=2024-03-05"]


def test_prune(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "h.db"
    with HistoryStore(db, sensor="pi") as store:
        record(store, [write_days(tmp_path / "days.pcap")])
    assert _run("--store", str(db), "prune") == 0
    assert "nothing to prune" in capsys.readouterr().out
    assert _run("--store", str(db), "prune", "--retention-days", "1") == 0
    assert "dropped" in capsys.readouterr().out
    with HistoryStore(db, sensor="pi") as store:
        assert store.load().snapshot.totals.packets == 25
    assert _run("--store", str(db), "prune", "--max-bytes", "lots") == 2
    assert "--max-bytes" in capsys.readouterr().err


def test_a_bad_time_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "h.db"
    HistoryStore(db).close()
    assert _run("--store", str(db), "export", str(tmp_path / "o"), "--since", "whenever") == 2
    assert "cannot read 'whenever' as a time" in capsys.readouterr().err


def _report_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("captures", nargs="*")
    history.add_store_options(parser, records_by_default=False, reads=True)
    return parser


def _follow_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    history.add_store_options(parser, records_by_default=True)
    return parser


def test_store_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOMESCOPE_STORE_PATH", str(tmp_path / "configured.db"))
    settings = load_settings()
    # report: records only with --store
    assert history.open_store(_report_parser().parse_args(["x.pcap"]), settings) is None
    store = history.open_store(_report_parser().parse_args(["x.pcap", "--store"]), settings)
    assert store is not None and store.path == tmp_path / "configured.db"
    store.close()
    store = history.open_store(_report_parser().parse_args(["--store", str(tmp_path / "a.db")]), settings)
    assert store is not None and store.path == tmp_path / "a.db"
    store.close()
    # follow: records unless --no-store
    store = history.open_store(_follow_parser().parse_args([]), settings)
    assert store is not None and store.path == tmp_path / "configured.db"
    store.close()
    assert history.open_store(_follow_parser().parse_args(["--no-store"]), settings) is None
    # time spans
    args = _report_parser().parse_args(["--from-store", "--since", "@100", "--until", "@200"])
    assert history.time_span(args, settings) == (100.0, 200.0)
    assert history.time_span(_report_parser().parse_args([]), settings) == (None, None)


def test_report_from_the_store(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    with HistoryStore(db, sensor="pi") as store:
        record(store, [write_days(tmp_path / "days.pcap")])
    settings = load_settings()
    args = _report_parser().parse_args(
        [
            "--from-store",
            "--store",
            str(db),
            "--since",
            f"@{MIDNIGHT + 86400}",
            "--until",
            f"@{MIDNIGHT + 2 * 86400}",
        ]
    )
    stored = history.load_stored(args, settings)
    doc = stored.report()
    assert doc["totals"]["packets"] == 24
    args = _report_parser().parse_args(["--from-store", "--store", str(db), "--since", "@1", "--until", "@2"])
    with pytest.raises(Exception, match="nothing recorded"):
        history.load_stored(args, settings)


def test_report_records_then_opens_from_the_store(tmp_path: Path) -> None:
    from engine.analysis import Analysis
    from engine.capture.source import CaptureSet

    capture_path = str(fixture_path("ndpi_iphone.pcap"))
    db = tmp_path / "h.db"
    settings = load_settings()
    args = _report_parser().parse_args([capture_path, "--store", str(db)])
    first, _ = history.report_analysis(args, settings, CaptureSet([capture_path]), Analysis())
    again, sources = history.report_analysis(args, settings, CaptureSet([capture_path]), Analysis())
    assert again.totals == first.totals
    assert [s.path for s in sources] == [capture_path]
    with HistoryStore(db) as store:
        assert len(store.runs()) == 1  # the second report read nothing: it opened the stored analysis
