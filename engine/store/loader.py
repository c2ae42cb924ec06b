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
from engine.capture.records import SourceStatus
from engine.devices.device_table import DEVICE_COLUMNS, DeviceRecords
from engine.flows.flow_summaries import FlowSummaries
from engine.flows.flow_table import FLOW_COLUMNS, FlowRecords
from engine.labels import Labels
from engine.store import metadata_read
from engine.store import metadata_rows as meta_rows
from engine.store.columns import Columns, fetch, one
from engine.store.counters import DEVICE_SUMS
from engine.store.dense_ids import DenseIds
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
        addresses = DenseIds(hosts_rows["address_id"])
        book = _book(con, addresses, home)
        snapshot = AnalysisSnapshot(totals, macs, _hosts(hosts_rows, addresses, book), depth)
        return StoredAnalysis(snapshot, metadata_read.sources(con, r), start, end, r.sensors, r.runs)
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
    stored_meta = {t: metadata_read.meta_rows_of(con, r, t) for t in meta_rows.TABLES}
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
    devices = DenseIds(*referenced)
    addresses = DenseIds(
        flows["a_address"], flows["b_address"], host_rows["address_id"], dev_addr["address_id"]
    )
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
    metadata = metadata_read.metadata(stored_meta, dns, int(dns_total), devices, names)
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
    return StoredAnalysis(snapshot, metadata_read.sources(con, r), start, end, r.sensors, r.runs)


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


def _hosts(rows: Columns, addresses: DenseIds, book: AddressBook) -> EndpointTable:
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


def _book(con: duckdb.DuckDBPyConnection, addresses: DenseIds, home: HomeNetwork) -> AddressBook:
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
    con: duckdb.DuckDBPyConnection,
    devices: DenseIds,
    counters: Columns,
    addresses_rows: Columns,
    addresses: DenseIds,
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
    rows: Columns, addresses: DenseIds, devices: DenseIds, book: AddressBook
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
