"""Exporting the store to Parquet, partitioned by sensor and day (UTC), with readable columns (addresses as
text, protocol names, device keys), so the stores of several sensors can be copied together and queried as
one with DuckDB:

    SELECT sensor, day, sum(bytes_up + bytes_down) FROM read_parquet('*/flows/**/*.parquet',
        hive_partitioning = true) GROUP BY ALL
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np

from engine.classify.protocol_labels import LABELS, PROTECTION_NAMES, label_protection
from engine.protocol_numbers import ip_protocol_name
from engine.store.columns import object_column, one
from engine.store.range_query import Range

_DAY = "strftime(make_timestamp(CAST({col} * 1000000 AS BIGINT)), '%Y-%m-%d')"


def _time(col: str) -> str:
    return f"to_timestamp({col})"


def _day(col: str) -> str:
    return _DAY.format(col=col)


def _flows_query(table: str, r: Range) -> str:
    return f"""
        SELECT f.sensor, {_day("f.first_ts")} AS day, f.run_id, {_time("f.first_ts")} AS first_time,
               {_time("f.last_ts")} AS last_time,
               CASE WHEN f.client = 1 THEN b.address ELSE a.address END AS client,
               CASE WHEN f.client = 1 THEN f.port_b ELSE f.port_a END AS client_port,
               CASE WHEN f.client = 1 THEN a.address ELSE b.address END AS server,
               CASE WHEN f.client = 1 THEN f.port_a ELSE f.port_b END AS server_port,
               p.name AS transport, l.name AS protocol, l.protection, f.server_name,
               CASE WHEN f.client = 1 THEN db.key ELSE da.key END AS client_device,
               CASE WHEN f.client = 1 THEN da.key ELSE db.key END AS server_device,
               CASE WHEN f.client = 1 THEN f.packets_ba ELSE f.packets_ab END AS packets_up,
               CASE WHEN f.client = 1 THEN f.bytes_ba ELSE f.bytes_ab END AS bytes_up,
               CASE WHEN f.client = 1 THEN f.packets_ab ELSE f.packets_ba END AS packets_down,
               CASE WHEN f.client = 1 THEN f.bytes_ab ELSE f.bytes_ba END AS bytes_down,
               {"true" if table == "open_flows" else "false"} AS cut_short
        FROM {table} f
        JOIN addresses a ON a.address_id = f.a_address JOIN addresses b ON b.address_id = f.b_address
        LEFT JOIN devices da ON da.device_id = f.dev_a LEFT JOIN devices db ON db.device_id = f.dev_b
        LEFT JOIN export_labels l ON l.label = f.label LEFT JOIN export_protocols p ON p.proto = f.proto
        WHERE {r.spans("f.")}
    """


def _vendors(con: duckdb.DuckDBPyConnection) -> dict[str, np.ndarray]:
    """The registered vendor of each device's MAC (looked up now: the registry may be newer than the data)."""
    from engine.mac_vendor import vendor_of

    rows = con.execute("SELECT device_id, key_lo FROM devices WHERE mac IS NOT NULL").fetchall()
    return {
        "device_id": np.array([r[0] for r in rows], dtype=np.int64),
        "vendor": object_column(vendor_of(int(r[1])) for r in rows),
    }


