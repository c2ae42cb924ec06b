"""Dense ids for keys made of uint64 columns (MACs, addresses, flow tuples), assigned a batch at a time.

Aggregators keep their counters in numpy arrays indexed by these ids, so merging a batch is a handful of
vectorised operations instead of a dict update per key. Keys are hashed to 64 bits and looked up in an
open-addressing hash table probed for all rows at once; every match is verified against the stored key,
so a hash collision can never merge two keys: colliding keys take a slower exact path.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MAX_LOAD = 0.5


def _mix(x: U64) -> U64:
    """splitmix64 finaliser: a cheap, well-distributed 64-bit hash of a 64-bit value."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
        return x ^ (x >> np.uint64(31))


def hash_columns(columns: tuple[U64, ...]) -> U64:
    with np.errstate(over="ignore"):
        h = _mix(columns[0] + _GOLDEN)
        for col in columns[1:]:
            h = _mix(h ^ (col + _GOLDEN))
    return h


class _HashTable:
    """Open addressing with linear probing over (hash, id) slots; lookups and inserts are vectorised."""

    def __init__(self, capacity: int = 1024) -> None:
        size = 1 << max(10, (capacity * 2 - 1).bit_length())
        self.hashes = np.zeros(size, dtype=np.uint64)
        self.ids = np.full(size, -1, dtype=np.int64)
        self.count = 0

    @property
    def mask(self) -> np.uint64:
        return np.uint64(self.ids.shape[0] - 1)

    def find(self, h: U64) -> I64:
        """The id stored under each hash, or -1."""
        out = np.full(h.shape[0], -1, dtype=np.int64)
        active = np.arange(h.shape[0])
        slot = (h & self.mask).astype(np.int64)
        while active.size:
            ids = self.ids[slot]
            hit = (ids >= 0) & (self.hashes[slot] == h[active])
            out[active[hit]] = ids[hit]
            go_on = (ids >= 0) & ~hit  # an occupied slot of another hash: probe the next one
            active = active[go_on]
            slot = ((slot[go_on] + 1) & int(self.mask)).astype(np.int64)
        return out

    def insert(self, h: U64, ids: I64) -> None:
        """Add distinct hashes not yet in the table."""
        if (self.count + h.shape[0]) > _MAX_LOAD * self.ids.shape[0]:
            self._grow(self.count + h.shape[0])
        pending = np.arange(h.shape[0])
        slot = (h & self.mask).astype(np.int64)
        while pending.size:
            free = self.ids[slot] < 0
            # several new keys may want the same free slot: the first of each slot wins it
            cand = np.flatnonzero(free)
            _, winners = np.unique(slot[cand], return_index=True)
            won = cand[winners]
            self.hashes[slot[won]] = h[pending[won]]
            self.ids[slot[won]] = ids[pending[won]]
            lost = np.ones(pending.shape[0], dtype=bool)
            lost[won] = False
            pending = pending[lost]
            slot = ((slot[lost] + 1) & int(self.mask)).astype(np.int64)
        self.count += h.shape[0]

    def _grow(self, need: int) -> None:
        used = self.ids >= 0
        old_h, old_ids = self.hashes[used], self.ids[used]
        fresh = _HashTable(max(need, 1024) * 2)
        fresh.insert(old_h, old_ids)
        self.hashes, self.ids, self.count = fresh.hashes, fresh.ids, fresh.count

    def copy(self) -> _HashTable:
        twin = _HashTable.__new__(_HashTable)
        twin.hashes, twin.ids, twin.count = self.hashes.copy(), self.ids.copy(), self.count
        return twin


class KeyInterner:
    """Maps keys of `width` uint64 columns to dense ids 0, 1, 2, ... in order of first appearance."""

    def __init__(self, width: int, capacity: int = 1024) -> None:
        self.width = width
        self._keys = np.zeros((capacity, width), dtype=np.uint64)
        self._size = 0
        self._table = _HashTable(capacity)
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
        ids = self._table.find(h)
        found = ids >= 0
        safe = np.maximum(ids, 0)
        for i, col in enumerate(columns):
            found &= self._keys[safe, i] == col
        if found.all():
            return ids
        missing = np.flatnonzero(~found)
        ids[missing] = self._intern_new(tuple(c[missing] for c in columns), h[missing])
        return ids

    def _intern_new(self, columns: tuple[U64, ...], h: U64) -> I64:
        """Ids for rows whose key was not found: unique within the batch, then add (or resolve collisions)."""
        uniq, first, inverse = np.unique(h, return_index=True, return_inverse=True)
        stacked = np.stack(columns, axis=1)
        reps = stacked[first]
        if not (stacked == reps[inverse]).all():
            return self._intern_exact(stacked)
        ids = self._table.find(uniq)
        out = np.empty(uniq.shape[0], dtype=np.int64)
        taken = ids >= 0  # the hash is known, but for another key: a genuine 64-bit collision
        for j in np.flatnonzero(taken).tolist():
            out[j] = self._collided_id(reps[j])
        new = np.flatnonzero(~taken)
        if new.size:
            new_ids = self._append(reps[new])
            self._table.insert(uniq[new], new_ids)
            out[new] = new_ids
        return out[inverse.reshape(-1)]

    def _collided_id(self, key: U64) -> int:
        t = tuple(int(x) for x in key)
        found = self._collided.get(t)
        if found is None:
            found = int(self._append(key[None, :])[0])
            self._collided[t] = found
        return found

    def _intern_exact(self, stacked: U64) -> I64:
        """Slow path for a batch with a within-batch hash collision: one distinct key at a time."""
        uniq, inverse = np.unique(stacked, axis=0, return_inverse=True)
        ids = np.array([self._intern_one(uniq[j]) for j in range(uniq.shape[0])], dtype=np.int64)
        return ids[inverse.reshape(-1)]

    def _intern_one(self, key: U64) -> int:
        known = self._collided.get(tuple(int(x) for x in key))
        if known is not None:
            return known
        h = hash_columns(tuple(key[i : i + 1] for i in range(self.width)))
        found = int(self._table.find(h)[0])
        if found >= 0:
            return found if bool((self._keys[found] == key).all()) else self._collided_id(key)
        new_id = self._append(key[None, :])
        self._table.insert(h, new_id)
        return int(new_id[0])

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

    def copy(self) -> KeyInterner:
        twin = KeyInterner(self.width, capacity=1)
        twin._keys = self._keys.copy()
        twin._size = self._size
        twin._table = self._table.copy()
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
        collided = {k: int(new_of_old[v]) for k, v in self._collided.items() if new_of_old[v] >= 0}
        collided_ids = np.array(sorted(collided.values()), dtype=np.int64)
        self._keys = np.zeros((max(1024, keys.shape[0] * 2), self.width), dtype=np.uint64)
        self._keys[: keys.shape[0]] = keys
        self._size = keys.shape[0]
        self._collided = collided
        self._table = _HashTable(max(1024, keys.shape[0]))
        in_table = np.ones(keys.shape[0], dtype=bool)
        in_table[collided_ids] = False
        rows = np.flatnonzero(in_table)
        if rows.size:
            cols = tuple(keys[rows, i] for i in range(self.width))
            self._table.insert(hash_columns(cols), rows.astype(np.int64))
        return new_of_old


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
        np.add.at(self._data[:, column], ids, 1 if values is None else values)

    def view(self, size: int) -> npt.NDArray[np.int64]:
        self.ensure(size)
        return self._data[:size]
