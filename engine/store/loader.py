"""Reading a time range of the store back as an analysis.

`load` rebuilds an `AnalysisSnapshot` (what the report, the views and the DataFrames read) from the rows of
every run of the range: flows, DNS log entries and timeline bins exactly as recorded; counters (totals,
EtherTypes, IP protocols, MACs, hosts, devices) summed over the hours of capture time the range touches;
names, DHCP and server names from the runs' rows whose time span overlaps the range.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import numpy.typing as npt

from engine.address_scope import HomeNetwork
from engine.aggregate.address_book import AddressBook
from engine.aggregate.endpoint_counters import EndpointTable
from engine.aggregate.traffic_totals import CountPair, TrafficTotalsSnapshot
from engine.analysis import AnalysisSnapshot, Depth, FlowsSnapshot
from engine.capture.records import Problem, SourceStatus
from engine.devices.device_table import DEVICE_COLUMNS, DeviceRecords
from engine.flows.flow_summaries import FlowSummaries
from engine.flows.flow_table import FLOW_COLUMNS, FlowRecords
from engine.labels import Labels
from engine.metadata.dns_log import DnsEntry, DnsSnapshot
from engine.metadata.payload_inspector import MetadataSnapshot
from engine.store import metadata_rows as meta_rows
from engine.store.columns import Columns, fetch, one
from engine.store.counters import DEVICE_SUMS
from engine.store.range_query import Range
from engine.store.timeline_read import read_timeline

if TYPE_CHECKING:
    from engine.dataframes import AnalysisResult

I64 = npt.NDArray[np.int64]
_ENDPOINT = ("tx_packets", "tx_bytes", "rx_packets", "rx_bytes")
_TOTAL_KINDS = {"ethertype": "ethertypes", "link_class": "link_classes", "ip_proto": "ip_protocols",
                "ip_version": "ip_versions"}  # fmt: skip
_FLOW_SELECT = """sensor, run_id, serial, first_ts, last_ts, a_address, b_address, port_a, port_b, proto,
    client, label, server_name, coalesce(dev_a, -1) AS dev_a, coalesce(dev_b, -1) AS dev_b, packets_ab,
    bytes_ab, packets_ba, bytes_ba, payload_ab, payload_ba, flags_ab, flags_ba"""


@dataclass(frozen=True, slots=True)
class StoredAnalysis:
    """An analysis read from the store: `snapshot` for `build_report` and the views, `sources` for the
    report's source list, `dataframes()` for notebooks."""

    snapshot: AnalysisSnapshot
    sources: list[SourceStatus]
    start: float | None
    end: float | None
    sensors: list[str]
    runs: list[int]

    def dataframes(self, labels: Labels | None = None) -> AnalysisResult:
        """The same DataFrames as `engine.analyse` gives for capture files."""
        from engine.dataframes import AnalysisResult

        return AnalysisResult(self.snapshot, self.sources, labels)

    def report(self, labels: Labels | None = None, **options: Any) -> dict[str, Any]:
        from engine.report import build_report

        return build_report(self.snapshot, self.sources, labels=labels, **options)


class _Ids:
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


