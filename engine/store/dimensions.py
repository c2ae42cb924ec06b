"""Store-wide ids for addresses and devices.

Addresses get one id for the whole store (flows, hosts and device addresses refer to it); devices one id
per sensor and key (the MAC, or the local IP address for link types without MACs). A run's own ids
(address book, device table) are mapped to these as it goes.
"""

from __future__ import annotations

import duckdb
import numpy as np
import numpy.typing as npt

from engine.decode.packets import ip_to_str, mac_to_str
from engine.devices.device_table import KIND_MAC
from engine.store.columns import fetch, insert, object_column, one

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
PAIR = np.dtype([("hi", "<u8"), ("lo", "<u8")])


def pairs(hi: U64, lo: U64) -> npt.NDArray[np.void]:
    out = np.empty(hi.shape[0], dtype=PAIR)
    out["hi"] = hi
    out["lo"] = lo
    return out


class AddressIndex:
    """Every address the store knows, as sorted (hi, lo) pairs with their ids."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        rows = fetch(con, "SELECT hi, lo, address_id FROM addresses")
        keys = pairs(rows["hi"].astype(np.uint64), rows["lo"].astype(np.uint64))
        order = np.argsort(keys)
        self._keys = keys[order]
        self._ids = rows["address_id"].astype(np.int64)[order]
        self._next = int(self._ids.max()) + 1 if self._ids.size else 0

    def __len__(self) -> int:
        return int(self._ids.shape[0])

    def find(self, hi: U64, lo: U64) -> I64:
        """Ids of the addresses, -1 for unknown ones."""
        wanted = pairs(hi, lo)
        if not self._keys.size:
            return np.full(wanted.shape[0], -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self._keys, wanted), self._keys.shape[0] - 1)
        hit = self._keys[pos] == wanted
        return np.where(hit, self._ids[pos], -1)

    def ids(self, con: duckdb.DuckDBPyConnection, hi: U64, lo: U64) -> I64:
        """Ids of the addresses; unknown ones are added to the store (inside the caller's transaction)."""
        found = self.find(hi, lo)
        missing = np.flatnonzero(found < 0)
        if missing.size:
            new_keys, first = np.unique(pairs(hi[missing], lo[missing]), return_index=True)
            # ids in the order the addresses come (a run's address book order), sorted keys aside
            by_arrival = np.argsort(first)
            new_keys, rows = new_keys[by_arrival], missing[first[by_arrival]]
            new_ids = np.arange(self._next, self._next + new_keys.shape[0], dtype=np.int64)
            self._next += new_keys.shape[0]
            insert(
                con,
                "addresses",
                {
                    "address_id": new_ids,
                    "hi": hi[rows],
                    "lo": lo[rows],
                    "address": object_column(
                        ip_to_str(int(h), int(lw)) for h, lw in zip(hi[rows], lo[rows], strict=True)
                    ),
                },
            )
            keys = np.concatenate([self._keys, new_keys])
            ids = np.concatenate([self._ids, new_ids])
            order = np.argsort(keys)
            self._keys, self._ids = keys[order], ids[order]
            found = self.find(hi, lo)
        return found


DeviceKey = tuple[int, int, int]  # (kind, key hi, key lo), as the device table keys devices


def device_key_text(kind: int, hi: int, lo: int) -> str:
    return mac_to_str(lo) if kind == KIND_MAC else ip_to_str(hi, lo)


class DeviceIndex:
    """The devices of one sensor, by key."""

    def __init__(self, con: duckdb.DuckDBPyConnection, sensor: str) -> None:
        rows = con.execute(
            "SELECT kind, key_hi, key_lo, device_id FROM devices WHERE sensor = ?", [sensor]
        ).fetchall()
        self._ids: dict[DeviceKey, int] = {(int(k), int(h), int(lw)): int(i) for k, h, lw, i in rows}
        top = one(con, "SELECT max(device_id) FROM devices")[0]
        self._next = int(top) + 1 if top is not None else 0
        self.sensor = sensor

    def ids(self, con: duckdb.DuckDBPyConnection, kind: U64, hi: U64, lo: U64) -> I64:
        """Ids of the devices; new ones are added to the store (inside the caller's transaction)."""
        out = np.empty(kind.shape[0], dtype=np.int64)
        new: list[tuple[int, DeviceKey]] = []
        for i, key in enumerate(zip(kind.tolist(), hi.tolist(), lo.tolist(), strict=True)):
            found = self._ids.get(key)
            if found is None:
                found = self._ids[key] = self._next
                self._next += 1
                new.append((found, key))
            out[i] = found
        if new:
            keys = [k for _, k in new]
            insert(
                con,
                "devices",
                {
                    "device_id": np.array([i for i, _ in new], dtype=np.int64),
                    "sensor": object_column(self.sensor for _ in new),
                    "kind": np.array([k[0] for k in keys], dtype=np.uint8),
                    "key_hi": np.array([k[1] for k in keys], dtype=np.uint64),
                    "key_lo": np.array([k[2] for k in keys], dtype=np.uint64),
                    "key": object_column(device_key_text(*k) for k in keys),
                    "mac": object_column(mac_to_str(k[2]) if k[0] == KIND_MAC else None for k in keys),
                },
            )
        return out
