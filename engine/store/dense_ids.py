"""Store ids as the dense ids an analysis snapshot uses."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]


class DenseIds:
    """Store ids (sorted, distinct) as the dense ids a snapshot uses: 0, 1, 2, ... in store id order."""

    def __init__(self, *parts: npt.NDArray[Any]) -> None:
        found = [p.astype(np.int64) for p in parts if p.size]
        ids = np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)
        self.store_ids = ids[ids >= 0]
        self.targets: I64 | None = None  # the id each store id gets, when not its place (address book ids)

    def __len__(self) -> int:
        return int(self.store_ids.shape[0])

    def dense(self, ids: npt.NDArray[Any]) -> I64:
        """Dense ids of store ids (-1 and unknown ids become -1)."""
        ids = ids.astype(np.int64)
        if not len(self):
            return np.full(ids.shape[0], -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.store_ids, ids), len(self) - 1)
        hit = self.store_ids[pos] == ids
        out: I64 = np.where(hit, pos if self.targets is None else self.targets[pos], -1)
        return out

    def one(self, store_id: int) -> int:
        return int(self.dense(np.array([store_id]))[0])
