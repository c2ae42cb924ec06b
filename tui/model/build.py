"""Building the dashboard model from one engine snapshot (in a worker thread or the engine process)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

from engine.analysis import AnalysisSnapshot
from engine.capture.records import SourceStatus
from engine.labels import Labels
from engine.session import Progress
from engine.views.devices import DeviceView, device_views
from engine.views.protocols import protocol_breakdown
from engine.views.remotes import RemoteView, remote_views
from tui.model.dashboard import (
    DashboardModel,
    DeviceDetail,
    DnsModel,
    ModelRequest,
    ProtocolModel,
    ProtocolRow,
)
from tui.model.device_detail import device_detail
from tui.model.device_rows import device_minutes, device_table, minute_start, recent_rate
from tui.model.dns_rows import dns_log, dns_window
from tui.model.geo import GeoLookup
from tui.model.investigation import InvestigationModel
from tui.model.investigation_build import (
    InvestigationState,
    all_flows,
    countries_table,
    flows_model,
    hours_of_day,
    remote_detail,
    resolvers_of,
)
from tui.model.remote_rows import REMOTE_ROWS, remote_table
from tui.model.status import status_model
from tui.model.timeline_series import TIMELINE_BINS, long_resolution, timeline_model


@dataclass(frozen=True, slots=True)
class BuildContext:
    """What every model of one session shares: its inputs, time zone, labels and offline lookups."""

    paths: tuple[str, ...]
    tz: dt.tzinfo
    labels: Labels | None = None
    geo: GeoLookup | None = None
    investigation: InvestigationState | None = None  # findings cadence, labels reloads, offline geo


def snapshot_options(request: ModelRequest) -> dict[str, object]:
    """Arguments for `Analysis.snapshot`: copy only the DNS entries and timeline bins the model uses."""
    return {"dns_last": dns_window(request), "timeline_bins": dict(TIMELINE_BINS)}


def protocol_model(snapshot: AnalysisSnapshot) -> ProtocolModel:
    b = protocol_breakdown(snapshot)
    return ProtocolModel(
        rows=tuple(
            ProtocolRow(p.name, p.protection, p.bytes, p.packets, p.flows, p.share) for p in b.protocols
        ),
        protection=tuple((k, b.protection_bytes.get(k, 0)) for k in ("encrypted", "plaintext", "unknown")),
        ip_versions=tuple(b.ip_version_bytes.items()),
        total_bytes=b.total_bytes,
    )


def build_model(
    snapshot: AnalysisSnapshot,
    progress: Progress,
    statuses: Sequence[SourceStatus],
    request: ModelRequest,
    context: BuildContext,
    serial: int,
) -> DashboardModel:
    tz = context.tz
    state = context.investigation
    labels = state.labels(request.labels_version) if state is not None else context.labels
    views = device_views(snapshot, labels)
    names = {v.id: v.name for v in views}
    address_names = {a: v.name for v in views if not v.router for a in v.addresses}
    clock = snapshot.clock if snapshot.clock is not None else snapshot.totals.last_ts
    start = snapshot.totals.first_ts
    status = status_model(progress, statuses, context.paths, sum(snapshot.totals.malformed.values()))

    selected = next((v for v in views if v.key == request.selected_device), None)
    timeline = timeline_model(
        snapshot.timeline, start, clock, (selected.key, selected.name, selected.id) if selected else None
    )
    if selected is not None:
        rate = recent_rate(
            device_minutes(snapshot.timeline, selected.id), minute_start(snapshot.timeline), clock
        )
        timeline = replace(timeline, selected_rate=rate)

    needle = request.remote_filter.strip().lower()
    remotes_total = len(snapshot.flows.summaries.remotes) if snapshot.flows is not None else 0
    remotes = remote_views(snapshot, None if needle else REMOTE_ROWS)

    detail = None
    if request.detail_device is not None:
        span = (clock - start) if clock is not None and start is not None else 0.0
        detail = device_detail(
            request.detail_device, views, snapshot, long_resolution(span), start, context.geo, tz
        )
    investigation = None
    if state is not None:
        investigation = investigation_model(
            snapshot, request, state, views, remotes, status.finished, detail, labels, tz
        )
    return DashboardModel(
        serial=serial,
        status=status,
        devices=device_table(views, snapshot.timeline, clock, start, request, tz),
        protocols=protocol_model(snapshot),
        dns=dns_log(snapshot.metadata.dns, names, address_names, request, tz)
        if snapshot.metadata is not None
        else DnsModel(),
        remotes=remote_table(remotes, names, context.geo, needle=needle, total=remotes_total),
        timeline=timeline,
        detail=detail,
        investigation=investigation,
    )


def investigation_model(
    snapshot: AnalysisSnapshot,
    request: ModelRequest,
    state: InvestigationState,
    views: Sequence[DeviceView],
    remotes: Sequence[RemoteView],
    finished: bool,
    detail: DeviceDetail | None,
    labels: Labels | None,
    tz: dt.tzinfo,
) -> InvestigationModel:
    """Findings always (at their own cadence); flows, a remote and countries only when a screen asks."""
    names = {v.id: v.name for v in views}
    findings = state.findings(snapshot, labels, finished, names, tz)
    flows = None
    if request.flows_open:
        flows = flows_model(all_flows(snapshot), snapshot, names, tz, needle=request.flow_filter)
    every_remote: Sequence[RemoteView] | None = None
    remote = None
    if request.detail_remote is not None:
        every_remote = remote_views(snapshot)
        remote = remote_detail(request.detail_remote, every_remote, snapshot, views, state.geo(), tz)
    countries = None
    if request.countries_open:
        countries = countries_table(every_remote or remote_views(snapshot), state.geo())
    hours: tuple[int, ...] = ()
    resolvers: tuple[str, ...] = ()
    if detail is not None and detail.found:
        hours = hours_of_day(detail.down, detail.up, tz)
        device = next((v.id for v in views if v.key == detail.key), None)
        resolvers = resolvers_of(snapshot, device) if device is not None else ()
    return InvestigationModel(
        findings=findings,
        flows=flows,
        remote=remote,
        countries=countries,
        device_hours=hours,
        device_resolvers=resolvers,
    )
