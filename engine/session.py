"""A capture session: an analysis fed from a capture source on a background thread.

The clock belongs to the engine: in replay, packets are ingested at the chosen speed of capture time
(1x, 10x, 60x, 600x, or as fast as possible), and pausing stops the clock; live and follow sessions ingest
what arrives. Readers (the TUI) take snapshots at any time and read the progress.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from engine.analysis import Analysis, AnalysisSnapshot, note_undecoded
from engine.capture.records import RecordBatch, SourceStatus
from engine.capture.source import CaptureSet
from engine.decode.decoder import TS_MAX, TS_MIN, decode
from engine.decode.packets import Packets
from engine.errors import HomescopeError

SPEEDS: tuple[float | None, ...] = (1.0, 10.0, 60.0, 600.0, None)  # None: as fast as possible
_SLICE_WALL_SECONDS = 0.1  # paced replay ingests slices of about this much wall time


class SessionMode(StrEnum):
    REPLAY = "replay"
    LIVE = "live"
    FOLLOW = "follow"


@dataclass(frozen=True, slots=True)
class Progress:
    mode: SessionMode
    running: bool
    paused: bool
    finished: bool
    speed: float | None
    packets: int
    bytes_read: int  # of the input files (compressed bytes for compressed files)
    total_size: int | None  # of the input files, when known
    capture_clock: float | None  # packet time of the newest packet ingested
    ingest_rate: float  # packets per second of wall time, recently
    drops: int | None  # packets the capture reported dropped (live), None when unknown
    error: HomescopeError | None

    @property
    def share(self) -> float | None:
        if not self.total_size:
            return None
        return min(self.bytes_read / self.total_size, 1.0)

    @property
    def time_left(self) -> float | None:
        """Estimated wall seconds until the end of a replay at the current pace."""
        share = self.share
        if share is None or share <= 0 or self.ingest_rate <= 0 or not self.running:
            return None
        return (1 - share) / share * (self.packets / self.ingest_rate)


BatchSource = Callable[[], Iterator[RecordBatch]]


class CaptureSession:
    def __init__(
        self,
        capture: CaptureSet,
        *,
        mode: SessionMode = SessionMode.REPLAY,
        speed: float | None = None,
        analysis: Analysis | None = None,
        batches: BatchSource | None = None,
        on_error: Callable[[HomescopeError], None] | None = None,
    ) -> None:
        self.capture = capture
        self.mode = mode
        self.analysis = analysis or Analysis()
        self._batches = batches or capture.batches
        self._speed = speed
        self._on_error = on_error
        self._pause = threading.Event()
        self._stop = threading.Event()
        self._changed = threading.Event()  # speed or pause changed: re-anchor the pacing
        self._thread: threading.Thread | None = None
        self._packets = 0
        self._clock: float | None = None
        self._rate = 0.0
        self._finished = False
        self._error: HomescopeError | None = None
        self.drops: int | None = None

    # ---- control ------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="homescope-ingest", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._pause.clear()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the session to finish; True if it did."""
        if self._thread is None:
            return self._finished
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def paused(self) -> bool:
        return self._pause.is_set()

    def set_paused(self, paused: bool) -> None:
        if paused:
            self._pause.set()
        else:
            self._pause.clear()
        self._changed.set()

    @property
    def speed(self) -> float | None:
        return self._speed

    def set_speed(self, speed: float | None) -> None:
        self._speed = speed
        self._changed.set()

    # ---- reading ------------------------------------------------------------------------------------

    @property
    def statuses(self) -> list[SourceStatus]:
        return self.capture.statuses

    def snapshot(self, **kwargs: object) -> AnalysisSnapshot:
        return self.analysis.snapshot(**kwargs)  # type: ignore[arg-type]

    def progress(self) -> Progress:
        sizes = [s.size for s in self.capture.statuses]
        total = sum(s for s in sizes if s) if all(s is not None for s in sizes) else None
        alive = self._thread is not None and self._thread.is_alive()
        return Progress(
            mode=self.mode,
            running=alive,
            paused=self.paused,
            finished=self._finished,
            speed=self._speed,
            packets=self._packets,
            bytes_read=sum(s.bytes_read for s in self.capture.statuses),
            total_size=total,
            capture_clock=self._clock,
            ingest_rate=self._rate,
            drops=self.drops,
            error=self._error,
        )

    # ---- the ingest thread --------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._ingest_all()
        except HomescopeError as err:
            self._error = err
            if self._on_error is not None:
                self._on_error(err)
        finally:
            note_undecoded(self.capture.statuses)
            if self.mode == SessionMode.REPLAY and not self._stop.is_set():
                self.analysis.finish()
            self._finished = True

    def _ingest_all(self) -> None:
        anchor_wall = time.monotonic()
        anchor_ts: float | None = None
        rate_window: list[tuple[float, int]] = []
        batches = self._batches()
        try:
            for batch in batches:
                packets = decode(batch)
                for part in self._slices(packets):
                    while self._pause.is_set() and not self._stop.is_set():
                        self._pause_wait()
                    if self._stop.is_set():
                        return
                    if self._changed.is_set():
                        self._changed.clear()
                        anchor_wall, anchor_ts = time.monotonic(), None
                    speed = self._speed if self.mode == SessionMode.REPLAY else None
                    first_ts = _first_time(part)
                    if speed is not None and first_ts is not None:
                        if anchor_ts is None:
                            anchor_wall, anchor_ts = time.monotonic(), first_ts
                        due = anchor_wall + (first_ts - anchor_ts) / speed
                        self._sleep_until(due)
                    self.analysis.ingest(part)
                    self._packets += len(part)
                    newest = _last_time(part)
                    if newest is not None:
                        self._clock = newest if self._clock is None else max(self._clock, newest)
                    now = time.monotonic()
                    rate_window.append((now, self._packets))
                    while len(rate_window) > 2 and now - rate_window[0][0] > 3.0:
                        rate_window.pop(0)
                    if len(rate_window) >= 2 and now > rate_window[0][0]:
                        self._rate = (rate_window[-1][1] - rate_window[0][1]) / (now - rate_window[0][0])
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()

    def _slices(self, packets: Packets) -> Iterator[Packets]:
        """The whole batch as fast as possible; in paced replay, slices of about 0.1 s of wall time."""
        speed = self._speed if self.mode == SessionMode.REPLAY else None
        if speed is None or len(packets) < 2:
            yield packets
            return
        ts = np.where((packets.ts >= TS_MIN) & (packets.ts < TS_MAX), packets.ts, np.nan)
        running = np.fmax.accumulate(np.nan_to_num(ts, nan=-np.inf))
        if not np.isfinite(running[-1]):
            yield packets
            return
        step = _SLICE_WALL_SECONDS * speed
        start_ts = running[np.isfinite(running)][0]
        bounds = np.searchsorted(running, np.arange(start_ts + step, running[-1] + step, step), side="left")
        start = 0
        for stop in [*np.unique(bounds).tolist(), len(packets)]:
            if stop > start:
                yield packets.slice(start, stop)
                start = stop

    def _pause_wait(self) -> None:
        self._changed.wait(0.1)

    def _sleep_until(self, due: float) -> None:
        while not self._stop.is_set() and not self._changed.is_set():
            left = due - time.monotonic()
            if left <= 0:
                return
            self._changed.wait(min(left, 0.1))


def _first_time(p: Packets) -> float | None:
    ok = (p.ts >= TS_MIN) & (p.ts < TS_MAX)
    return float(p.ts[ok][0]) if ok.any() else None


def _last_time(p: Packets) -> float | None:
    ok = (p.ts >= TS_MIN) & (p.ts < TS_MAX)
    return float(p.ts[ok].max()) if ok.any() else None
