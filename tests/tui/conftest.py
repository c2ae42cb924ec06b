"""Helpers for the TUI tests: apps replaying fixture captures, with times in UTC and nothing that depends
on wall time on screen."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator

import pytest
from textual.pilot import Pilot

from tests.conftest import REPO, fixture_path
from tui.app import HomescopeApp
from tui.model.feed import EngineConfig, ThreadFeed
from tui.widgets.keyed_table import KeyedTable

DEMO = REPO / "fixtures" / "demo" / "home-demo.pcapng"
MakeApp = Callable[..., HomescopeApp]


@pytest.fixture
def make_app() -> Iterator[MakeApp]:
    """`make_app("ndpi_iphone.pcap", speed=None, paused=False)`: an app over a thread feed; stopped after."""
    feeds: list[ThreadFeed] = []

    def make(
        *names: str, speed: float | None = None, paused: bool = False, labels_file: str | None = None
    ) -> HomescopeApp:
        paths = tuple(str(DEMO) if name == "demo" else str(fixture_path(name)) for name in names)
        config = EngineConfig(paths, speed=speed, paused=paused, timezone="UTC", labels_file=labels_file)
        feed = ThreadFeed(config)
        feeds.append(feed)
        return HomescopeApp(feed, tz=dt.UTC, stable=True)

    yield make
    for feed in feeds:
        feed.stop(timeout=2.0)


async def wait_for(
    pilot: Pilot[object], condition: Callable[[], bool], what: str, timeout: float = 20.0
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)


async def wait_finished(pilot: Pilot[object], app: HomescopeApp) -> None:
    """Until the replay has ended and the screen shows the final model."""
    await wait_for(
        pilot, lambda: app.model is not None and app.model.status.finished, "the end of the replay"
    )
    await pilot.pause(0.1)


def column(table: KeyedTable, key: str) -> list[str]:
    """The text of one column, in the order on screen."""
    index = [spec.key for spec in table.specs].index(key)
    return [table.get_row(row.key)[index].plain for row in table.ordered_rows]
