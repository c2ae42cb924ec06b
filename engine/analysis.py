"""One analysis: capture sources through the decoder into the aggregators, and immutable snapshots of it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from engine.aggregate.endpoint_counters import EndpointTable, HostCounters, MacCounters
from engine.aggregate.traffic_totals import TrafficTotals, TrafficTotalsSnapshot
from engine.capture.records import Problem, RecordBatch, SourceStatus
from engine.capture.source import CaptureSet
from engine.decode.decoder import decode, is_supported_linktype
from engine.decode.packets import Packets
from engine.linktypes import linktype_name


@dataclass(frozen=True, slots=True)
class AnalysisSnapshot:
    """Everything the analysis knows at one moment; safe to hand to another thread."""

    totals: TrafficTotalsSnapshot
    macs: EndpointTable
    hosts: EndpointTable


class Analysis:
    """Incremental analysis: feed it packets (or record batches), take snapshots at any time."""

    def __init__(self) -> None:
        self.totals = TrafficTotals()
        self.macs = MacCounters()
        self.hosts = HostCounters()
        self._lock = threading.Lock()

    def ingest_batch(self, batch: RecordBatch) -> Packets:
        packets = decode(batch)
        self.ingest(packets)
        return packets

    def ingest(self, packets: Packets) -> None:
        with self._lock:
            self.totals.ingest(packets)
            self.macs.ingest(packets)
            self.hosts.ingest(packets)

    def snapshot(self) -> AnalysisSnapshot:
        with self._lock:
            return AnalysisSnapshot(
                totals=self.totals.snapshot(), macs=self.macs.snapshot(), hosts=self.hosts.snapshot()
            )


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
                        f"its {count} packets "
                        "are counted in the totals but not decoded",
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
) -> None:
    """Read every source of `capture` into `analysis`, until the end or until `stop` is set."""
    for batch in capture.batches():
        packets = analysis.ingest_batch(batch)
        if on_batch is not None:
            on_batch(packets)
        if stop is not None and stop.is_set():
            break
    note_undecoded(capture.statuses)
