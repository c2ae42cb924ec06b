"""Traffic over time at several resolutions, in total and per device, in bounded ring buffers.

Each resolution keeps a fixed number of bins (1 s for the last hour, 1 min for the last day, 15 min for the
last week, 1 h for the last 92 days), so memory does not grow with the capture. Bins follow the packet clock:
in replay they are capture time, live they are wall time. Packets older than a ring's window when they arrive
are counted as `late` for that resolution. A packet-size histogram is kept alongside.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.decode.decoder import TS_MAX, TS_MIN
from engine.decode.packets import Packets

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

RESOLUTIONS: dict[int, int] = {1: 3600, 60: 1440, 900: 672, 3600: 2208}  # seconds per bin -> bins kept
# For analysing saved captures of several days or weeks (DataFrames): longer windows, more memory.
LONG_RESOLUTIONS: dict[int, int] = {1: 3600, 60: 14 * 1440, 900: 92 * 96, 3600: 2 * 366 * 24}
DEVICE_RESOLUTIONS = (60, 900, 3600)  # per-device series (one-second bins per device would cost too much)
SIZE_EDGES = np.array([0, 64, 128, 256, 512, 1024, 1280, 1515, 1 << 31], dtype=np.int64)
SIZE_LABELS = ("0-63", "64-127", "128-255", "256-511", "512-1023", "1024-1279", "1280-1514", "1515+")
MAX_DEVICE_ROWS = 4096


def _sum_by(keys: I64, *values: I64) -> tuple[I64, list[I64]]:
    """Distinct keys and the sum of each value array per key."""
    lo, hi = int(keys.min()), int(keys.max())
    if hi - lo < 4 * keys.shape[0] + 1024:  # a dense range: count directly, no sorting
        offsets = keys - lo
        counts = np.bincount(offsets, minlength=hi - lo + 1)
        present = np.flatnonzero(counts)
        sums = [
            np.bincount(offsets, weights=v, minlength=hi - lo + 1)[present].astype(np.int64) for v in values
        ]
        return present + lo, sums
    uniq, inverse = np.unique(keys, return_inverse=True)
    return uniq, [np.bincount(inverse, weights=v, minlength=uniq.shape[0]).astype(np.int64) for v in values]


class _Ring:
    """`rows` series of `nbins` bins of width `res` seconds, indexed by absolute bin number."""

    def __init__(self, res: int, nbins: int, rows: int = 1, values: int = 2) -> None:
        self.res = res
        self.nbins = nbins
        self.data = np.zeros((values, rows, nbins), dtype=np.int64)
        self.newest = -1  # absolute bin number of the newest bin, -1 before any data
        self.late = 0

    def grow_rows(self, rows: int) -> None:
        if rows > self.data.shape[1]:
            # grow by a quarter: these rings are large (devices x bins), doubling would waste much
            size = max(rows, self.data.shape[1] + self.data.shape[1] // 4)
            grown = np.zeros((self.data.shape[0], size, self.nbins), dtype=np.int64)
            grown[:, : self.data.shape[1]] = self.data
            self.data = grown

    def _advance(self, to_bin: int) -> None:
        if self.newest < 0:
            self.newest = to_bin
            return
        if to_bin <= self.newest:
            return
        gap = to_bin - self.newest
        if gap >= self.nbins:
            self.data[:] = 0
        else:
            slots = (np.arange(self.newest + 1, to_bin + 1) % self.nbins).astype(np.intp)
            self.data[:, :, slots] = 0
        self.newest = to_bin

    def add(self, bins: I64, row: I64 | None, *values: I64, packets: I64 | None = None) -> None:
        """Add values per bin (and row). Bins older than the window the ring held before this call are
        late (`packets` per bin are counted, else bins); bins this call's newer data pushed out of the
        window are simply gone, as if they had come one by one."""
        if not bins.size:
            return
        before = self.newest
        self._advance(int(bins.max()))
        keep = bins > self.newest - self.nbins
        if before >= 0:
            late = bins <= before - self.nbins
            self.late += int(packets[late].sum()) if packets is not None else int(late.sum())
        slot = (bins[keep] % self.nbins).astype(np.intp)
        r = np.zeros(slot.shape[0], dtype=np.intp) if row is None else row[keep].astype(np.intp)
        for i, v in enumerate(values):
            np.add.at(self.data[i], (r, slot), v[keep])

    def series(self, row: int = 0, value: int = 0, last: int | None = None) -> tuple[int, I64]:
        """(absolute bin number of the first returned bin, values oldest to newest)."""
        count = self.nbins if last is None else min(last, self.nbins)
        if self.newest < 0:
            return 0, np.zeros(0, dtype=np.int64)
        first = self.newest - count + 1
        bins = np.arange(first, self.newest + 1)
        if row >= self.data.shape[1]:
            return first, np.zeros(count, dtype=np.int64)
        return first, self.data[value, row, (bins % self.nbins).astype(np.intp)].copy()


@dataclass(frozen=True, slots=True)
class TimelineSeries:
    """One series: bin width, start time of the first bin, and values per bin."""

    resolution: int
    start: float
    values: I64

    @property
    def times(self) -> F64:
        return self.start + self.resolution * np.arange(self.values.shape[0], dtype=np.float64)


@dataclass(frozen=True, slots=True)
class TimelineSnapshot:
    total_bytes: dict[int, TimelineSeries]
    total_packets: dict[int, TimelineSeries]
    device_bytes_up: dict[int, dict[int, TimelineSeries]]  # resolution -> device id -> series
    device_bytes_down: dict[int, dict[int, TimelineSeries]]
    late: dict[int, int]
    size_histogram: dict[str, int]
    newest: float | None


class Timeline:
    def __init__(self, bins: dict[int, int] | None = None) -> None:
        """`bins`: how many bins each resolution keeps (default RESOLUTIONS)."""
        bins = bins or RESOLUTIONS
        self._total = {res: _Ring(res, n) for res, n in bins.items()}
        self._devices = {res: _Ring(res, bins[res], rows=64) for res in DEVICE_RESOLUTIONS}
        self._sizes = np.zeros(len(SIZE_LABELS), dtype=np.int64)
        self._device_rows = 0

    def ingest(self, p: Packets, src_device: I64, dst_device: I64) -> None:
        ts = p.ts
        timed = (ts >= TS_MIN) & (ts < TS_MAX)
        self._sizes += np.bincount(np.searchsorted(SIZE_EDGES, p.wirelen, side="right") - 1, minlength=8)[:8]
        if not timed.any():
            return
        t = ts[timed]
        wl = p.wirelen[timed]
        # Sum per second first (a batch spans few seconds), then fold the seconds into each resolution.
        seconds, (sec_bytes, sec_packets) = _sum_by(t.astype(np.int64), wl, np.ones(t.shape[0], np.int64))
        for res, ring in self._total.items():
            bins, (b, pk) = _sum_by(seconds // res, sec_bytes, sec_packets)
            ring.add(bins, None, b, pk, packets=pk)
        src = src_device[timed]
        dst = dst_device[timed]
        top = int(max(src.max(initial=-1), dst.max(initial=-1))) + 1
        if top > self._device_rows:
            self._device_rows = min(top, MAX_DEVICE_ROWS)
            for ring in self._devices.values():
                ring.grow_rows(self._device_rows)
        minute = (t // 60).astype(np.int64)
        for devs, value in ((src, 0), (dst, 1)):
            sel = (devs >= 0) & (devs < MAX_DEVICE_ROWS)
            if not sel.any():
                continue
            # one dense key per (device, minute) of this batch
            m0 = int(minute[sel].min())
            span = int(minute[sel].max()) - m0 + 1
            keys, (sums,) = _sum_by(devs[sel] * span + (minute[sel] - m0), wl[sel])
            dev, minutes = keys // span, keys % span + m0
            for res, ring in self._devices.items():
                bins = minutes * 60 // res
                b0 = int(bins.min())
                width = int(bins.max()) - b0 + 1
                k2, (v,) = _sum_by(dev * width + (bins - b0), sums)
                zeros = np.zeros(v.shape[0], dtype=np.int64)
                ring.add(k2 % width + b0, k2 // width, *((v, zeros) if value == 0 else (zeros, v)))

    def snapshot(self, devices: int, last: dict[int, int] | None = None) -> TimelineSnapshot:
        """Series of every resolution (the newest `last[res]` bins, default all kept)."""
        last = last or {}
        total_bytes: dict[int, TimelineSeries] = {}
        total_packets: dict[int, TimelineSeries] = {}
        for res, ring in self._total.items():
            first, b = ring.series(0, 0, last.get(res))
            _, pk = ring.series(0, 1, last.get(res))
            total_bytes[res] = TimelineSeries(res, float(first * res), b)
            total_packets[res] = TimelineSeries(res, float(first * res), pk)
        up: dict[int, dict[int, TimelineSeries]] = {}
        down: dict[int, dict[int, TimelineSeries]] = {}
        for res, ring in self._devices.items():
            up[res], down[res] = {}, {}
            for d in range(min(devices, self._device_rows)):
                first, u = ring.series(d, 0, last.get(res))
                _, dn = ring.series(d, 1, last.get(res))
                up[res][d] = TimelineSeries(res, float(first * res), u)
                down[res][d] = TimelineSeries(res, float(first * res), dn)
        newest_ring = self._total[1]
        newest = float((newest_ring.newest + 1) * 1) if newest_ring.newest >= 0 else None
        return TimelineSnapshot(
            total_bytes=total_bytes,
            total_packets=total_packets,
            device_bytes_up=up,
            device_bytes_down=down,
            late={res: ring.late for res, ring in self._total.items()},
            size_histogram=dict(zip(SIZE_LABELS, self._sizes.tolist(), strict=True)),
            newest=newest,
        )
