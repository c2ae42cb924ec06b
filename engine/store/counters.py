"""Counters per hour of capture time: whole-capture totals, per MAC, per IP address, per device.

The analysis keeps cumulative counters. The recorder notes their state when an hour of capture time
begins and ends (`CounterState`); the difference is that hour's share. An hour's rows for a run are the
sum of its intervals (a run may come back to an hour when files overlap in time), rewritten as they grow.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.aggregate.endpoint_counters import EndpointTable
from engine.aggregate.traffic_totals import TrafficTotalsSnapshot
from engine.analysis import Analysis, AnalysisSnapshot
from engine.capture.records import RecordBatch
from engine.decode.decoder import TS_MAX, TS_MIN
from engine.devices.device_table import DeviceRecords
from engine.store.columns import keyed_difference
from engine.store.schema import COUNTER_BIN

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

# traffic_counters kinds, by code in memory and by name in the store
COUNTER_KINDS = ("ethertype", "link_class", "ip_proto", "ip_version", "malformed", "packet_size", "late")
TOTAL_FIELDS = ("packets", "bytes", "captured_bytes", "untimed_packets", "snaplen_cut_packets")
DEVICE_SUMS = (
    "packets_up",
    "bytes_up",
    "packets_down",
    "bytes_down",
    "internet_packets_up",
    "internet_bytes_up",
    "internet_packets_down",
    "internet_bytes_down",
)


@dataclass(frozen=True, slots=True)
class CounterState:
    """The analysis's cumulative counters at one moment."""

    totals: TrafficTotalsSnapshot
    macs: EndpointTable
    hosts: EndpointTable
    devices: DeviceRecords | None
    sizes: dict[str, int]  # packet size histogram
    late: dict[int, int]  # packets older than a timeline ring, per resolution


def counters_now(analysis: Analysis) -> CounterState:
    """Read the counters (cheap: no payload inspector, no flows)."""
    with analysis.lock:
        timeline = analysis.timeline.snapshot(0, dict.fromkeys((1, 60, 900, 3600), 1))
        return CounterState(
            totals=analysis.totals.snapshot(),
            macs=analysis.macs.snapshot(),
            hosts=analysis.hosts.snapshot(analysis.book),
            devices=analysis.devices.snapshot() if analysis.depth == "full" else None,
            sizes=timeline.size_histogram,
            late=timeline.late,
        )


def counters_of(snapshot: AnalysisSnapshot) -> CounterState:
    tl = snapshot.timeline
    return CounterState(
        totals=snapshot.totals,
        macs=snapshot.macs,
        hosts=snapshot.hosts,
        devices=snapshot.devices,
        sizes=tl.size_histogram if tl is not None else {},
        late=tl.late if tl is not None else {},
    )


@dataclass(slots=True)
class CounterBin:
    """One interval of a run within one hour of capture time: the counters when it began and ended."""

    start: float  # the hour's start, epoch seconds
    base: CounterState | None  # None: all zero (the run's start)
    end: CounterState | None = None
    first_ts: float | None = None  # earliest and latest packet time of the interval's batches
    last_ts: float | None = None
    final: bool = False  # the interval is over (the run moved to another hour)

    def saw(self, lo: float, hi: float) -> None:
        self.first_ts = lo if self.first_ts is None else min(self.first_ts, lo)
        self.last_ts = hi if self.last_ts is None else max(self.last_ts, hi)


