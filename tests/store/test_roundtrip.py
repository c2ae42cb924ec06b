"""What the store gives back is what the analysis knew: the report of a stored analysis is the report of
the analysis that was recorded, field for field, whether the store was written in one flush or after every
batch; and its totals are those of an independent analysis of the same captures.

(The recorder hands the analysis a batch that spans two hours of capture time in two parts; where batches
end changes a few of the engine's decisions, such as when a home prefix is learnt. So the report is compared
with the recorded analysis, the totals with an independent one.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.aggregate.timeline import RESOLUTIONS
from engine.analysis import AnalysisSnapshot
from engine.capture.records import SourceStatus
from engine.store import HistoryStore
from tests.conftest import fixture_path
from tests.store.helpers import live, record, report_text, stored_report
from tests.store.totals import totals

Final = list[tuple[AnalysisSnapshot, list[SourceStatus]]]

# DNS, mDNS, DHCP, NetBIOS, TLS, QUIC, HTTP, IPv6, pcapng with several interfaces, Linux cooked, raw IP
FIXTURES = [
    "ndpi_iphone.pcap",
    "zeek_dhcp.pcap",
    "ndpi_netbios.pcap",
    "ndpi_sonos.pcapng",
    "nfstream_mdns_sll.pcap",
    "pcpp_many_interfaces-1.pcapng",
    "pcpp_raw_ip.pcap",
    "dpkt_nb6-http.pcap",
    "ndpi_dns_doh.pcap",
    "zeek_quic_chromium-google-de-fragmented.pcap",
    "arkime_wireshark-dhcpv6.pcap",
    "zeek_empty.pcap",
]


@pytest.mark.parametrize("name", FIXTURES)
def test_the_stored_report_is_the_live_report(tmp_path: Path, name: str) -> None:
    path = fixture_path(name)
    final: Final = []
    with HistoryStore(tmp_path / "h.db", sensor="pi") as store:
        record(store, [path], finals=final)
        assert stored_report(store) == report_text(*final[0])
        stored = store.load(timeline_bins=RESOLUTIONS)
    assert totals(stored.snapshot) == totals(live([path])[0])


@pytest.mark.parametrize("name", ["ndpi_iphone.pcap", "nfstream_mdns_sll.pcap", "ndpi_sonos.pcapng"])
def test_a_flush_after_every_batch_gives_the_same(tmp_path: Path, name: str) -> None:
    """Small batches and a flush after each: rows are rewritten as they change, never counted twice."""
    path = fixture_path(name)
    final: Final = []
    with HistoryStore(tmp_path / "h.db", sensor="pi") as store:
        recorder = record(store, [path], interval=0.0, chunk_size=2048, finals=final)
        assert recorder.stats.flushes > 5
        assert stored_report(store) == report_text(*final[0])
        assert store.check() == []


def test_the_inspector_in_its_own_process(tmp_path: Path) -> None:
    paths = [fixture_path("ndpi_iphone.pcap"), fixture_path("zeek_dhcp.pcap")]
    final: Final = []
    with HistoryStore(tmp_path / "h.db", sensor="pi") as store:
        record(store, paths, inspector="process", interval=0.0, chunk_size=4096, finals=final)
        assert stored_report(store) == report_text(*final[0])


def test_a_traffic_only_analysis(tmp_path: Path) -> None:
    path = fixture_path("ndpi_iphone.pcap")
    with HistoryStore(tmp_path / "h.db", sensor="pi") as store:
        record(store, [path], depth="traffic")
        stored = store.load()
    assert stored.snapshot.depth == "traffic"
    full, _ = live([path])
    assert stored.snapshot.totals == full.totals
    assert np.array_equal(stored.snapshot.hosts.counts, full.hosts.counts)


def test_dataframes_from_the_store(tmp_path: Path) -> None:
    """The notebook DataFrames of a stored analysis hold what engine.analyse gives for the file."""
    from engine.dataframes import analyse

    path = fixture_path("ndpi_iphone.pcap")
    with HistoryStore(tmp_path / "h.db", sensor="pi") as store:
        record(store, [path])
        frames = store.load().dataframes()
    direct = analyse(path)
    assert frames.flows["bytes"].sum() == direct.flows["bytes"].sum()
    assert sorted(frames.devices["key"]) == sorted(direct.devices["key"])
    assert len(frames.dns) == len(direct.dns)
    assert frames.timeline["bytes"].sum() == direct.timeline["bytes"].sum()
    assert set(frames.flows["server_name"].dropna()) == set(direct.flows["server_name"].dropna())


def test_two_runs_of_different_files_add_up(tmp_path: Path) -> None:
    first, second = fixture_path("ndpi_iphone.pcap"), fixture_path("zeek_dhcp.pcap")
    with HistoryStore(tmp_path / "h.db", sensor="pi") as store:
        record(store, [first])
        record(store, [second])
        stored = store.load()
        assert len(stored.runs) == 2
    a, _ = live([first])
    b, _ = live([second])
    assert stored.snapshot.totals.packets == a.totals.packets + b.totals.packets
    assert stored.snapshot.totals.bytes == a.totals.bytes + b.totals.bytes
    assert stored.snapshot.flows is not None and a.flows is not None and b.flows is not None
    assert len(stored.snapshot.flows.closed) == len(a.flows.closed) + len(b.flows.closed)
    assert {s.path for s in stored.sources} == {str(first), str(second)}


def test_a_capture_session_records(tmp_path: Path) -> None:
    """The TUI's runner: the session reads through the recorder; closing after it finished writes all."""
    from engine.analysis import Analysis
    from engine.capture.source import CaptureSet
    from engine.session import CaptureSession
    from engine.store import Recorder

    path = str(fixture_path("ndpi_iphone.pcap"))
    with HistoryStore(tmp_path / "h.db", sensor="pi") as store:
        capture = CaptureSet([path])
        analysis = Analysis()
        recorder = Recorder(store, analysis, interval=0.0)
        session = CaptureSession(
            capture,
            analysis=analysis,
            batches=recorder.wrap(lambda: capture.batches(4096), capture.paths, capture.statuses),
        )
        session.start()
        assert session.wait(60)
        recorder.close()
        final = analysis.snapshot()
        analysis.close()
        assert stored_report(store) == report_text(final, capture.statuses)
        assert store.runs()[0].finished
        assert store.positions()[path].complete


def test_a_session_stopped_mid_way_keeps_its_last_flush(tmp_path: Path) -> None:
    """Stopped in a paced replay, perhaps mid-batch: the final flush is left out, the store stays at the
    last periodic flush, and its counters and positions agree."""
    from engine.analysis import Analysis
    from engine.capture.source import CaptureSet
    from engine.session import CaptureSession
    from engine.store import Recorder

    path = str(fixture_path("ndpi_iphone.pcap"))
    with HistoryStore(tmp_path / "h.db", sensor="pi") as store:
        capture = CaptureSet([path])
        analysis = Analysis()
        recorder = Recorder(store, analysis, interval=0.0)
        session = CaptureSession(
            capture,
            analysis=analysis,
            speed=600.0,
            batches=recorder.wrap(lambda: capture.batches(2048), capture.paths, capture.statuses),
        )
        session.start()
        import time

        deadline = time.monotonic() + 30
        while recorder.stats.flushes < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        session.stop()
        recorder.close()
        analysis.close()
        assert store.check() == []
        assert not store.runs()[0].finished
        read = store.positions()[path]
        assert not read.complete
        assert store.load().snapshot.totals.packets == read.packets
