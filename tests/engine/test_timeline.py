"""Timelines through the whole analysis: bins at 1 s, 1 min, 15 min and 1 h that add up to the totals, rings
of bounded size that keep the most recent window (and count packets that come too late for it), series per
device, packets without a usable timestamp left out, and the packet-size histogram."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.aggregate.timeline import RESOLUTIONS, TimelineSeries, TimelineSnapshot
from engine.analysis import Analysis, AnalysisSnapshot
from engine.capture.source import open_capture
from engine.report import build_report
from tests.engine.crafted import (
    BASE_TS,
    Rec,
    analyse_paths,
    epb,
    ethernet,
    idb,
    ipv4,
    shb,
    spb,
    udp,
    write_pcap,
)

PHONE, NAS, WEB = "192.168.1.20", "192.168.1.40", "93.184.216.34"
PHONE_MAC, NAS_MAC, ROUTER_MAC = "f0:18:98:aa:bb:01", "00:11:32:00:00:01", "b8:27:eb:12:34:56"
# BASE_TS is 20 s into its minute, 800 s into its quarter of an hour and its hour: bins start before it


def packet(size: int, src: str = PHONE, dst: str = WEB) -> bytes:
    """A UDP frame of exactly `size` bytes (at least 42) between two of the addresses above."""
    macs = {PHONE: PHONE_MAC, NAS: NAS_MAC}
    return ethernet(
        ipv4(udp(40000, 9000, bytes(size - 42)), src=src, dst=dst),
        src=macs.get(src, ROUTER_MAC),
        dst=macs.get(dst, ROUTER_MAC),
    )


def timed(records: list[tuple[float, bytes]]) -> list[Rec]:
    out = []
    for t, f in records:
        us = round(t * 1_000_000)
        out.append(Rec(f, sec=BASE_TS + us // 1_000_000, frac=us % 1_000_000))
    return out


def timeline_of(snapshot: AnalysisSnapshot) -> TimelineSnapshot:
    assert snapshot.timeline is not None
    return snapshot.timeline


def nonzero(series: TimelineSeries) -> dict[int, int]:
    """{bin start (seconds from BASE_TS): value} for the bins holding traffic."""
    return {
        int(series.start + series.resolution * i - BASE_TS): int(v)
        for i, v in enumerate(series.values.tolist())
        if v
    }


# --- bins and totals ------------------------------------------------------------------------------------

TRAFFIC = [
    (0.0, 100),
    (0.5, 200),
    (1.2, 300),
    (59.9, 400),
    (100.0, 500),  # the next quarter of an hour starts at +100 s, the next hour at +2800 s
    (160.0, 600),
    (3000.0, 700),
]


@pytest.fixture(scope="module")
def steady(tmp_path_factory: pytest.TempPathFactory) -> AnalysisSnapshot:
    path = tmp_path_factory.mktemp("timeline") / "steady.pcap"
    write_pcap(path, timed([(t, packet(size)) for t, size in TRAFFIC]))
    return analyse_paths([path])[0]


def test_bins_at_every_resolution(steady: AnalysisSnapshot) -> None:
    tl = timeline_of(steady)
    assert nonzero(tl.total_bytes[1]) == {0: 300, 1: 300, 59: 400, 100: 500, 160: 600, 3000: 700}
    # minutes start on the minute: BASE_TS is 20 s past one
    assert nonzero(tl.total_bytes[60]) == {-20: 300 + 300, 40: 400, 100: 500, 160: 600, 2980: 700}
    assert nonzero(tl.total_bytes[900]) == {-800: 100 + 200 + 300 + 400, 100: 500 + 600, 2800: 700}
    assert nonzero(tl.total_bytes[3600]) == {-800: 2100, 2800: 700}
    assert nonzero(tl.total_packets[900]) == {-800: 4, 100: 2, 2800: 1}


@pytest.mark.parametrize("resolution", sorted(RESOLUTIONS))
def test_bins_add_up_to_the_totals(steady: AnalysisSnapshot, resolution: int) -> None:
    tl = timeline_of(steady)
    assert int(tl.total_bytes[resolution].values.sum()) == steady.totals.bytes == sum(s for _, s in TRAFFIC)
    assert int(tl.total_packets[resolution].values.sum()) == steady.totals.packets == len(TRAFFIC)
    assert tl.total_bytes[resolution].values.shape == (RESOLUTIONS[resolution],)  # the ring's fixed size
    assert tl.late[resolution] == 0


def test_series_end_at_the_newest_bin(steady: AnalysisSnapshot) -> None:
    tl = timeline_of(steady)
    for resolution, series in tl.total_bytes.items():
        last_start = series.times[-1]
        assert last_start <= BASE_TS + 3000 < last_start + resolution
    assert tl.newest == BASE_TS + 3001


def test_report_series_start_at_the_first_packet(steady: AnalysisSnapshot) -> None:
    series = build_report(steady, [])["timeline"]["series"]
    assert series["900"] == {
        "start": BASE_TS - 800,
        "bytes": [1000, 1100, 0, 0, 700],
        "packets": [4, 2, 0, 0, 1],
    }
    assert series["3600"] == {"start": BASE_TS - 800, "bytes": [2100, 700], "packets": [6, 1]}
    assert sum(series["60"]["bytes"]) == steady.totals.bytes


# --- bounded rings -------------------------------------------------------------------------------------


def test_rings_keep_their_window_over_a_long_capture(tmp_path: Path) -> None:
    """Two and a half hours, a packet a minute: the 1-s ring keeps only its last hour, the others all."""
    minutes = 150
    path = write_pcap(tmp_path / "long.pcap", timed([(60.0 * m, packet(100 + m)) for m in range(minutes)]))
    snapshot, _ = analyse_paths([path])
    tl = timeline_of(snapshot)
    total = sum(100 + m for m in range(minutes))
    assert snapshot.totals.bytes == total
    newest = 60 * (minutes - 1)
    in_last_hour = [m for m in range(minutes) if 60 * m > newest - 3600]
    assert int(tl.total_bytes[1].values.sum()) == sum(100 + m for m in in_last_hour)
    assert int(tl.total_packets[1].values.sum()) == len(in_last_hour) == 60
    for resolution in (60, 900, 3600):
        assert int(tl.total_bytes[resolution].values.sum()) == total
    # none of these packets came late: they were in time order
    assert tl.late == {1: 0, 60: 0, 900: 0, 3600: 0}


def test_packets_older_than_a_window_are_counted_late(tmp_path: Path) -> None:
    """A second capture file from two hours earlier, read after the first: too old for the 1-s ring (three
    packets in two one-second bins)."""
    now = write_pcap(tmp_path / "now.pcap", timed([(7200.0, packet(100)), (7201.0, packet(100))]))
    earlier = write_pcap(
        tmp_path / "earlier.pcap", timed([(0.0, packet(300)), (0.5, packet(300)), (5.0, packet(300))])
    )
    analysis = Analysis()
    for path in (now, earlier):
        for batch in open_capture(str(path)).batches():
            analysis.ingest_batch(batch)
    tl = timeline_of(analysis.snapshot())
    assert tl.late == {1: 3, 60: 0, 900: 0, 3600: 0}
    assert int(tl.total_bytes[1].values.sum()) == 200
    assert int(tl.total_bytes[60].values.sum()) == 1100


# --- per device ---------------------------------------------------------------------------------------


def test_series_per_device(tmp_path: Path) -> None:
    records = [
        (0.0, packet(1000, PHONE, WEB)),
        (10.0, packet(200, WEB, PHONE)),
        (120.0, packet(500, PHONE, NAS)),
        (1000.0, packet(300, NAS, PHONE)),
    ]
    snapshot, _ = analyse_paths([write_pcap(tmp_path / "devices.pcap", timed(records))])
    assert snapshot.devices is not None
    ids = {int(k): i for i, k in enumerate(snapshot.devices.key_lo.tolist())}
    phone, nas = ids[int(PHONE_MAC.replace(":", ""), 16)], ids[int(NAS_MAC.replace(":", ""), 16)]
    tl = timeline_of(snapshot)
    assert nonzero(tl.device_bytes_up[60][phone]) == {-20: 1000, 100: 500}
    assert nonzero(tl.device_bytes_down[60][phone]) == {-20: 200, 1000: 300}
    assert nonzero(tl.device_bytes_up[900][phone]) == {-800: 1000, 100: 500}
    assert nonzero(tl.device_bytes_down[900][phone]) == {-800: 200, 1000: 300}
    assert nonzero(tl.device_bytes_up[3600][nas]) == {-800: 300}
    assert nonzero(tl.device_bytes_down[3600][nas]) == {-800: 500}
    # a device's series add up to its traffic
    cols = snapshot.devices.columns
    for device in (phone, nas):
        for res in (60, 900, 3600):
            assert int(tl.device_bytes_up[res][device].values.sum()) == int(cols["bytes_up"][device])
            assert int(tl.device_bytes_down[res][device].values.sum()) == int(cols["bytes_down"][device])
    assert 1 not in tl.device_bytes_up  # no one-second series per device
    per_device = {d["device"]["key"]: d for d in build_report(snapshot, [])["timeline"]["devices"]}
    assert per_device[PHONE_MAC]["bytes_up"] == [1500]
    assert per_device[PHONE_MAC]["bytes_down"] == [500]
    assert per_device[PHONE_MAC]["start"] == BASE_TS - 800


# --- timestamps and sizes -----------------------------------------------------------------------------------


def test_packets_without_a_usable_timestamp_are_left_out(tmp_path: Path) -> None:
    """pcapng: an interface whose offset puts its packets before 1970, and a simple packet block (no time)."""
    good = BASE_TS * 1_000_000
    data = (
        shb()
        + idb(1)
        + idb(1, tsoffset=-(BASE_TS + 1_000_000))
        + epb(0, good, packet(100))
        + epb(1, good, packet(200))  # 1 000 000 s before the epoch
        + spb(packet(300))
        + epb(0, good + 2_000_000, packet(400))
    )
    path = tmp_path / "untimed.pcapng"
    path.write_bytes(data)
    snapshot, statuses = analyse_paths([path])
    assert (snapshot.totals.packets, snapshot.totals.bytes, snapshot.totals.untimed_packets) == (4, 1000, 2)
    tl = timeline_of(snapshot)
    for resolution in RESOLUTIONS:
        assert int(tl.total_bytes[resolution].values.sum()) == 500
        assert int(tl.total_packets[resolution].values.sum()) == 2
    assert nonzero(tl.total_bytes[1]) == {0: 100, 2: 400}
    # the packets are still in the size histogram and in the totals
    assert sum(tl.size_histogram.values()) == 4
    assert [p.kind for p in statuses[0].problems] == ["timestamps-out-of-range"]


def test_packet_size_histogram(tmp_path: Path) -> None:
    sizes = [42, 63, 64, 127, 128, 300, 600, 1100, 1279, 1280, 1514, 1515, 9000]
    snapshot, _ = analyse_paths(
        [write_pcap(tmp_path / "sizes.pcap", timed([(i, packet(s)) for i, s in enumerate(sizes)]))]
    )
    assert timeline_of(snapshot).size_histogram == {
        "0-63": 2,
        "64-127": 2,
        "128-255": 1,
        "256-511": 1,
        "512-1023": 1,
        "1024-1279": 2,
        "1280-1514": 2,
        "1515+": 2,
    }
    assert build_report(snapshot, [])["timeline"]["packet_sizes"] == timeline_of(snapshot).size_histogram


def test_histogram_counts_wire_length_not_captured_length(tmp_path: Path) -> None:
    frame = packet(1400)
    path = write_pcap(tmp_path / "cut.pcap", [Rec(frame[:96], sec=BASE_TS, wirelen=1400)], snaplen=96)
    snapshot, _ = analyse_paths([path])
    assert timeline_of(snapshot).size_histogram["1280-1514"] == 1
    assert int(timeline_of(snapshot).total_bytes[60].values.sum()) == 1400
    assert np.count_nonzero(timeline_of(snapshot).total_packets[1].values) == 1
