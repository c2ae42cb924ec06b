"""Reading counter bins back from the store."""

from __future__ import annotations

import duckdb
import numpy as np

from engine.store.columns import fetch
from engine.store.counters import COUNTER_KINDS, DEVICE_SUMS, TOTAL_FIELDS, BinDelta, KeyedRows

_ENDPOINT = "tx_packets, tx_bytes, rx_packets, rx_bytes"


def _keyed(keys: np.ndarray, sums: np.ndarray, mins: np.ndarray | None = None,
           maxs: np.ndarray | None = None, lasts: np.ndarray | None = None) -> KeyedRows:  # fmt: skip
    n = keys.shape[0]

    def matrix(a: np.ndarray) -> np.ndarray:
        return a.reshape(n, 1) if a.ndim == 1 else a

    return KeyedRows(
        matrix(keys.astype(np.uint64)),
        matrix(sums.astype(np.int64)),
        np.zeros((n, 0)) if mins is None else matrix(mins.astype(np.float64)),
        np.zeros((n, 0)) if maxs is None else matrix(maxs.astype(np.float64)),
        np.zeros((n, 0), dtype=np.int64) if lasts is None else matrix(lasts.astype(np.int64)),
    )


def read_bin(con: duckdb.DuckDBPyConnection, run_id: int, start: float) -> BinDelta:
    """What the store holds for one run's counter bin, keyed as the recorder keys it."""
    args = [run_id, start]
    where = "WHERE run_id = ? AND bin_start = ?"
    t = fetch(con, f"SELECT {', '.join(TOTAL_FIELDS)}, first_ts, last_ts FROM traffic_bins {where}", args)
    totals = _keyed(
        np.zeros((len(t["packets"]), 1)),
        np.stack([t[f] for f in TOTAL_FIELDS], axis=1),
        t["first_ts"],
        t["last_ts"],
    )
    c = fetch(con, f"SELECT kind, code, packets, bytes FROM traffic_counters {where}", args)
    kind_code = {k: i for i, k in enumerate(COUNTER_KINDS)}
    kinds = np.array([kind_code[k] for k in c["kind"].tolist()], dtype=np.uint64)
    counters = _keyed(
        np.stack([kinds, c["code"].astype(np.uint64)], axis=1), np.stack([c["packets"], c["bytes"]], axis=1)
    )
    m = fetch(con, f"SELECT mac, {_ENDPOINT}, ordinal FROM mac_counters {where}", args)
    macs = _keyed(m["mac"], np.stack([m[f] for f in _ENDPOINT.split(", ")], axis=1), m["ordinal"])
    h = fetch(
        con,
        f"""SELECT a.hi, a.lo, {_ENDPOINT} FROM host_counters h JOIN addresses a USING (address_id)
            {where.replace("run_id", "h.run_id")}""",
        args,
    )
    hosts = _keyed(
        np.stack([h["hi"], h["lo"]], axis=1), np.stack([h[f] for f in _ENDPOINT.split(", ")], axis=1)
    )
    d = fetch(
        con,
        f"""SELECT v.kind, v.key_hi, v.key_lo, {", ".join("c." + f for f in DEVICE_SUMS)},
                   c.first_ts, c.last_ts, c.router
            FROM device_counters c JOIN devices v USING (device_id)
            WHERE c.run_id = ? AND c.bin_start = ?""",
        args,
    )
    devices = _keyed(
        np.stack([d["kind"], d["key_hi"], d["key_lo"]], axis=1),
        np.stack([d[f] for f in DEVICE_SUMS], axis=1),
        d["first_ts"],
        d["last_ts"],
        d["router"],
    )
    return BinDelta(totals, counters, macs, hosts, devices)
