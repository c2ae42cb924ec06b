"""The investigation models: findings with their evidence, flows (with the 5-tuple a packet drill-down
needs), one remote in depth and the countries of all remotes. Immutable and picklable, like the dashboard
model they travel in."""

from __future__ import annotations

from dataclasses import dataclass, field

from tui.model.dashboard import ColumnSpec, Series, TableModel

FINDING_COLUMNS = (
    ColumnSpec("severity", "Severity", 8),
    ColumnSpec("kind", "Kind", 22),
    ColumnSpec("device", "Device", 20),
    ColumnSpec("remote", "Remote", 24),
    ColumnSpec("explanation", "Explanation", 80),
)

FLOW_COLUMNS = (
    ColumnSpec("device", "Device", 18),
    ColumnSpec("remote", "Remote", 26),
    ColumnSpec("protocol", "Protocol", 9),
    ColumnSpec("bytes", "Bytes", 8, numeric=True),
    ColumnSpec("packets", "Pkts", 6, numeric=True),
    ColumnSpec("first", "First", 8),
    ColumnSpec("client", "Client", 22),
    ColumnSpec("server", "Server", 22),
    ColumnSpec("serial", "#", 5, numeric=True),
)

REMOTE_DEVICE_COLUMNS = (
    ColumnSpec("name", "Device", 24),
    ColumnSpec("flows", "Flows", 6, numeric=True),
    ColumnSpec("bytes", "Bytes", 9, numeric=True),
)

COUNTRY_COLUMNS = (
    ColumnSpec("country", "Country", 26),
    ColumnSpec("bytes", "Bytes", 9, numeric=True),
    ColumnSpec("remotes", "Remotes", 8, numeric=True),
    ColumnSpec("devices", "Devices", 8, numeric=True),
    ColumnSpec("top", "Top organisations", 40),
)


@dataclass(frozen=True, slots=True)
class FlowEndpoints:
    """What identifies a flow's packets in a capture file: its 5-tuple and when it was seen."""

    serial: int
    protocol: str  # TCP, UDP, ICMP, ...
    client: str
    client_port: int
    server: str
    server_port: int
    first_ts: float | None
    last_ts: float | None


@dataclass(frozen=True, slots=True)
class FlowsModel:
    """Flows as table rows (keyed by serial) and their endpoints, by the same key."""

    table: TableModel = field(default_factory=TableModel)
    endpoints: tuple[tuple[str, FlowEndpoints], ...] = ()

    def endpoint(self, key: str | None) -> FlowEndpoints | None:
        return next((e for k, e in self.endpoints if k == key), None)


@dataclass(frozen=True, slots=True)
class FindingRow:
    key: str
    severity: str  # info, notice, warning
    title: str
    device_key: str | None
    device_name: str | None
    remote_address: str | None
    remote_name: str | None
    explanation: str
    when: str  # "first to last", in the chosen time zone
    flows: FlowsModel  # the evidence flows still in the snapshot
    flow_count: int  # all the flows the rule counted
    dns_names: tuple[str, ...]
    bins: tuple[str, ...]  # time bins, as text
    details: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class FindingsModel:
    rows: tuple[FindingRow, ...] = ()
    table: TableModel = field(default_factory=TableModel)
    evaluated: bool = False  # False until the rules have run once
    final: bool = False  # evaluated over the whole (finished) capture

    def row(self, key: str | None) -> FindingRow | None:
        return next((r for r in self.rows if r.key == key), None)

    def of_device(self, device_key: str) -> tuple[FindingRow, ...]:
        return tuple(r for r in self.rows if r.device_key == device_key)


@dataclass(frozen=True, slots=True)
class RemoteDetail:
    address: str
    title: str  # its best name, else the address
    facts: tuple[tuple[str, str], ...]
    activity: Series  # bytes per second by flow start time
    devices: TableModel
    flows: FlowsModel
    found: bool = True


@dataclass(frozen=True, slots=True)
class InvestigationModel:
    """What the investigation screens show; parts not asked for stay empty."""

    findings: FindingsModel = field(default_factory=FindingsModel)
    flows: FlowsModel | None = None  # when the flow list is open
    remote: RemoteDetail | None = None  # when a remote screen is open
    countries: TableModel | None = None  # when the countries screen is open
    device_hours: tuple[int, ...] = ()  # bytes by hour of day of the opened device (24 values)
    device_resolvers: tuple[str, ...] = ()  # the resolvers the opened device asked


def device_extra_facts(model: InvestigationModel | None, device_key: str) -> tuple[tuple[str, str], ...]:
    """Lines the device screen adds to its facts: activity by hour of day, resolvers, findings."""
    if model is None:
        return ()
    from tui.model.formatting import sparkline_text

    facts = []
    if any(model.device_hours):
        busiest = max(range(24), key=lambda h: model.device_hours[h])
        facts.append(("Hours", f"0h {sparkline_text(model.device_hours)} 23h · busiest {busiest:02d}:00"))
    if model.device_resolvers:
        facts.append(("Resolvers", ", ".join(model.device_resolvers[:3])))
    mine = model.findings.of_device(device_key)
    if mine:
        shown = ", ".join(f"{r.title} ({r.severity})" for r in mine[:3])
        facts.append(("Findings", shown + (f" +{len(mine) - 3}" if len(mine) > 3 else "") + " · F lists all"))
    return tuple(facts)
