"""The dashboard: devices, protocols, traffic timelines, the DNS log and top remotes.

On a large terminal every pane is visible at once; on a small one (80x24) the device table stays on top
and the other panes take turns below it, switched with Tab.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import TYPE_CHECKING, cast

from textual import on
from textual.app import ComposeResult
from textual.containers import Container
from textual.events import DescendantFocus, Resize
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer

from tui.actions import bindings_for
from tui.model.dashboard import DashboardModel
from tui.widgets.device_table import DeviceTable
from tui.widgets.dns_log import DnsLog
from tui.widgets.filter_bar import FilterBar
from tui.widgets.pane_tabs import PaneTabs
from tui.widgets.protocol_bars import ProtocolBars
from tui.widgets.remotes_table import RemotesTable
from tui.widgets.status_bar import StatusBar
from tui.widgets.timelines import Timelines

if TYPE_CHECKING:
    from tui.app import HomescopeApp

PANES = ("devices", "protocols", "timeline", "dns", "remotes")
LOWER_PANES = (
    ("protocols", "Protocols"),
    ("timeline", "Traffic"),
    ("dns", "DNS log"),
    ("remotes", "Remotes"),
)
COMPACT_WIDTH = 120  # below this width or height, the lower panes take turns
COMPACT_HEIGHT = 36
FILTER_TITLES = {"devices": "devices", "dns": "the DNS log", "remotes": "remotes"}
FILTER_FIELDS = {"devices": "device_filter", "dns": "dns_filter", "remotes": "remote_filter"}


class DashboardScreen(Screen[None]):
    BINDINGS = bindings_for("dashboard")

    def __init__(self, *, tz: dt.tzinfo, stable: bool = False) -> None:
        super().__init__()
        self.tz = tz
        self.stable = stable
        self.lower = "protocols"  # the lower pane shown on a small terminal
        self.model: DashboardModel | None = None

    @property
    def homescope(self) -> HomescopeApp:
        return cast("HomescopeApp", self.app)

    def compose(self) -> ComposeResult:
        yield StatusBar(tz=self.tz, stable=self.stable)
        with Container(id="panes"):
            yield DeviceTable(id="devices", classes="pane")
            yield PaneTabs(LOWER_PANES, id="pane-tabs")
            yield ProtocolBars(id="protocols", classes="pane lower")
            yield Timelines(tz=self.tz, id="timeline", classes="pane lower")
            yield DnsLog(id="dns", classes="pane lower")
            yield RemotesTable(id="remotes", classes="pane lower")
        yield FilterBar(id="filter")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self._show_lower(self.lower)
        self.query_one(DeviceTable).focus()
        if self.homescope.model is not None:
            self.show_model(self.homescope.model)

    def on_resize(self, event: Resize) -> None:
        compact = event.size.width < COMPACT_WIDTH or event.size.height < COMPACT_HEIGHT
        if compact != self.has_class("-compact"):
            self.set_class(compact, "-compact")
            if self.model is not None and not compact:
                for pane_id, _ in LOWER_PANES:  # they were hidden: bring them up to date
                    self._update_lower(pane_id, self.model)

    # ---- the model ------------------------------------------------------------------------------------

    def show_model(self, model: DashboardModel) -> None:
        """Update the visible panes from a new model (the app calls this inside a batch update); a hidden
        pane catches up when it is shown."""
        if not self.query(StatusBar):  # not composed yet (a quick first model): on_mount shows it
            return
        self.model = model
        self.query_one(StatusBar).show(model.status)
        self.query_one(DeviceTable).show(model.devices)
        # the other panes a moment later: a key pressed meanwhile is handled in between
        self.call_later(self._update_lower_panes, model)

    def _update_lower_panes(self, model: DashboardModel) -> None:
        if model is not self.model:
            return  # a newer model is on its way
        with self.app.batch_update():
            for pane_id, _ in LOWER_PANES:
                if self.pane(pane_id).display:
                    self._update_lower(pane_id, model)

    def _update_lower(self, pane_id: str, model: DashboardModel) -> None:
        if pane_id == "protocols":
            self.query_one(ProtocolBars).show(model.protocols)
        elif pane_id == "timeline":
            self.query_one(Timelines).show(model.timeline)
        elif pane_id == "dns":
            self.query_one(DnsLog).show(model.dns)
        elif pane_id == "remotes":
            self.query_one(RemotesTable).show(model.remotes)

    def on_screen_resume(self) -> None:
        model = self.homescope.model
        if model is not None:
            with self.app.batch_update():
                self.show_model(model)

    # ---- panes ----------------------------------------------------------------------------------------

    def pane(self, name: str) -> Widget:
        return self.query_one(f"#{name}")

    def focused_pane(self) -> str:
        node = self.focused
        while node is not None:
            if node.id in PANES:
                return str(node.id)
            node = node.parent  # type: ignore[assignment]
        return "devices"

    def _show_lower(self, name: str) -> None:
        self.lower = name
        for pane_id, _ in LOWER_PANES:
            self.pane(pane_id).set_class(pane_id == name, "-shown")
        self.query_one(PaneTabs).active = name
        if self.model is not None:
            self._update_lower(name, self.model)

    def _go_to(self, name: str) -> None:
        if name != "devices":
            self._show_lower(name)
        if self.maximized is not None:
            self.maximize(self.pane(name))
        self.pane(name).focus()

    def action_next_pane(self) -> None:
        self._go_to(PANES[(PANES.index(self.focused_pane()) + 1) % len(PANES)])

    def action_previous_pane(self) -> None:
        self._go_to(PANES[(PANES.index(self.focused_pane()) - 1) % len(PANES)])

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        name = self.focused_pane()
        if name not in ("devices", self.lower):
            self._show_lower(name)

    def action_zoom(self) -> None:
        if self.maximized is not None:
            self.minimize()
        else:
            self.maximize(self.pane(self.focused_pane()))

    def action_follow_dns(self) -> None:
        self._go_to("dns")
        self.query_one(DnsLog).follow()

    # ---- devices --------------------------------------------------------------------------------------

    @on(DeviceTable.RowHighlighted, "#devices")
    def _device_highlighted(self, event: DeviceTable.RowHighlighted) -> None:
        key = self.query_one(DeviceTable).key_of(event.row_key.value if event.row_key is not None else None)
        if key is not None:  # None: the table was emptied
            self.homescope.update_request(selected_device=key, soon=False)

    @on(DeviceTable.SortChanged)
    def _sort_changed(self, event: DeviceTable.SortChanged) -> None:
        self.homescope.update_request(device_sort=event.column, device_sort_reverse=event.reverse)

    @on(DeviceTable.DeviceChosen)
    def _device_chosen(self, event: DeviceTable.DeviceChosen) -> None:
        self.homescope.open_device(event.key)

    # ---- filters --------------------------------------------------------------------------------------

    def action_filter(self) -> None:
        target = self.focused_pane()
        if target not in FILTER_TITLES:
            target = "devices"
        current = getattr(self.homescope.request, FILTER_FIELDS[target])
        self.query_one(FilterBar).open(target, FILTER_TITLES[target], current)

    @on(FilterBar.Applied)
    def _filter_applied(self, event: FilterBar.Applied) -> None:
        self._set_filter(event.target, event.text)

    @on(FilterBar.Closed)
    def _filter_closed(self, event: FilterBar.Closed) -> None:
        self._go_to(event.target)

    def _set_filter(self, target: str, text: str) -> None:
        if target == "dns":
            dns = self.query_one(DnsLog)
            dns.filter_text = text
            dns.following = True
        elif target == "remotes":
            self.query_one(RemotesTable).filter_text = text
        request = self.homescope.request
        if target == "devices":
            request = replace(request, device_filter=text)
        elif target == "dns":
            request = replace(request, dns_filter=text)
        else:
            request = replace(request, remote_filter=text)
        self.homescope.set_request(request)

    def action_clear_filter(self) -> None:
        if self.maximized is not None:
            self.minimize()
            return
        for target, field in FILTER_FIELDS.items():
            if getattr(self.homescope.request, field):
                self._set_filter(target, "")
