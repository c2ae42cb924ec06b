"""Reading the inspector's findings and the sources of a stored range back as engine objects."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import numpy.typing as npt

from engine.capture.records import Problem, SourceStatus
from engine.metadata.dns_log import DnsEntry, DnsSnapshot
from engine.metadata.payload_inspector import MetadataSnapshot
from engine.store import metadata_rows as meta_rows
from engine.store.columns import Columns
from engine.store.dense_ids import DenseIds
from engine.store.range_query import Range

I64 = npt.NDArray[np.int64]


def meta_rows_of(con: duckdb.DuckDBPyConnection, r: Range, table: str) -> list[meta_rows.StoredRow]:
    columns = meta_rows.TABLES[table]
    where = r.spans() if table in meta_rows.TIMED else f"run_id IN ({r.run_list()})"
    result = con.execute(f"SELECT run_id, ordinal, key, {', '.join(columns)} FROM {table} WHERE {where}")
    return [
        meta_rows.StoredRow(int(row[0]), int(row[1]), row[2], dict(zip(columns, row[3:], strict=True)))
        for row in result.fetchall()
    ]


def metadata(
    stored: dict[str, list[meta_rows.StoredRow]],
    dns: Columns,
    dns_total: int,
    devices: DenseIds,
    names: list[str],
) -> MetadataSnapshot:
    def device(store_id: int) -> int:
        return devices.one(store_id) if store_id >= 0 else -1

    dense_dns = devices.dense(dns["device_id"])
    entries = [
        DnsEntry(
            ts=float(dns["ts"][i]),
            kind=dns["kind"][i],
            transport=dns["transport"][i],
            client_device=int(dense_dns[i]),
            client=dns["client"][i],
            server=dns["server"][i],
            name=dns["name"][i],
            qtype=int(dns["qtype"][i]),
            query_seen=bool(dns["query_seen"][i]),
            rcode=None if dns["rcode"][i] is None else int(dns["rcode"][i]),
            answers=tuple(dns["answers"][i]) if dns["answers"][i] is not None else (),
            latency=None if dns["latency"][i] is None else float(dns["latency"][i]),
        )
        for i in range(dns["ts"].shape[0])
    ]
    messages, dns_malformed = meta_rows.malformed(stored["malformed"])
    return MetadataSnapshot(
        dns=DnsSnapshot(
            entries=entries,
            total_entries=dns_total,
            names=meta_rows.dns_names(stored["dns_names"], device),
            resolvers=meta_rows.dns_resolvers(stored["dns_resolvers"], device),
            malformed=dns_malformed,
        ),
        remote_names=meta_rows.remote_names(stored["remote_names"]),
        device_names=meta_rows.device_names(stored["device_names"], stored["device_traits"], device),
        dhcp=meta_rows.dhcp_clients(stored["dhcp_clients"], device),
        server_names=meta_rows.server_names(stored["server_names"], device),
        name_table=names,
        doh=meta_rows.doh(stored["doh"], device),
        malformed=messages,
    )


def sources(con: duckdb.DuckDBPyConnection, r: Range) -> list[SourceStatus]:
    rows = con.execute(
        f"""SELECT path, format, size, packets, bytes, captured_bytes, first_ts, linktypes, problems, complete
            FROM sources WHERE {r.spans()} ORDER BY first_ts NULLS LAST, path""",
    ).fetchall()
    out = []
    for path, fmt, size, packets, nbytes, captured, first, linktypes, problems, complete in rows:
        status = SourceStatus(path=path, format=fmt or "unknown", size=size, packets=int(packets),
                              bytes=int(nbytes), captured_bytes=int(captured), first_ts=first,
                              finished=bool(complete))  # fmt: skip
        status.linktypes = {int(k): int(v) for k, v in json.loads(linktypes or "{}").items()}
        status.problems = [
            Problem(p["kind"], p["message"], p.get("offset"), bool(p.get("fatal", True)))
            for p in json.loads(problems or "[]")
        ]
        out.append(status)
    return out
