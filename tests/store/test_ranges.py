"""Loading a time range or a sensor: flows and DNS by their own times, counters and timeline by hour."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.store import HistoryStore
from tests.store.days import HOURS, MIDNIGHT, packet_time, wire_bytes, write_days
from tests.store.helpers import record

DAY = 86400


def test_one_day_of_three(tmp_path: Path) -> None:
    capture = write_days(tmp_path / "days.pcap")
    with HistoryStore(tmp_path / "h.db", sensor="pi") as store:
        record(store, [capture], interval=0.0, chunk_size=512)
        whole = store.load()
        day = store.load(MIDNIGHT + DAY, MIDNIGHT + 2 * DAY)
    assert whole.snapshot.totals.packets == HOURS
    snap = day.snapshot
    hours = range(24, 48)
    assert snap.totals.packets == 24
    assert snap.totals.bytes == sum(wire_bytes(h) for h in hours)
    assert snap.totals.first_ts == packet_time(24)
    assert snap.totals.last_ts == packet_time(47)
    assert snap.flows is not None
    assert len(snap.flows.closed) == 24
    assert sorted(snap.flows.closed.columns["first_ts"].tolist()) == [float(packet_time(h)) for h in hours]
    assert snap.timeline is not None
    hourly = snap.timeline.total_bytes[3600]
    assert int(hourly.values.sum()) == snap.totals.bytes
    assert hourly.start == MIDNIGHT + DAY
    assert snap.devices is not None
    home = [i for i in range(len(snap.devices)) if snap.devices.columns["packets_up"][i]]
    assert [int(snap.devices.columns["packets_up"][i]) for i in home] == [24]
    assert int(np.sum(snap.hosts.counts[:, 0])) == 24  # sent, by the one home address
    # a range inside one hour holds that hour's counters, and only the flows of its own span
    hour = store_hour = MIDNIGHT + 30 * 3600
    with HistoryStore(tmp_path / "h.db", sensor="pi") as store:
        part = store.load(hour + 1700, hour + 1900).snapshot
        empty = store.load(hour + 100, hour + 200).snapshot
    assert part.totals.packets == 1 and store_hour == hour
    assert part.flows is not None and len(part.flows.closed) == 1
    assert empty.flows is not None and len(empty.flows.closed) == 0
    assert empty.totals.packets == 1  # counters are kept per hour


def test_sensors_apart_and_together(tmp_path: Path) -> None:
    kitchen = write_days(tmp_path / "kitchen.pcap", src="192.168.1.10", hours=5)
    garage = write_days(tmp_path / "garage.pcap", src="192.168.2.20", hours=7)
    db = tmp_path / "h.db"
    with HistoryStore(db, sensor="kitchen") as store:
        record(store, [kitchen])
    with HistoryStore(db, sensor="garage") as store:
        record(store, [garage])
        assert store.sensors() == ["garage", "kitchen"]
        assert store.load(sensor="kitchen").snapshot.totals.packets == 5
        assert store.load(sensor="garage").snapshot.totals.packets == 7
        both = store.load()
        assert both.snapshot.totals.packets == 12
        assert both.sensors == ["garage", "kitchen"]
        assert store.load(sensor="attic").runs == []


def test_files_that_overlap_in_time(tmp_path: Path) -> None:
    """A second file covering the same hours brings the run back to hours written long before: their rows
    are read back and added to, not replaced."""
    from engine.aggregate.timeline import RESOLUTIONS
    from tests.store.helpers import live
    from tests.store.totals import totals

    first = write_days(tmp_path / "a.pcap", src="192.168.1.10", hours=10)
    second = write_days(tmp_path / "b.pcap", src="192.168.1.11", hours=10)
    with HistoryStore(tmp_path / "h.db", sensor="pi") as store:
        record(store, [first, second], interval=0.0, chunk_size=256)
        assert store.check() == []
        stored = store.load(timeline_bins=RESOLUTIONS)
        hour = store.load(MIDNIGHT + 3 * 3600, MIDNIGHT + 4 * 3600).snapshot
    assert totals(stored.snapshot) == totals(live([first, second], chunk_size=256)[0])
    assert hour.totals.packets == 2
