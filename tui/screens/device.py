"""One device: who it is, its traffic over time, the remotes it talks to, the names it looks up and its
protocols. Updated live like the dashboard; Escape goes back."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, cast

from textual.app import ComposeResult
from textual.containers import Container
from textual.events import DescendantFocus, Resize
from textual.screen import Screen
from textual.widgets import Footer

from tui.actions import bindings_for
from tui.model.dashboard import DETAIL_DNS_COLUMNS, DETAIL_REMOTE_COLUMNS, DashboardModel
from tui.model.investigation import device_extra_facts
from tui.widgets.device_facts import DeviceFacts
from tui.widgets.device_protocols import DeviceProtocols
from tui.widgets.keyed_table import KeyedTable
from tui.widgets.pane_tabs import PaneTabs
from tui.widgets.status_bar import StatusBar
from tui.widgets.traffic_chart import TrafficChart

if TYPE_CHECKING:
    from tui.app import HomescopeApp

PANES = (("device-remotes", "Remotes"), ("device-dns", "DNS names"), ("device-protocols", "Protocols"))
COMPACT_WIDTH = 140
SHORT_HEIGHT = 36  # below this, the facts box gets fewer lines (and more columns)


class DeviceScreen(Screen[None]):
    BINDINGS = bindings_for("device")

    def __init__(self, key: str, *, tz: dt.tzinfo, stable: bool = False) -> None:
        super().__init__()
        self.key = key
        self.tz = tz
        self.stable = stable
        self.shown_pane = PANES[0][0]

    @property
    def homescope(self) -> HomescopeApp:
        return cast("HomescopeApp", self.app)

    def compose(self) -> ComposeResult:
        yield StatusBar(tz=self.tz, stable=self.stable)
        yield DeviceFacts(id="device-facts")
        yield TrafficChart(tz=self.tz, id="device-chart")
        yield PaneTabs(PANES, id="device-tabs")
        with Container(id="device-panes"):
            yield KeyedTable(DETAIL_REMOTE_COLUMNS, id="device-remotes", classes="pane")
            yield KeyedTable(DETAIL_DNS_COLUMNS, id="device-dns", classes="pane")
            yield DeviceProtocols(id="device-protocols", classes="pane")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#device-facts").border_title = self.key
        self.query_one("#device-chart").border_title = "Traffic down and up"
        self._show_pane(self.shown_pane)
        self.query_one("#device-remotes").focus()
        self.homescope.update_request(detail_device=self.key)

    def on_resize(self, event: Resize) -> None:
        compact = event.size.width < COMPACT_WIDTH or event.size.height < 30
        short = event.size.height < SHORT_HEIGHT
        self.set_class(compact, "-compact")
        self.set_class(short, "-short")
        # the facts box's inner lines: its max-height (device.tcss, DeviceFacts) less the border
        self.query_one(DeviceFacts).set_max_lines(3 if short else 6)

    def on_screen_resume(self) -> None:
        self.homescope.update_request(detail_device=self.key)  # a screen opened from here may have changed it
        model = self.homescope.model
        if model is not None:
            self.show_model(model)

    def show_model(self, model: DashboardModel) -> None:
        self.query_one(StatusBar).show(model.status)
        detail = model.detail
        if detail is None or detail.key != self.key:
            return  # the model asked for this device is on its way
        facts = self.query_one(DeviceFacts)
        facts.border_title = detail.name if detail.found else f"{self.key} (not seen in this capture)"
        facts.show(detail.facts + device_extra_facts(model.investigation, self.key))
        chart = self.query_one(TrafficChart)
        chart.show([("down", detail.down), ("up", detail.up)])
        per = {60: "per minute", 900: "per 15 min", 3600: "per hour"}.get(detail.down.resolution, "")
        chart.border_subtitle = f"{chart.unit} {per}"
        remotes = self.query_one("#device-remotes", KeyedTable)
        remotes.sync(detail.remotes.rows)
        remotes.border_title = f"Remotes ({detail.remotes.matched:,})"
        names = self.query_one("#device-dns", KeyedTable)
        names.sync(detail.dns_names.rows)
        names.border_title = f"DNS names ({detail.dns_names.matched:,})"
        self.query_one(DeviceProtocols).show(detail.protocols)

    def _show_pane(self, pane_id: str) -> None:
        self.shown_pane = pane_id
        for other, _ in PANES:
            self.query_one(f"#{other}").set_class(other == pane_id, "-shown")
        self.query_one(PaneTabs).active = pane_id

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        focused = self.focused
        while focused is not None and focused.id not in dict(PANES):
            focused = focused.parent  # type: ignore[assignment]
        if focused is not None and focused.id != self.shown_pane:
            self._show_pane(str(focused.id))

    def action_next_pane(self) -> None:
        ids = [pane_id for pane_id, _ in PANES]
        current = self.shown_pane if self.shown_pane in ids else ids[0]
        target = ids[(ids.index(current) + 1) % len(ids)]
        self._show_pane(target)
        self.query_one(f"#{target}").focus()

    def action_label_device(self) -> None:
        model = self.homescope.model
        label = model.detail.name if model is not None and model.detail is not None else ""
        self.homescope.label_device(self.key, label)

    def action_open_remote(self) -> None:
        address = self.query_one("#device-remotes", KeyedTable).cursor_key
        if address is not None:
            self.homescope.open_remote(address)

    def action_back(self) -> None:
        self.homescope.update_request(detail_device=None)
        self.app.pop_screen()