def load(
    con: duckdb.DuckDBPyConnection,
    start: float | None,
    end: float | None,
    sensor: str | None,
    *,
    dns_last: int,
    timeline_bins: dict[int, int] | None = None,
) -> StoredAnalysis:
    r = Range(con, start, end, sensor)
    depth: Depth = "full" if r.full else "traffic"
    totals, sizes, late = _totals(con, r)
    macs = _macs(con, r)
    home = _home(con, r)
    if depth == "traffic":
        hosts_rows = _host_rows(con, r)
        addresses = _Ids(hosts_rows["address_id"])
        book = _book(con, addresses, home)
        snapshot = AnalysisSnapshot(totals, macs, _hosts(hosts_rows, addresses, book), depth)
        return StoredAnalysis(snapshot, _sources(con, r), start, end, r.sensors, r.runs)
    flows = _flow_rows(con, r)
    host_rows = _host_rows(con, r)
    dev_rows = fetch(
        con,
        f"""SELECT device_id, {", ".join(f"sum({c})::BIGINT AS {c}" for c in DEVICE_SUMS)},
                   min(first_ts) AS first_ts, max(last_ts) AS last_ts, arg_max(router, bin_start) AS router
            FROM device_counters WHERE {r.bins()} GROUP BY device_id""",
    )
    dev_addr = fetch(
        con,
        f"""SELECT device_id, address_id, min(first_ts) AS first_ts, max(last_ts) AS last_ts,
                   sum(packets)::BIGINT AS packets, min(run_id * 4294967296 + ordinal) AS ordinal
            FROM device_addresses WHERE {r.spans()} GROUP BY device_id, address_id ORDER BY ordinal""",
    )
    stored_meta = {t: _meta_rows(con, r, t) for t in meta_rows.TABLES}
    dns = fetch(
        con,
        f"""SELECT * FROM (
                SELECT run_id, seq, ts, kind, transport, coalesce(device_id, -1) AS device_id, client,
                       server, name, qtype, query_seen, rcode, answers, latency
                FROM dns_log WHERE {r.times("ts")}
                ORDER BY run_id DESC, seq DESC LIMIT {int(dns_last)})
            ORDER BY run_id, seq""",
    )
    dns_total = one(con, f"SELECT count(*) FROM dns_log WHERE {r.times('ts')}")[0]
    referenced = [
        flows["dev_a"],
        flows["dev_b"],
        dev_rows["device_id"],
        dev_addr["device_id"],
        dns["device_id"],
    ]
    for rows in stored_meta.values():
        for row in rows:
            if "device_id" in row.values and row.values["device_id"] is not None:
                referenced.append(np.array([row.values["device_id"]]))
    devices = _Ids(*referenced)
    addresses = _Ids(flows["a_address"], flows["b_address"], host_rows["address_id"], dev_addr["address_id"])
    book = _book(con, addresses, home)
    records, labels, names = _records(flows, addresses, devices, book)
    device_records = _devices(con, devices, dev_rows, dev_addr, addresses)
    summaries = FlowSummaries(book)
    summaries.add(records, labels)
    empty = FlowRecords.concat([])
    flows_snapshot = FlowsSnapshot(
        active=empty,
        active_labels=np.zeros(0, dtype=np.uint16),
        closed=records,
        closed_labels=labels,
        closed_dropped=0,
        summaries=summaries.snapshot(),
    )
    timeline = read_timeline(con, r, devices, sizes, late, totals.first_ts, timeline_bins)
    metadata = _metadata(stored_meta, dns, int(dns_total), devices, names)
    snapshot = AnalysisSnapshot(
        totals=totals,
        macs=macs,
        hosts=_hosts(host_rows, addresses, book),
        depth=depth,
        flows=flows_snapshot,
        devices=device_records,
        timeline=timeline,
        home=home,
        book=book,
        metadata=metadata,
        clock=totals.last_ts,
    )
    return StoredAnalysis(snapshot, _sources(con, r), start, end, r.sensors, r.runs)


# ---- counters ------------------------------------------------------------------------------------------


def _totals(
    con: duckdb.DuckDBPyConnection, r: Range
) -> tuple[TrafficTotalsSnapshot, dict[int, int], dict[int, int]]:
    row = one(
        con,
        f"""SELECT coalesce(sum(packets), 0), coalesce(sum(bytes), 0), coalesce(sum(captured_bytes), 0),
                   coalesce(sum(untimed_packets), 0), coalesce(sum(snaplen_cut_packets), 0),
                   min(first_ts) FILTER (WHERE isfinite(first_ts)),
                   max(last_ts) FILTER (WHERE isfinite(last_ts))
            FROM traffic_bins WHERE {r.bins()}""",
    )
    tables: dict[str, dict[int, CountPair]] = {name: {} for name in _TOTAL_KINDS.values()}
    malformed: dict[int, int] = {}
    sizes: dict[int, int] = {}
    late: dict[int, int] = {}
    for kind, code, packets, nbytes in con.execute(
        f"""SELECT kind, code, sum(packets)::BIGINT, sum(bytes)::BIGINT FROM traffic_counters
            WHERE {r.bins()} GROUP BY kind, code ORDER BY kind, code""",
    ).fetchall():
        if kind in _TOTAL_KINDS:
            if packets:
                tables[_TOTAL_KINDS[kind]][int(code)] = CountPair(int(packets), int(nbytes))
        elif kind == "malformed":
            malformed[int(code)] = int(packets)
        elif kind == "packet_size":
            sizes[int(code)] = int(packets)
        elif kind == "late":
            late[int(code)] = int(packets)
    totals = TrafficTotalsSnapshot(
        packets=int(row[0]),
        bytes=int(row[1]),
        captured_bytes=int(row[2]),
        first_ts=row[5],
        last_ts=row[6],
        untimed_packets=int(row[3]),
        snaplen_cut_packets=int(row[4]),
        malformed=malformed,
        **tables,
    )
    return totals, sizes, late