def export(
    con: duckdb.DuckDBPyConnection,
    folder: str | Path,
    *,
    start: float | None = None,
    end: float | None = None,
    sensor: str | None = None,
) -> dict[str, int]:
    """Write Parquet datasets under `folder` (flows/, dns/, traffic/, timeline/, device_timeline/, devices/,
    remote_names/, server_names/); returns the rows written per dataset. Existing files of the same sensor
    and day are replaced, others are left: several stores can be exported into one folder."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    r = Range(con, start, end, sensor)
    con.register(
        "export_labels",
        {
            "label": np.array([int(k) for k in LABELS], dtype=np.int32),
            "name": object_column(v.name for v in LABELS.values()),
            "protection": object_column(PROTECTION_NAMES[label_protection(int(k))] for k in LABELS),
        },
    )
    con.register(
        "export_protocols",
        {
            "proto": np.arange(256, dtype=np.int32),
            "name": object_column(ip_protocol_name(p) for p in range(256)),
        },
    )
    datasets = {
        "flows": f"{_flows_query('flows', r)} UNION ALL {_flows_query('open_flows', r)}",
        "dns": f"""
            SELECT l.sensor, {_day("l.ts")} AS day, l.run_id, {_time("l.ts")} AS time, l.kind, l.transport,
                   d.key AS client_device, l.client, l.server AS resolver, l.name, l.qtype, l.query_seen,
                   l.rcode, l.answers, l.latency
            FROM dns_log l LEFT JOIN devices d ON d.device_id = l.device_id
            WHERE {r.times("l.ts")}""",
        "traffic": f"""
            SELECT sensor, {_day("bin_start")} AS day, run_id, {_time("bin_start")} AS hour, packets, bytes,
                   captured_bytes, untimed_packets, snaplen_cut_packets
            FROM traffic_bins WHERE {r.bins()}""",
        "timeline": f"""
            SELECT sensor, {_day("bin_start")} AS day, run_id, resolution, {_time("bin_start")} AS time,
                   bytes, packets
            FROM timeline WHERE {r.bins()}""",
        "device_timeline": f"""
            SELECT t.sensor, {_day("t.bin_start")} AS day, t.run_id, t.resolution,
                   {_time("t.bin_start")} AS time, d.key AS device, d.hostname, t.bytes_up, t.bytes_down
            FROM device_timeline t JOIN devices d USING (device_id) WHERE {r.bins("t.")}""",
    }
    by_sensor = {
        "devices": f"""
            SELECT d.sensor, d.key, d.mac, v.vendor, d.hostname, {_time("min(c.first_ts)")} AS first_seen,
                   {_time("max(c.last_ts)")} AS last_seen,
                   sum(c.packets_up)::BIGINT AS packets_up, sum(c.bytes_up)::BIGINT AS bytes_up,
                   sum(c.packets_down)::BIGINT AS packets_down, sum(c.bytes_down)::BIGINT AS bytes_down,
                   sum(c.internet_bytes_up)::BIGINT AS internet_bytes_up,
                   sum(c.internet_bytes_down)::BIGINT AS internet_bytes_down, bool_or(c.router) AS router
            FROM device_counters c JOIN devices d USING (device_id)
            LEFT JOIN export_vendors v ON v.device_id = d.device_id WHERE {r.bins("c.")}
            GROUP BY ALL""",
        "remote_names": f"""
            SELECT sensor, address, any_value(name) AS name, flatten(list(sources)) AS sources,
                   sum(count)::BIGINT AS count, {_time("min(first_ts)")} AS first_seen,
                   {_time("max(last_ts)")} AS last_seen
            FROM remote_names WHERE {r.spans()} GROUP BY sensor, address, lower(name)""",
        "server_names": f"""
            SELECT sensor, any_value(name) AS name, source, sum(count)::BIGINT AS count,
                   {_time("min(first_ts)")} AS first_seen, {_time("max(last_ts)")} AS last_seen
            FROM server_names WHERE {r.spans()} GROUP BY sensor, lower(name), source""",
    }
    con.register("export_vendors", _vendors(con))
    written: dict[str, int] = {}
    try:
        for name, query in {**datasets, **by_sensor}.items():
            partitions = "(sensor, day)" if name in datasets else "(sensor)"
            count = int(one(con, f"SELECT count(*) FROM ({query})")[0])
            written[name] = count
            if not count:
                continue
            target = str(out / name).replace("'", "''")
            con.execute(
                f"COPY ({query}) TO '{target}' (FORMAT parquet, PARTITION_BY {partitions}, "
                "OVERWRITE_OR_IGNORE true)"
            )
    finally:
        con.unregister("export_labels")
        con.unregister("export_protocols")
        con.unregister("export_vendors")
    return written
