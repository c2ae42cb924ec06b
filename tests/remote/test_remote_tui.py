"""The TUI on remote sources, against a throw-away sshd: the status bar says the connection's state
(connected, retrying after it dropped, where reading resumed) and what the capture on the Pi drops."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.session import SessionMode
from tests.engine.crafted import isb
from tests.live.writers import pcapng_file, pcapng_header, pcapng_packet, ring_name
from tests.remote.remote_tools import RemoteTools
from tests.remote.sshd import ALIAS, SshServer
from tests.tui.conftest import wait_for
from tui import cli
from tui.app import HomescopeApp
from tui.model.feed import EngineConfig, ThreadFeed
from tui.model.sources import WatchSpec
from tui.widgets.status_bar import StatusBar


@pytest.fixture
def feeds() -> Iterator[list[ThreadFeed]]:
    made: list[ThreadFeed] = []
    yield made
    for feed in made:
        feed.stop(timeout=5.0)


def _app(feeds: list[ThreadFeed], kind: str, *argv: str) -> HomescopeApp:
    args = cli._parser().parse_args([kind, *argv])
    mode = SessionMode.LIVE if kind == "live" else SessionMode.FOLLOW
    feed = ThreadFeed(EngineConfig((), mode=mode, timezone="UTC", watch=WatchSpec.from_args(kind, args)))  # type: ignore[arg-type]
    feeds.append(feed)
    return HomescopeApp(feed, tz=dt.UTC, stable=True)


def _status(app: HomescopeApp) -> str:
    return app.screen.query_one(StatusBar).render().plain


async def test_follow_over_ssh_says_when_it_reconnects(
    server: SshServer, tmp_path: Path, feeds: list[ThreadFeed]
) -> None:
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    started = time.time()
    (dumps / ring_name(1, started)).write_bytes(pcapng_file(range(12)))
    app = _app(feeds, "follow", f"{ALIAS}:{dumps}", "--ssh-config", str(server.client_config))
    async with app.run_test(size=(200, 44)) as pilot:
        await wait_for(pilot, lambda: "12 packets" in _status(app), "12 packets")
        status = _status(app)
        assert status.startswith("FOLLOW") and f"connected to {ALIAS}" in status
        assert "following hs_00001_" in status
        server.kill_connections()
        await wait_for(pilot, lambda: "retrying" in _status(app) or "resumed at" in _status(app), "retry")
        await wait_for(pilot, lambda: "resumed at hs_00001_" in _status(app), "the resume", timeout=30)
        (dumps / ring_name(2, started + 60)).write_bytes(pcapng_file(range(12, 20)))
        await wait_for(pilot, lambda: "20 packets" in _status(app), "the next file")
        assert "files done 1" in _status(app)


async def test_live_over_ssh_shows_the_capture(
    server: SshServer, remote_tools: RemoteTools, feeds: list[ThreadFeed]
) -> None:
    remote_tools.configure(
        stream=pcapng_file(range(40)),
        header=len(pcapng_header()),
        record=len(pcapng_packet(0)),
        trailer=isb(0, 0, received=40, dropped=0),
    )
    app = _app(
        feeds,
        "live",
        "--ssh",
        ALIAS,
        "--ssh-config",
        str(server.client_config),
        "--remote-tool-path",
        str(remote_tools.bin),
        "-i",
        "wlan0",
    )
    async with app.run_test(size=(200, 44)) as pilot:
        await wait_for(pilot, lambda: "40 packets" in _status(app), "40 packets")
        status = _status(app)
        assert status.startswith(f"LIVE {ALIAS}:wlan0") and "tool dumpcap" in status
        assert "connected over SSH" in status


def test_a_missing_remote_folder_is_reported_before_the_tui_starts(
    server: SshServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tui.subcommands import watch_tui

    monkeypatch.setattr(watch_tui, "interactive", lambda: True)
    monkeypatch.setattr(HomescopeApp, "run", lambda self: pytest.fail("the TUI should not start"))
    argv = ["follow", f"{ALIAS}:{tmp_path}/nope", "--ssh-config", str(server.client_config)]
    assert cli.main(argv) == 3
    assert "No such folder" in capsys.readouterr().err
