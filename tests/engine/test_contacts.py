"""The contact log: closed flows folded into contact keys, with counters, a ring of the newest flows per key
and traffic per 15-minute bin, all within its limits; snapshots that later flows leave untouched; and the
table the finding rules read."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from engine.flows.contact_table import contact_table
from engine.flows.contacts import ContactLimits, ContactLog
from engine.flows.flow_table import FLOW_COLUMNS, FlowRecords

T0 = 1_700_000_000.0 - 1_700_000_000.0 % 86400  # a midnight, UTC


def flows(
    first: list[float] | np.ndarray,
    *,
    last: list[float] | np.ndarray | None = None,
    server: int | np.ndarray = 2,
    client: int = 1,
    port: int = 443,
    nbytes: int = 1000,
    serial0: int = 0,
    payload: int = 100,
) -> FlowRecords:
    """Flows from address id `client` (device 0, high client port) to `server` (no device)."""
    start = np.asarray(first, dtype=np.float64)
    n = start.shape[0]
    end = start + 0.5 if last is None else np.asarray(last, dtype=np.float64)
    columns = {k: np.full(n, fill, dtype=dt) for k, (dt, fill) in FLOW_COLUMNS.items()}
    columns["serial"] = np.arange(serial0, serial0 + n, dtype=np.int64)
    columns["first_ts"], columns["last_ts"] = start, end
    columns["bytes_ab"] = np.full(n, nbytes // 4, dtype=np.int64)
    columns["bytes_ba"] = np.full(n, nbytes - nbytes // 4, dtype=np.int64)
    columns["packets_ab"] = columns["packets_ba"] = np.full(n, 2, dtype=np.int64)
    columns["payload_ab"] = np.full(n, payload, dtype=np.int64)
    columns["client"] = np.zeros(n, dtype=np.int8)
    columns["dev_a"] = np.zeros(n, dtype=np.int64)
    servers = np.broadcast_to(np.asarray(server, dtype=np.int64), (n,)).copy()
    return FlowRecords(
        a_id=np.full(n, client, dtype=np.int64),
        b_id=servers,
        a_hi=np.zeros(n, np.uint64),
        a_lo=np.zeros(n, np.uint64),
        b_hi=np.zeros(n, np.uint64),
        b_lo=np.zeros(n, np.uint64),
        port_a=np.full(n, 50000, dtype=np.uint16),
        port_b=np.full(n, port, dtype=np.uint16),
        proto=np.full(n, 6, dtype=np.uint8),
        columns=columns,
    )


def labels(n: int) -> np.ndarray:
    return np.full(n, 7, dtype=np.uint16)


def add(log: ContactLog, records: FlowRecords) -> None:
    log.add(records, labels(len(records)))


def test_flows_of_one_client_server_and_port_are_one_key() -> None:
    log = ContactLog()
    add(log, flows(T0 + np.arange(10) * 60.0))
    add(log, flows(T0 + 1000 + np.arange(5) * 60.0, serial0=10))
    add(log, flows([T0 + 50], port=8883, serial0=20))  # another port: another key
    snap = log.snapshot()
    assert len(snap) == 2 and snap.flows == 16
    k = snap.keys
    assert k["flows"].tolist() == [15, 1]
    assert k["server_port"].tolist() == [443, 8883] and k["label"].tolist() == [7, 7]
    assert k["client_dev"].tolist() == [0, 0] and k["server_dev"].tolist() == [-1, -1]
    assert k["bytes_c2s"][0] == 15 * 250 and k["bytes_s2c"][0] == 15 * 750
    assert k["first_ts"][0] == T0 and k["last_ts"][0] == T0 + 1000 + 240.5
    assert k["first_serial"].tolist() == [0, 20]
    table = contact_table(snap)
    assert table.event_serial[table.event_indices(np.array([0]))].tolist() == list(range(15))


def test_the_first_flow_is_the_one_that_started_first_not_the_lowest_serial() -> None:
    log = ContactLog()
    add(log, flows([T0 + 30, T0 + 10, T0 + 20]))  # serials 0, 1, 2: serial 1 started first
    assert log.snapshot().keys["first_serial"].tolist() == [1]
    add(log, flows([T0 + 5, T0 + 50], serial0=10))  # a later batch with an earlier start
    assert log.snapshot().keys["first_serial"].tolist() == [10]
    add(log, flows([T0 + 5], serial0=3))  # a tie with the first start: the lower serial
    assert log.snapshot().keys["first_serial"].tolist() == [3]


def test_a_ring_keeps_the_newest_flows_of_each_key() -> None:
    log = ContactLog(ContactLimits(ring=32))
    for chunk in range(10):
        add(log, flows(T0 + (chunk * 100 + np.arange(100)) * 10.0, serial0=chunk * 100))
    table = contact_table(log.snapshot())
    assert table.flows.tolist() == [1000] and table.events_total.tolist() == [1000]
    kept = table.event_serial[table.event_indices(np.array([0]))]
    assert sorted(kept.tolist()) == list(range(968, 1000))
    assert table.truncated().tolist() == [True]


def test_keys_beyond_the_limit_are_evicted_least_recent_first() -> None:
    log = ContactLog(ContactLimits(max_keys=100))
    for k in range(1000):
        add(log, flows([T0 + k], server=10 + k, serial0=k, nbytes=400))
    snap = log.snapshot()
    assert 88 <= len(snap) <= 100
    assert snap.evicted_keys == 1000 - len(snap) and snap.evicted_flows == snap.evicted_keys
    assert snap.evicted_bytes == 400 * snap.evicted_keys
    assert snap.keys["server_id"].min() >= 10 + 1000 - len(snap)  # the most recent stayed
    table = contact_table(snap)
    assert set(table.event_row.tolist()) == set(range(len(snap)))  # events follow their keys
    assert set(table.bin_row.tolist()) <= set(range(len(snap)))


def test_the_event_budget_trims_the_busiest_keys_only() -> None:
    log = ContactLog(ContactLimits(ring=512, max_events=2000))
    add(log, flows(T0 + np.arange(3000) * 5.0, server=2))  # a busy key
    add(log, flows(T0 + np.arange(100) * 5.0, server=3, serial0=5000))  # a quiet one
    add(log, flows(T0 + np.arange(70000) * 0.1, server=4, serial0=10000))  # forces compaction
    assert log.event_count <= 2000
    table = contact_table(log.snapshot())
    kept = np.diff(table.event_offsets)
    assert kept[1] == 100 and kept[0] == kept[2] <= 512 and kept.sum() <= 2000


def test_bytes_are_shared_out_over_quarter_hours() -> None:
    log = ContactLog()
    # 00:10 to 00:40: 5, 15 and 10 minutes in three bins
    add(log, flows([T0 + 600], last=[T0 + 2400], nbytes=3000))
    add(log, flows([T0 + 900], last=[T0 + 900], nbytes=60, serial0=1))  # one packet on a bin's edge
    table = contact_table(log.snapshot())
    got = sorted(
        zip(
            table.bin_start.tolist(),
            table.bin_bytes.tolist(),
            table.bin_touches.tolist(),
            table.bin_starts.tolist(),
            strict=True,
        )
    )
    assert got == [
        (T0, pytest.approx(500), 1, 1),
        (T0 + 900, pytest.approx(60), 1, 1),
        (T0 + 900, pytest.approx(1500), 1, 0),
        (T0 + 1800, pytest.approx(1000), 1, 0),
    ]
    first = int(np.argmin(table.bin_start))
    assert table.bin_from[first] == pytest.approx(T0 + 600) and table.bin_to[first] == pytest.approx(T0 + 900)


def test_bins_older_than_the_horizon_go() -> None:
    log = ContactLog(ContactLimits(horizon_s=86400))
    add(log, flows(T0 + np.arange(3) * 86400.0))
    table = contact_table(log.snapshot())
    assert table.bin_start.tolist() == [T0 + 86400, T0 + 2 * 86400]
    assert table.bins_since == T0 + 86400
    assert table.flows.tolist() == [3]  # the counters keep everything


def test_the_bin_budget_keeps_the_newest_bins() -> None:
    log = ContactLog(ContactLimits(max_bins=50))
    for day in range(3):
        add(log, flows(T0 + day * 3600 + np.arange(40) * 900.0, server=2 + day, serial0=day * 100))
    assert log.bin_count <= 50
    table = contact_table(log.snapshot())
    assert len(table.bin_start) <= 50
    assert table.bins_since > T0 and table.bin_start.min() >= table.bins_since


def test_a_snapshot_is_read_only_and_later_flows_leave_it_alone() -> None:
    log = ContactLog(ContactLimits(max_keys=8))
    add(log, flows(T0 + np.arange(20) * 60.0))
    snap = log.snapshot()
    before = {k: v.copy() for k, v in snap.keys.items()}
    events = [e.serial.copy() for e in snap.events]
    with pytest.raises(ValueError, match="read-only"):
        snap.keys["flows"][0] = 0
    with pytest.raises(ValueError, match="read-only"):
        snap.events[0].start[0] = 0.0
    for k in range(40):  # more flows for the same key, and enough new keys to evict it
        add(log, flows(T0 + 5000 + np.arange(3) * 60.0, server=2 + k % 12, serial0=100 + 3 * k))
    for name, values in before.items():
        assert np.array_equal(snap.keys[name], values), name
    assert [e.serial.tolist() for e in snap.events] == [e.tolist() for e in events]


def test_another_thread_reads_snapshots_while_flows_come_in() -> None:
    log = ContactLog(ContactLimits(max_keys=50, ring=16))
    lock = threading.Lock()
    seen: list[int] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            with lock:
                snap = log.snapshot()
            table = contact_table(snap)  # outside the lock, as the TUI's worker does
            seen.append(int(table.flows.sum()))

    thread = threading.Thread(target=reader)
    thread.start()
    for k in range(300):
        with lock:
            add(log, flows(T0 + k * 10 + np.arange(5.0), server=2 + k % 80, serial0=5 * k))
    done.set()
    thread.join()
    assert seen and log.flows == 1500


def test_extra_flows_are_rows_of_their_own() -> None:
    log = ContactLog()
    add(log, flows(T0 + np.arange(3) * 60.0))
    active = flows([T0 + 500, T0 + 560], serial0=50)
    table = contact_table(log.snapshot(), [(active, labels(2))])
    assert len(table) == 3 and table.flows.tolist() == [3, 1, 1]
    assert table.event_serial[table.event_indices(np.array([1, 2]))].tolist() == [50, 51]
    assert set(table.bin_row.tolist()) == {0, 1, 2}
    alone = contact_table(None, [(active, labels(2))])
    assert len(alone) == 2 and alone.first_serial.tolist() == [50, 51]
