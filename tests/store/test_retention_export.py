"""Retention drops old capture time and gives the space back; export writes Parquet by sensor and day that
DuckDB reads back as one dataset across sensors."""

from __future__ import annotations

from pathlib import Path

import duckdb

from engine.store import HistoryStore, Retention
from tests.conftest import fixture_path
from tests.store.days import HOURS, packet_time, wire_bytes, write_days
from tests.store.helpers import record


def test_retention_by_age(tmp_path: Path) -> None:
    capture = write_days(tmp_path / "days.pcap")
    with HistoryStore(tmp_path / "h.db", sensor="pi") as store:
        record(store, [capture])
        before = store.load().snapshot.totals.packets
        result = store.prune(Retention(days=1))  # counted back from the newest capture time
        assert store.check() == []
        after = store.load().snapshot
    assert before == HOURS
    assert result.cutoff == packet_time(HOURS - 1) - 86400
    assert result.deleted_rows > 0
    kept = range(HOURS - 25, HOURS)  # the hour the cutoff falls in is kept whole
    assert after.totals.packets == len(kept)
    assert after.totals.bytes == sum(wire_bytes(h) for h in kept)
    assert after.flows is not None and len(after.flows.closed) == len(kept)
    assert after.totals.first_ts == packet_time(kept[0])


def test_retention_by_size_then_compact(tmp_path: Path) -> None:
    capture = write_days(tmp_path / "days.pcap")
    db = tmp_path / "h.db"
    with HistoryStore(db, sensor="pi") as store:
        record(store, [capture])
        record(store, [fixture_path("ndpi_iphone.pcap")])
        nothing = store.prune(Retention(max_bytes=10 << 30))
        assert nothing.deleted_rows == 0
        everything = store.prune(Retention(max_bytes=1))
        assert everything.deleted_rows > 0
        assert store.load().snapshot.totals.packets == 0
        assert store.check() == []
        size = store.compact()
        assert size == db.stat().st_size
        assert store.check() == []
        record(store, [fixture_path("zeek_dhcp.pcap")])  # the store is usable after compaction
        assert store.load().snapshot.totals.packets > 0


def test_the_recorder_applies_the_retention(tmp_path: Path) -> None:
    from engine.analysis import Analysis
    from engine.capture.source import CaptureSet
    from engine.store import Recorder

    capture = CaptureSet([str(write_days(tmp_path / "days.pcap"))])
    with HistoryStore(tmp_path / "h.db", sensor="pi") as store:
        analysis = Analysis()
        recorder = Recorder(store, analysis, retention=Retention(days=1))
        recorder.record(capture)
        recorder.close()
        analysis.close()
        assert store.load().snapshot.totals.packets == 25


def test_export_two_sensors_and_query_them_together(tmp_path: Path) -> None:
    stores = {"pi-kitchen": fixture_path("ndpi_iphone.pcap"), "pi-garage": fixture_path("zeek_dhcp.pcap")}
    expected = {}
    for sensor, capture in stores.items():
        with HistoryStore(tmp_path / f"{sensor}.db", sensor=sensor) as store:
            record(store, [capture])
            flows = store.load().snapshot.flows
            assert flows is not None
            c = flows.closed.columns
            expected[sensor] = (len(flows.closed), int(c["bytes_ab"].sum() + c["bytes_ba"].sum()))
            written = store.export(tmp_path / "export" / sensor)
            assert written["flows"] == len(flows.closed)
            assert written["dns"] > 0 if sensor == "pi-kitchen" else True
    days = sorted(
        p.name for p in (tmp_path / "export" / "pi-kitchen" / "flows" / "sensor=pi-kitchen").iterdir()
    )
    assert days and all(d.startswith("day=20") for d in days)
    con = duckdb.connect()
    rows = con.execute(
        f"""SELECT sensor, count(*), sum(bytes_up + bytes_down)
            FROM read_parquet(['{tmp_path}/export/pi-kitchen/flows/**/*.parquet',
                               '{tmp_path}/export/pi-garage/flows/**/*.parquet'], hive_partitioning = true)
            GROUP BY sensor ORDER BY sensor"""
    ).fetchall()
    assert {r[0]: (r[1], int(r[2])) for r in rows} == expected
    # readable columns: addresses as text, protocol names, device keys
    sample = con.execute(
        f"""SELECT client, server, protocol, transport, client_device, epoch(first_time) FROM
            read_parquet('{tmp_path}/export/pi-kitchen/flows/**/*.parquet', hive_partitioning = true)
            WHERE protocol = 'DNS' LIMIT 1"""
    ).fetchall()
    assert sample and "." in sample[0][0] and sample[0][3] == "UDP" and sample[0][4]
    # one folder for both sensors works too, and a second export replaces, not doubles
    for sensor in stores:
        with HistoryStore(tmp_path / f"{sensor}.db", sensor=sensor) as store:
            store.export(tmp_path / "merged")
            store.export(tmp_path / "merged")
    merged = con.execute(
        f"SELECT count(*) FROM read_parquet('{tmp_path}/merged/flows/**/*.parquet', hive_partitioning = true)"
    ).fetchall()[0][0]
    assert merged == sum(n for n, _ in expected.values())