def _macs(con: duckdb.DuckDBPyConnection, r: Range) -> EndpointTable:
    rows = fetch(
        con,
        f"""SELECT mac, {", ".join(f"sum({c})::BIGINT AS {c}" for c in _ENDPOINT)},
                   min(run_id * 4294967296 + ordinal) AS ordinal
            FROM mac_counters WHERE {r.bins()} GROUP BY mac ORDER BY ordinal""",
    )
    keys = rows["mac"].astype(np.uint64).reshape(-1, 1)
    return EndpointTable(keys, np.stack([rows[c] for c in _ENDPOINT], axis=1).astype(np.int64).reshape(-1, 4))


def _host_rows(con: duckdb.DuckDBPyConnection, r: Range) -> Columns:
    return fetch(
        con,
        f"""SELECT address_id, {", ".join(f"sum({c})::BIGINT AS {c}" for c in _ENDPOINT)}
            FROM host_counters WHERE {r.bins()} GROUP BY address_id ORDER BY address_id""",
    )


def _hosts(rows: Columns, addresses: _Ids, book: AddressBook) -> EndpointTable:
    ids = addresses.dense(rows["address_id"])
    keys = np.stack([book.hi[ids], book.lo[ids]], axis=1) if ids.size else np.zeros((0, 2), dtype=np.uint64)
    return EndpointTable(keys, np.stack([rows[c] for c in _ENDPOINT], axis=1).astype(np.int64).reshape(-1, 4))


# ---- addresses, home network, devices -----------------------------------------------------------------


def _home(con: duckdb.DuckDBPyConnection, r: Range) -> HomeNetwork:
    cgnat = one(con, f"SELECT bool_or(cgnat_is_local) FROM runs WHERE run_id IN ({r.run_list()})")[0]
    home = HomeNetwork(cgnat_is_local=bool(cgnat))
    rows = con.execute(
        f"""SELECT prefix, source FROM home_prefixes WHERE run_id IN ({r.run_list()})
            ORDER BY run_id, rowid"""
    ).fetchall()
    for prefix, source in rows:
        try:
            home.learn_prefix(prefix, source)
        except ValueError:
            continue
    return home


def _book(con: duckdb.DuckDBPyConnection, addresses: _Ids, home: HomeNetwork) -> AddressBook:
    book = AddressBook(home)
    if len(addresses):
        con.register("wanted_addresses", {"address_id": addresses.store_ids})
        try:
            rows = fetch(
                con,
                """SELECT a.hi, a.lo FROM addresses a JOIN wanted_addresses w USING (address_id)
                   ORDER BY a.address_id""",
            )
        finally:
            con.unregister("wanted_addresses")
        # the book numbers addresses its own way: remember which id each store address got
        addresses.targets = book.ids(rows["hi"].astype(np.uint64), rows["lo"].astype(np.uint64))
    return book


def _devices(
    con: duckdb.DuckDBPyConnection, devices: _Ids, counters: Columns, addresses_rows: Columns, addresses: _Ids
) -> DeviceRecords:
    n = len(devices)
    columns = {name: np.full(n, fill, dtype=dtype) for name, (dtype, fill) in DEVICE_COLUMNS.items()}
    kind = np.zeros(n, dtype=np.uint64)
    key_hi = np.zeros(n, dtype=np.uint64)
    key_lo = np.zeros(n, dtype=np.uint64)
    if n:
        con.register("wanted_devices", {"device_id": devices.store_ids})
        try:
            ident = fetch(
                con,
                """SELECT d.device_id, d.kind, d.key_hi, d.key_lo FROM devices d
                   JOIN wanted_devices w USING (device_id) ORDER BY d.device_id""",
            )
        finally:
            con.unregister("wanted_devices")
        at = devices.dense(ident["device_id"])
        kind[at], key_hi[at], key_lo[at] = ident["kind"], ident["key_hi"], ident["key_lo"]
        at = devices.dense(counters["device_id"])
        for name in (*DEVICE_SUMS, "first_ts", "last_ts", "router"):
            columns[name][at] = counters[name]
    keep = (addresses_rows["device_id"] >= 0) if addresses_rows["device_id"].size else np.zeros(0, bool)
    return DeviceRecords(
        kind=kind,
        key_hi=key_hi,
        key_lo=key_lo,
        columns=columns,
        address_device=devices.dense(addresses_rows["device_id"][keep]),
        address_id=addresses.dense(addresses_rows["address_id"][keep]),
        address_columns={
            "first_ts": addresses_rows["first_ts"][keep].astype(np.float64),
            "last_ts": addresses_rows["last_ts"][keep].astype(np.float64),
            "packets": addresses_rows["packets"][keep].astype(np.int64),
        },
    )


