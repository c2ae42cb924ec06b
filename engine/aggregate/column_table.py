"""Named numpy columns indexed by interned id, that grow with the ids and shrink when ids are compacted."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


class ColumnTable:
    """Columns of one row per id. `spec` maps a column name to (dtype, fill value for new rows)."""

    def __init__(self, spec: dict[str, tuple[Any, Any]], capacity: int = 1024) -> None:
        self._spec = spec
        self._capacity = capacity
        self._cols: dict[str, npt.NDArray[Any]] = {
            name: np.full(capacity, fill, dtype=dtype) for name, (dtype, fill) in spec.items()
        }

    def __getitem__(self, name: str) -> npt.NDArray[Any]:
        """The whole column, capacity long: index it with ids below the interner's size."""
        return self._cols[name]

    def ensure(self, size: int) -> None:
        if size <= self._capacity:
            return
        capacity = max(size, self._capacity * 2)
        for name, (dtype, fill) in self._spec.items():
            grown = np.full(capacity, fill, dtype=dtype)
            grown[: self._capacity] = self._cols[name]
            self._cols[name] = grown
        self._capacity = capacity

    def copy(self) -> ColumnTable:
        twin = ColumnTable(self._spec, capacity=1)
        twin._cols = {name: col.copy() for name, col in self._cols.items()}
        twin._capacity = self._capacity
        return twin

    def compact(self, new_of_old: npt.NDArray[np.int64]) -> None:
        """Move rows to their new ids (from KeyInterner.compact); rows mapped to -1 are dropped."""
        kept = np.flatnonzero(new_of_old >= 0)
        capacity = max(1024, kept.shape[0] * 2)
        for name, (dtype, fill) in self._spec.items():
            fresh = np.full(capacity, fill, dtype=dtype)
            fresh[: kept.shape[0]] = self._cols[name][kept]
            self._cols[name] = fresh
        self._capacity = capacity

    def rows(self, size: int, ids: npt.NDArray[np.int64] | None = None) -> dict[str, npt.NDArray[Any]]:
        """Copies of the columns for ids `0..size-1` (or the given ids)."""
        if ids is None:
            return {name: col[:size].copy() for name, col in self._cols.items()}
        return {name: col[ids] for name, col in self._cols.items()}
