"""One analysis: capture sources through the decoder into the aggregators, and immutable snapshots of it.

`Analysis.ingest` runs every aggregator over a decoded batch; `snapshot()` returns an `AnalysisSnapshot`
that another thread (the TUI) can read while ingestion goes on. Closed flows are kept under a retention
policy (engine/flows/closed_flows.py) and, all of them, folded into the contact log the findings read
(engine/flows/contacts.py), once the payload inspector has named them. With `depth="traffic"` only the whole-
capture counters run (totals, MACs, hosts, EtherTypes, IP protocols): the fast headless summary.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import numpy.typing as npt

from engine.aggregate.address_book import AddressBook
from engine.aggregate.endpoint_counters import EndpointTable, HostCounters, MacCounters
from engine.aggregate.timeline import Timeline, TimelineSnapshot
from engine.aggregate.traffic_totals import TrafficTotals, TrafficTotalsSnapshot
from engine.capture.records import Problem, RecordBatch, SourceStatus
from engine.capture.source import CaptureSet
from engine.classify.flow_labels import inspect_payloads, resolve_labels
from engine.decode.decoder import decode, is_supported_linktype
from engine.decode.packets import Packets
from engine.devices.device_table import DeviceRecords, DeviceTable
from engine.flows.closed_flows import ClosedFlows, Retention
from engine.flows.contacts import ContactLimits, ContactLog, ContactLogSnapshot
from engine.flows.flow_summaries import FlowSummaries, FlowSummarySnapshot
from engine.flows.flow_table import FlowRecords, FlowTable, FlowTimeouts
from engine.home_network import HomeNetwork
from engine.linktypes import linktype_name
from engine.metadata.device_names import DeviceName, DeviceNamesSnapshot, DeviceRef, name_rank
from engine.metadata.dns_log import LOG_LIMIT
from engine.metadata.payload_inspector import MetadataSnapshot
from engine.metadata.row_selection import InspectionBatch, RowSelector
from engine.metadata.worker import Inspector, InspectorProcess, LocalInspector

Depth = Literal["traffic", "full"]


@dataclass(frozen=True, slots=True)
class FlowsSnapshot:
    active: FlowRecords
    active_labels: npt.NDArray[np.uint16]
    closed: FlowRecords
    closed_labels: npt.NDArray[np.uint16]
    closed_dropped: int
    summaries: FlowSummarySnapshot

    def all(self) -> tuple[FlowRecords, npt.NDArray[np.uint16]]:
        """Closed then active flows, with their labels."""
        return (
            FlowRecords.concat([self.closed, self.active]),
            np.concatenate([self.closed_labels, self.active_labels]),
        )


@dataclass(frozen=True, slots=True)
class AnalysisSnapshot:
    """Everything the analysis knows at one moment; safe to hand to another thread."""

    totals: TrafficTotalsSnapshot
    macs: EndpointTable
    hosts: EndpointTable
    depth: Depth
    flows: FlowsSnapshot | None = None
    devices: DeviceRecords | None = None
    timeline: TimelineSnapshot | None = None
    home: HomeNetwork | None = None
    book: AddressBook | None = None  # resolves the address ids of flows, devices and remotes
    metadata: MetadataSnapshot | None = None
    clock: float | None = None  # the packet clock: newest timestamp ingested
    # every closed flow folded into contacts, whatever the closed-flow retention keeps (the findings read it)
    contacts: ContactLogSnapshot | None = None
    # server-name ids (into metadata.name_table) by flow serial, for the flows the inspector still knows
    flow_server_names: dict[int, int] | None = None


class Analysis:
    """Incremental analysis: feed it record batches or decoded packets, take snapshots at any time."""

    def __init__(
        self,
        *,
        depth: Depth = "full",
        home: HomeNetwork | None = None,
        timeouts: FlowTimeouts | None = None,
        closed_flow_limit: int | None = 2_000_000,
        closed_flow_retention: Retention = "all",
        dns_log_limit: int = LOG_LIMIT,
        inspector: Literal["local", "process"] = "local",
        timeline_bins: dict[int, int] | None = None,
        contact_limits: ContactLimits | None = None,
    ) -> None:
        self.depth: Depth = depth
        self.totals = TrafficTotals()
        self.macs = MacCounters()
        self.hosts = HostCounters()
        self.home = home or HomeNetwork()
        self.book = AddressBook(self.home)
        self.flows = FlowTable(self.book, timeouts)
        self.devices = DeviceTable(self.book)
        self.summaries = FlowSummaries(self.book)
        self.closed = ClosedFlows(closed_flow_limit, closed_flow_retention)
        self.timeline = Timeline(timeline_bins)
        self.flows.on_close.append(self._flows_closed)
        self.selector = RowSelector(self.book, self.flows)
        # the payload inspector may run in its own process (see engine.metadata.worker); only a full
        # analysis needs it
        self.inspector: Inspector | None = None
        if depth == "full":
            self.inspector = (
                InspectorProcess(dns_log_limit=dns_log_limit)
                if inspector == "process"
                else LocalInspector(dns_log_limit=dns_log_limit)
            )
        self._closed_serials: list[int] = []
        # closed flows wait here until the inspector has named them (their server names), then go into the
        # contact log
        self.contacts = ContactLog(contact_limits) if depth == "full" else None
        self._unnamed: list[tuple[FlowRecords, npt.NDArray[np.uint16]]] = []
        self._unnamed_count = 0
        # serial numbers of closed flows a consumer still holds (the history store, until it writes them):
        # their server names are kept for them, whatever the closed-flow retention
        self.held_serials: list[Callable[[], Iterable[int]]] = []
        self._batches = 0
        self._lock = threading.Lock()

    @property
    def lock(self) -> threading.Lock:
        """Held while a batch is ingested and while a snapshot is taken. A consumer that reads several
        aggregators directly (not through `snapshot`) holds it to see them at one moment."""
        return self._lock

    def _flows_closed(self, records: FlowRecords) -> None:
        labels = resolve_labels(records)
        self.summaries.add(records, labels)
        self.closed.add(records, labels)
        self._closed_serials.extend(records.columns["serial"].tolist())
        if self.contacts is not None:
            self._unnamed.append((records, labels))
            self._unnamed_count += len(records)

    def ingest_batch(self, batch: RecordBatch) -> Packets:
        packets = decode(batch)
        self.ingest(packets)
        return packets

    def ingest(self, p: Packets) -> None:
        with self._lock:
            self.totals.ingest(p)
            self.macs.ingest(p)
            addrs = self.book.ingest(p)
            self.hosts.ingest(p, addrs)
            if self.depth == "traffic":
                return
            flows = self.flows.ingest(p, addrs)
            devices = self.devices.ingest(p, addrs)
            # an internet address behind the router is not the router: its endpoint of a flow is no device
            self.flows.set_devices(
                flows,
                self.devices.not_forwarded(devices.src, devices.src_internet),
                self.devices.not_forwarded(devices.dst, devices.dst_internet),
            )
            inspect_payloads(p, flows, self.flows)
            rows = self.selector.select(p, addrs, flows, devices)
            batch = InspectionBatch(rows, self._closed_serials)
            self._closed_serials = []
            self._batches += 1
            assert self.inspector is not None
            self.inspector.submit(batch)
            prune = self._batches % _PRUNE_EVERY == 0
            # a local inspector names flows as the batch is submitted; one in its own process is asked now
            # and then (a round trip), so that the flows waiting for their names stay few
            if (
                prune
                or (self._unnamed and isinstance(self.inspector, LocalInspector))
                or self._unnamed_count >= _NAME_FLOWS_EVERY
            ):
                keep = self._alive_serials() if prune else None
                pending = self._pending_serials()
                self._fold_closed(self.inspector.names(pending, keep) if pending or keep is not None else {})
            self.timeline.ingest(p, devices.src, devices.dst)

    def _pending_serials(self) -> list[int]:
        return [s for records, _ in self._unnamed for s in records.columns["serial"].tolist()]

    def _fold_closed(self, names: dict[int, int]) -> None:
        """Closed flows waiting for their server names go into the contact log, named."""
        if not self._unnamed or self.contacts is None:
            return
        parts = self._unnamed
        self._unnamed, self._unnamed_count = [], 0
        if len(parts) > 1:
            records = FlowRecords.concat([r for r, _ in parts])
            labels = np.concatenate([lab for _, lab in parts])
        else:  # the closed flows' own records: name a copy of the column, not theirs
            records, labels = parts[0]
            columns = {**records.columns, "server_name": records.columns["server_name"].copy()}
            records = replace(records, columns=columns)
        fill_server_names(records, names)
        self.contacts.add(records, labels)

    def _alive_serials(self) -> list[int]:
        """Serial numbers of the flows this analysis still holds: active ones and retained closed ones."""
        active = self.flows.cols["serial"][: len(self.flows)]
        closed, _ = self.closed.records()
        held = [serial for holder in self.held_serials for serial in holder()]
        return [*active.tolist(), *closed.columns["serial"].tolist(), *held]

    def close(self) -> None:
        """Stop the inspector process, if any. The analysis can still be read, not fed."""
        if self.inspector is not None:
            self.inspector.close()

    def finish(self) -> None:
        """Close every remaining flow (end of a capture file): totals move into the closed summaries."""
        with self._lock:
            self.flows.expire(self.flows.now, everything=True)

    def snapshot(
        self,
        *,
        timeline_bins: dict[int, int] | None = None,
        dns_last: int | None = None,
        closed_flows: bool = True,
    ) -> AnalysisSnapshot:
        """Everything the analysis knows now. `timeline_bins` and `dns_last` keep only the newest timeline
        bins and DNS log entries. `closed_flows=False` leaves the closed flows out and the flow summaries
        count closed flows only: for consumers that take closed flows as they close (`flows.on_close`)."""
        with self._lock:
            base = {
                "totals": self.totals.snapshot(),
                "macs": self.macs.snapshot(),
                "hosts": self.hosts.snapshot(self.book),
                "depth": self.depth,
            }
            if self.depth == "traffic":
                return AnalysisSnapshot(**base)  # type: ignore[arg-type]
            assert self.inspector is not None
            metadata, flow_names = self.inspector.snapshot(dns_last, None)
            active = self.flows.records()
            active_labels = resolve_labels(active)
            if closed_flows:
                closed, closed_labels = self.closed.records()
            else:
                closed, closed_labels = FlowRecords.concat([]), np.zeros(0, dtype=np.uint16)
            for records in (active, closed):
                fill_server_names(records, flow_names)
            self._fold_closed(flow_names)
            metadata = self._resolve_device_refs(metadata)
            devices = self.devices.snapshot()
            flows = FlowsSnapshot(
                active=active,
                active_labels=active_labels,
                closed=closed,
                closed_labels=closed_labels,
                closed_dropped=self.closed.dropped,
                summaries=(
                    self.summaries.snapshot(active, active_labels)
                    if closed_flows
                    else self.summaries.snapshot()
                ),
            )
            return AnalysisSnapshot(
                **base,  # type: ignore[arg-type]
                flows=flows,
                devices=devices,
                timeline=self.timeline.snapshot(len(devices), timeline_bins),
                home=self.home,
                book=self.book,
                metadata=metadata,
                clock=self.flows.now if np.isfinite(self.flows.now) else None,
                contacts=self.contacts.snapshot() if self.contacts is not None else None,
                flow_server_names=flow_names,
            )

    def _resolve_device_refs(self, meta: MetadataSnapshot) -> MetadataSnapshot:
        """Devices the inspector knows only by MAC (DHCP clients) become device ids."""

        def device(ref: DeviceRef) -> int:
            if isinstance(ref, int):
                return ref
            return self.devices.device_for_mac(int(ref.removeprefix("mac:").replace(":", ""), 16))

        names: dict[DeviceRef, list[DeviceName]] = {}
        for ref, found in meta.device_names.names.items():
            merged = names.setdefault(device(ref), [])
            merged.extend(found)
        for found in names.values():
            found.sort(key=name_rank)
        traits: dict[DeviceRef, dict[str, list[str]]] = {}
        for ref, values in meta.device_names.traits.items():
            target = traits.setdefault(device(ref), {})
            for key, items in values.items():
                target.setdefault(key, []).extend(v for v in items if v not in target.get(key, []))
        for client in meta.dhcp:
            client.device = device(client.device)
        doh = [replace(d, device=device(d.device)) for d in meta.doh]
        return replace(meta, device_names=DeviceNamesSnapshot(names, traits), doh=doh)


# Starting the inspector's own process takes about a tenth of a second: worth it from a few tens of MB of
# capture on (and for streams, whose size is unknown).
PROCESS_INSPECTOR_FROM_BYTES = 32 << 20


def inspector_mode(paths: Iterable[str]) -> Literal["local", "process"]:
    """Where to run the payload inspector for these inputs: in its own process for big or streamed input."""
    total = 0
    for path in paths:
        if path == "-":
            return "process"
        try:
            total += os.stat(path).st_size
        except OSError:
            continue  # the capture reader will name the problem
    return "process" if total >= PROCESS_INSPECTOR_FROM_BYTES else "local"


_PRUNE_EVERY = 64  # batches between telling the inspector which flows the analysis still holds
_NAME_FLOWS_EVERY = 32768  # closed flows waiting for their names before the inspector is asked


def fill_server_names(records: FlowRecords, names: dict[int, int]) -> None:
    """Put the inspector's server-name ids (by flow serial) into the records' server_name column."""
    if not names or not len(records):
        return
    serials = np.fromiter(names.keys(), dtype=np.int64, count=len(names))
    ids = np.fromiter(names.values(), dtype=np.int64, count=len(names))
    order = np.argsort(serials)
    serials, ids = serials[order], ids[order]
    wanted = records.columns["serial"]
    pos = np.minimum(np.searchsorted(serials, wanted), serials.shape[0] - 1)
    hit = serials[pos] == wanted
    column = records.columns["server_name"]
    column[hit] = ids[pos[hit]]


def note_undecoded(statuses: Iterable[SourceStatus]) -> None:
    """Add a (non-fatal) problem to sources whose packets could not be fully decoded."""
    for st in statuses:
        kinds = {p.kind for p in st.problems}
        for linktype, count in sorted(st.linktypes.items()):
            if not is_supported_linktype(linktype) and "unsupported-linktype" not in kinds:
                st.add_problem(
                    Problem(
                        "unsupported-linktype",
                        f"{linktype_name(linktype)} (link type {linktype}) is not supported: "
                        f"its {count} packets are counted in the totals but not decoded",
                        fatal=False,
                    )
                )
        if st.untimed_packets and "timestamps-out-of-range" not in kinds:
            st.add_problem(
                Problem(
                    "timestamps-out-of-range",
                    f"{st.untimed_packets} packets have no usable timestamp (none recorded, as in a pcapng "
                    "simple packet block, or one before 1970 or after 2106 because the capturing clock was "
                    "wrong): they are counted, but left out of first/last time and timelines",
                    fatal=False,
                )
            )


def run_capture(
    capture: CaptureSet,
    analysis: Analysis,
    *,
    stop: threading.Event | None = None,
    on_batch: Callable[[Packets], None] | None = None,
    finish: bool = True,
) -> None:
    """Read every source of `capture` into `analysis`, until the end or until `stop` is set."""
    with contextlib.closing(capture.batches()) as batches:
        for batch in batches:
            packets = analysis.ingest_batch(batch)
            if on_batch is not None:
                on_batch(packets)
            if stop is not None and stop.is_set():
                break
    note_undecoded(capture.statuses)
    if finish:
        analysis.finish()
