"""The TUI on live captures, followed dump folders and the history store: rows appear, the status bar
says the mode and what it reads; without a terminal, `live` and `follow` stay headless."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.session import SessionMode
from engine.store import HistoryStore
from tests.conftest import REPO, fixture_path
from tests.live.fake_tools import FakeTools, install_fake_tools, pid_alive
from tests.live.writers import pcap_file, pcap_packet
from tests.store.helpers import record
from tests.tui.conftest import column, wait_for
from tui import cli
from tui.app import HomescopeApp
from tui.model.dashboard import ModelRequest
from tui.model.feed import EngineConfig, ThreadFeed
from tui.model.sources import WatchSpec
from tui.model.stored_feed import StoredFeed
from tui.subcommands import history, watch_tui
from tui.widgets.device_table import DeviceTable
from tui.widgets.dns_log import DnsLog
from tui.widgets.status_bar import StatusBar

IPHONE = "ndpi_iphone.pcap"  # 500 packets: Lucas-iPhone, mDNS and DNS lookups


def _args(*argv: str) -> argparse.Namespace:
    return cli._parser().parse_args(list(argv))


@pytest.fixture
def feeds() -> Iterator[list[ThreadFeed]]:
    made: list[ThreadFeed] = []
    yield made
    for feed in made:
        feed.stop(timeout=2.0)


def _watch_app(feeds: list[ThreadFeed], kind: str, args: argparse.Namespace) -> HomescopeApp:
    mode = SessionMode.LIVE if kind == "live" else SessionMode.FOLLOW
    spec = WatchSpec.from_args(kind, args)  # type: ignore[arg-type]
    feed = ThreadFeed(EngineConfig((), mode=mode, timezone="UTC", watch=spec))
    feeds.append(feed)
    return HomescopeApp(feed, tz=dt.UTC, stable=True)


def _status(app: HomescopeApp) -> str:
    return app.screen.query_one(StatusBar).render().plain


def _has_device(app: HomescopeApp, name: str) -> bool:
    return app.model is not None and any(row.cells[0] == name for row in app.model.devices.rows)


# ---- follow ------------------------------------------------------------------------------------------


async def test_follow_shows_the_dumps_as_they_are_written(tmp_path: Path, feeds: list[ThreadFeed]) -> None:
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    data = fixture_path(IPHONE).read_bytes()
    first = dumps / "hs_00001_20240304100000.pcap"
    first.write_bytes(data[: len(data) // 3])  # cut inside a record: the rest comes later
    app = _watch_app(feeds, "follow", _args("follow", str(dumps)))
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_for(pilot, lambda: app.model is not None and app.model.status.packets > 0, "packets")
        status = _status(app)
        assert status.startswith("FOLLOW") and "hs_00001_20240304100000.pcap" in status
        with first.open("ab") as fh:
            fh.write(data[len(data) // 3 :])
        await wait_for(pilot, lambda: _has_device(app, "Lucas-iPhone"), "the iPhone in the device table")
        await wait_for(pilot, lambda: app.model is not None and app.model.status.packets == 500, "500")
        # rotation: the ring's next file
        second = dumps / "hs_00002_20240304100500.pcap"
        shutil.copyfile(fixture_path("pcpp_DnsPackets.pcap"), second)
        await wait_for(pilot, lambda: "hs_00002_20240304100500.pcap" in _status(app), "the second file")
        await wait_for(pilot, lambda: "files done 1" in _status(app), "the first file done")
        await pilot.pause(0.3)
        assert "Lucas-iPhone" in column(app.screen.query_one(DeviceTable), "name")
        dns = app.screen.query_one(DnsLog)
        assert dns.row_count > 0
        assert "serverfault.com" in column(dns, "name")  # a lookup of the second file
        assert "speed" not in _status(app)


async def test_space_freezes_the_screen_and_speed_keys_only_explain(
    tmp_path: Path, feeds: list[ThreadFeed]
) -> None:
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    data = fixture_path(IPHONE).read_bytes()
    dump = dumps / "hs_00001_20240304100000.pcap"
    dump.write_bytes(data[:24])  # the file header only
    app = _watch_app(feeds, "follow", _args("follow", str(dumps)))
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, "a first model")
        await pilot.press("space")
        assert app.frozen and "frozen" in _status(app)
        shown = app.model
        with dump.open("ab") as fh:
            fh.write(data[24:])
        await wait_for(pilot, lambda: "500 packets" in _status(app), "the status bar to go on")
        assert app.model is shown  # the panes kept what they showed
        assert not app.feed.paused  # the capture was never paused
        await pilot.press("plus")
        await pilot.pause(0.1)
        assert any("speed applies to replays" in n.message for n in app._notifications)
        assert app.feed.speed is None
        await pilot.press("space")
        await wait_for(pilot, lambda: _has_device(app, "Lucas-iPhone"), "the rows after unfreezing")
        assert "frozen" not in _status(app)


# ---- live ---------------------------------------------------------------------------------------------


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeTools:
    fake = install_fake_tools(tmp_path, monkeypatch)
    monkeypatch.setenv("PATH", f"{fake.bin}{os.pathsep}{os.environ['PATH']}")
    return fake


async def test_live_with_a_capture_tool(tools: FakeTools, feeds: list[ThreadFeed]) -> None:
    tools.configure(stream=fixture_path("ndpi_sonos.pcapng").read_bytes())
    app = _watch_app(feeds, "live", _args("live", "-i", "lo"))
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_for(pilot, lambda: app.model is not None and app.model.devices.rows != (), "devices")
        await wait_for(pilot, lambda: "drops interface +0" in _status(app), "the interface's drops")
        status = _status(app)
        assert status.startswith("LIVE lo") and "tool dumpcap" in status
        assert "speed" not in status
        ran = tools.ran()
        assert ran is not None
    feeds[0].stop(timeout=5)
    assert not pid_alive(ran[0])


async def test_live_shows_the_kernel_drops(tools: FakeTools, feeds: list[ThreadFeed]) -> None:
    tools.configure(stream=pcap_file(range(30)), header=24, record=len(pcap_packet(0)), kernel_drops=7)
    app = _watch_app(feeds, "live", _args("live", "-i", "lo", "--tool", "tcpdump"))
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_for(pilot, lambda: "drops kernel 7" in _status(app), "the kernel's drops", timeout=30)
        assert "tool tcpdump" in _status(app)


def test_live_in_the_tui_with_the_process_engine(
    tools: FakeTools, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    tools.configure(stream=fixture_path("ndpi_sonos.pcapng").read_bytes())
    models = []

    def run(self: HomescopeApp) -> None:
        self.feed.start()
        models.append(self.feed.model(ModelRequest()))
        deadline = 200
        while not models[-1].status.packets and deadline:
            deadline -= 1
            time.sleep(0.05)
            models.append(self.feed.model(ModelRequest()))

    monkeypatch.setattr(watch_tui, "interactive", lambda: True)
    monkeypatch.setattr(HomescopeApp, "run", run)
    db = tmp_path / "history.db"
    assert cli.main(["live", "-i", "lo", "--store", str(db)]) == 0
    assert models[-1].status.mode == "live" and models[-1].status.packets > 0
    assert models[-1].status.tool == "dumpcap"
    ran = tools.ran()
    assert ran is not None and not pid_alive(ran[0])
    assert _stored_packets(db) >= models[-1].status.packets  # recorded by the engine process


def test_follow_in_the_tui_with_the_thread_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copyfile(fixture_path(IPHONE), tmp_path / "hs_00001_20240304100000.pcap")
    seen: list[HomescopeApp] = []

    def run(self: HomescopeApp) -> None:
        seen.append(self)
        self.feed.start()
        for _ in range(200):
            if self.feed.model(ModelRequest()).status.packets == 500:
                break
            time.sleep(0.05)

    monkeypatch.setattr(watch_tui, "interactive", lambda: True)
    monkeypatch.setattr(HomescopeApp, "run", run)
    assert cli.main(["follow", str(tmp_path), "--engine", "thread", "--no-store"]) == 0
    feed = seen[0].feed
    assert isinstance(feed, ThreadFeed) and feed.recording is None
    status = feed.model(ModelRequest()).status
    assert status.mode == "follow" and status.packets == 500 and status.source == str(tmp_path)
    assert status.where is not None and "hs_00001_20240304100000.pcap" in status.where


def test_live_in_the_tui_reports_a_missing_interface_before_starting(
    tools: FakeTools, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(watch_tui, "interactive", lambda: True)
    monkeypatch.setattr(HomescopeApp, "run", lambda self: pytest.fail("the TUI should not start"))
    assert cli.main(["live", "-i", "nosuchif0"]) == 5
    assert "nosuchif0" in capsys.readouterr().err


# ---- without a terminal -------------------------------------------------------------------------------


@pytest.mark.parametrize("headless_flag", [False, True])
def test_follow_without_a_terminal_stays_headless(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], headless_flag: bool
) -> None:
    shutil.copyfile(fixture_path(IPHONE), tmp_path / "a.pcap")
    monkeypatch.setattr(HomescopeApp, "run", lambda self: pytest.fail("the TUI should not start"))
    if headless_flag:  # even on a terminal
        monkeypatch.setattr(watch_tui, "interactive", lambda: True)
    argv = ["follow", str(tmp_path), "--duration", "1"] + (["--headless"] if headless_flag else [])
    assert not watch_tui.interactive() or headless_flag
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("homescope follow: reading") and "500 packets read" in out


@pytest.mark.parametrize(
    ("argv", "terminal", "tui"),
    [
        ([], True, True),
        ([], False, False),
        (["--headless"], True, False),
        (["--json"], True, False),
        (["--duration", "5"], True, False),
    ],
)
def test_the_tui_opens_only_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], terminal: bool, tui: bool
) -> None:
    monkeypatch.setattr(watch_tui, "interactive", lambda: terminal)
    assert watch_tui.wants_tui(_args("follow", "/somewhere", *argv)) is tui
    assert watch_tui.wants_tui(_args("live", "-i", "lo", *argv)) is tui


def test_live_without_a_terminal_stays_headless(
    tools: FakeTools, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tools.configure(stream=fixture_path("ndpi_sonos.pcapng").read_bytes())
    monkeypatch.setattr(HomescopeApp, "run", lambda self: pytest.fail("the TUI should not start"))
    assert cli.main(["live", "-i", "lo", "--duration", "1"]) == 0
    assert capsys.readouterr().out.startswith("homescope live: capturing on lo with dumpcap")


def _on_a_terminal(argv: list[str], env: dict[str, str], shows: tuple[str, ...]) -> tuple[int | None, str]:
    """Run `homescope ARGV` on a pseudo-terminal (140x40) until it has drawn every text of `shows` (at most
    30 s), then press q; the exit code (None if it did not end) and everything it drew."""
    import fcntl
    import pty
    import select
    import signal
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:  # the child: homescope on a terminal of 140x40
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
        os.execvpe(sys.executable, [sys.executable, "-m", "tui.cli", *argv], env)
    out = bytearray()
    code: int | None = None
    try:

        def pump(seconds: float, until: tuple[str, ...] = ()) -> None:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                if select.select([fd], [], [], 0.1)[0]:
                    try:
                        out.extend(os.read(fd, 65536))
                    except OSError:
                        return
                    text = _drawn(out)
                    if until and all(part in text for part in until):
                        return

        pump(30, shows)
        pump(0.5)
        os.write(fd, b"q")
        deadline = time.monotonic() + 15
        while code is None and time.monotonic() < deadline:
            pump(0.2)
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                code = os.waitstatus_to_exitcode(status)
    finally:
        if code is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    return code, _drawn(out)


def _drawn(out: bytes | bytearray) -> str:
    """The text a program drew on a terminal, without the escape sequences between its pieces."""
    return re.sub(r"\x1b\[[0-9;?<>$]*[a-zA-Z~]|\x1b\][^\x07]*\x07", "", out.decode("utf-8", "replace"))


def _terminal_env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TERM": "xterm-256color"}
    for var in ("NO_COLOR", "COLUMNS", "LINES"):  # the terminal's own size, not the test runner's
        env.pop(var, None)
    return env


@pytest.mark.slow
def test_follow_on_a_terminal_opens_the_tui(tmp_path: Path) -> None:
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    shutil.copyfile(fixture_path(IPHONE), dumps / "hs_00001_20240304100000.pcap")
    code, screen = _on_a_terminal(["follow", str(dumps)], _terminal_env(), ("FOLLOW", "Lucas-iPhone"))
    assert code == 0, screen[-2000:]
    assert "FOLLOW" in screen and "hs_00001_20240304100000.pcap" in screen and "Lucas-iPhone" in screen
    assert "Traceback" not in screen and "homescope follow: reading" not in screen


@pytest.mark.slow
def test_live_on_a_terminal_opens_the_tui_and_stops_the_tool(tools: FakeTools, tmp_path: Path) -> None:
    tools.configure(stream=fixture_path("ndpi_sonos.pcapng").read_bytes())
    code, screen = _on_a_terminal(["live", "-i", "lo"], _terminal_env(), ("LIVE", "dumpcap"))
    assert code == 0, screen[-2000:]
    assert "LIVE" in screen and "dumpcap" in screen and "Traceback" not in screen
    ran = tools.ran()
    assert ran is not None and not pid_alive(ran[0])


# ---- the history store -------------------------------------------------------------------------------


async def test_replay_from_the_store_shows_the_stored_devices(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    with HistoryStore(db, sensor="pi") as store:
        record(store, [fixture_path(IPHONE)])
    args = _args("replay", "--from-store", "--store", str(db))
    from engine.config import load_settings

    stored = history.load_stored(args, load_settings())
    app = HomescopeApp(StoredFeed(stored, tz=dt.UTC), tz=dt.UTC, stable=True)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_for(pilot, lambda: _has_device(app, "Lucas-iPhone"), "the stored iPhone")
        await pilot.pause(0.2)
        status = _status(app)
        assert status.startswith("HISTORY store") and "(pi)" in status and "500 packets" in status
        assert "Lucas-iPhone" in column(app.screen.query_one(DeviceTable), "name")
        assert app.screen.query_one(DnsLog).row_count > 0


def test_replay_from_store_through_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "history.db"
    with HistoryStore(db, sensor="pi") as store:
        record(store, [fixture_path(IPHONE)])
    seen: list[HomescopeApp] = []

    def run(self: HomescopeApp) -> None:
        seen.append(self)

    monkeypatch.setattr(HomescopeApp, "run", run)
    assert cli.main(["replay", "--from-store", "--store", str(db), "--since", "@0"]) == 0
    model = seen[0].feed.model(ModelRequest())
    assert model.status.packets == 500 and model.status.mode == "history"
    assert cli.main(["replay", "--from-store", "--store", str(db), "--until", "@1"]) == 3  # nothing then
    assert cli.main(["replay", "x.pcap", "--from-store"]) == 2


# ---- recording into the store -------------------------------------------------------------------------


def _stored_packets(db: Path) -> int:
    with HistoryStore(db, read_only=True) as store:
        return store.load(None, None).snapshot.totals.packets


async def test_follow_in_the_tui_records_into_the_store(tmp_path: Path, feeds: list[ThreadFeed]) -> None:
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    shutil.copyfile(fixture_path(IPHONE), dumps / "hs_00001_20240304100000.pcap")
    db = tmp_path / "history.db"
    app = _watch_app(feeds, "follow", _args("follow", str(dumps), "--store", str(db)))
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_for(pilot, lambda: app.model is not None and app.model.status.packets == 500, "500")
    feeds[0].stop(timeout=5)
    assert _stored_packets(db) == 500


async def test_follow_in_the_tui_goes_on_where_the_store_ends(
    tmp_path: Path, feeds: list[ThreadFeed]
) -> None:
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    shutil.copyfile(fixture_path(IPHONE), dumps / "hs_00001_20240304100000.pcap")
    first = _watch_app(feeds, "follow", _args("follow", str(dumps)))  # the default store (a tmp home)
    async with first.run_test(size=(200, 50)) as pilot:
        await wait_for(pilot, lambda: "500 packets" in _status(first), "500 packets")
    feeds[0].stop(timeout=5)
    again = _watch_app(feeds, "follow", _args("follow", str(dumps)))
    async with again.run_test(size=(200, 50)) as pilot:
        await wait_for(pilot, lambda: again.model is not None and again.model.status.notes != (), "a note")
        await pilot.pause(0.2)
        assert again.model is not None and again.model.status.packets == 0  # nothing read twice
        note = again.model.status.notes[0]
        assert note.startswith("going on at hs_00001_20240304100000.pcap byte ")
        assert any(n.message == note for n in again._notifications)


def test_headless_follow_records_into_the_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    shutil.copyfile(fixture_path(IPHONE), dumps / "hs_00001_20240304100000.pcap")
    db = tmp_path / "history.db"
    assert cli.main(["follow", str(dumps), "--duration", "1", "--store", str(db)]) == 0
    assert "500 packets read" in capsys.readouterr().out
    assert _stored_packets(db) == 500
