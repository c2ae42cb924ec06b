"""Group statistics on numpy columns (the rules' groupby): dense group ids, sums, medians, member rows."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def group_ids(*keys: npt.ArrayLike) -> tuple[I64, I64]:
    """Dense ids 0..n-1 of the distinct key tuples, per row, and the first row of each group.

    Keys are non-negative integer columns of equal length (add one to columns that hold -1)."""
    columns = [np.asarray(k, dtype=np.int64) for k in keys]
    if not columns or not columns[0].size:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    combined = columns[0].copy()
    for col in columns[1:]:
        span = int(col.max()) + 1
        combined = combined * span + col
    _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
    return inverse.astype(np.int64).reshape(-1), first.astype(np.int64)


def grouped_quantile(values: npt.ArrayLike, groups: I64, count: int, q: float) -> F64:
    """The `q` quantile (0..1, lower of the two nearest for a fraction) of `values` per group; NaN for a
    group without values. q=0.5 averages the two middle values (the median)."""
    v = np.asarray(values, dtype=np.float64)
    out = np.full(count, np.nan)
    if not v.size:
        return out
    order = _order_within_groups(v, groups)
    sv, sg = v[order], groups[order]
    sizes = np.bincount(sg, minlength=count)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    present = sizes > 0
    if q == 0.5:
        lo = starts + (sizes - 1) // 2
        hi = starts + sizes // 2
        out[present] = (sv[lo[present]] + sv[hi[present]]) / 2
    else:
        at = starts + np.floor(q * np.maximum(sizes - 1, 0)).astype(np.int64)
        out[present] = sv[at[present]]
    return out


def _order_within_groups(v: F64, groups: I64) -> I64:
    """Row order by group, then by value. One argsort of a combined key when values are small enough for
    it to stay exact, else a lexsort (about twice as slow)."""
    lo, hi = float(v.min()), float(v.max())
    span = hi - lo + 1.0
    if np.isfinite(span) and span * (int(groups.max()) + 1) < 2.0**40:
        order: I64 = np.argsort(groups * span + (v - lo), kind="stable")
        return order
    return np.lexsort((v, groups)).astype(np.int64)


def grouped_median(values: npt.ArrayLike, groups: I64, count: int) -> F64:
    """The median of `values` per group (NaN for a group without values)."""
    return grouped_quantile(values, groups, count, 0.5)


def grouped_sum(values: npt.ArrayLike, groups: I64, count: int) -> F64:
    sums = np.bincount(groups, weights=np.asarray(values, dtype=np.float64), minlength=count)
    return sums.astype(np.float64)


def grouped_min(values: npt.ArrayLike, groups: I64, count: int) -> F64:
    out = np.full(count, np.inf)
    np.minimum.at(out, groups, np.asarray(values, dtype=np.float64))
    return out


def grouped_max(values: npt.ArrayLike, groups: I64, count: int) -> F64:
    out = np.full(count, -np.inf)
    np.maximum.at(out, groups, np.asarray(values, dtype=np.float64))
    return out


class Members:
    """The row positions of each group, in row order: `members[g]`."""

    def __init__(self, groups: I64, count: int) -> None:
        self._order = np.argsort(groups, kind="stable")
        self._starts = np.concatenate([[0], np.cumsum(np.bincount(groups, minlength=count))])

    def __getitem__(self, group: int) -> I64:
        rows: I64 = self._order[self._starts[group] : self._starts[group + 1]]
        return rows
