"""Writing one run's flushes into the store, each flush in one transaction.

A flush carries what the recorder took from the analysis on the ingest thread; here it becomes rows. Only
what changed since the run's previous flush is rewritten (by key), so a flush costs what happened in the
last few seconds, not what the run has seen so far. If the process dies, the store holds the last
committed flush: data and source positions of one moment, so resuming counts nothing twice.
"""

from __future__ import annotations

import operator
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt

from engine.address_scope import HomePrefix
from engine.aggregate.interning import KeyInterner
from engine.aggregate.timeline import TimelineSnapshot
from engine.analysis import AnalysisSnapshot
from engine.classify.flow_labels import resolve_labels
from engine.flows.flow_table import FlowRecords
from engine.metadata.device_names import DeviceRef
from engine.metadata.dns_log import DnsEntry
from engine.store.columns import Columns, changed, insert, length, object_column, replace
from engine.store.counters import COUNTER_KINDS, DEVICE_SUMS, TOTAL_FIELDS, BinDelta, CounterBin, KeyedRows
from engine.store.counters import interval_delta as _interval_delta
from engine.store.dimensions import AddressIndex, DeviceIndex
from engine.store.metadata_rows import TABLES, Row, metadata_rows
from engine.store.positions import SourcePosition, position_rows
from engine.store.series_rows import device_bins, latest, total_bins

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
_DNS_FIELDS = operator.attrgetter(
    "ts", "kind", "transport", "client_device", "client", "server", "name", "qtype", "query_seen", "rcode",
    "answers", "latency",
)  # fmt: skip
_KEEP_BINS = 4  # counter bins a run keeps in memory (older ones are read back if the run returns to them)


@dataclass(slots=True)
class FlushData:
    """Everything one flush writes, taken on the ingest thread at one moment between two batches."""

    snapshot: AnalysisSnapshot  # closed_flows=False, newest timeline bins and DNS entries
    bins: list[CounterBin]  # counter intervals ended since the last flush, then the current one
    closed: FlowRecords  # flows closed since the last flush, server names filled in
    new_addresses: tuple[int, U64, U64]  # (first address-book id, hi, lo) added since the last flush
    home: tuple[HomePrefix, ...]
    positions: list[SourcePosition]  # sources read since the last flush
    timelines: list[TimelineSnapshot] = field(default_factory=list)  # earlier timeline captures
    dns: list[tuple[int, list[DnsEntry]]] = field(default_factory=list)  # (first seq, entries), in order
    dns_lost: int = 0
    final: bool = False


@dataclass(slots=True)
class _BinState:
    closed: BinDelta | None = None  # intervals of the bin that are over
    written: BinDelta | None = None  # what the store holds for the bin
    flush: int = 0  # the last flush that touched it


