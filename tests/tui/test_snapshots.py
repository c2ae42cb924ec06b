"""Screenshots of the demo capture replayed to its end at maximum speed, at fixed sizes, with nothing on
screen that depends on wall time (the app's `stable` flag hides the ingest rate and time left).

Update them with `pytest tests/tui/test_snapshots.py --snapshot-update` and look at the report.
The 120x40 dashboard is the README screenshot."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual.pilot import Pilot

from tests.tui.conftest import MakeApp, column, wait_finished, wait_for
from tui.app import HomescopeApp
from tui.screens.device import DeviceScreen
from tui.widgets.device_facts import DeviceFacts
from tui.widgets.device_table import DeviceTable

SnapCompare = Callable[..., bool]
CHART_REDRAW = 1.3  # the chart redraws at most once a second


def after_replay(*keys: str) -> Callable[[Pilot[object]], Awaitable[None]]:
    async def run_before(pilot: Pilot[object]) -> None:
        app = pilot.app
        assert isinstance(app, HomescopeApp)
        await wait_finished(pilot, app)
        await pilot.press(*keys)
        await pilot.pause(CHART_REDRAW)

    return run_before


async def open_iphone(pilot: Pilot[object]) -> None:
    app = pilot.app
    assert isinstance(app, HomescopeApp)
    await wait_finished(pilot, app)
    table = app.screen.query_one(DeviceTable)
    table.move_cursor(row=column(table, "name").index("Lucas-iPhone"))
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, DeviceScreen), "the device screen")
    facts = app.screen.query_one(DeviceFacts)
    await wait_for(pilot, lambda: bool(facts.facts), "the device's facts")
    await pilot.pause(CHART_REDRAW)


def test_dashboard_80x24(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    assert snap_compare(make_app("demo"), terminal_size=(80, 24), run_before=after_replay())


def test_dashboard_120x40(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    assert snap_compare(make_app("demo"), terminal_size=(120, 40), run_before=after_replay())


def test_dns_log_80x24(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    assert snap_compare(
        make_app("demo"), terminal_size=(80, 24), run_before=after_replay("tab", "tab", "tab")
    )


def test_device_screen_120x40(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    assert snap_compare(make_app("demo"), terminal_size=(120, 40), run_before=open_iphone)


def test_help_80x24(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    assert snap_compare(make_app("demo"), terminal_size=(80, 24), run_before=after_replay("question_mark"))


def test_findings_80x24(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    assert snap_compare(make_app("demo"), terminal_size=(80, 24), run_before=after_replay("F"))


async def open_dns_google(pilot: Pilot[object]) -> None:
    app = pilot.app
    assert isinstance(app, HomescopeApp)
    await wait_finished(pilot, app)
    app.open_remote("8.8.4.4")
    await pilot.pause()
    facts = app.screen.query_one(DeviceFacts)
    await wait_for(pilot, lambda: bool(facts.facts), "the remote's facts")
    await pilot.pause(0.3)


def test_remote_screen_100x30(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    assert snap_compare(make_app("demo"), terminal_size=(100, 30), run_before=open_dns_google)