# ---- flows ---------------------------------------------------------------------------------------------


def _flow_rows(con: duckdb.DuckDBPyConnection, r: Range) -> Columns:
    where = r.spans()
    return fetch(
        con,
        f"""SELECT * FROM (
                SELECT 0 AS part, seq, {_FLOW_SELECT} FROM flows WHERE {where}
                UNION ALL
                SELECT 1 AS part, serial AS seq, {_FLOW_SELECT} FROM open_flows WHERE {where})
            ORDER BY part, run_id, seq""",
    )


def _records(
    rows: Columns, addresses: _Ids, devices: _Ids, book: AddressBook
) -> tuple[FlowRecords, npt.NDArray[np.uint16], list[str]]:
    n = rows["serial"].shape[0]
    a_id = addresses.dense(rows["a_address"])
    b_id = addresses.dense(rows["b_address"])
    names, name_ids = _name_table(rows["server_name"])
    columns = {name: np.full(n, fill, dtype=dtype) for name, (dtype, fill) in FLOW_COLUMNS.items()}
    for name in ("serial", "first_ts", "last_ts", "packets_ab", "bytes_ab", "packets_ba", "bytes_ba",
                 "payload_ab", "payload_ba", "flags_ab", "flags_ba", "client", "label"):  # fmt: skip
        columns[name][:] = rows[name]
    columns["label_source"][:] = 2  # resolved already
    columns["dev_a"][:] = devices.dense(rows["dev_a"])
    columns["dev_b"][:] = devices.dense(rows["dev_b"])
    columns["server_name"][:] = name_ids
    hi, lo = book.hi, book.lo
    records = FlowRecords(
        a_id=a_id,
        b_id=b_id,
        a_hi=hi[a_id],
        a_lo=lo[a_id],
        b_hi=hi[b_id],
        b_lo=lo[b_id],
        port_a=rows["port_a"].astype(np.uint16),
        port_b=rows["port_b"].astype(np.uint16),
        proto=rows["proto"].astype(np.uint8),
        columns=columns,
    )
    return records, rows["label"].astype(np.uint16), names


def _name_table(column: npt.NDArray[Any]) -> tuple[list[str], I64]:
    """Distinct server names and each flow's index into them (-1 for none)."""
    names: dict[str, int] = {}
    ids = np.empty(column.shape[0], dtype=np.int64)
    for i, name in enumerate(column.tolist()):
        ids[i] = -1 if name is None else names.setdefault(name, len(names))
    return list(names), ids


# ---- metadata ------------------------------------------------------------------------------------------


def _meta_rows(con: duckdb.DuckDBPyConnection, r: Range, table: str) -> list[meta_rows.StoredRow]:
    columns = meta_rows.TABLES[table]
    where = r.spans() if table in meta_rows.TIMED else f"run_id IN ({r.run_list()})"
    result = con.execute(f"SELECT run_id, ordinal, key, {', '.join(columns)} FROM {table} WHERE {where}")
    return [
        meta_rows.StoredRow(int(row[0]), int(row[1]), row[2], dict(zip(columns, row[3:], strict=True)))
        for row in result.fetchall()
    ]


def _metadata(
    stored: dict[str, list[meta_rows.StoredRow]],
    dns: Columns,
    dns_total: int,
    devices: _Ids,
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


# ---- sources -------------------------------------------------------------------------------------------


def _sources(con: duckdb.DuckDBPyConnection, r: Range) -> list[SourceStatus]:
    import json

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
