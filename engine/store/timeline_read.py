"""Timeline series of a stored range, as the analysis's `TimelineSnapshot` has them."""

from __future__ import annotations

import duckdb
import numpy as np
import numpy.typing as npt

from engine.aggregate.timeline import (
    DEVICE_RESOLUTIONS,
    LONG_RESOLUTIONS,
    RESOLUTIONS,
    SIZE_LABELS,
    TimelineSeries,
    TimelineSnapshot,
)
from engine.store.columns import fetch
from engine.store.dense_ids import DenseIds
from engine.store.range_query import Range
from engine.store.schema import TIMELINE_RESOLUTIONS

I64 = npt.NDArray[np.int64]


def _empty(res: int) -> TimelineSeries:
    return TimelineSeries(res, 0.0, np.zeros(0, dtype=np.int64))


def read_timeline(
    con: duckdb.DuckDBPyConnection,
    r: Range,
    devices: DenseIds,
    sizes: dict[int, int],
    late: dict[int, int],
    first_ts: float | None,
    bins: dict[int, int] | None = None,
) -> TimelineSnapshot:
    """Series over the range, as a live analysis's rings hold them: ending at the newest bin, holding at
    most `bins[res]` bins (default LONG_RESOLUTIONS in total, RESOLUTIONS per device), and starting no
    earlier than the range's first packet (`first_ts`)."""
    bins = bins or LONG_RESOLUTIONS
    if first_ts is not None and r.start is not None:
        first_ts = max(first_ts, r.start)
    total_bytes: dict[int, TimelineSeries] = {}
    total_packets: dict[int, TimelineSeries] = {}
    up: dict[int, dict[int, TimelineSeries]] = {}
    down: dict[int, dict[int, TimelineSeries]] = {}
    newest: float | None = None
    for res in RESOLUTIONS:
        total_bytes[res] = total_packets[res] = _empty(res)
        if res in DEVICE_RESOLUTIONS:
            up[res] = {d: _empty(res) for d in range(len(devices))}
            down[res] = {d: _empty(res) for d in range(len(devices))}
        if res not in TIMELINE_RESOLUTIONS:
            continue
        rows = fetch(
            con,
            f"""SELECT bin_start, sum(bytes)::BIGINT AS bytes, sum(packets)::BIGINT AS packets FROM timeline
                WHERE {r.timeline(res)} GROUP BY bin_start ORDER BY bin_start""",
        )
        if not rows["bin_start"].size:
            continue
        data_start = int(min(first_ts, rows["bin_start"][0]) // res) if first_ts is not None else 0
        data_start = max(data_start, int(rows["bin_start"][0] // res) - LONG_RESOLUTIONS[res])
        last_bin = int(rows["bin_start"][-1] // res)
        first_bin = max(data_start, last_bin - bins.get(res, LONG_RESOLUTIONS[res]) + 1)
        slots = (rows["bin_start"] // res).astype(np.int64) - first_bin
        keep = slots >= 0
        b = np.zeros(last_bin - first_bin + 1, dtype=np.int64)
        p = np.zeros(last_bin - first_bin + 1, dtype=np.int64)
        b[slots[keep]] = rows["bytes"][keep]
        p[slots[keep]] = rows["packets"][keep]
        total_bytes[res] = TimelineSeries(res, float(first_bin * res), b)
        total_packets[res] = TimelineSeries(res, float(first_bin * res), p)
        newest = max(newest or 0.0, float((last_bin + 1) * res))
        if res in DEVICE_RESOLUTIONS and len(devices):
            window = min(bins.get(res, RESOLUTIONS[res]), RESOLUTIONS[res])
            up[res], down[res] = _device_series(con, r, res, devices, data_start, window)
    return TimelineSnapshot(
        total_bytes=total_bytes,
        total_packets=total_packets,
        device_bytes_up=up,
        device_bytes_down=down,
        late={res: late.get(res, 0) for res in RESOLUTIONS},
        size_histogram={label: sizes.get(i, 0) for i, label in enumerate(SIZE_LABELS)},
        newest=newest,
    )


def _device_series(
    con: duckdb.DuckDBPyConnection, r: Range, res: int, devices: DenseIds, data_start: int, window: int
) -> tuple[dict[int, TimelineSeries], dict[int, TimelineSeries]]:
    rows = fetch(
        con,
        f"""SELECT device_id, bin_start, sum(bytes_up)::BIGINT AS bytes_up,
                   sum(bytes_down)::BIGINT AS bytes_down
            FROM device_timeline WHERE {r.timeline(res)} GROUP BY device_id, bin_start""",
    )
    n = len(devices)
    if not rows["bin_start"].size:
        return ({d: _empty(res) for d in range(n)}, {d: _empty(res) for d in range(n)})
    bin_of = (rows["bin_start"] // res).astype(np.int64)
    last_bin = int(bin_of.max())
    start_bin = max(data_start, last_bin - window + 1)
    dev = devices.dense(rows["device_id"].astype(np.int64))
    slots = bin_of - start_bin
    ok = (dev >= 0) & (slots >= 0)
    values = np.zeros((2, n, last_bin - start_bin + 1), dtype=np.int64)
    values[0, dev[ok], slots[ok]] = rows["bytes_up"][ok]
    values[1, dev[ok], slots[ok]] = rows["bytes_down"][ok]
    start = float(start_bin * res)
    return (
        {d: TimelineSeries(res, start, values[0, d]) for d in range(n)},
        {d: TimelineSeries(res, start, values[1, d]) for d in range(n)},
    )
