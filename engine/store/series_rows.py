"""Timeline bins as rows: the bins with traffic of a `TimelineSnapshot`, as (keys, values) arrays."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from engine.aggregate.timeline import TimelineSnapshot
from engine.store.schema import TIMELINE_RESOLUTIONS

I64 = npt.NDArray[np.int64]


def total_bins(tl: TimelineSnapshot) -> tuple[npt.NDArray[np.float64], I64]:
    """(resolution, bin start) and (bytes, packets) of the bins with traffic."""
    keys, values = [], []
    for res in TIMELINE_RESOLUTIONS:
        b, p = tl.total_bytes.get(res), tl.total_packets.get(res)
        if b is None or p is None:
            continue
        nz = np.flatnonzero(b.values | p.values)
        keys.append(np.stack([np.full(nz.shape[0], float(res)), b.start + nz * float(res)], axis=1))
        values.append(np.stack([b.values[nz], p.values[nz]], axis=1))
    if not keys:
        return np.zeros((0, 2)), np.zeros((0, 2), dtype=np.int64)
    return np.concatenate(keys), np.concatenate(values)


def device_bins(tl: TimelineSnapshot) -> tuple[npt.NDArray[np.float64], I64]:
    """(resolution, bin start, device) and (bytes up, bytes down) of the device bins with traffic."""
    keys, values = [], []
    for res in TIMELINE_RESOLUTIONS:
        ups, downs = tl.device_bytes_up.get(res, {}), tl.device_bytes_down.get(res, {})
        if not ups:
            continue
        devices = np.array(list(ups), dtype=np.int64)
        up = np.stack([ups[int(d)].values for d in devices])
        down = np.stack([downs[int(d)].values for d in devices])
        row, col = np.nonzero(up | down)
        start = ups[int(devices[0])].start
        keys.append(
            np.stack(
                [np.full(row.shape[0], float(res)), start + col * float(res), devices[row].astype(float)],
                axis=1,
            )
        )
        values.append(np.stack([up[row, col], down[row, col]], axis=1))
    if not keys:
        return np.zeros((0, 3)), np.zeros((0, 2), dtype=np.int64)
    return np.concatenate(keys), np.concatenate(values)


def latest(parts: list[tuple[npt.NDArray[Any], I64]]) -> tuple[npt.NDArray[Any], I64]:
    """The rows of all parts, one per key: the last part's where keys repeat."""
    keys = np.concatenate([k for k, _ in parts])
    values = np.concatenate([v for _, v in parts])
    if not keys.shape[0]:
        return keys, values
    uniq, last = np.unique(keys[::-1], axis=0, return_index=True)
    return uniq, values[::-1][last]
