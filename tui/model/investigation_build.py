"""Building the investigation models from a snapshot: findings (at a modest cadence, not every refresh),
flows, one remote in depth, countries, and the extras of the device screen."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from engine.analysis import AnalysisSnapshot
from engine.config import Settings, default_settings
from engine.labels import Labels
from engine.views.devices import DeviceView
from engine.views.flows import FlowView, flow_views
from engine.views.remotes import RemoteView
from tui.model.dashboard import Series, TableModel, TableRow
from tui.model.formatting import DASH, bytes_text, clock_text, count_text
from tui.model.investigation import FindingRow, FindingsModel, FlowEndpoints, FlowsModel, RemoteDetail

FINDINGS_PERIOD = 5.0  # wall seconds between evaluations of the rules while ingesting, at least
FINDINGS_SHARE = 0.05  # and at most this share of the time: the rules compete with ingest for the GIL
FLOW_ROWS = 500
ACTIVITY_BINS = 60


class InvestigationState:
    """What the investigation keeps between models of one session: the last findings and when they were
    evaluated, the labels (reloaded when the UI says it changed them) and the offline geo database."""

    def __init__(
        self, labels_file: str | None, labels: Labels | None, timezone: str, settings: Settings | None = None
    ) -> None:
        self.labels_file = labels_file
        self._labels = labels
        self._labels_version = 0
        # the configured rule options ([findings.<rule>]), as `homescope findings` uses them
        self.settings = replace(settings or default_settings(), timezone=timezone)
        self._findings = FindingsModel()
        self._evaluated_at = -1e9
        self._evaluation_seconds = 0.0  # how long the last evaluation took
        self._geo: Any = None
        self._lock = threading.Lock()

    def labels(self, version: int) -> Labels | None:
        """The labels, read again from the file when `version` differs from the last one seen."""
        with self._lock:
            if version != self._labels_version and self.labels_file:
                self._labels = Labels.load(Path(self.labels_file))
                self._labels_version = version
                self._evaluated_at = -1e9  # names in findings follow the labels
            return self._labels

    def geo(self) -> Any:
        """The offline geo database, loaded on first use (it is large)."""
        if self._geo is None:
            from engine.enrich.geo import shared_geo

            self._geo = shared_geo()
        return self._geo

    def findings(
        self,
        snapshot: AnalysisSnapshot,
        labels: Labels | None,
        finished: bool,
        device_names: Mapping[int, str],
        tz: dt.tzinfo,
    ) -> FindingsModel:
        """The findings, evaluated again at most every FINDINGS_PERIOD seconds (longer when evaluating
        takes long: a busy replay grows the tables the rules read), and once at the end."""
        now = time.monotonic()
        with self._lock:
            period = max(FINDINGS_PERIOD, self._evaluation_seconds / FINDINGS_SHARE)
            due = now - self._evaluated_at >= period or (finished and not self._findings.final)
            if not due:
                return self._findings
            self._evaluated_at = now
        from engine.findings import evaluate

        found = evaluate(snapshot, self.settings, labels=labels)
        model = findings_model(found, snapshot, device_names, tz, final=finished)
        with self._lock:
            self._findings = model
            self._evaluation_seconds = time.monotonic() - now
        return model


# ---- flows ---------------------------------------------------------------------------------------------


def all_flows(snapshot: AnalysisSnapshot, serials: Sequence[int] | None = None) -> list[FlowView]:
    """The flows of the snapshot (closed and active), or only those with the given serials, most bytes
    first."""
    if snapshot.flows is None:
        return []
    records, labels = snapshot.flows.all()
    if not len(records):
        return []
    c = records.columns
    rows = np.arange(len(records))
    if serials is not None:
        rows = np.flatnonzero(np.isin(c["serial"], np.asarray(list(serials), dtype=c["serial"].dtype)))
    total = c["bytes_ab"][rows] + c["bytes_ba"][rows]
    rows = rows[np.argsort(-total, kind="stable")]
    active = np.zeros(len(records), dtype=bool)
    active[len(snapshot.flows.closed) :] = True
    names = snapshot.metadata.name_table if snapshot.metadata is not None else []
    return flow_views(records, labels, names, active=active, rows=rows)


def _endpoints(f: FlowView) -> FlowEndpoints:
    return FlowEndpoints(
        f.serial, f.protocol, f.client, f.client_port, f.server, f.server_port, f.first_ts, f.last_ts
    )


def _sides(f: FlowView, device_names: Mapping[int, str], remote_names: Mapping[str, Any]) -> tuple[str, str]:
    """(device, remote): the home device of a flow and the other side, by name where one is known."""
    if f.client_device >= 0:
        device, remote, remote_name = device_names.get(f.client_device, DASH), f.server, f.server_name
    elif f.server_device >= 0:
        device, remote, remote_name = device_names.get(f.server_device, DASH), f.client, None
    else:
        device, remote, remote_name = DASH, f.server, f.server_name
    if remote_name is None:
        known = remote_names.get(remote)
        remote_name = known[0].name if known else None
    return device, remote_name or remote


def _address(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def flows_model(
    flows: Sequence[FlowView],
    snapshot: AnalysisSnapshot,
    device_names: Mapping[int, str],
    tz: dt.tzinfo,
    *,
    needle: str = "",
    limit: int = FLOW_ROWS,
) -> FlowsModel:
    """Flows as rows, filtered by `needle` (in the device, remote, server name, addresses or protocol)."""
    remote_names = snapshot.metadata.remote_names if snapshot.metadata is not None else {}
    rows: list[TableRow] = []
    endpoints: list[tuple[str, FlowEndpoints]] = []
    matched = 0
    needle = needle.strip().lower()
    for f in flows:
        device, remote = _sides(f, device_names, remote_names)
        protocol = f.label if f.label and f.label != f.protocol else f.protocol
        if needle:  # the label (TLS, DNS, ...) or, without one, the transport (TCP, UDP)
            haystack = f"{device} {remote} {f.server_name or ''} {f.client} {f.server} {protocol}"
            if needle not in haystack.lower():
                continue
        matched += 1
        if len(rows) >= limit:
            continue
        key = str(f.serial)
        rows.append(
            TableRow(
                key=key,
                cells=(
                    device,
                    remote,
                    protocol,
                    bytes_text(f.bytes_total),
                    count_text(f.packets_up + f.packets_down),
                    clock_text(f.first_ts, tz),
                    _address(f.client, f.client_port),
                    _address(f.server, f.server_port),
                    str(f.serial),
                ),
                flags=frozenset({"active"}) if f.active else frozenset(),
            )
        )
        endpoints.append((key, _endpoints(f)))
    return FlowsModel(TableModel(tuple(rows), matched, len(flows)), tuple(endpoints))


# ---- findings ------------------------------------------------------------------------------------------


def findings_model(
    found: Sequence[Any],
    snapshot: AnalysisSnapshot,
    device_names: Mapping[int, str],
    tz: dt.tzinfo,
    *,
    final: bool,
) -> FindingsModel:
    """`found`: engine Findings, most severe first. Their evidence flows are resolved into rows here."""
    wanted = {s for f in found for s in f.evidence.flows}
    by_serial = {v.serial: v for v in all_flows(snapshot, sorted(wanted))} if wanted else {}
    rows = []
    for f in found:
        ev = f.evidence
        flows = [by_serial[s] for s in ev.flows if s in by_serial]
        step = ev.bin_seconds
        bins = tuple(
            f"{clock_text(b, tz, with_date=True)}" + (f" (+{step // 60} min)" if step >= 60 else "")
            for b in ev.bins
        )
        when = f"{clock_text(f.first_ts, tz, with_date=True)} to {clock_text(f.last_ts, tz, with_date=True)}"
        rows.append(
            FindingRow(
                key=f.key,
                severity=str(f.severity),
                title=f.title,
                device_key=f.device.key if f.device is not None else None,
                device_name=f.device.name if f.device is not None else None,
                remote_address=f.remote.address if f.remote is not None else None,
                remote_name=f.remote.name if f.remote is not None else None,
                explanation=f.explanation,
                when=when,
                flows=flows_model(flows, snapshot, device_names, tz, limit=len(flows)),
                flow_count=ev.flow_count,
                dns_names=ev.dns_names,
                bins=bins,
                details=tuple((str(k), str(v)) for k, v in f.details.items()),
            )
        )
    table = TableModel(
        rows=tuple(
            TableRow(
                key=r.key,
                cells=(
                    r.severity,
                    r.title,
                    r.device_name or DASH,
                    r.remote_name or r.remote_address or DASH,
                    r.explanation,
                ),
                flags=frozenset({r.severity}),
            )
            for r in rows
        ),
        matched=len(rows),
        total=len(rows),
    )
    return FindingsModel(rows=tuple(rows), table=table, evaluated=True, final=final)


# ---- one remote ----------------------------------------------------------------------------------------


def _activity(flows: Sequence[FlowView], start: float | None, end: float | None) -> Series:
    """Bytes per second of the remote's flows, spread over ACTIVITY_BINS bins by when each flow started."""
    if start is None or end is None or not flows:
        return Series(60, start or 0.0)
    resolution = max(60, int((end - start) / ACTIVITY_BINS) + 1)
    values = [0.0] * (int((end - start) // resolution) + 1)
    for f in flows:
        at = f.first_ts if f.first_ts is not None else start
        values[min(len(values) - 1, max(0, int((at - start) // resolution)))] += f.bytes_total / resolution
    return Series(resolution, start, tuple(values))


def remote_detail(
    address: str,
    remotes: Sequence[RemoteView],
    snapshot: AnalysisSnapshot,
    views: Sequence[DeviceView],
    geo: Any,
    tz: dt.tzinfo,
) -> RemoteDetail:
    view = next((r for r in remotes if r.address == address), None)
    device_names = {v.id: v.name for v in views}
    flows = [f for f in all_flows(snapshot) if address in (f.client, f.server)]
    facts: list[tuple[str, str]] = []
    if view is not None and view.names:
        facts.append(("Names", "; ".join(f"{n} ({', '.join(s)})" for n, s in view.names[:4])))
    elif view is not None:
        facts.append(("Names", "no name seen (no DNS answer, TLS or HTTP name pointed here)"))
    info = None
    if geo is not None:
        result = geo.lookup(address)
        info = result.info if result.status == "ok" else None
        if info is None:
            facts.append(("Owner", result.message or "not in the offline database"))
    if info is not None:
        org = info.organisation or DASH
        country = f"{info.country_name} ({info.country_code})" if info.country_name else DASH
        facts.append(("Owner", f"{org} · {info.network or DASH} · {country}"))
    if view is not None:
        facts.append(
            (
                "Traffic",
                f"in {bytes_text(view.bytes_in)}, out {bytes_text(view.bytes_out)} · "
                f"{count_text(view.flows)} flows · {', '.join(view.protocols[:5]) or DASH}",
            )
        )
        facts.append(
            ("Seen", f"{clock_text(view.first_ts, tz, with_date=True)} to {clock_text(view.last_ts, tz)}")
        )
    per_device: dict[int, list[int]] = {}
    for f in flows:
        device = f.client_device if f.client_device >= 0 else f.server_device
        entry = per_device.setdefault(device, [0, 0])
        entry[0] += 1
        entry[1] += f.bytes_total
    devices = sorted(per_device.items(), key=lambda kv: -kv[1][1])
    device_rows = tuple(
        TableRow(
            key=next((v.key for v in views if v.id == d), str(d)),
            cells=(device_names.get(d, DASH if d < 0 else str(d)), count_text(n), bytes_text(b)),
        )
        for d, (n, b) in devices
    )
    start = view.first_ts if view is not None else None
    end = view.last_ts if view is not None else None
    return RemoteDetail(
        address=address,
        title=(view.name or address) if view is not None else address,
        facts=tuple(facts),
        activity=_activity(flows, start, end),
        devices=TableModel(device_rows, len(device_rows), len(device_rows)),
        flows=flows_model(flows, snapshot, device_names, tz),
        found=view is not None,
    )


# ---- countries -----------------------------------------------------------------------------------------


def countries_table(remotes: Sequence[RemoteView], geo: Any) -> TableModel:
    """Countries of all remotes, most bytes first: bytes, remotes, devices and the top organisations."""
    found = geo.lookup_many([r.address for r in remotes]) if geo is not None else {}
    totals: dict[str, list[Any]] = {}
    for r in remotes:
        result = found.get(r.address)
        info = result.info if result is not None and result.status == "ok" else None
        name = f"{info.country_name} ({info.country_code})" if info and info.country_name else "unknown"
        entry = totals.setdefault(name, [0, 0, set(), {}])
        entry[0] += r.bytes_total
        entry[1] += 1
        entry[2].update(r.devices)
        org = (info.organisation if info else None) or DASH
        entry[3][org] = entry[3].get(org, 0) + r.bytes_total
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1][0], kv[0]))
    rows = tuple(
        TableRow(
            key=name,
            cells=(
                name,
                bytes_text(b),
                count_text(n),
                count_text(len(devs)),
                ", ".join(o for o, _ in sorted(orgs.items(), key=lambda kv: -kv[1])[:3]),
            ),
        )
        for name, (b, n, devs, orgs) in ranked
    )
    return TableModel(rows, len(rows), len(rows))


# ---- the device screen's extras ------------------------------------------------------------------------


def hours_of_day(down: Series, up: Series, tz: dt.tzinfo) -> tuple[int, ...]:
    """Bytes in each hour of the day (0-23, in `tz`) from a device's series."""
    hours = [0.0] * 24
    for series in (down, up):
        for i, value in enumerate(series.values):
            if value:
                at = dt.datetime.fromtimestamp(series.start + i * series.resolution, tz=tz)
                hours[at.hour] += value * series.resolution
    return tuple(int(h) for h in hours)


def resolvers_of(snapshot: AnalysisSnapshot, device: int) -> tuple[str, ...]:
    """The DNS servers a device asked, most queries first, as "address (N queries)"."""
    if snapshot.metadata is None:
        return ()
    uses = sorted(
        (u for u in snapshot.metadata.dns.resolvers if u.device == device), key=lambda u: -u.queries
    )
    return tuple(f"{u.server} ({u.queries:,} queries)" for u in uses)
