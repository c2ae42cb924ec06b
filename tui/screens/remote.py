"""One remote address: its passive names and their sources, organisation and country from the offline
database, the devices that talk to it, its timeline and its flows. `w` asks the registries (RDAP/whois)
and reverse DNS about it: the only key that sends the address out, and it says so."""

from __future__ import annotations

import datetime as dt

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Container
from textual.content import Content
from textual.widgets import DataTable, Footer, Static

from tui.actions import bindings_for
from tui.model.formatting import sparkline_text
from tui.model.investigation import FLOW_COLUMNS, REMOTE_DEVICE_COLUMNS, InvestigationModel, RemoteDetail
from tui.screens.investigation_screen import InvestigationScreen
from tui.widgets.device_facts import DeviceFacts
from tui.widgets.keyed_table import KeyedTable
from tui.widgets.status_bar import StatusBar


def lookup_text(result: object) -> Content:
    """An online lookup's answer (an engine.enrich.online.LookupResult) as lines for people."""
    r = result
    status = getattr(r, "status", "error")
    if status != "ok":
        hint = " Are you offline?" if status in ("timeout", "error") else ""
        return Content.styled(f"Online lookup: {getattr(r, 'message', '')}.{hint}", "$text-warning")
    parts = [
        ("AS", " ".join(x for x in (getattr(r, "asn", None), getattr(r, "asn_description", None)) if x)),
        (
            "Network",
            " ".join(x for x in (getattr(r, "network_name", None), getattr(r, "network_cidr", None)) if x),
        ),
        ("Organisation", getattr(r, "organisation", None) or ""),
        ("Reverse DNS", ", ".join(getattr(r, "reverse_names", ()) or ()) or "no PTR name"),
    ]
    cached = " (cached)" if getattr(r, "cached", False) else ""
    lines = [
        Content.styled(f"Online lookup{cached}, registry {getattr(r, 'registry', None) or '?'}:", "bold")
    ]
    lines += [Content.assemble((f"{what:<13}", "$text-muted"), value) for what, value in parts if value]
    return Content("\n").join(lines)


class RemoteScreen(InvestigationScreen):
    SCOPE = "remote"
    BINDINGS = bindings_for("remote")

    def __init__(self, address: str, *, tz: dt.tzinfo, stable: bool = False) -> None:
        super().__init__(tz=tz, stable=stable)
        self.address = address
        self.detail: RemoteDetail | None = None

    def request_changes(self) -> dict[str, object]:
        return {"detail_remote": self.address}

    def release_changes(self) -> dict[str, object]:
        return {"detail_remote": None}

    def compose(self) -> ComposeResult:
        yield StatusBar(tz=self.tz, stable=self.stable)
        yield DeviceFacts(id="remote-facts")
        yield Static(id="remote-activity")
        yield Static(id="remote-lookup")
        with Container(id="remote-panes"):
            yield KeyedTable(REMOTE_DEVICE_COLUMNS, id="remote-devices", classes="pane")
            yield KeyedTable(FLOW_COLUMNS, id="remote-flows", classes="pane")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#remote-facts").border_title = self.address
        self.query_one("#remote-activity").border_title = "Traffic by flow start"
        self.query_one("#remote-devices").border_title = "Devices"
        self.query_one("#remote-flows").border_title = "Flows"
        self.query_one("#remote-flows").focus()
        super().on_mount()

    def show_investigation(self, model: InvestigationModel) -> None:
        detail = model.remote
        if detail is None or detail.address != self.address:
            return  # the model for this remote is on its way
        self.detail = detail
        facts = self.query_one(DeviceFacts)
        facts.border_title = (
            f"{detail.title} ({detail.address})" if detail.title != detail.address else detail.address
        )
        if not detail.found:
            facts.border_title += " (not seen as a remote in this capture)"
        facts.show(detail.facts)
        activity = self.query_one("#remote-activity", Static)
        width = max(10, activity.size.width - 2) if activity.size.width else 60
        values = detail.activity.values[-width:]
        activity.update(sparkline_text(values) if values else "")
        per = detail.activity.resolution
        activity.border_subtitle = f"{per // 60} min a character" if values else ""
        devices = self.query_one("#remote-devices", KeyedTable)
        devices.sync(detail.devices.rows)
        devices.border_title = f"Devices ({detail.devices.matched:,})"
        flows = self.query_one("#remote-flows", KeyedTable)
        flows.sync(detail.flows.table.rows)
        flows.border_title = f"Flows ({detail.flows.table.matched:,})"

    # ---- keys ----------------------------------------------------------------------------------------

    def action_next_pane(self) -> None:
        devices = self.query_one("#remote-devices")
        (self.query_one("#remote-flows") if devices.has_focus else devices).focus()

    def action_open_row(self) -> None:
        focused = self.focused
        if isinstance(focused, KeyedTable) and focused.id == "remote-devices":
            key = focused.cursor_key
            if key is not None and key != "-1":
                self.homescope.open_device(key)
        elif isinstance(focused, KeyedTable) and self.detail is not None:
            flow = self.detail.flows.endpoint(focused.cursor_key)
            if flow is not None:
                self.homescope.open_packets(flow)

    @on(DataTable.RowSelected)
    def _selected(self) -> None:
        self.action_open_row()

    def action_whois(self) -> None:
        self.query_one("#remote-lookup", Static).update(
            Content.styled(f"Asking the registries and reverse DNS about {self.address}…", "$text-muted")
        )
        self.query_one("#remote-lookup").add_class("-shown")
        self._lookup(self.address)

    @work(thread=True, exclusive=True, group="whois", exit_on_error=False)
    def _lookup(self, address: str) -> None:
        try:
            result = self.homescope.online_lookup(address)
            text = lookup_text(result)
        except Exception as err:  # a lookup never takes the screen down
            text = Content.styled(f"Online lookup failed: {err}", "$text-error")
        self.app.call_from_thread(self._show_lookup, text)

    def _show_lookup(self, text: Content) -> None:
        self.query_one("#remote-lookup", Static).update(text)