class RunWriter:
    """One run's writer: owns a DuckDB connection (use it from one thread only)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, sensor: str, run_id: int) -> None:
        self.con = con
        self.sensor = sensor
        self.run_id = run_id
        self._addresses = AddressIndex(con)
        self._devices = DeviceIndex(con, sensor)
        self._book_map = np.zeros(0, dtype=np.int64)  # the run's address-book id -> store address id
        # the run's addresses by key, for counters keyed by address: interned id -> store address id
        self._run_addresses = KeyInterner(2)
        self._store_of_interned = np.zeros(0, dtype=np.int64)
        self._device_map = np.zeros(0, dtype=np.int64)  # the run's device id -> store device id
        self._flow_seq = 0
        self._flushes = 0
        self._bins: dict[float, _BinState] = {}
        self._bins_written: set[float] = set()
        # what the store holds of recent rows rewritten by key (timeline bins, device addresses)
        self._written: dict[str, tuple[npt.NDArray[Any], npt.NDArray[Any]]] = {}
        self._series_top: dict[str, float] = {}  # the newest bin written, per series table
        self._meta: dict[str, dict[str, Row]] = {name: {} for name in TABLES}
        self._device_rows: dict[int, tuple[object, ...]] = {}
        self._prefixes: set[str] = set()
        self.seconds = 0.0  # time spent writing, for benchmarks
        self.cpu_seconds = 0.0  # CPU time of the writing thread meanwhile (DuckDB's own threads aside)

    # ---- the flush ---------------------------------------------------------------------------------------

    def write(self, data: FlushData) -> None:
        started, cpu = time.perf_counter(), time.thread_time()
        self._flushes += 1
        con = self.con
        con.begin()
        try:
            self._write(data)
            con.commit()
        except BaseException:
            con.rollback()
            raise
        finally:
            self.seconds += time.perf_counter() - started
            self.cpu_seconds += time.thread_time() - cpu

    def _write(self, data: FlushData) -> None:
        snap = data.snapshot
        first, hi, lo = data.new_addresses
        if hi.shape[0]:
            if first != self._book_map.shape[0]:
                raise AssertionError("address book ids out of step with the store")
            store_ids = self._addresses.ids(self.con, hi, lo)
            self._book_map = np.concatenate([self._book_map, store_ids])
            interned = self._run_addresses.intern(hi, lo)
            grown = np.full(len(self._run_addresses), -1, dtype=np.int64)
            grown[: self._store_of_interned.shape[0]] = self._store_of_interned
            grown[interned] = store_ids
            self._store_of_interned = grown
        if snap.devices is not None and len(snap.devices) > self._device_map.shape[0]:
            d = snap.devices
            n = self._device_map.shape[0]
            new = self._devices.ids(self.con, d.kind[n:], d.key_hi[n:], d.key_lo[n:])
            self._device_map = np.concatenate([self._device_map, new])
        self._write_prefixes(data.home)
        self._write_flows(data.closed, snap)
        self._write_bins(data.bins)
        self._write_timeline([*data.timelines, *([snap.timeline] if snap.timeline is not None else [])])
        if snap.metadata is not None:
            self._write_dns(data.dns)
            self._write_metadata(snap)
        self._write_devices(snap)
        self._write_device_addresses(snap)
        self._write_positions(data.positions)
        self.con.execute(
            """UPDATE runs SET updated = ?, flushes = flushes + 1, clock = ?, finished = ?,
               dns_lost = dns_lost + ? WHERE run_id = ?""",
            [time.time(), snap.clock, data.final, data.dns_lost, self.run_id],
        )

    def _run_columns(self, n: int) -> Columns:
        return {"run_id": np.full(n, self.run_id, dtype=np.int32)}

    def _insert(self, table: str, rows: Columns) -> None:
        insert(self.con, table, rows, {"sensor": self.sensor})

    def _replace(
        self, table: str, rows: Columns, keys: Sequence[str], since: dict[str, float] | None = None
    ) -> None:
        replace(self.con, table, rows, keys, {"run_id": self.run_id}, {"sensor": self.sensor}, since)

    def _address_ids(self, hi: U64, lo: U64) -> I64:
        """Store ids of addresses, by key (the run's own first, the store's for any other)."""
        interned = self._run_addresses.intern(hi, lo)
        known = self._store_of_interned
        if len(self._run_addresses) > known.shape[0]:
            known = np.concatenate([known, np.full(len(self._run_addresses) - known.shape[0], -1, np.int64)])
            self._store_of_interned = known
        unknown = known[interned] < 0
        if unknown.any():
            known[interned[unknown]] = self._addresses.ids(self.con, hi[unknown], lo[unknown])
        result: I64 = known[interned]
        return result

    def device_id(self, ref: DeviceRef) -> int:
        """The store's id of one of the run's devices (-1 for none)."""
        if not isinstance(ref, int) or ref < 0 or ref >= self._device_map.shape[0]:
            return -1
        return int(self._device_map[ref])

    def _device_ids(self, ids: I64) -> I64:
        """Store device ids of the run's device ids (-1 stays -1)."""
        out = np.full(ids.shape[0], -1, dtype=np.int64)
        ok = (ids >= 0) & (ids < self._device_map.shape[0])
        out[ok] = self._device_map[ids[ok]]
        return out

    def _write_prefixes(self, home: tuple[HomePrefix, ...]) -> None:
        new = [p for p in home if str(p.network) not in self._prefixes]
        if not new:
            return
        rows = self._run_columns(len(new))
        rows["prefix"] = object_column(str(p.network) for p in new)
        rows["source"] = object_column(p.source for p in new)
        self._insert("home_prefixes", rows)
        self._prefixes.update(str(p.network) for p in new)

    # ---- flows -------------------------------------------------------------------------------------------

    def _flow_rows(self, records: FlowRecords, labels: npt.NDArray[np.uint16], names: list[str]) -> Columns:
        n = len(records)
        c = records.columns
        table = object_column([*names, None])
        name_ids = c["server_name"].astype(np.int64)
        rows = self._run_columns(n)
        rows.update(
            serial=c["serial"],
            first_ts=c["first_ts"],
            last_ts=c["last_ts"],
            a_address=self._book_map[records.a_id],
            b_address=self._book_map[records.b_id],
            port_a=records.port_a,
            port_b=records.port_b,
            proto=records.proto,
            client=c["client"],
            label=labels,
            server_name=table[np.where(name_ids >= 0, name_ids, len(names))],
            dev_a=self._device_ids(c["dev_a"]),
            dev_b=self._device_ids(c["dev_b"]),
        )
        for col in ("packets_ab", "bytes_ab", "packets_ba", "bytes_ba", "payload_ab", "payload_ba"):
            rows[col] = c[col]
        rows["flags_ab"], rows["flags_ba"] = c["flags_ab"], c["flags_ba"]
        return rows

    def _write_flows(self, closed: FlowRecords, snap: AnalysisSnapshot) -> None:
        names = snap.metadata.name_table if snap.metadata is not None else []
        if len(closed):
            rows = self._flow_rows(closed, resolve_labels(closed), names)
            rows["seq"] = np.arange(self._flow_seq, self._flow_seq + len(closed), dtype=np.int64)
            self._flow_seq += len(closed)
            self._insert("flows", rows)
        self.con.execute("DELETE FROM open_flows WHERE run_id = ?", [self.run_id])
        if snap.flows is not None and len(snap.flows.active):
            active = snap.flows.active
            rows = self._flow_rows(active, snap.flows.active_labels, names)
            rows["seq"] = np.full(len(active), -1, dtype=np.int64)
            self._insert("open_flows", rows)

    # ---- counters ----------------------------------------------------------------------------------------

    def _bin_state(self, start: float) -> _BinState:
        state = self._bins.get(start)
        if state is None:
            state = self._bins[start] = _BinState()
            if start in self._bins_written:  # written, then let go: read it back
                state.closed = state.written = self._read_bin(start)
        state.flush = self._flushes
        return state

    def _write_bins(self, intervals: list[CounterBin]) -> None:
        """Each interval's counters into its hour's rows: rows that changed are rewritten, all bins of
        the flush together (one statement per table)."""
        parts: dict[str, list[tuple[Columns, bool]]] = {}
        keys_of: dict[str, Sequence[str]] = {}
        for interval in intervals:
            state = self._bin_state(interval.start)
            delta = _interval_delta(interval)
            rows = delta if state.closed is None else state.closed.plus(delta)
            if interval.final:
                state.closed = rows
            old = state.written
            fresh = old is None
            tables: list[tuple[str, KeyedRows, KeyedRows | None]] = [
                ("traffic_bins", rows.totals, old.totals if old else None),
                ("traffic_counters", rows.counters, old.counters if old else None),
                ("mac_counters", rows.macs, old.macs if old else None),
                ("host_counters", rows.hosts, old.hosts if old else None),
                ("device_counters", rows.devices, old.devices if old else None),
            ]
            for table, new, before in tables:
                sel = changed(
                    new.keys,
                    new.values(),
                    before.keys if before is not None else None,
                    before.values() if before is not None else None,
                )
                if not sel.any():
                    continue
                part = new.select(sel)
                columns, keys_of[table] = self._counter_columns(table, part)
                columns["bin_start"] = np.full(len(part), interval.start)
                parts.setdefault(table, []).append((columns, fresh))
            state.written = rows
            self._bins_written.add(interval.start)
        for table, found in parts.items():
            for fresh in (True, False):
                chosen = [cols for cols, f in found if f == fresh]
                if not chosen:
                    continue
                columns = {k: np.concatenate([c[k] for c in chosen]) for k in chosen[0]}
                columns.update(self._run_columns(length(columns)))
                if fresh:
                    self._insert(table, columns)
                else:
                    first = float(columns["bin_start"].min())
                    self._replace(table, columns, ("bin_start", *keys_of[table]), since={"bin_start": first})
        # keep the bins of the last flushes in memory
        while len(self._bins) > _KEEP_BINS:
            oldest = min(self._bins, key=lambda b: self._bins[b].flush)
            del self._bins[oldest]

    def _counter_columns(self, table: str, rows: KeyedRows) -> tuple[Columns, Sequence[str]]:
        if table == "traffic_bins":
            cols: Columns = {f: rows.sums[:, i] for i, f in enumerate(TOTAL_FIELDS)}
            cols["first_ts"], cols["last_ts"] = rows.mins[:, 0], rows.maxs[:, 0]
            return cols, ()
        if table == "traffic_counters":
            kinds = np.array(COUNTER_KINDS, dtype=object)[rows.keys[:, 0].astype(np.intp)]
            return {
                "kind": kinds,
                "code": rows.keys[:, 1].astype(np.int64),
                "packets": rows.sums[:, 0],
                "bytes": rows.sums[:, 1],
            }, ("kind", "code")
        endpoint = ("tx_packets", "tx_bytes", "rx_packets", "rx_bytes")
        if table == "mac_counters":
            cols = {f: rows.sums[:, i] for i, f in enumerate(endpoint)}
            cols["mac"] = rows.keys[:, 0]
            cols["ordinal"] = rows.mins[:, 0].astype(np.int64)
            return cols, ("mac",)
        if table == "host_counters":
            cols = {f: rows.sums[:, i] for i, f in enumerate(endpoint)}
            cols["address_id"] = self._address_ids(rows.keys[:, 0], rows.keys[:, 1])
            return cols, ("address_id",)
        cols = {f: rows.sums[:, i] for i, f in enumerate(DEVICE_SUMS)}
        cols["device_id"] = self._devices.ids(self.con, rows.keys[:, 0], rows.keys[:, 1], rows.keys[:, 2])
        cols["first_ts"], cols["last_ts"] = rows.mins[:, 0], rows.maxs[:, 0]
        cols["router"] = rows.lasts[:, 0].astype(bool)
        return cols, ("device_id",)

    def _read_bin(self, start: float) -> BinDelta | None:
        """A bin the run wrote before and comes back to (files that overlap in time)."""
        from engine.store.counters_read import read_bin

        return read_bin(self.con, self.run_id, start)

    # ---- timeline ----------------------------------------------------------------------------------------

    def _write_timeline(self, captures: list[TimelineSnapshot]) -> None:
        if not captures:
            return
        totals = [total_bins(tl) for tl in captures]
        devices = [device_bins(tl) for tl in captures]
        keys, values = latest(totals) if len(totals) > 1 else totals[0]
        self._replace_series("timeline", keys, values, ("resolution", "bin_start"), ("bytes", "packets"))
        keys, values = latest(devices) if len(devices) > 1 else devices[0]
        if keys.shape[0]:
            keys[:, 2] = self._device_ids(keys[:, 2].astype(np.int64))
        self._replace_series(
            "device_timeline",
            keys,
            values,
            ("resolution", "bin_start", "device_id"),
            ("bytes_up", "bytes_down"),
        )

    def _replace_series(
        self,
        table: str,
        keys: npt.NDArray[Any],
        values: I64,
        key_names: Sequence[str],
        value_names: Sequence[str],
    ) -> None:
        """Write the bins that changed since the last flush; bins past the newest written are new."""
        old_keys, old_values = self._written.get(table, (None, None))
        sel = changed(keys, values, old_keys, old_values)
        if sel.any():
            top = self._series_top.get(table, -np.inf)
            for fresh in (True, False):
                part = sel & ((keys[:, 1] > top) == fresh)
                if not part.any():
                    continue
                rows = self._run_columns(int(part.sum()))
                rows["resolution"] = keys[part, 0].astype(np.int32)
                rows["bin_start"] = keys[part, 1]
                if "device_id" in key_names:
                    rows["device_id"] = keys[part, 2].astype(np.int32)
                for i, name in enumerate(value_names):
                    rows[name] = values[part, i]
                if fresh:
                    self._insert(table, rows)
                else:
                    self._replace(table, rows, key_names, since={"bin_start": float(rows["bin_start"].min())})
            self._series_top[table] = max(top, float(keys[sel, 1].max()))
        # remember what the store holds for recent bins (older ones are not rewritten any more)
        if old_keys is not None and old_values is not None and old_keys.shape[0]:
            keys, values = latest([(old_keys, old_values), (keys, values)])
        if keys.shape[0]:
            recent = keys[:, 1] >= keys[:, 1].max() - 2 * 86400
            keys, values = keys[recent], values[recent]
        self._written[table] = (keys, values)

    # ---- DNS log and the inspector's findings --------------------------------------------------------------

    def _write_dns(self, captures: list[tuple[int, list[DnsEntry]]]) -> None:
        if len(captures) == 1:
            first, entries = captures[0]
            seqs = list(range(first, first + len(entries)))
        else:
            merged: dict[int, DnsEntry] = {}
            for first, found in captures:  # later captures hold the entries as they are now
                merged.update(zip(range(first, first + len(found)), found, strict=True))
            seqs = sorted(merged)
            entries = [merged[s] for s in seqs]
        if not entries:
            return
        (ts, kind, transport, device, client, server, name, qtype, seen, rcode, answers, latency) = zip(
            *map(_DNS_FIELDS, entries), strict=True
        )
        rows = self._run_columns(len(seqs))
        rows.update(
            seq=np.array(seqs, dtype=np.int64),
            ts=np.array(ts, dtype=np.float64),
            kind=object_column(kind),
            transport=object_column(transport),
            device_id=self._device_ids(np.array(device, dtype=np.int64)).astype(np.int32),
            client=object_column(client),
            server=object_column(server),
            name=object_column(name),
            qtype=np.array(qtype, dtype=np.int32),
            query_seen=np.array(seen, dtype=bool),
            rcode=object_column(rcode),
            answers=object_column(list(a) for a in answers),
            latency=object_column(latency),
        )
        self.con.execute("DELETE FROM dns_log WHERE run_id = ? AND seq >= ?", [self.run_id, seqs[0]])
        self._insert("dns_log", rows)

    def _write_metadata(self, snap: AnalysisSnapshot) -> None:
        assert snap.metadata is not None
        for table, found in metadata_rows(snap.metadata, self.device_id).items():
            written = self._meta[table]
            new = [(i, key, row) for i, (key, row) in enumerate(found) if written.get(key) != row]
            if not new:
                continue
            rows = self._run_columns(len(new))
            rows["key"] = object_column(key for _, key, _ in new)
            rows["ordinal"] = np.array([i for i, _, _ in new], dtype=np.int32)
            for j, column in enumerate(TABLES[table]):
                rows[column] = object_column(row[j] for _, _, row in new)
            if any(key in written for _, key, _ in new):
                self._replace(table, rows, ("key",))
            else:
                self._insert(table, rows)
            written.update((key, row) for _, key, row in new)

    # ---- devices and sources -----------------------------------------------------------------------------

    def _write_devices(self, snap: AnalysisSnapshot) -> None:
        d = snap.devices
        if d is None or not len(d):
            return
        names = snap.metadata.device_names if snap.metadata is not None else None
        updates = []
        for i in range(len(d)):
            store_id = int(self._device_map[i])
            first, last = float(d.columns["first_ts"][i]), float(d.columns["last_ts"][i])
            row = (names.best(i) if names is not None else None, first, last)
            if self._device_rows.get(store_id) != row:
                self._device_rows[store_id] = row
                updates.append((store_id, *row))
        if not updates:
            return
        rows: Columns = {
            "device_id": np.array([u[0] for u in updates], dtype=np.int64),
            "hostname": object_column(u[1] for u in updates),
            "first_ts": np.array([u[2] for u in updates], dtype=np.float64),
            "last_ts": np.array([u[3] for u in updates], dtype=np.float64),
        }
        self.con.register("device_updates", rows)
        try:
            self.con.execute(
                """UPDATE devices SET
                       hostname = coalesce(u.hostname, devices.hostname),
                       first_ts = CASE WHEN isinf(u.first_ts) THEN devices.first_ts
                                  ELSE least(coalesce(devices.first_ts, u.first_ts), u.first_ts) END,
                       last_ts = CASE WHEN isinf(u.last_ts) THEN devices.last_ts
                                 ELSE greatest(coalesce(devices.last_ts, u.last_ts), u.last_ts) END
                   FROM device_updates AS u WHERE devices.device_id = u.device_id"""
            )
        finally:
            self.con.unregister("device_updates")

    def _write_device_addresses(self, snap: AnalysisSnapshot) -> None:
        d = snap.devices
        if d is None or not d.address_device.shape[0]:
            return
        a = d.address_columns
        keys = np.stack([self._device_ids(d.address_device), self._book_map[d.address_id]], axis=1)
        values = np.stack([a["first_ts"], a["last_ts"], a["packets"].astype(np.float64)], axis=1)
        old_keys, old_values = self._written.get("device_addresses", (None, None))
        sel = changed(keys, values, old_keys, old_values)
        self._written["device_addresses"] = (keys, values)
        if not sel.any():
            return
        rows = self._run_columns(int(sel.sum()))
        rows.update(
            device_id=keys[sel, 0],
            address_id=keys[sel, 1],
            first_ts=a["first_ts"][sel],
            last_ts=a["last_ts"][sel],
            packets=a["packets"][sel],
            ordinal=np.flatnonzero(sel).astype(np.int64),
        )
        self._replace("device_addresses", rows, ("device_id", "address_id"))

    def _write_positions(self, positions: list[SourcePosition]) -> None:
        if not positions:
            return
        for p in positions:
            self.con.execute("DELETE FROM sources WHERE sensor = ? AND path = ?", [self.sensor, p.path])
        insert(self.con, "sources", position_rows(positions, self.sensor, self.run_id))
