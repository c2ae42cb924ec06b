"""Checking a store is sound: every table readable, every reference found, no key written twice."""

from __future__ import annotations

import duckdb

from engine.store import schema
from engine.store.columns import one
from engine.store.metadata_rows import TABLES

# (table, column, referenced table, its key): rows that must find their counterpart
_REFERENCES = (
    ("flows", "a_address", "addresses", "address_id"),
    ("flows", "b_address", "addresses", "address_id"),
    ("flows", "dev_a", "devices", "device_id"),
    ("flows", "dev_b", "devices", "device_id"),
    ("open_flows", "a_address", "addresses", "address_id"),
    ("open_flows", "b_address", "addresses", "address_id"),
    ("host_counters", "address_id", "addresses", "address_id"),
    ("device_counters", "device_id", "devices", "device_id"),
    ("device_addresses", "device_id", "devices", "device_id"),
    ("device_addresses", "address_id", "addresses", "address_id"),
    ("device_timeline", "device_id", "devices", "device_id"),
    ("dns_log", "device_id", "devices", "device_id"),
    ("traffic_bins", "run_id", "runs", "run_id"),
    ("flows", "run_id", "runs", "run_id"),
)
# table -> the columns that key its rows
_UNIQUE = {
    "addresses": "address_id",
    "devices": "device_id",
    "runs": "run_id",
    "sources": "sensor, path",
    "flows": "run_id, seq",
    "open_flows": "run_id, serial",
    "traffic_bins": "run_id, bin_start",
    "traffic_counters": "run_id, bin_start, kind, code",
    "mac_counters": "run_id, bin_start, mac",
    "host_counters": "run_id, bin_start, address_id",
    "device_counters": "run_id, bin_start, device_id",
    "device_addresses": "run_id, device_id, address_id",
    "timeline": "run_id, resolution, bin_start",
    "device_timeline": "run_id, resolution, bin_start, device_id",
    "dns_log": "run_id, seq",
    **{t: "run_id, key" for t in TABLES},
}


def check(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Problems found (an empty list: the store is sound)."""
    problems: list[str] = []
    for table in (*schema.RUN_TABLES, "runs", "sources", "addresses", "devices", "meta"):
        try:
            one(con, f"SELECT count(*) FROM {table}")
        except duckdb.Error as err:
            problems.append(f"{table}: cannot be read ({err})")
    for table, column, target, key in _REFERENCES:
        missing = one(
            con,
            f"""SELECT count(*) FROM {table} t WHERE t.{column} >= 0
                AND NOT EXISTS (SELECT 1 FROM {target} x WHERE x.{key} = t.{column})""",
        )[0]
        if missing:
            problems.append(f"{table}.{column}: {missing} rows refer to a missing {target} row")
    for table, keys in _UNIQUE.items():
        twice = one(
            con, f"SELECT count(*) FROM (SELECT {keys} FROM {table} GROUP BY ALL HAVING count(*) > 1)"
        )[0]
        if twice:
            problems.append(f"{table}: {twice} keys ({keys}) have more than one row")
    return problems
