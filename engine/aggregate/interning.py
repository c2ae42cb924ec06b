"""Dense ids for keys made of uint64 columns (MACs, addresses, flow tuples), assigned a batch at a time.

Aggregators keep their counters in numpy arrays indexed by these ids, so merging a batch is a handful of
vectorised operations instead of a dict update per key. Keys of several columns are hashed to 64 bits for
lookup, and every match is verified against the stored key, so a hash collision can never merge two keys:
colliding keys take a slower exact path.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: U64) -> U64:
    """splitmix64 finaliser: a cheap, well-distributed 64-bit hash of a 64-bit value."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
        return x ^ (x >> np.uint64(31))


def hash_columns(columns: tuple[U64, ...]) -> U64:
    if len(columns) == 1:
        return columns[0]
    with np.errstate(over="ignore"):
        h = _mix(columns[0] + _GOLDEN)
        for col in columns[1:]:
            h = _mix(h ^ (col + _GOLDEN))
    return h


class KeyInterner:
    """Maps keys of `width` uint64 columns to dense ids 0, 1, 2, ... in order of first appearance."""

    def __init__(self, width: int, capacity: int = 1024) -> None:
        self.width = width
        self._keys = np.zeros((capacity, width), dtype=np.uint64)
        self._size = 0
        self._sorted_hash = np.zeros(0, dtype=np.uint64)
        self._sorted_ids = np.zeros(0, dtype=np.int64)
        # keys whose hash collided with a different key: looked up exactly, by tuple
        self._collided: dict[tuple[int, ...], int] = {}

    def __len__(self) -> int:
        return self._size

    @property
    def keys(self) -> U64:
        """Key columns of every id, shape (len, width)."""
        return self._keys[: self._size]

    def column(self, i: int) -> U64:
        return self._keys[: self._size, i]

    def intern(self, *columns: U64) -> I64:
        """Ids for the given keys (one per row), adding keys never seen before."""
        if len(columns) != self.width:
            raise ValueError(f"expected {self.width} key columns, got {len(columns)}")
        n = columns[0].shape[0]
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        h = hash_columns(columns)
        # Fast path: most rows of a batch belong to keys seen before; find them without sorting the batch.
        if self._sorted_hash.shape[0]:
            pos = np.minimum(np.searchsorted(self._sorted_hash, h), self._sorted_hash.shape[0] - 1)
            found = self._sorted_hash[pos] == h
            ids = np.where(found, self._sorted_ids[pos], 0)
            for i, col in enumerate(columns):
                found &= self._keys[ids, i] == col
            if found.all():
                return ids
            missing = np.flatnonzero(~found)
            if missing.size < n:
                ids[missing] = self._intern_new(tuple(c[missing] for c in columns), h[missing])
                return ids
        return self._intern_new(columns, h)

    def _intern_new(self, columns: tuple[U64, ...], h: U64) -> I64:
        """Ids for rows that may hold unseen keys: unique within the batch, then look up or add."""
        uniq, first, inverse = np.unique(h, return_index=True, return_inverse=True)
        stacked = np.stack(columns, axis=1) if self.width > 1 else columns[0][:, None]
        reps = stacked[first]
        same_in_batch = (stacked == reps[inverse]).all(axis=1)
        if not same_in_batch.all():
            return self._intern_exact(stacked)
        ids_of_uniq = self._lookup_or_add(uniq, reps)
        return ids_of_uniq[inverse]

    def _lookup_or_add(self, uniq_hash: U64, reps: U64) -> I64:
        m = uniq_hash.shape[0]
        ids = np.full(m, -1, dtype=np.int64)
        if self._sorted_hash.shape[0]:
            pos = np.searchsorted(self._sorted_hash, uniq_hash)
            pos_c = np.minimum(pos, self._sorted_hash.shape[0] - 1)
            hit = self._sorted_hash[pos_c] == uniq_hash
            cand = self._sorted_ids[pos_c[hit]]
            verified = (self._keys[cand] == reps[hit]).all(axis=1)
            hit_idx = np.flatnonzero(hit)
            ids[hit_idx[verified]] = cand[verified]
            for j in hit_idx[~verified].tolist():  # a genuine 64-bit hash collision: exact path
                ids[j] = self._collided_id(reps[j])
        new = np.flatnonzero(ids < 0)
        if new.size:
            new_ids = self._append(reps[new])
            ids[new] = new_ids
            # `uniq_hash` comes sorted from np.unique, so the new hashes are sorted too: merge by insertion
            new_hash = uniq_hash[new]
            at = np.searchsorted(self._sorted_hash, new_hash)
            self._sorted_hash = np.insert(self._sorted_hash, at, new_hash)
            self._sorted_ids = np.insert(self._sorted_ids, at, new_ids)
        return ids

    def copy(self) -> KeyInterner:
        twin = KeyInterner(self.width, capacity=1)
        twin._keys = self._keys.copy()
        twin._size = self._size
        twin._sorted_hash = self._sorted_hash.copy()
        twin._sorted_ids = self._sorted_ids.copy()
        twin._collided = dict(self._collided)
        return twin

    def compact(self, keep: npt.NDArray[np.bool_]) -> I64:
        """Forget the keys whose `keep` is False; the kept keys get new dense ids in their old order.

        Returns the new id of every old id (-1 for a forgotten key), so callers can move their columns.
        """
        old_size = self._size
        kept = np.flatnonzero(keep[:old_size])
        new_of_old = np.full(old_size, -1, dtype=np.int64)
        new_of_old[kept] = np.arange(kept.shape[0], dtype=np.int64)
        keys = self._keys[kept].copy()
        self._keys = np.zeros((max(1024, keys.shape[0] * 2), self.width), dtype=np.uint64)
        self._keys[: keys.shape[0]] = keys
        self._size = keys.shape[0]
        remapped = new_of_old[self._sorted_ids]
        live = remapped >= 0
        self._sorted_hash = self._sorted_hash[live]
        self._sorted_ids = remapped[live]
        self._collided = {k: int(new_of_old[v]) for k, v in self._collided.items() if new_of_old[v] >= 0}
        return new_of_old

    def _collided_id(self, key: U64) -> int:
        t = tuple(int(x) for x in key)
        found = self._collided.get(t)
        if found is None:
            found = int(self._append(key[None, :])[0])
            self._collided[t] = found
        return found

    def _intern_exact(self, stacked: U64) -> I64:
        """Slow path for a batch with a within-batch hash collision: unique by full key."""
        uniq, inverse = np.unique(stacked, axis=0, return_inverse=True)
        ids = np.empty(uniq.shape[0], dtype=np.int64)
        for j in range(uniq.shape[0]):
            key = uniq[j]
            h = hash_columns(tuple(key[i : i + 1] for i in range(self.width)))
            ids[j] = int(self._lookup_or_add(h, key[None, :])[0])
        return ids[inverse.reshape(-1)]

    def _append(self, keys: U64) -> I64:
        k = keys.shape[0]
        need = self._size + k
        if need > self._keys.shape[0]:
            grown = np.zeros((max(need, self._keys.shape[0] * 2), self.width), dtype=np.uint64)
            grown[: self._size] = self._keys[: self._size]
            self._keys = grown
        self._keys[self._size : need] = keys
        ids = np.arange(self._size, need, dtype=np.int64)
        self._size = need
        return ids


class GrowingCounters:
    """Integer counter columns indexed by interned id, growing with the interner."""

    def __init__(self, columns: int, capacity: int = 1024) -> None:
        self._data = np.zeros((capacity, columns), dtype=np.int64)

    def ensure(self, size: int) -> None:
        if size > self._data.shape[0]:
            grown = np.zeros((max(size, self._data.shape[0] * 2), self._data.shape[1]), dtype=np.int64)
            grown[: self._data.shape[0]] = self._data
            self._data = grown

    def add(self, ids: I64, column: int, values: npt.NDArray[np.int64] | None = None) -> None:
        """Add `values` (or 1 per row) into `column` at `ids`; ids may repeat."""
        if ids.size == 0:
            return
        self.ensure(int(ids.max()) + 1)
        weights = None if values is None else values.astype(np.float64)
        sums = np.bincount(ids, weights=weights, minlength=0)
        touched = np.flatnonzero(sums)
        self._data[touched, column] += sums[touched].astype(np.int64)

    def view(self, size: int) -> npt.NDArray[np.int64]:
        self.ensure(size)
        return self._data[:size]
