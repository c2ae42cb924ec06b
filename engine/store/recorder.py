"""Recording an analysis into the history store as it runs.

The recorder sits between the capture source and the analysis: it wraps the source's batches, so it knows
which batch the analysis has finished with, and where in which file that batch ended. Every few seconds
(and at the end) it takes what changed from the analysis, on the ingest thread between two batches, so
the data and the source positions belong to one moment; a background thread turns that into rows and
writes them in one transaction. Closed flows arrive through `flows.on_close` as they close.

On the ingest thread a flush costs one light snapshot (no closed flows; the newest timeline bins and DNS
entries). Counters are also noted, cheaply, whenever the capture clock enters a new hour, so each hour of
capture time gets its own counts even when a replay covers a day in a few seconds.

A process killed at any moment leaves the store at its last committed flush; resuming from the positions
stored with it counts nothing twice.
"""

from __future__ import annotations

import contextlib
import math
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from engine.aggregate.timeline import RESOLUTIONS, TimelineSnapshot
from engine.analysis import Analysis, fill_server_names, note_undecoded
from engine.capture.records import RecordBatch, SourceStatus
from engine.capture.source import CaptureSet
from engine.decode.decoder import TS_MAX, TS_MIN
from engine.flows.flow_table import FlowRecords
from engine.metadata.dns_log import LOG_LIMIT, DnsSnapshot
from engine.store.counters import CounterBin, counters_now, counters_of, split_at_hours
from engine.store.dns_taking import DnsTaker
from engine.store.errors import StoreError
from engine.store.positions import SourcePosition, identify
from engine.store.retention import prune
from engine.store.schema import COUNTER_BIN
from engine.store.writer import FlushData, RunWriter

if TYPE_CHECKING:
    from engine.store.store import HistoryStore, Retention

BatchSource = Callable[[], Iterator[RecordBatch]]
FLUSH_INTERVAL = 5.0  # wall seconds between flushes
PRUNE_EVERY = 3600.0  # wall seconds between applying the retention policy while recording
_TIMELINE_SPAN = min(res * bins for res, bins in RESOLUTIONS.items() if res >= 60) / 2


@dataclass(slots=True)
class RecorderStats:
    flushes: int = 0
    capture_seconds: float = 0.0  # the recorder's work on the ingest thread (wall time): flushes taken,
    capture_cpu: float = 0.0  # counters noted each hour, DNS entries taken; and its CPU time
    write_seconds: float = 0.0  # on the writer thread (or inline): turning it into rows, writing them
    write_cpu: float = 0.0
    dns_lost: int = 0  # DNS log entries the log dropped before they could be taken


