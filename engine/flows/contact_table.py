"""What the finding rules read: the contact log joined with the flows not in it (the active ones).

`contact_table(log, extra)` gives a `ContactTable`: one row per contact key of the log
(engine/flows/contacts.py), then one row per extra flow, with the key columns, the counters, the kept flows
of each row and its traffic per time bin.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.flows.contacts import (
    F64,
    I64,
    BinChunk,
    ClientFlows,
    ContactLimits,
    ContactLogSnapshot,
    EventChunk,
    Mask,
    bins_of_flows,
    concat_chunks,
    plausible_times,
)
from engine.flows.flow_table import FlowRecords


@dataclass(frozen=True, slots=True)
class ContactTable:
    """Contacts for the rules: one row per contact key of the log, then one row per extra flow (the active
    ones). Rows carry the key columns and counters; `event_*` the kept flows of each row, grouped by row
    (`event_offsets[r]:event_offsets[r + 1]`, not in time order); `bin_*` the traffic per time bin
    (`bin_start` absolute, `bin_from`/`bin_to` the first and last moment of traffic in it)."""

    client_id: I64
    server_id: I64
    client_dev: I64
    server_dev: I64
    server_port: I64
    client_port: I64
    proto: I64
    label: I64
    server_name: I64
    flows: I64
    bytes_c2s: I64
    bytes_s2c: I64
    packets_c2s: I64
    packets_s2c: I64
    payload: I64
    first_ts: F64
    last_ts: F64
    first_serial: I64
    events_total: I64  # flows of the row with a plausible start; more than its events when the ring is full
    event_row: I64
    event_start: F64
    event_end: F64
    event_serial: I64
    event_offsets: I64
    bin_row: I64
    bin_start: F64
    bin_bytes: F64
    bin_touches: I64
    bin_starts: I64
    bin_from: F64
    bin_to: F64
    bin_seconds: int
    bins_since: float  # bins are complete from this time on
    evicted_keys: int = 0
    evicted_flows: int = 0
    evicted_bytes: int = 0

    def __len__(self) -> int:
        return int(self.flows.shape[0])

    def truncated(self) -> Mask:
        """Per row: some of its flows were let go from its ring."""
        kept = np.diff(self.event_offsets)
        result: Mask = kept < self.events_total
        return result

    def event_indices(self, rows: I64) -> I64:
        """Indices into the event arrays of every kept flow of these rows."""
        if rows.shape[0] == 1:
            row = int(rows[0])
            return np.arange(self.event_offsets[row], self.event_offsets[row + 1], dtype=np.int64)
        starts = self.event_offsets[rows]
        counts = self.event_offsets[rows + 1] - starts
        total = int(counts.sum())
        if not total:
            return np.zeros(0, dtype=np.int64)
        base = np.repeat(starts - (np.cumsum(counts) - counts), counts)
        result: I64 = base + np.arange(total, dtype=np.int64)
        return result


def contact_table(
    log: ContactLogSnapshot | None,
    extra: Iterable[tuple[FlowRecords, npt.NDArray[Any]]] = (),
    *,
    limits: ContactLimits | None = None,
    clock: float | None = None,
) -> ContactTable:
    """The log's keys, then the `extra` flows one row each, as a ContactTable. Without a log (a snapshot
    that has none), the extra flows alone. Bins older than the log's horizon before `clock` (default: the
    newest time seen) are left out, so the table does not depend on when the log compacted."""
    lim = log.limits if log is not None else (limits or ContactLimits())
    cols: dict[str, list[npt.NDArray[Any]]] = {
        name: [] for name in (*_KEY_NAMES, *_STAT_NAMES, "client_port", "first_serial", "events")
    }
    n_log = len(log) if log is not None else 0
    event_parts: list[EventChunk] = list(log.events) if log is not None else []
    bin_parts: list[BinChunk] = list(log.bins) if log is not None else []
    newest = log.clock if log is not None else -np.inf
    if log is not None:
        for name, parts in cols.items():
            parts.append(log.keys[name])
    offset = n_log
    extra_bins: list[tuple[I64, F64, F64, I64]] = []
    for records, labels in extra:
        if not len(records):
            continue
        f = ClientFlows.of(records, labels)
        n = len(records)
        rows = np.arange(offset, offset + n, dtype=np.int64)
        for name in _KEY_NAMES:
            cols[name].append(getattr(f, name))
        for name in _STAT_NAMES:
            cols[name].append(np.ones(n, dtype=np.int64) if name == "flows" else getattr(f, name))
        cols["client_port"].append(f.client_port)
        cols["first_serial"].append(f.serial)
        ok = plausible_times(f.first_ts)
        cols["events"].append(ok.astype(np.int64))
        event_parts.append(
            EventChunk(
                rows[ok].astype(np.int32),
                f.first_ts[ok],
                np.maximum(f.last_ts[ok], f.first_ts[ok]),
                f.serial[ok],
            )
        )
        extra_bins.append((rows, f.first_ts, f.last_ts, f.bytes_c2s + f.bytes_s2c))
        ends = f.last_ts[plausible_times(f.last_ts)]
        if ends.size:
            newest = max(newest, float(ends.max()))
        offset += n
    now = clock if clock is not None and np.isfinite(clock) else newest
    floor = log.bins_floor if log is not None else 0
    since = floor if not np.isfinite(now) else max(floor, int((now - lim.horizon_s) // lim.bin_seconds))
    for rows, first, last, nbytes in extra_bins:
        bin_parts.append(bins_of_flows(rows, first, last, nbytes, lim.bin_seconds, since))

    def joined(name: str, dtype: Any) -> npt.NDArray[Any]:
        parts = cols[name]
        return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)

    size = offset
    events = concat_chunks(EventChunk, event_parts)
    row = events.row.astype(np.int64)
    order = np.argsort(row, kind="stable")
    row = row[order]
    start, end, serial = events.start[order], events.end[order], events.serial[order]
    counts = np.bincount(row, minlength=size)
    if size and int(counts.max(initial=0)) > lim.ring:  # trim rows whose ring is over (not compacted yet)
        over = counts[row] > lim.ring
        sub = np.flatnonzero(over)
        sub = sub[np.lexsort((serial[sub], start[sub], row[sub]))]
        sub_rows = row[sub]
        firsts = np.searchsorted(sub_rows, sub_rows, side="right")
        drop = sub[(firsts - 1 - np.arange(sub.shape[0])) >= lim.ring]
        keep = np.ones(row.shape[0], dtype=bool)
        keep[drop] = False
        row, start, end, serial = row[keep], start[keep], end[keep], serial[keep]
        counts = np.bincount(row, minlength=size)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    bins = concat_chunks(BinChunk, bin_parts)
    fresh = bins.bin >= since
    bin_start = bins.bin[fresh].astype(np.float64) * lim.bin_seconds
    flows = joined("flows", np.int64)
    return ContactTable(
        client_id=joined("client_id", np.int64),
        server_id=joined("server_id", np.int64),
        client_dev=joined("client_dev", np.int64),
        server_dev=joined("server_dev", np.int64),
        server_port=joined("server_port", np.int64),
        client_port=joined("client_port", np.int64),
        proto=joined("proto", np.int64),
        label=joined("label", np.int64),
        server_name=joined("server_name", np.int64),
        flows=flows,
        bytes_c2s=joined("bytes_c2s", np.int64),
        bytes_s2c=joined("bytes_s2c", np.int64),
        packets_c2s=joined("packets_c2s", np.int64),
        packets_s2c=joined("packets_s2c", np.int64),
        payload=joined("payload", np.int64),
        first_ts=joined("first_ts", np.float64),
        last_ts=joined("last_ts", np.float64),
        first_serial=joined("first_serial", np.int64),
        events_total=joined("events", np.int64),
        event_row=row,
        event_start=start,
        event_end=end,
        event_serial=serial,
        event_offsets=offsets,
        bin_row=bins.row[fresh].astype(np.int64),
        bin_start=bin_start,
        bin_bytes=bins.bytes[fresh].astype(np.float64),
        bin_touches=bins.touches[fresh].astype(np.int64),
        bin_starts=bins.starts[fresh].astype(np.int64),
        bin_from=bin_start + bins.t_from[fresh],
        bin_to=bin_start + bins.t_to[fresh],
        bin_seconds=lim.bin_seconds,
        bins_since=float(since) * lim.bin_seconds,
        evicted_keys=log.evicted_keys if log is not None else 0,
        evicted_flows=log.evicted_flows if log is not None else 0,
        evicted_bytes=log.evicted_bytes if log is not None else 0,
    )


_KEY_NAMES = (
    "client_id",
    "server_id",
    "client_dev",
    "server_dev",
    "server_port",
    "proto",
    "label",
    "server_name",
)
_STAT_NAMES = (
    "flows",
    "bytes_c2s",
    "bytes_s2c",
    "packets_c2s",
    "packets_s2c",
    "payload",
    "first_ts",
    "last_ts",
)