@dataclass(slots=True)
class KeyedRows:
    """Rows by key: additive columns (`sums`), and columns combined by min, by max and by the newest."""

    keys: U64  # (n, k)
    sums: I64  # (n, s)
    mins: F64  # (n, a)
    maxs: F64  # (n, b)
    lasts: I64  # (n, c)

    def __len__(self) -> int:
        return int(self.keys.shape[0])

    def select(self, sel: npt.NDArray[Any]) -> KeyedRows:
        return KeyedRows(self.keys[sel], self.sums[sel], self.mins[sel], self.maxs[sel], self.lasts[sel])

    def plus(self, other: KeyedRows) -> KeyedRows:
        """Rows of both, combined per key."""
        if not len(self):
            return other
        if not len(other):
            return self
        keys = np.concatenate([self.keys, other.keys])
        uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        n = uniq.shape[0]
        sums = np.zeros((n, self.sums.shape[1]), dtype=np.int64)
        np.add.at(sums, inverse, np.concatenate([self.sums, other.sums]))
        mins = np.full((n, self.mins.shape[1]), np.inf)
        np.minimum.at(mins, inverse, np.concatenate([self.mins, other.mins]))
        maxs = np.full((n, self.maxs.shape[1]), -np.inf)
        np.maximum.at(maxs, inverse, np.concatenate([self.maxs, other.maxs]))
        lasts = np.zeros((n, self.lasts.shape[1]), dtype=np.int64)
        lasts[inverse] = np.concatenate([self.lasts, other.lasts])  # the later rows win
        return KeyedRows(uniq, sums, mins, maxs, lasts)

    def values(self) -> npt.NDArray[np.float64]:
        """Every column side by side (for telling changed rows)."""
        return np.concatenate(
            [self.sums.astype(np.float64), self.mins, self.maxs, self.lasts.astype(np.float64)], axis=1
        )


def _rows(keys: U64, sums: I64, mins: F64 | None = None, maxs: F64 | None = None) -> KeyedRows:
    n = keys.shape[0]
    return KeyedRows(
        keys.astype(np.uint64).reshape(n, keys.shape[1] if keys.ndim > 1 else 1),
        sums.astype(np.int64).reshape(n, sums.shape[1] if sums.ndim > 1 else 1),
        np.zeros((n, 0)) if mins is None else mins.reshape(n, 1),
        np.zeros((n, 0)) if maxs is None else maxs.reshape(n, 1),
        np.zeros((n, 0), dtype=np.int64),
    )


def _nonzero(rows: KeyedRows) -> KeyedRows:
    return rows.select(np.any(rows.sums != 0, axis=1))


@dataclass(slots=True)
class BinDelta:
    """One interval's share of the counters, by table."""

    totals: KeyedRows  # one row (key 0): TOTAL_FIELDS; min first_ts, max last_ts
    counters: KeyedRows  # keys (kind, code): packets, bytes
    macs: KeyedRows  # keys (mac,): tx/rx packets/bytes
    hosts: KeyedRows  # keys (hi, lo)
    devices: KeyedRows  # keys (kind, key hi, key lo): DEVICE_SUMS; min first_ts, max last_ts; last router

    def plus(self, other: BinDelta) -> BinDelta:
        return BinDelta(
            self.totals.plus(other.totals),
            self.counters.plus(other.counters),
            self.macs.plus(other.macs),
            self.hosts.plus(other.hosts),
            self.devices.plus(other.devices),
        )


def _dict_counters(state: CounterState | None) -> tuple[U64, I64]:
    keys: list[tuple[int, int]] = []
    values: list[tuple[int, int]] = []
    if state is not None:
        t = state.totals
        for kind, table in enumerate((t.ethertypes, t.link_classes, t.ip_protocols, t.ip_versions)):
            for code, pair in table.items():
                keys.append((kind, code))
                values.append((pair.packets, pair.bytes))
        for code, count in t.malformed.items():
            keys.append((4, code))
            values.append((count, 0))
        for i, (_label, count) in enumerate(state.sizes.items()):
            keys.append((5, i))
            values.append((count, 0))
        for res, count in state.late.items():
            keys.append((6, res))
            values.append((count, 0))
    return (
        np.array(keys, dtype=np.uint64).reshape(-1, 2),
        np.array(values, dtype=np.int64).reshape(-1, 2),
    )


def _mac_delta(end: EndpointTable, base: EndpointTable | None) -> KeyedRows:
    """Counts gained per MAC, with each MAC's place in the table (the order the analysis first saw them)
    as the `mins` column. MACs are only ever added: the base's MACs are the first rows of the end's."""
    counts = end.counts.copy()
    if base is not None and len(base):
        counts[: len(base)] -= base.counts
    return _rows(end.keys.reshape(len(end), 1), counts, np.arange(len(end), dtype=np.float64))