class Recorder:
    """Records one analysis (one run) into a `HistoryStore`. Use `wrap` (or `record`) to feed the analysis
    through it, and `close` at the end."""

    def __init__(
        self,
        store: HistoryStore,
        analysis: Analysis,
        *,
        interval: float = FLUSH_INTERVAL,
        background: bool = True,
        mode: str = "replay",
        dns_log_limit: int = LOG_LIMIT,
        retention: Retention | None = None,
    ) -> None:
        self.store = store
        self.analysis = analysis
        self.interval = interval
        self.stats = RecorderStats()
        self.retention = retention if retention is not None and retention.active else None
        self._pruned_at = -math.inf
        self.run_id = store.begin_run(
            mode=mode, depth=analysis.depth, cgnat_is_local=analysis.home.cgnat_is_local
        )
        self._writer = RunWriter(store.cursor(), store.sensor, self.run_id)
        self._full = analysis.depth == "full"
        self._closed: list[FlowRecords] = []
        self._closed_lock = threading.Lock()
        if self._full:
            analysis.flows.on_close.append(self._flows_closed)
            analysis.held_serials.append(self._held)
        self._book_size = 0
        self._bins: list[CounterBin] = []
        self._bin = CounterBin(math.nan, base=counters_now(analysis))
        self._timelines: list[TimelineSnapshot] = []
        self._timeline_clock: float | None = None
        self._touched: float | None = None  # the oldest packet time since the last timeline capture
        self._dns = DnsTaker(dns_log_limit)
        self._clock: float | None = None
        self._saved = store.positions()
        self._positions: dict[str, SourcePosition] = {}
        self._statuses: dict[str, tuple[SourceStatus, dict[int, int]]] = {}  # with the linktypes before
        self._changed: set[str] = set()
        self._span: tuple[float, float] | None = None  # packet times of the batch in hand
        self._last_flush = time.monotonic()
        self._ended = False
        self._consistent = True
        self._closed_recorder = False
        self._error: BaseException | None = None
        self._queue: queue.Queue[FlushData | None] = queue.Queue(maxsize=2)
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._write_loop, name="homescope-store", daemon=True)
            self._thread.start()

    # ---- feeding the analysis through the recorder ------------------------------------------------------

    def wrap(
        self,
        source: BatchSource,
        paths: Sequence[str] | Callable[[int], str],
        statuses: Sequence[SourceStatus] | Callable[[int], SourceStatus | None] | None = None,
    ) -> Callable[[], Generator[RecordBatch, None, None]]:
        """The batches of `source`, recorded: a batch counts as analysed when the next one is asked for.
        `paths` names the file of each `RecordBatch.source_index`; `statuses` (optional) their accounts,
        as a list or, for a source that opens files as it goes (a followed folder), a function.

        A batch whose packets run into a new hour of capture time is handed out in parts, one per hour, so
        each hour gets exactly its own counts; only the last part carries the batch's `end_offset`."""
        path_of = paths if callable(paths) else paths.__getitem__
        status_of = statuses if callable(statuses) else None
        listed = statuses if not callable(statuses) else None

        def batches() -> Generator[RecordBatch, None, None]:
            it = source()
            try:
                for batch in it:
                    for part in split_at_hours(batch):
                        with self._timed():
                            self._before(part)
                        try:
                            yield part
                        except GeneratorExit:
                            # stopped with this batch in hand, perhaps partly analysed: the state since the
                            # last flush is left out (resuming reads it again)
                            self._consistent = False
                            raise
                    status = (
                        status_of(batch.source_index)
                        if status_of is not None
                        else listed[batch.source_index]
                        if listed is not None
                        else None
                    )
                    with self._timed():
                        self._after(batch, path_of(batch.source_index), status)
                self._ended = True
                for index, status in enumerate(listed or ()):  # files that gave not a single batch
                    path = path_of(index)
                    if path not in self._positions and path != "-":
                        self._position(path, status)
                        self._changed.add(path)
            finally:
                close = getattr(it, "close", None)
                if close is not None:
                    close()

        return batches

    @contextlib.contextmanager
    def _timed(self) -> Iterator[None]:
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            self.stats.capture_seconds += time.perf_counter() - started
            self.stats.capture_cpu += time.thread_time() - cpu

    def record(
        self, capture: CaptureSet, *, stop: threading.Event | None = None, finish: bool = True
    ) -> None:
        """`engine.analysis.run_capture` with recording: read every source into the analysis, then close
        the remaining flows and write the final flush."""
        source = self.wrap(capture.batches, capture.paths, capture.statuses)
        with contextlib.closing(source()) as batches:
            for batch in batches:
                self.analysis.ingest_batch(batch)
                if stop is not None and stop.is_set():
                    break
        note_undecoded(capture.statuses)
        if finish and self._ended:
            self.analysis.finish()

    def record_position(
        self, path: str, end_offset: int, packets: int | None = None, *, complete: bool = False
    ) -> None:
        """Say how far a file was analysed, for sources that do not go through `wrap` (call it on the
        ingest thread, between batches: it is written with the next flush)."""
        pos = self._position(path, None)
        pos.end_offset = end_offset
        if packets is not None:
            pos.packets = packets
        pos.complete = complete
        self._changed.add(path)

    def maybe_flush(self) -> None:
        """Flush if the interval has passed (for sources that do not go through `wrap`)."""
        if time.monotonic() - self._last_flush >= self.interval:
            self.flush()

    # ---- per batch --------------------------------------------------------------------------------------

    def _before(self, batch: RecordBatch) -> None:
        ts = batch.ts
        ok = (ts >= TS_MIN) & (ts < TS_MAX)
        if not ok.any():
            self._span = None
            return
        timed = ts[ok]
        self._span = (float(timed.min()), float(timed.max()))
        self._touched = self._span[0] if self._touched is None else min(self._touched, self._span[0])
        start = math.floor(self._span[1] / COUNTER_BIN) * COUNTER_BIN  # parts hold one hour (see wrap)
        if math.isnan(self._bin.start):
            self._bin.start = start
        elif start != self._bin.start:
            # a new hour of capture time: the hour so far gets the counters up to here
            state = counters_now(self.analysis)
            self._bin.end, self._bin.final = state, True
            self._bins.append(self._bin)
            self._bin = CounterBin(start, base=state)
        self._bin.saw(*self._span)

    def _after(self, batch: RecordBatch, path: str, status: SourceStatus | None) -> None:
        pos = self._position(path, status)
        pos.end_offset = batch.end_offset
        pos.packets += len(batch)
        pos.bytes += int(batch.wirelen.sum(dtype=np.int64))
        pos.captured_bytes += int(batch.caplen.sum(dtype=np.int64))
        timed = batch.ts[(batch.ts >= TS_MIN) & (batch.ts < TS_MAX)]
        if timed.size:
            lo, hi = float(timed.min()), float(timed.max())
            pos.first_ts = lo if pos.first_ts is None else min(pos.first_ts, lo)
            pos.last_ts = hi if pos.last_ts is None else max(pos.last_ts, hi)
            self._clock = hi if self._clock is None else max(self._clock, hi)
        self._changed.add(path)
        if self._error is not None:
            raise StoreError(f"recording into the history store stopped: {self._error}")
        if self._full:
            if self._dns.batch_done():
                self._take_dns()
            if (
                self._clock is not None
                and self._timeline_clock is not None
                and self._clock - self._timeline_clock > _TIMELINE_SPAN
            ):
                self._take_timeline()
        if time.monotonic() - self._last_flush >= self.interval:
            self.flush()

    def _position(self, path: str, status: SourceStatus | None) -> SourcePosition:
        pos = self._positions.get(path)
        if pos is not None:
            return pos
        identity = identify(path)
        saved = self._saved.get(path)
        start = status.start_offset if status is not None else 0
        if saved is not None and start and saved.end_offset == start and identity is not None:
            # a resumed file: its counts go on from the saved ones
            pos = replace(saved, identity=identity, complete=False, run_id=self.run_id)
        else:
            pos = SourcePosition(path, identity, run_id=self.run_id)
        if status is not None:
            self._statuses[path] = (status, dict(pos.linktypes))
        self._positions[path] = pos
        return pos

    # ---- what a flush takes -----------------------------------------------------------------------------

    def _flows_closed(self, records: FlowRecords) -> None:
        with self._closed_lock:
            self._closed.append(records)

    def _held(self) -> list[int]:
        with self._closed_lock:
            return [s for r in self._closed for s in r.columns["serial"].tolist()]

    def _timeline_bins(self) -> dict[int, int] | None:
        """The newest bins that can have changed since the last timeline capture: back to the oldest
        packet time ingested since then (None: every bin, the first time)."""
        if self._timeline_clock is None or self._clock is None:
            return None
        oldest = self._touched if self._touched is not None else self._clock
        span = max(self._clock - oldest, 0.0)
        return {res: 1 if res < 60 else int(span // res) + 2 for res in RESOLUTIONS}

    def _take_timeline(self) -> None:
        with self.analysis.lock:
            tl = self.analysis.timeline.snapshot(len(self.analysis.devices), self._timeline_bins())
        self._timelines.append(tl)
        self._timeline_clock = self._clock
        self._touched = None

    def _take_dns(self, snapshot: DnsSnapshot | None = None) -> None:
        def fetch(last: int) -> DnsSnapshot:
            inspector = self.analysis.inspector
            assert inspector is not None
            with self.analysis.lock:
                return inspector.snapshot(last, None)[0].dns

        self._dns.take(fetch, self._clock, snapshot)

    # ---- flushing ----------------------------------------------------------------------------------------

    def flush(self, *, final: bool = False) -> None:
        """Take what changed and hand it to the writer. Call on the ingest thread, between batches."""
        if self._closed_recorder:
            return
        a = self.analysis
        if final:  # the sources' accounts are complete now (finished, problems noted)
            self._changed.update(self._positions)
        snap = a.snapshot(
            closed_flows=False, timeline_bins=self._timeline_bins(), dns_last=self._dns.wanted()
        )
        if snap.metadata is not None:
            self._take_dns(snap.metadata.dns)
        if snap.clock is not None:
            self._clock = snap.clock if self._clock is None else max(self._clock, snap.clock)
        self._timeline_clock = self._clock
        self._touched = None
        state = counters_of(snap)
        if math.isnan(self._bin.start):
            self._bin.start = 0.0  # no timed packet yet
        current = replace(self._bin, end=state)
        bins, self._bins = [*self._bins, current], []
        with self._closed_lock:
            chunks, self._closed = self._closed, []
        closed = FlowRecords.concat(chunks)
        fill_server_names(closed, snap.flow_server_names or {})
        with a.lock:
            size = len(a.book)
            hi, lo = a.book.hi[self._book_size : size].copy(), a.book.lo[self._book_size : size].copy()
            home = a.home.prefixes
        dns, dns_lost = self._dns.drain()
        data = FlushData(
            snapshot=snap,
            bins=bins,
            closed=closed,
            new_addresses=(self._book_size, hi, lo),
            home=home,
            positions=[self._finished_position(p) for p in sorted(self._changed)],
            timelines=self._timelines,
            dns=dns,
            dns_lost=dns_lost,
            final=final,
        )
        self._book_size = size
        self._changed = set()
        self._timelines = []
        self.stats.dns_lost += dns_lost
        self._last_flush = time.monotonic()
        self._submit(data)

    def _finished_position(self, path: str) -> SourcePosition:
        """A copy of a file's position, with what its reader's account says."""
        pos = replace(self._positions[path])
        found = self._statuses.get(path)
        if found is not None:
            status, before = found
            pos.linktypes = dict(before)
            for linktype, count in status.linktypes.items():
                pos.linktypes[linktype] = pos.linktypes.get(linktype, 0) + count
            pos.format, pos.size = status.format, status.size
            pos.problems = [p.as_dict() for p in status.problems]
            pos.complete = status.finished and status.fatal_problem is None
        return pos

    def _submit(self, data: FlushData) -> None:
        if self._thread is None:
            self._write(data)
            return
        while not self._closed_recorder:  # close() from another thread: the writer is going away
            if self._error is not None:
                raise StoreError(f"recording into the history store stopped: {self._error}")
            with contextlib.suppress(queue.Full):
                self._queue.put(data, timeout=0.5)
                return

    def _write(self, data: FlushData) -> None:
        self._writer.write(data)
        self.stats.flushes += 1
        self.stats.write_seconds = self._writer.seconds
        self.stats.write_cpu = self._writer.cpu_seconds
        if self.retention is not None and time.monotonic() - self._pruned_at >= PRUNE_EVERY:
            self._pruned_at = time.monotonic()
            started = time.perf_counter()
            prune(
                self._writer.con,
                self.store.path,
                retention_days=self.retention.days,
                max_bytes=self.retention.max_bytes,
                sensor=self.store.sensor,
            )
            self.stats.write_seconds += time.perf_counter() - started

    def _write_loop(self) -> None:
        while True:
            data = self._queue.get()
            if data is None:
                return
            if self._error is not None:
                continue
            try:
                self._write(data)
            except BaseException as err:  # reported to the ingest thread and by close()
                self._error = err

    # ---- the end ----------------------------------------------------------------------------------------

    def close(self, *, final: bool | None = None) -> None:
        """Write the last flush and stop; call it once the ingest thread is done (after `session.wait()`).
        `final` (default: the wrapped source ran to its end and every batch was analysed whole) writes the
        analysis as it is now, remaining flows included; otherwise the store keeps the last periodic flush
        and a resumed run reads the rest again."""
        if self._closed_recorder:
            return
        if final is None:
            final = self._ended and self._consistent
        try:
            if final and self._error is None:
                with self._timed():
                    self.flush(final=True)
        finally:
            self._closed_recorder = True
            if self._thread is not None:
                self._queue.put(None)
                self._thread.join()
            with contextlib.suppress(ValueError):
                self.analysis.flows.on_close.remove(self._flows_closed)
            with contextlib.suppress(ValueError):
                self.analysis.held_serials.remove(self._held)
        if self._error is not None:
            raise StoreError(f"recording into the history store failed: {self._error}") from self._error

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(final=None if exc[0] is None else False)
