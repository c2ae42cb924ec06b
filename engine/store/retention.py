"""Keeping the store in bounds: dropping data older than a number of days, or the oldest days until the
store fits a size, then giving the space back.

DuckDB reuses the space of deleted rows once it checkpoints, but never shrinks its file by itself:
`compact` copies the database into a fresh file and swaps it in (only while nothing records into it).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from engine.store.columns import one
from engine.store.metadata_rows import TABLES, TIMED
from engine.store.schema import COUNTER_BIN

DAY = 86400.0

# table -> SQL that is true for rows entirely before the cutoff ($cutoff)
_OLD: dict[str, str] = {
    "flows": "last_ts < $cutoff",
    "open_flows": "last_ts < $cutoff",
    "traffic_bins": f"bin_start + {COUNTER_BIN} <= $cutoff",
    "traffic_counters": f"bin_start + {COUNTER_BIN} <= $cutoff",
    "mac_counters": f"bin_start + {COUNTER_BIN} <= $cutoff",
    "host_counters": f"bin_start + {COUNTER_BIN} <= $cutoff",
    "device_counters": f"bin_start + {COUNTER_BIN} <= $cutoff",
    "device_addresses": "last_ts < $cutoff",
    "timeline": "bin_start + resolution <= $cutoff",
    "device_timeline": "bin_start + resolution <= $cutoff",
    "dns_log": "ts < $cutoff",
    **{table: "last_ts < $cutoff" for table in TIMED},
}
# rows without a time of their own go with their run, once nothing of the run is left
_WITH_RUN = ("home_prefixes", *(t for t in TABLES if t not in TIMED))


@dataclass(frozen=True, slots=True)
class PruneResult:
    cutoff: float | None  # rows of capture time before this were dropped (None: nothing was)
    deleted_rows: int
    used_bytes_before: int
    used_bytes_after: int
    file_bytes_after: int


def used_bytes(con: duckdb.DuckDBPyConnection) -> int:
    block_size, used_blocks = one(con, "SELECT block_size, used_blocks FROM pragma_database_size()")
    return int(block_size) * int(used_blocks)


def delete_before(con: duckdb.DuckDBPyConnection, cutoff: float, sensor: str | None = None) -> int:
    """Drop every row of capture time before `cutoff` (of one sensor, or all); returns the rows dropped."""
    where_sensor = "" if sensor is None else " AND sensor = $sensor"
    params: dict[str, object] = {"cutoff": cutoff}
    if sensor is not None:
        params["sensor"] = sensor
    deleted = 0
    con.begin()
    try:
        for table, old in _OLD.items():
            deleted += _delete(con, f"DELETE FROM {table} WHERE {old}{where_sensor}", params)
        alive = "SELECT DISTINCT run_id FROM traffic_bins UNION SELECT DISTINCT run_id FROM flows"
        for table in _WITH_RUN:
            deleted += _delete(con, f"DELETE FROM {table} WHERE run_id NOT IN ({alive})", {})
        deleted += _delete(con, f"DELETE FROM runs WHERE finished AND run_id NOT IN ({alive})", {})
        deleted += _delete(con, f"DELETE FROM sources WHERE last_ts < $cutoff{where_sensor}", params)
        # addresses and devices nothing refers to any more
        deleted += _delete(
            con,
            """DELETE FROM addresses WHERE address_id NOT IN (
                   SELECT a_address FROM flows UNION SELECT b_address FROM flows
                   UNION SELECT a_address FROM open_flows UNION SELECT b_address FROM open_flows
                   UNION SELECT address_id FROM host_counters
                   UNION SELECT address_id FROM device_addresses)""",
            {},
        )
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return deleted


def _delete(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object]) -> int:
    rows = con.execute(sql, params).fetchall()
    return int(rows[0][0]) if rows else 0


def prune(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    retention_days: float | None = None,
    max_bytes: int | None = None,
    sensor: str | None = None,
    now: float | None = None,
) -> PruneResult:
    """Drop data older than `retention_days` (by capture time, counted back from `now`: by default the
    newest capture time in the store, so replayed old captures and a clock set late do not empty it), then
    the oldest whole days (UTC) until the data fits `max_bytes`; checkpoint so the space is reused."""
    before = used_bytes(con)
    deleted = 0
    cutoff: float | None = None
    if now is None:
        now = one(con, "SELECT max(last_ts) FROM traffic_bins WHERE isfinite(last_ts)")[0]
    if retention_days is not None and now is not None:
        cutoff = float(now) - retention_days * DAY
        deleted += delete_before(con, cutoff, sensor)
    con.execute("CHECKPOINT")
    if max_bytes is not None:
        while used_bytes(con) > max_bytes:
            first = one(con, "SELECT min(bin_start) FROM traffic_bins")[0]
            if first is None:
                break
            day_end = (math.floor(float(first) / DAY) + 1) * DAY
            cutoff = day_end if cutoff is None else max(cutoff, day_end)
            dropped = delete_before(con, cutoff, sensor)
            con.execute("CHECKPOINT")
            if not dropped:
                break
            deleted += dropped
    return PruneResult(
        cutoff=cutoff,
        deleted_rows=deleted,
        used_bytes_before=before,
        used_bytes_after=used_bytes(con),
        file_bytes_after=path.stat().st_size if path.exists() else 0,
    )


def compact_copy(con: duckdb.DuckDBPyConnection, path: Path) -> Path:
    """Copy the database into a fresh file beside it (given back to the caller to swap in)."""
    fresh = path.with_name(path.name + ".compact")
    for leftover in (fresh, fresh.with_name(fresh.name + ".wal")):
        if leftover.exists():
            os.remove(leftover)
    name = one(con, "SELECT current_database()")[0]
    con.execute("CHECKPOINT")
    con.execute(f"ATTACH '{fresh}' AS compacted")
    try:
        con.execute(f'COPY FROM DATABASE "{name}" TO compacted')
    finally:
        con.execute("DETACH compacted")
    return fresh
