"""The contact log: who contacted whom, when and how much, kept without keeping the flows.

What an analysis keeps of closed flows depends on its retention policy (engine/flows/closed_flows.py): a
report keeps the largest, the monitor the most recent. The finding rules must not depend on that, and
beaconing is made of many small flows, the first to go. So every closed flow is also folded into this log,
whose memory is bounded by the number of distinct *contact keys*, not by the length of the capture.

A contact key is what the rules tell flows apart by, except time: client and server address (address-book
ids), the devices on each side, server port, IP protocol, protocol label, the server name the client asked
for, whether the flow carried application data, and whether the client port is high (10000 and up). Per
key the log keeps

- counters: flows, bytes and packets each way, application payload, first and last time, the serial of
  its first flow, its lowest client port;
- a ring of its newest `ring` flows (start, end, serial): the rhythm of contacts and the evidence;
- bytes per bin of absolute time (15 minutes) over the last `horizon_s`, with the flows active in and
  started in each bin and when, within the bin, traffic was first and last seen: quiet hours in any time
  zone (whole quarter hours, as every time zone's offset is) are then read exactly, whatever the settings
  were when the traffic came in. A flow's bytes are shared out evenly over its lifetime.

Bounds: at most `max_keys` keys (when full, the least recently active eighth is evicted, and counted), at
most `ring` flows per key and `max_events` in all (beyond, the keys with the most keep fewer), at most
`max_bins` bins in all (beyond, the oldest bins go). With the default limits memory stays around 40 MB at
most however long the capture (docs/findings.md).

The server name of a flow comes from the payload inspector, which may run in another process: the analysis
hands flows to the log once their names are known (engine/analysis.py).

`ContactLog.snapshot()` gives an immutable `ContactLogSnapshot` (read-only arrays) another thread may read;
`contact_table(log, flows)` (engine/flows/contact_table.py) joins it with flows not in the log (the active
ones) into the `ContactTable` the rules read: one row per key, then one row per extra flow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from engine.aggregate.column_table import ColumnTable
from engine.aggregate.interning import KeyInterner
from engine.decode.decoder import TS_MAX, TS_MIN
from engine.flows.flow_table import FlowRecords

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]
Mask = npt.NDArray[np.bool_]

HIGH_CLIENT_PORT = 10000  # UDP between two ports from here up is peer-to-peer or media (unusual_port)
_NO_SERIAL = np.iinfo(np.int64).max


@dataclass(frozen=True, slots=True)
class ContactLimits:
    """How much the contact log keeps (see the module docstring)."""

    max_keys: int = 50_000
    ring: int = 512
    max_events: int = 600_000
    max_bins: int = 600_000
    bin_seconds: int = 900
    horizon_s: float = 14 * 86400.0


_STATS: dict[str, tuple[Any, Any]] = {
    "flows": (np.int64, 0),
    "bytes_c2s": (np.int64, 0),
    "bytes_s2c": (np.int64, 0),
    "packets_c2s": (np.int64, 0),
    "packets_s2c": (np.int64, 0),
    "payload": (np.int64, 0),
    "first_ts": (np.float64, np.inf),
    "last_ts": (np.float64, -np.inf),
    "first_serial": (np.int64, _NO_SERIAL),
    "client_port": (np.int64, 65536),  # the lowest
    "events": (np.int64, 0),  # flows that went into the ring (those with a plausible start)
}


def _readonly(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    array.flags.writeable = False
    return array


@dataclass(frozen=True, slots=True)
class EventChunk:
    """Flows of keys: start, end and serial (`row`: the key)."""

    row: I32
    start: F64
    end: F64
    serial: I64

    def __len__(self) -> int:
        return int(self.row.shape[0])


@dataclass(frozen=True, slots=True)
class BinChunk:
    """Traffic of keys per time bin: `bin` is the bin's index (start time / bin seconds); `touches` the
    flows active in it, `starts` the flows that started in it; `t_from`, `t_to` the first and last moment
    of traffic in it (seconds from the bin's start)."""

    row: I32
    bin: I64
    bytes: F64
    touches: I32
    starts: I32
    t_from: F32
    t_to: F32

    def __len__(self) -> int:
        return int(self.row.shape[0])


_Chunk = TypeVar("_Chunk", EventChunk, BinChunk)
# the dtypes of an empty chunk's columns, in field order (`row` first)
_EMPTY: dict[type, tuple[type, ...]] = {
    EventChunk: (np.int32, np.float64, np.float64, np.int64),
    BinChunk: (np.int32, np.int64, np.float64, np.int32, np.int32, np.float32, np.float32),
}


def _take(chunk: _Chunk, index: npt.NDArray[Any] | slice, row: I32 | None = None) -> _Chunk:
    """The entries `index` of a chunk (read-only), with their rows replaced by `row` when given."""
    columns = [_readonly(getattr(chunk, f.name)[index]) for f in fields(chunk)]
    if row is not None:
        columns[0] = _readonly(row)
    return type(chunk)(*columns)


def concat_chunks(kind: type[_Chunk], chunks: Iterable[_Chunk]) -> _Chunk:
    """The chunks one after the other, as one chunk."""
    parts = list(chunks)
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return kind(*(_readonly(np.zeros(0, dtype=dt)) for dt in _EMPTY[kind]))
    return kind(*(_readonly(np.concatenate([getattr(c, f.name) for c in parts])) for f in fields(kind)))


# ---- a flow's view -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientFlows:
    """Flows seen from the client: the key columns and the counters."""

    client_id: I64
    server_id: I64
    client_dev: I64
    server_dev: I64
    server_port: I64
    client_port: I64
    proto: I64
    label: I64
    server_name: I64
    has_payload: Mask
    bytes_c2s: I64
    bytes_s2c: I64
    packets_c2s: I64
    packets_s2c: I64
    payload: I64
    first_ts: F64
    last_ts: F64
    serial: I64

    @staticmethod
    def of(records: FlowRecords, labels: npt.NDArray[Any]) -> ClientFlows:
        c = records.columns
        b = c["client"] == 1

        def side(when_a: npt.NDArray[Any], when_b: npt.NDArray[Any]) -> I64:
            out: I64 = np.where(b, when_b, when_a).astype(np.int64)
            return out

        payload = (c["payload_ab"] + c["payload_ba"]).astype(np.int64)
        return ClientFlows(
            client_id=side(records.a_id, records.b_id),
            server_id=side(records.b_id, records.a_id),
            client_dev=side(c["dev_a"], c["dev_b"]),
            server_dev=side(c["dev_b"], c["dev_a"]),
            server_port=side(records.port_b, records.port_a),
            client_port=side(records.port_a, records.port_b),
            proto=records.proto.astype(np.int64),
            label=np.asarray(labels).astype(np.int64),
            server_name=c["server_name"].astype(np.int64),
            has_payload=payload > 0,
            bytes_c2s=side(c["bytes_ab"], c["bytes_ba"]),
            bytes_s2c=side(c["bytes_ba"], c["bytes_ab"]),
            packets_c2s=side(c["packets_ab"], c["packets_ba"]),
            packets_s2c=side(c["packets_ba"], c["packets_ab"]),
            payload=payload,
            first_ts=c["first_ts"].astype(np.float64),
            last_ts=c["last_ts"].astype(np.float64),
            serial=c["serial"].astype(np.int64),
        )

    def key_columns(self) -> tuple[npt.NDArray[np.uint64], ...]:
        u = np.uint64
        devices = ((self.client_dev + 1).astype(u) << u(32)) | (self.server_dev + 1).astype(u)
        packed = (
            (self.server_port.astype(u) << u(48))
            | ((self.client_port >= HIGH_CLIENT_PORT).astype(u) << u(47))
            | (self.has_payload.astype(u) << u(46))
            | ((self.proto & 0xFF).astype(u) << u(32))
            | (self.label & 0xFFFF).astype(u)
        )
        return (
            self.client_id.astype(u),
            self.server_id.astype(u),
            devices,
            packed,
            (self.server_name + 1).astype(u),
        )


def plausible_times(ts: F64) -> Mask:
    result: Mask = (ts >= TS_MIN) & (ts < TS_MAX)
    return result


def bins_of_flows(row: I64, first: F64, last: F64, nbytes: I64, bin_seconds: int, since_bin: int) -> BinChunk:
    """Each flow's bytes shared out over the bins its lifetime touches (a flow without duration: whole in
    its bin), from bin index `since_bin` on."""
    idx = np.flatnonzero(plausible_times(first) & plausible_times(last) & (last >= first))
    f, la = first[idx], last[idx]
    first_bin = np.floor(f / bin_seconds).astype(np.int64)
    # the end is exclusive: a flow that ends on a bin's start does not touch that bin
    last_bin = np.where(la > f, np.ceil(la / bin_seconds).astype(np.int64) - 1, first_bin)
    last_bin = np.maximum(last_bin, first_bin)
    fresh = last_bin >= since_bin
    idx, f, la, first_bin, last_bin = idx[fresh], f[fresh], la[fresh], first_bin[fresh], last_bin[fresh]
    lo_bin = np.maximum(first_bin, since_bin)
    counts = last_bin - lo_bin + 1
    total = int(counts.sum())
    at = np.repeat(np.arange(idx.shape[0]), counts)
    offset = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    b = lo_bin[at] + offset
    start = b.astype(np.float64) * bin_seconds
    rep = idx[at]
    f, la = f[at], la[at]
    lo = np.maximum(f, start)
    hi = np.minimum(la, start + bin_seconds)
    duration = la - f
    share = np.where(duration > 0, (hi - lo) / np.where(duration > 0, duration, 1.0), 1.0)
    return BinChunk(
        row=_readonly(row[rep].astype(np.int32)),
        bin=_readonly(b),
        bytes=_readonly(nbytes[rep] * share),
        touches=_readonly(np.ones(total, dtype=np.int32)),
        starts=_readonly((b == first_bin[at]).astype(np.int32)),
        t_from=_readonly((lo - start).astype(np.float32)),
        t_to=_readonly((hi - start).astype(np.float32)),
    )


# ---- the log -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContactLogSnapshot:
    """The contact log at one moment: read-only arrays, safe to hand to another thread.

    `keys` holds the key columns (client_id, server_id, client_dev, server_dev, server_port, proto, label,
    server_name, has_payload) and the counters of `_STATS`, one row per key; `events` and `bins` refer to
    keys by row. `evicted_*` count what was let go to keep the log within its limits."""

    keys: Mapping[str, npt.NDArray[Any]]
    events: tuple[EventChunk, ...]
    bins: tuple[BinChunk, ...]
    limits: ContactLimits
    clock: float  # the newest flow end folded in (-inf when none)
    bins_floor: int  # bin index from which bins are complete (older ones were let go)
    flows: int  # flows folded in, in all
    evicted_keys: int = 0
    evicted_flows: int = 0
    evicted_bytes: int = 0

    def __len__(self) -> int:
        return int(self.keys["flows"].shape[0])


class ContactLog:
    """Closed flows folded into contact keys, within `limits` (see the module docstring)."""

    def __init__(self, limits: ContactLimits | None = None) -> None:
        self.limits = limits or ContactLimits()
        self._keys = KeyInterner(5)
        self._stats = ColumnTable(_STATS)
        self._events: list[EventChunk] = []
        self._event_count = 0
        self._events_compacted = 0
        self._bins: list[BinChunk] = []
        self._bin_count = 0
        self._bins_compacted = 0
        self._bins_floor = 0
        self._clock = -np.inf
        self.flows = 0
        self.evicted_keys = 0
        self.evicted_flows = 0
        self.evicted_bytes = 0

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def event_count(self) -> int:
        return self._event_count

    @property
    def bin_count(self) -> int:
        return self._bin_count

    def _since_bin(self) -> int:
        lim = self.limits
        if not np.isfinite(self._clock):
            return self._bins_floor
        return max(self._bins_floor, int((self._clock - lim.horizon_s) // lim.bin_seconds))

    def add(self, records: FlowRecords, labels: npt.NDArray[Any]) -> None:
        """Fold closed flows (with their labels and server names) into the log."""
        if not len(records):
            return
        f = ClientFlows.of(records, labels)
        ids = self._keys.intern(*f.key_columns())
        self._stats.ensure(len(self._keys))
        s = self._stats
        np.add.at(s["flows"], ids, 1)
        for name in ("bytes_c2s", "bytes_s2c", "packets_c2s", "packets_s2c", "payload"):
            np.add.at(s[name], ids, getattr(f, name))
        before = s["first_ts"][ids]
        np.minimum.at(s["first_ts"], ids, f.first_ts)
        np.maximum.at(s["last_ts"], ids, f.last_ts)
        # the first flow is the one that started first (serials follow the order flows are seen within a
        # batch, not their start times); among flows that started together, the lowest serial
        first = s["first_ts"][ids]
        s["first_serial"][ids[first < before]] = _NO_SERIAL
        at_first = f.first_ts == first
        np.minimum.at(s["first_serial"], ids[at_first], f.serial[at_first])
        np.minimum.at(s["client_port"], ids, f.client_port)
        ok = np.flatnonzero(plausible_times(f.first_ts))
        np.add.at(s["events"], ids[ok], 1)
        self.flows += len(records)
        ends = f.last_ts[plausible_times(f.last_ts)]
        if ends.size:
            self._clock = max(self._clock, float(ends.max()))
        if ok.size:
            self._events.append(
                EventChunk(
                    _readonly(ids[ok].astype(np.int32)),
                    _readonly(f.first_ts[ok]),
                    _readonly(np.maximum(f.last_ts[ok], f.first_ts[ok])),
                    _readonly(f.serial[ok]),
                )
            )
            self._event_count += int(ok.size)
        bins = bins_of_flows(
            ids, f.first_ts, f.last_ts, f.bytes_c2s + f.bytes_s2c, self.limits.bin_seconds, self._since_bin()
        )
        if len(bins):
            self._bins.append(bins)
            self._bin_count += len(bins)
        self._maybe_evict()
        self._maybe_compact()

    # ---- staying within the limits ----------------------------------------------------------------------

    def _maybe_evict(self) -> None:
        lim = self.limits
        size = len(self._keys)
        if size <= lim.max_keys:
            return
        s = self._stats
        # the least recently active go, an eighth of the keys at a time (so evictions stay rare)
        newest = np.argsort(-s["last_ts"][:size], kind="stable")[: lim.max_keys - lim.max_keys // 8]
        keep = np.zeros(size, dtype=bool)
        keep[newest] = True
        gone = ~keep
        self.evicted_keys += int(gone.sum())
        self.evicted_flows += int(s["flows"][:size][gone].sum())
        self.evicted_bytes += int((s["bytes_c2s"][:size][gone] + s["bytes_s2c"][:size][gone]).sum())
        new_of_old = self._keys.compact(keep)
        s.compact(new_of_old)
        self._events = [c for c in (_moved(chunk, new_of_old) for chunk in self._events) if len(c)]
        self._event_count = self._events_compacted = sum(len(c) for c in self._events)
        self._bins = [c for c in (_moved(chunk, new_of_old) for chunk in self._bins) if len(c)]
        self._bin_count = sum(len(c) for c in self._bins)

    def _maybe_compact(self) -> None:
        lim = self.limits
        if self._event_count > max(self._events_compacted * 3 // 2, self._events_compacted + 65536) or (
            len(self._events) > 256
        ):
            self._compact_events()
        if self._bin_count > max(self._bins_compacted * 3 // 2, self._bins_compacted + 65536) or (
            len(self._bins) > 256
        ):
            self._compact_bins()
        if self._event_count > lim.max_events:
            self._compact_events()
        if self._bin_count > lim.max_bins:
            self._compact_bins()

    def _compact_events(self) -> None:
        """The newest `ring` flows per key, fewer for the busiest keys when over `max_events`; sorted by key,
        then start."""
        events = concat_chunks(EventChunk, self._events)
        if not len(events):
            return
        order = np.lexsort((events.serial, events.start, events.row))
        row = events.row[order]
        counts = np.bincount(row, minlength=len(self._keys))
        limit = _ring_limit(counts, self.limits.ring, self.limits.max_events)
        ends = np.cumsum(counts)
        from_end = ends[row] - 1 - np.arange(row.shape[0])
        keep = order[from_end < limit]
        self._events = [_take(events, keep)]
        self._event_count = self._events_compacted = int(keep.shape[0])

    def _compact_bins(self) -> None:
        """One entry per key and bin, none older than the horizon, at most `max_bins` (the newest)."""
        merged = merge_bins(concat_chunks(BinChunk, self._bins), self._since_bin())
        budget = self.limits.max_bins
        if len(merged) > budget:
            cut = int(np.partition(merged.bin, len(merged) - budget)[len(merged) - budget])
            if int((merged.bin >= cut).sum()) > budget:
                cut += 1
            self._bins_floor = max(self._bins_floor, cut)
            merged = _take(merged, np.flatnonzero(merged.bin >= self._since_bin()))
        self._bins = [merged] if len(merged) else []
        self._bin_count = self._bins_compacted = len(merged)

    # ---- reading ----------------------------------------------------------------------------------------

    def snapshot(self) -> ContactLogSnapshot:
        size = len(self._keys)
        k = self._keys.keys
        packed = k[:, 3]
        u = np.uint64
        keys: dict[str, npt.NDArray[Any]] = {
            "client_id": k[:, 0].astype(np.int64),
            "server_id": k[:, 1].astype(np.int64),
            "client_dev": (k[:, 2] >> u(32)).astype(np.int64) - 1,
            "server_dev": (k[:, 2] & u(0xFFFFFFFF)).astype(np.int64) - 1,
            "server_port": (packed >> u(48)).astype(np.int64),
            "has_payload": ((packed >> u(46)) & u(1)).astype(bool),
            "proto": ((packed >> u(32)) & u(0xFF)).astype(np.int64),
            "label": (packed & u(0xFFFF)).astype(np.int64),
            "server_name": k[:, 4].astype(np.int64) - 1,
        }
        keys.update(self._stats.rows(size))
        for array in keys.values():
            _readonly(array)
        return ContactLogSnapshot(
            keys=MappingProxyType(keys),
            events=tuple(self._events),
            bins=tuple(self._bins),
            limits=self.limits,
            clock=float(self._clock),
            bins_floor=self._bins_floor,
            flows=self.flows,
            evicted_keys=self.evicted_keys,
            evicted_flows=self.evicted_flows,
            evicted_bytes=self.evicted_bytes,
        )


def _moved(chunk: _Chunk, new_of_old: I64) -> _Chunk:
    """A chunk with its rows renumbered after keys were evicted (the entries of evicted keys dropped)."""
    moved = new_of_old[chunk.row]
    kept = np.flatnonzero(moved >= 0)
    if kept.shape[0] == len(chunk):
        return _take(chunk, slice(None), _readonly(moved.astype(np.int32)))
    return _take(chunk, kept, _readonly(moved[kept].astype(np.int32)))


def _ring_limit(counts: I64, ring: int, budget: int) -> int:
    """The most flows per key to keep: `ring`, or less when that would exceed `budget` in all (the keys with
    fewer keep all of theirs)."""
    if int(np.minimum(counts, ring).sum()) <= budget:
        return ring
    lo, hi = 1, ring  # the largest limit within the budget, by bisection
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if int(np.minimum(counts, mid).sum()) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def merge_bins(bins: BinChunk, since: int) -> BinChunk:
    """One entry per key and bin (sums of bytes, touches and starts; the earliest and latest moments),
    dropping bins before index `since`."""
    fresh = np.flatnonzero(bins.bin >= since)
    if not fresh.size:
        return _take(bins, fresh)
    combined = (bins.row[fresh].astype(np.int64) << 32) | bins.bin[fresh]
    uniq, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    n = uniq.shape[0]
    t_from = np.full(n, np.inf, dtype=np.float32)
    t_to = np.full(n, -np.inf, dtype=np.float32)
    np.minimum.at(t_from, inverse, bins.t_from[fresh])
    np.maximum.at(t_to, inverse, bins.t_to[fresh])
    return BinChunk(
        row=_readonly(bins.row[fresh][first]),
        bin=_readonly(bins.bin[fresh][first]),
        bytes=_readonly(np.bincount(inverse, weights=bins.bytes[fresh], minlength=n)),
        touches=_readonly(np.bincount(inverse, weights=bins.touches[fresh], minlength=n).astype(np.int32)),
        starts=_readonly(np.bincount(inverse, weights=bins.starts[fresh], minlength=n).astype(np.int32)),
        t_from=_readonly(t_from),
        t_to=_readonly(t_to),
    )
