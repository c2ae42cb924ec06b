"""Keyboard handling: pause, speed, panes, filters, the device screen, help, the palette and quitting."""

from __future__ import annotations

from textual.widgets import Input

from tests.tui.conftest import MakeApp, column, wait_finished, wait_for
from tui.screens.dashboard import DashboardScreen
from tui.screens.device import DeviceScreen
from tui.screens.help import HelpScreen
from tui.widgets.device_facts import DeviceFacts
from tui.widgets.device_table import DeviceTable
from tui.widgets.dns_log import DnsLog
from tui.widgets.filter_bar import FilterBar
from tui.widgets.status_bar import StatusBar


def status_text(app: object) -> str:
    return app.screen.query_one(StatusBar).render().plain  # type: ignore[attr-defined]


async def test_space_pauses_and_plus_minus_change_speed(make_app: MakeApp) -> None:
    app = make_app("demo", speed=1.0, paused=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.model is not None, "a model")
        assert app.feed.paused and "paused" in status_text(app)
        await pilot.press("space")
        assert not app.feed.paused and "running" in status_text(app)
        await pilot.press("space")
        assert app.feed.paused
        assert "speed 1x" in status_text(app)
        await pilot.press("+")
        assert app.feed.speed == 10.0 and "speed 10x" in status_text(app)
        await pilot.press("+", "+", "+")
        assert app.feed.speed is None and "speed max" in status_text(app)
        await pilot.press("+")  # already the fastest
        assert app.feed.speed is None
        await pilot.press("-", "-")
        assert app.feed.speed == 60.0
        await pilot.press("=")  # "+" without shift
        assert app.feed.speed == 600.0


async def test_tab_moves_between_panes_and_shows_them_on_a_small_terminal(make_app: MakeApp) -> None:
    app = make_app("ndpi_iphone.pcap")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_finished(pilot, app)
        screen = app.screen
        assert isinstance(screen, DashboardScreen) and screen.has_class("-compact")
        assert app.focused is screen.query_one(DeviceTable)
        seen = []
        for _ in range(5):
            await pilot.press("tab")
            seen.append(screen.focused_pane())
        assert seen == ["protocols", "timeline", "dns", "remotes", "devices"]
        await pilot.press("shift+tab")
        assert screen.focused_pane() == "remotes"
        assert screen.query_one("#remotes").display and not screen.query_one("#dns").display


async def test_slash_filters_the_devices_and_escape_clears(make_app: MakeApp) -> None:
    app = make_app("ndpi_iphone.pcap")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_finished(pilot, app)
        table = app.screen.query_one(DeviceTable)
        assert len(column(table, "name")) == 3
        await pilot.press("slash")
        bar = app.screen.query_one(FilterBar)
        assert isinstance(app.focused, Input) and bar.has_class("-open")
        await pilot.press(*"iphone", "enter")
        assert app.request.device_filter == "iphone"
        await wait_for(pilot, lambda: column(table, "name") == ["Lucas-iPhone"], "the filtered table")
        assert table.border_title == "Devices (1 of 3)"
        assert app.focused is table and not bar.has_class("-open")
        await pilot.press("escape")
        assert app.request.device_filter == ""
        await wait_for(pilot, lambda: len(column(table, "name")) == 3, "the whole table again")


async def test_slash_in_the_dns_log_filters_it(make_app: MakeApp) -> None:
    app = make_app("ndpi_iphone.pcap")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_finished(pilot, app)
        dns = app.screen.query_one(DnsLog)
        dns.focus()
        await pilot.press("slash", *"googlecast", "enter")
        assert app.request.dns_filter == "googlecast"
        await wait_for(
            pilot,
            lambda: bool(column(dns, "name")) and all("googlecast" in n for n in column(dns, "name")),
            "the filtered DNS log",
        )
        assert "'googlecast'" in str(dns.border_title)


async def test_dns_log_stops_following_when_the_user_moves_up(make_app: MakeApp) -> None:
    app = make_app("ndpi_iphone.pcap")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_finished(pilot, app)
        dns = app.screen.query_one(DnsLog)
        dns.focus()
        await pilot.pause()
        assert dns.following and dns.cursor_row == dns.row_count - 1
        await pilot.press("up", "up")
        assert not dns.following and "f follows" in str(dns.border_subtitle)
        await pilot.press("f")
        assert dns.following and dns.cursor_row == dns.row_count - 1


async def test_s_sorts_the_devices_by_the_next_column(make_app: MakeApp) -> None:
    app = make_app("ndpi_iphone.pcap")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_finished(pilot, app)
        table = app.screen.query_one(DeviceTable)
        await pilot.press("s")
        assert app.request.device_sort == "up"
        await pilot.press(*"sssssss")  # round the columns to the first one
        assert app.request.device_sort == "name"
        await wait_for(
            pilot, lambda: column(table, "name") == ["Lucas-iMac", "Lucas-iMac", "Lucas-iPhone"], "A-Z"
        )
        await pilot.press("S")
        assert app.request.device_sort_reverse
        await wait_for(pilot, lambda: column(table, "name")[0] == "Lucas-iPhone", "Z-A")
        assert "by Device ↑" in str(table.border_subtitle)


async def test_enter_opens_the_device_and_escape_goes_back(make_app: MakeApp) -> None:
    app = make_app("ndpi_iphone.pcap")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_finished(pilot, app)
        table = app.screen.query_one(DeviceTable)
        table.move_cursor(row=column(table, "name").index("Lucas-iPhone"))
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, DeviceScreen) and screen.key == "c4:61:8b:35:82:a9"
        facts = screen.query_one(DeviceFacts)
        await wait_for(pilot, lambda: bool(facts.facts), "the device's facts")
        assert facts.border_title == "Lucas-iPhone"
        text = dict(facts.facts)
        assert "Apple" in text["Device"] and "192.168.2.17" in text["Addresses"]
        remotes = screen.query_one("#device-remotes")
        assert "gateway.icloud.com" in column(remotes, "name")  # type: ignore[arg-type]
        assert "gateway.icloud.com" in column(screen.query_one("#device-dns"), "name")  # type: ignore[arg-type]
        await pilot.press("tab")
        assert app.focused is screen.query_one("#device-dns")
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)
        assert app.request.detail_device is None


async def test_question_mark_opens_help_from_the_action_table(make_app: MakeApp) -> None:
    app = make_app("ndpi_iphone.pcap")
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = app.screen.query_one("#help-text").render().plain  # type: ignore[attr-defined]
        for line in ("Pause or resume the replay clock", "Sort the devices by the next column", "Back to"):
            assert line in text
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_command_palette_runs_the_same_actions(make_app: MakeApp) -> None:
    app = make_app("demo", speed=1.0)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.press(*"pause")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.feed.paused, "the pause from the palette")


async def test_footer_shows_the_main_keys(make_app: MakeApp) -> None:
    app = make_app("ndpi_iphone.pcap")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        shown = {
            binding.description for _, binding, enabled, _ in app.active_bindings.values() if binding.show
        }
        assert {"Help", "Pause", "Speed", "Filter", "Pane", "Open", "Findings", "Quit"} <= shown
        assert "Sort" not in shown  # in the help: the footer has to fit 80 columns


async def test_q_quits_at_once(make_app: MakeApp) -> None:
    app = make_app("demo", speed=1.0)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running
    assert app.return_code == 0
    assert app.feed.session.wait(timeout=2.0)  # type: ignore[attr-defined]  # quit stopped the ingest
