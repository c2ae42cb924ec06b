"""The findings, most severe first (kind, severity, device, remote, a one-line explanation), and one
finding with its evidence: the flows, DNS names and time bins behind it, with keys to its device, its
remote and the packets of an evidence flow."""

from __future__ import annotations

import datetime as dt

from rich.style import Style
from textual import on
from textual.app import ComposeResult
from textual.content import Content
from textual.widgets import DataTable, Footer, Static

from tui.actions import bindings_for
from tui.model.dashboard import TableRow
from tui.model.investigation import FINDING_COLUMNS, FLOW_COLUMNS, FindingRow, InvestigationModel
from tui.screens.investigation_screen import InvestigationScreen
from tui.widgets.keyed_table import KeyedTable
from tui.widgets.status_bar import StatusBar


class FindingsTable(KeyedTable):
    COMPONENT_CLASSES = KeyedTable.COMPONENT_CLASSES | {"findings--warning", "findings--notice"}
    DEFAULT_CSS = """
    FindingsTable > .findings--warning {
        color: $text-error;
        text-style: bold;
    }
    FindingsTable > .findings--notice {
        color: $text-warning;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(FINDING_COLUMNS, id=id, classes=classes)

    def row_style(self, row: TableRow) -> Style | None:
        for severity in ("warning", "notice"):
            if severity in row.flags:
                return self.component_style(f"findings--{severity}")
        return None


class FindingsScreen(InvestigationScreen):
    SCOPE = "findings"
    BINDINGS = bindings_for("findings")

    def compose(self) -> ComposeResult:
        yield StatusBar(tz=self.tz, stable=self.stable)
        yield FindingsTable(id="findings", classes="pane")
        yield Static(id="finding-summary", classes="pane")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one(FindingsTable)
        table.border_title = "Findings (waiting for the first evaluation)"
        table.focus()
        super().on_mount()

    def show_investigation(self, model: InvestigationModel) -> None:
        findings = model.findings
        table = self.query_one(FindingsTable)
        table.sync(findings.table.rows)
        if not findings.evaluated:
            return
        state = "" if findings.final else " · updated every few seconds"
        table.border_title = f"Findings ({len(findings.rows):,}), most severe first{state}"
        if not findings.rows:
            table.border_subtitle = "no rule fired: nothing odd found so far"
        self._summarise()

    def current(self) -> FindingRow | None:
        model = self.homescope.model
        if model is None or model.investigation is None:
            return None
        return model.investigation.findings.row(self.query_one(FindingsTable).cursor_key)

    @on(DataTable.RowHighlighted, "#findings")
    def _summarise(self) -> None:
        row = self.current()
        summary = self.query_one("#finding-summary", Static)
        if row is None:
            summary.update("")
            return
        summary.border_title = f"{row.title} · {row.severity}"
        summary.update(Content(row.explanation))

    @on(DataTable.RowSelected, "#findings")
    def _selected(self) -> None:
        self.action_open_finding()

    def action_open_finding(self) -> None:
        row = self.current()
        if row is not None:
            self.app.push_screen(FindingScreen(row, tz=self.tz, stable=self.stable))


class FindingScreen(InvestigationScreen):
    """One finding: what, when, the DNS names and time bins, and the flows (Enter: their packets)."""

    SCOPE = "finding"
    BINDINGS = bindings_for("finding")

    def __init__(self, row: FindingRow, *, tz: dt.tzinfo, stable: bool = False) -> None:
        super().__init__(tz=tz, stable=stable)
        self.row = row

    def compose(self) -> ComposeResult:
        yield StatusBar(tz=self.tz, stable=self.stable)
        yield Static(self._evidence_text(), id="finding-evidence", classes="pane")
        yield KeyedTable(FLOW_COLUMNS, id="finding-flows", classes="pane")
        yield Footer(compact=True, show_command_palette=False)

    def _evidence_text(self) -> Content:
        r = self.row
        lines = [
            Content(r.explanation),
            Content.assemble(("When      ", "$text-muted"), r.when),
        ]
        if r.device_name:
            lines.append(Content.assemble(("Device    ", "$text-muted"), f"{r.device_name} ({r.device_key})"))
        if r.remote_address or r.remote_name:
            remote = " ".join(x for x in (r.remote_name, r.remote_address) if x)
            lines.append(Content.assemble(("Remote    ", "$text-muted"), remote))
        if r.dns_names:
            lines.append(Content.assemble(("DNS names ", "$text-muted"), ", ".join(r.dns_names[:12])))
        if r.bins:
            more = f" +{len(r.bins) - 6}" if len(r.bins) > 6 else ""
            lines.append(Content.assemble(("Time bins ", "$text-muted"), ", ".join(r.bins[:6]) + more))
        if r.details:
            details = ", ".join(f"{k} {v}" for k, v in r.details[:8])
            lines.append(Content.assemble(("Details   ", "$text-muted"), details))
        return Content("\n").join(lines)

    def on_mount(self) -> None:
        evidence = self.query_one("#finding-evidence", Static)
        evidence.border_title = f"{self.row.title} · {self.row.severity}"
        flows = self.query_one("#finding-flows", KeyedTable)
        flows.sync(self.row.flows.table.rows)
        shown = len(self.row.flows.table.rows)
        flows.border_title = f"Evidence flows ({shown:,} of {self.row.flow_count:,})"
        if not shown:
            flows.border_subtitle = "no flows behind this finding are still kept"
        flows.focus()
        super().on_mount()

    def action_open_device(self) -> None:
        if self.row.device_key is None:
            self.notify("This finding is not about one device.", timeout=3)
            return
        self.homescope.open_device(self.row.device_key)

    def action_open_remote(self) -> None:
        address = self.row.remote_address
        flow = self.row.flows.endpoint(self.query_one("#finding-flows", KeyedTable).cursor_key)
        if address is None and flow is not None:
            address = flow.server
        if address is None:
            self.notify("This finding has no single remote.", timeout=3)
            return
        self.homescope.open_remote(address)

    @on(DataTable.RowSelected, "#finding-flows")
    def _selected(self) -> None:
        self.action_packets()

    def action_packets(self) -> None:
        flow = self.row.flows.endpoint(self.query_one("#finding-flows", KeyedTable).cursor_key)
        if flow is not None:
            self.homescope.open_packets(flow)
