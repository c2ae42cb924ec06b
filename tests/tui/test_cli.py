"""`homescope replay` and `homescope` without arguments: start-up errors, the demo, heavy imports."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, fixture_path
from tests.tui.conftest import DEMO
from tui import cli
from tui.demo_capture import demo_capture_path
from tui.model.dashboard import ModelRequest
from tui.model.feed import EngineConfig, ThreadFeed
from tui.model.process_feed import ProcessFeed


def test_a_missing_capture_is_a_clear_message_and_exit_code_3(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["replay", "/no/such/capture.pcap"]) == 3
    err = capsys.readouterr().err
    assert "homescope: Cannot read capture:" in err and "/no/such/capture.pcap" in err
    assert "Traceback" not in err


def test_a_file_that_is_not_a_capture_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    assert cli.main(["replay", str(text)]) == 3
    assert "text file" in capsys.readouterr().err


def test_stdin_is_not_replayed(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["replay", "-"]) == 2
    assert "homescope report -" in capsys.readouterr().err


def test_an_invalid_configuration_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text("timezone = 3\n")
    monkeypatch.setenv("HOMESCOPE_CONFIG", str(config))
    assert cli.main(["replay", str(fixture_path("ndpi_iphone.pcap"))]) == 2


def test_speed_must_be_one_of_the_replay_speeds() -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["replay", "x.pcap", "--speed", "7"])
    assert exit_info.value.code == 2


def test_no_arguments_replays_the_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[argparse.Namespace] = []
    monkeypatch.setattr(cli, "_cmd_replay", lambda args: seen.append(args) or 0)
    assert cli.main([]) == 0
    assert seen[0].captures == [str(DEMO)] and seen[0].speed == "60"


def test_the_demo_is_found_in_a_checkout() -> None:
    assert demo_capture_path() == DEMO
    assert DEMO.stat().st_size < 3_000_000


@pytest.mark.parametrize("engine", ["process", "thread"])
def test_replay_runs_the_app_and_stops_the_engine(monkeypatch: pytest.MonkeyPatch, engine: str) -> None:
    from tui.app import HomescopeApp

    ran: list[HomescopeApp] = []

    def run(self: HomescopeApp) -> None:
        ran.append(self)
        self.feed.start()
        assert self.feed.model(ModelRequest()).status.packets >= 0

    monkeypatch.setattr(HomescopeApp, "run", run)
    capture = str(fixture_path("ndpi_iphone.pcap"))
    assert cli.main(["replay", capture, "--speed", "10", "--paused", "--engine", engine]) == 0
    feed = ran[0].feed
    assert isinstance(feed, ProcessFeed if engine == "process" else ThreadFeed)
    assert feed.speed == 10.0 and feed.config.paused
    if isinstance(feed, ProcessFeed):
        assert not feed._process.is_alive()
    else:
        assert feed.session.wait(timeout=2.0)


def test_report_does_not_import_textual() -> None:
    code = (
        "import os, sys; from tui.cli import main; "
        f"main(['report', {str(fixture_path('ndpi_iphone.pcap'))!r}, '--json', '-o', os.devnull]); "
        "print(sorted(m for m in ('textual', 'rich', 'textual_plotext') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "[]"


def test_the_engine_process_answers_like_the_thread() -> None:
    feed = ProcessFeed(EngineConfig((str(fixture_path("ndpi_iphone.pcap")),), timezone="UTC"))
    feed.start()
    try:
        model = feed.model(ModelRequest())
        while not model.status.finished:
            model = feed.model(ModelRequest(device_filter="iphone"))
        assert [row.cells[0] for row in model.devices.rows] == ["Lucas-iPhone"]
        assert feed.progress().packets == 500
        feed.set_paused(True)
        assert feed.paused
    finally:
        feed.stop(timeout=5)
    assert not feed._process.is_alive()
