"""The dashboard model: one immutable value per refresh, holding every row and series the screens show.

Rows carry their display text already formatted (built in a worker, not on the UI thread) and a sort
value per column; tables update themselves from them by row key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.model.investigation import InvestigationModel

# ---- tables ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    key: str
    label: str
    width: int
    numeric: bool = False  # right-aligned, and sorted largest first unless reversed


@dataclass(frozen=True, slots=True)
class TableRow:
    key: str
    cells: tuple[str, ...]
    flags: frozenset[str] = frozenset()  # "new", "router", ... (styled by the table)


@dataclass(frozen=True, slots=True)
class TableModel:
    rows: tuple[TableRow, ...] = ()  # in display order, capped
    matched: int = 0  # rows that matched the filter before the cap
    total: int = 0  # rows there are without a filter


DEVICE_COLUMNS = (
    ColumnSpec("name", "Device", 20),
    ColumnSpec("down", "Down", 8, numeric=True),
    ColumnSpec("up", "Up", 8, numeric=True),
    ColumnSpec("rate", "Rate", 9, numeric=True),
    ColumnSpec("activity", "Activity", 12),
    ColumnSpec("last", "Last seen", 9, numeric=True),
    ColumnSpec("vendor", "Vendor", 18),
    ColumnSpec("mac", "MAC", 17),
    ColumnSpec("addresses", "Addresses", 30),
)
ACTIVITY_MINUTES = 12  # one character per minute in the device table

REMOTE_COLUMNS = (
    ColumnSpec("name", "Remote", 28),
    ColumnSpec("down", "Down", 8, numeric=True),
    ColumnSpec("up", "Up", 8, numeric=True),
    ColumnSpec("devices", "Devices", 20),
    ColumnSpec("org", "Organisation", 18),
    ColumnSpec("country", "Country", 7),
    ColumnSpec("address", "Address", 26),
    ColumnSpec("protocols", "Protocols", 20),
)

DNS_COLUMNS = (
    ColumnSpec("time", "Time", 8),
    ColumnSpec("device", "Device", 14),
    ColumnSpec("name", "Name", 28),
    ColumnSpec("type", "Type", 5),
    ColumnSpec("answer", "Answer", 28),
    ColumnSpec("latency", "ms", 5, numeric=True),
    ColumnSpec("kind", "Via", 5),
)

DETAIL_REMOTE_COLUMNS = (
    ColumnSpec("name", "Remote", 28),
    ColumnSpec("down", "Down", 8, numeric=True),
    ColumnSpec("up", "Up", 8, numeric=True),
    ColumnSpec("protocols", "Protocols", 16),
    ColumnSpec("org", "Organisation", 18),
    ColumnSpec("country", "Country", 7),
    ColumnSpec("address", "Address", 26),
)

DETAIL_DNS_COLUMNS = (
    ColumnSpec("name", "Name", 32),
    ColumnSpec("type", "Type", 5),
    ColumnSpec("queries", "Asked", 6, numeric=True),
    ColumnSpec("answer", "Answer", 28),
    ColumnSpec("last", "Last", 8),
)


# ---- the other panes -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusModel:
    source: str  # the capture file name, "+N" when there are several
    mode: str  # replay, live, follow
    clock: float | None  # packet time of the newest packet
    speed: float | None  # None: as fast as possible
    paused: bool
    running: bool
    finished: bool
    packets: int
    share: float | None  # of the input bytes read
    time_left: float | None  # wall seconds
    ingest_rate: float  # packets per wall second
    malformed: int
    drops: int | None
    error: tuple[str, str] | None = None  # (title, message) of an error that stopped the session
    problems: tuple[str, ...] = ()  # what went wrong with the inputs, one line each
    # live and follow (see tui.model.sources.WatchStatus); frozen: the screen is not updated
    tool: str | None = None
    drop_text: str | None = None
    where: str | None = None
    files_done: int | None = None
    connection: str | None = None
    frozen: bool = False
    notes: tuple[str, ...] = ()  # worth telling once: recording into the history store, or not


@dataclass(frozen=True, slots=True)
class ProtocolRow:
    name: str
    protection: str  # encrypted, plaintext, unknown
    bytes: int
    packets: int
    flows: int
    share: float


@dataclass(frozen=True, slots=True)
class ProtocolModel:
    rows: tuple[ProtocolRow, ...] = ()
    protection: tuple[tuple[str, int], ...] = ()  # (encrypted | plaintext | unknown, bytes)
    ip_versions: tuple[tuple[str, int], ...] = ()  # (IPv4 | IPv6 | not IP, bytes)
    total_bytes: int = 0


@dataclass(frozen=True, slots=True)
class Series:
    """Bytes per second in consecutive bins of `resolution` seconds, oldest first."""

    resolution: int
    start: float
    values: tuple[float, ...] = ()

    @property
    def end(self) -> float:
        return self.start + self.resolution * len(self.values)


@dataclass(frozen=True, slots=True)
class TimelineModel:
    recent_total: Series = field(default_factory=lambda: Series(1, 0.0))
    long_total: Series = field(default_factory=lambda: Series(60, 0.0))
    total_rate: float = 0.0  # bytes per second over the last few seconds of packet time
    selected_key: str | None = None
    selected_name: str | None = None
    recent_selected: Series | None = None
    long_selected: Series | None = None
    selected_rate: float | None = None


@dataclass(frozen=True, slots=True)
class DnsModel:
    rows: tuple[TableRow, ...] = ()  # oldest first; the key is the entry's sequence number
    newest: int = -1  # sequence number of the newest entry logged (filtered or not)
    matched: int = 0  # entries among those searched that match the filter
    total: int = 0  # entries logged since the start


@dataclass(frozen=True, slots=True)
class DeviceDetail:
    key: str
    name: str
    facts: tuple[tuple[str, str], ...]  # (what, value) lines: vendor, MAC, addresses, names...
    down: Series
    up: Series
    protocols: tuple[tuple[str, int], ...]  # (protocol, bytes), most first
    remotes: TableModel
    dns_names: TableModel
    found: bool = True  # False when the device is not (or no longer) in the snapshot


@dataclass(frozen=True, slots=True)
class DashboardModel:
    serial: int
    status: StatusModel
    devices: TableModel = field(default_factory=TableModel)
    protocols: ProtocolModel = field(default_factory=ProtocolModel)
    dns: DnsModel = field(default_factory=DnsModel)
    remotes: TableModel = field(default_factory=TableModel)
    timeline: TimelineModel = field(default_factory=TimelineModel)
    detail: DeviceDetail | None = None
    investigation: InvestigationModel | None = None  # findings, flows, a remote, countries


# ---- what the UI asks for --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelRequest:
    """The UI state the model depends on: sorting, filters, the selected and the opened device."""

    device_sort: str = "down"  # a DEVICE_COLUMNS key
    device_sort_reverse: bool = False  # False: largest (numbers, times) or A first (text)
    device_filter: str = ""
    dns_filter: str = ""
    remote_filter: str = ""
    selected_device: str | None = None
    detail_device: str | None = None
    # the investigation screens
    flows_open: bool = False
    flow_filter: str = ""
    detail_remote: str | None = None
    countries_open: bool = False
    labels_version: int = 0  # the UI counts up when it changed the labels file