def _host_delta(end: EndpointTable, base: EndpointTable | None) -> KeyedRows:
    """Counts gained per IP address (the table lists only addresses with counts, so match by key)."""
    keys = end.keys.reshape(len(end), 2)
    if base is None:
        return _rows(keys, end.counts)
    return _rows(*keyed_difference(keys, end.counts, base.keys.reshape(len(base), 2), base.counts))


def _device_sums(d: DeviceRecords | None) -> tuple[U64 | None, I64 | None]:
    if d is None:
        return None, None
    keys = np.stack([d.kind, d.key_hi, d.key_lo], axis=1).astype(np.uint64)
    return keys, np.stack([d.columns[c] for c in DEVICE_SUMS], axis=1).astype(np.int64)


def interval_delta(interval: CounterBin) -> BinDelta:
    """What the counters gained over the interval."""
    end, base = interval.end, interval.base
    assert end is not None
    t, b = end.totals, base.totals if base is not None else None
    totals = np.array([getattr(t, f) - (getattr(b, f) if b is not None else 0) for f in TOTAL_FIELDS])
    first = interval.first_ts if interval.first_ts is not None else np.inf
    last = interval.last_ts if interval.last_ts is not None else -np.inf
    total_rows = _rows(
        np.zeros((1, 1), np.uint64), totals.reshape(1, -1), np.array([first]), np.array([last])
    )
    counters = _rows(*keyed_difference(*_dict_counters(end), *_dict_counters(base)))
    macs = _mac_delta(end.macs, base.macs if base is not None else None)
    hosts = _host_delta(end.hosts, base.hosts if base is not None else None)
    devices = _device_rows(end.devices, base.devices if base is not None else None, first)
    return BinDelta(
        _nonzero(total_rows), _nonzero(counters), _nonzero(macs), _nonzero(hosts), _nonzero(devices)
    )


def _device_rows(end: DeviceRecords | None, base: DeviceRecords | None, first: float) -> KeyedRows:
    keys, sums = _device_sums(end)
    if keys is None or sums is None or end is None:
        return _rows(np.zeros((0, 3), np.uint64), np.zeros((0, len(DEVICE_SUMS)), np.int64))
    base_keys, base_sums = _device_sums(base)
    if base_keys is not None and base_sums is not None and base_keys.shape[0]:
        # device ids only grow within a run: the base's devices are the first rows
        n = base_keys.shape[0]
        sums = sums.copy()
        sums[:n] -= base_sums
    # a device's first packet in the interval: its first ever, unless it was seen before the interval
    firsts = np.maximum(end.columns["first_ts"], first) if np.isfinite(first) else end.columns["first_ts"]
    rows = KeyedRows(
        keys,
        sums,
        firsts.reshape(-1, 1),
        end.columns["last_ts"].astype(np.float64).reshape(-1, 1),
        end.columns["router"].astype(np.int64).reshape(-1, 1),
    )
    return rows


def split_at_hours(batch: RecordBatch) -> list[RecordBatch]:
    """The batch in parts, one per hour of capture time its packets reach (in packet order; a packet out
    of order stays with the packets around it). Most batches fit in one hour and come back whole."""
    ts = batch.ts
    timed = (ts >= TS_MIN) & (ts < TS_MAX)
    if len(batch) < 2 or not timed.any():
        return [batch]
    hours = np.where(timed, np.floor(ts / COUNTER_BIN), -1.0)
    reached = np.maximum.accumulate(hours)
    if reached[-1] == reached[np.argmax(reached >= 0)]:
        return [batch]
    cuts = (np.flatnonzero(np.diff(reached) > 0) + 1).tolist()
    parts = []
    bounds = [0, *cuts, len(batch)]
    for i, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        parts.append(
            replace(
                batch,
                starts=batch.starts[lo:hi],
                caplen=batch.caplen[lo:hi],
                wirelen=batch.wirelen[lo:hi],
                ts=batch.ts[lo:hi],
                linktype=batch.linktype[lo:hi],
                interface=batch.interface[lo:hi],
                end_offset=batch.end_offset if i == len(bounds) - 2 else 0,
            )
        )
    return parts
