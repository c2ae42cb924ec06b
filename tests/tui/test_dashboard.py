"""The dashboard replaying fixture captures: what the panes show."""

from __future__ import annotations

import datetime as dt

from tests.tui.conftest import MakeApp, column, wait_finished, wait_for
from tui.app import HomescopeApp
from tui.model.process_feed import EngineProcessError
from tui.widgets.device_table import DeviceTable
from tui.widgets.dns_log import DnsLog
from tui.widgets.protocol_bars import ProtocolBars, protocol_lines
from tui.widgets.remotes_table import RemotesTable
from tui.widgets.status_bar import StatusBar


async def test_iphone_capture_fills_every_pane(make_app: MakeApp) -> None:
    app = make_app("ndpi_iphone.pcap")
    async with app.run_test(size=(140, 44)) as pilot:
        await wait_finished(pilot, app)
        devices = app.screen.query_one(DeviceTable)
        names = column(devices, "name")
        assert "Lucas-iPhone" in names
        assert devices.border_title == "Devices (3)"
        protocols = app.screen.query_one(ProtocolBars).lines.model
        assert [row.name for row in protocols.rows][:3] == ["TLS", "mDNS", "DNS"]
        assert "TLS" in protocol_lines(protocols, 80).plain
        assert dict(protocols.protection)["encrypted"] > dict(protocols.protection)["plaintext"] > 0
        dns = app.screen.query_one(DnsLog)
        assert dns.row_count > 0
        assert "_googlecast._tcp.local" in column(dns, "name")
        remotes = column(app.screen.query_one(RemotesTable), "name")
        assert "gateway.icloud.com" in remotes
        assert remotes[0] == "p26-keyvalueservice.icloud.com"  # most bytes first
        status = app.screen.query_one(StatusBar).render().plain
        assert "ndpi_iphone.pcap" in status and "finished" in status and "500 packets" in status


async def test_demo_capture_looks_like_a_home(make_app: MakeApp) -> None:
    app = make_app("demo")
    async with app.run_test(size=(140, 44)) as pilot:
        await wait_finished(pilot, app)
        assert app.model is not None
        names = [row.cells[0] for row in app.model.devices.rows]
        for expected in ("Lucas-iPhone", "Gabrieles-iPad", "btest.is.cool"):
            assert expected in names
        vendors = {row.cells[6] for row in app.model.devices.rows}
        assert "Nest Labs Inc." in vendors  # the IoT gadget
        protocols = {row.name for row in app.model.protocols.rows}
        assert {"TLS", "QUIC", "DNS", "mDNS", "DHCP", "DNS over TLS"} <= protocols
        assert app.model.dns.total > 500
        assert app.model.status.clock is not None


async def test_routers_are_marked(make_app: MakeApp) -> None:
    app = make_app("demo")
    async with app.run_test(size=(140, 44)) as pilot:
        await wait_finished(pilot, app)
        assert app.model is not None
        routers = [row.cells[0] for row in app.model.devices.rows if "router" in row.flags]
        assert "Technicolor f1:39:76" in routers
        assert "Lucas-iPhone" not in routers


async def test_a_damaged_capture_is_reported_in_a_notification(make_app: MakeApp) -> None:
    app = make_app("suricata-verify_smtp-to-comma_corrupt.pcap")
    notes: list[tuple[str, str, str]] = []
    original = app.notify

    def notify(message: str, *, title: str = "", severity: str = "information", **more: object) -> None:
        notes.append((title, message, severity))
        original(message, title=title, severity=severity, **more)  # type: ignore[arg-type]

    app.notify = notify  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_finished(pilot, app)
        assert app.model is not None and app.model.status.packets == 18
        problems = [n for n in notes if n[0] == "Capture problem"]
        assert len(problems) == 1 and problems[0][2] == "warning"
        assert "corrupt" in problems[0][1] or "damaged" in problems[0][1]
        await pilot.pause(0.5)
        assert len([n for n in notes if n[0] == "Capture problem"]) == 1  # told once, not every refresh


class BrokenFeed:
    """A feed whose engine has gone away."""

    paused = False
    speed = None

    def start(self) -> None: ...
    def stop(self, timeout: float = 1.0) -> None: ...
    def set_paused(self, paused: bool) -> None:
        raise EngineProcessError("the engine process ended (exit code -9)")

    def set_speed(self, speed: float | None) -> None: ...
    def progress(self) -> object:
        raise EngineProcessError("the engine process ended (exit code -9)")

    def model(self, request: object) -> object:
        raise EngineProcessError("the engine process ended (exit code -9)")


async def test_an_engine_failure_is_a_notification_not_a_crash() -> None:
    app = HomescopeApp(BrokenFeed(), tz=dt.UTC, stable=True)  # type: ignore[arg-type]
    notes: list[tuple[str, str]] = []
    original = app.notify

    def notify(message: str, *, title: str = "", **more: object) -> None:
        notes.append((title, message))
        original(message, title=title, **more)  # type: ignore[arg-type]

    app.notify = notify  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: bool(notes), "the notification")
        await pilot.press("space")
        await pilot.pause(0.3)
        assert app.is_running
        assert notes == [("The analysis stopped", "the engine process ended (exit code -9)")]  # once
