"""The flow list, filtered with `/` (by device, remote, server name, address or protocol), and the
countries of all remotes."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.widgets import DataTable, Footer

from tui.actions import bindings_for
from tui.model.investigation import COUNTRY_COLUMNS, FLOW_COLUMNS, FlowsModel, InvestigationModel
from tui.screens.investigation_screen import InvestigationScreen
from tui.widgets.filter_bar import FilterBar
from tui.widgets.keyed_table import KeyedTable
from tui.widgets.status_bar import StatusBar


class FlowsScreen(InvestigationScreen):
    SCOPE = "flows"
    BINDINGS = bindings_for("flows")

    flows: FlowsModel | None = None

    def request_changes(self) -> dict[str, object]:
        return {"flows_open": True}

    def release_changes(self) -> dict[str, object]:
        return {"flows_open": False, "flow_filter": ""}

    def compose(self) -> ComposeResult:
        yield StatusBar(tz=self.tz, stable=self.stable)
        yield KeyedTable(FLOW_COLUMNS, id="flows", classes="pane")
        yield FilterBar(id="flows-filter")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one("#flows", KeyedTable)
        table.border_title = "Flows"
        table.focus()
        super().on_mount()

    def show_investigation(self, model: InvestigationModel) -> None:
        if model.flows is None:
            return
        self.flows = model.flows
        table = self.query_one("#flows", KeyedTable)
        table.sync(model.flows.table.rows)
        t = model.flows.table
        needle = self.homescope.request.flow_filter
        what = f"Flows · {needle!r}" if needle else "Flows"
        table.border_title = f"{what} ({t.matched:,} of {t.total:,})" if needle else f"{what} ({t.total:,})"
        table.border_subtitle = f"showing the {len(t.rows)} largest" if len(t.rows) < t.matched else ""

    def action_filter(self) -> None:
        self.query_one(FilterBar).open("flows", "flows", self.homescope.request.flow_filter)

    @on(FilterBar.Applied)
    def _applied(self, event: FilterBar.Applied) -> None:
        self.homescope.update_request(flow_filter=event.text)

    @on(FilterBar.Closed)
    def _closed(self) -> None:
        self.query_one("#flows").focus()

    def action_back(self) -> None:
        if self.homescope.request.flow_filter:
            self.homescope.update_request(flow_filter="")
            return
        super().action_back()

    def _selected_flow(self) -> object:
        if self.flows is None:
            return None
        return self.flows.endpoint(self.query_one("#flows", KeyedTable).cursor_key)

    @on(DataTable.RowSelected, "#flows")
    def _selected(self) -> None:
        self.action_packets()

    def action_packets(self) -> None:
        if self.flows is not None:
            flow = self.flows.endpoint(self.query_one("#flows", KeyedTable).cursor_key)
            if flow is not None:
                self.homescope.open_packets(flow)

    def action_open_remote(self) -> None:
        if self.flows is not None:
            flow = self.flows.endpoint(self.query_one("#flows", KeyedTable).cursor_key)
            if flow is not None:
                self.homescope.open_remote(flow.server)


class CountriesScreen(InvestigationScreen):
    SCOPE = "countries"
    BINDINGS = bindings_for("countries")

    def request_changes(self) -> dict[str, object]:
        return {"countries_open": True}

    def release_changes(self) -> dict[str, object]:
        return {"countries_open": False}

    def compose(self) -> ComposeResult:
        yield StatusBar(tz=self.tz, stable=self.stable)
        yield KeyedTable(COUNTRY_COLUMNS, id="countries", classes="pane")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one("#countries", KeyedTable)
        table.border_title = "Countries of the remotes (offline database)"
        table.focus()
        super().on_mount()

    def show_investigation(self, model: InvestigationModel) -> None:
        if model.countries is None:
            return
        table = self.query_one("#countries", KeyedTable)
        table.sync(model.countries.rows)
        table.border_title = f"Countries of the remotes ({model.countries.total:,}), most bytes first"
