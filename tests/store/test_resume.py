"""Reading half, stopping, and resuming from the stored positions gives exactly the totals of one full
read: nothing lost, nothing counted twice; files read to their end are not read again."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.aggregate.timeline import RESOLUTIONS
from engine.analysis import Analysis
from engine.capture.source import CaptureSet
from engine.store import HistoryStore, Recorder
from tests.conftest import fixture_path
from tests.store.helpers import live, record
from tests.store.totals import totals

CHUNK = 4096


def _stop_after(store: HistoryStore, paths: list[str], batches: int) -> None:
    """Read `batches` batches (and a part of the next) with a flush after each, then stop."""
    capture = CaptureSet(paths)
    capture.start_offsets = store.resume_offsets(paths)
    analysis = Analysis()
    recorder = Recorder(store, analysis, interval=0.0)
    source = recorder.wrap(lambda: capture.batches(CHUNK), capture.paths, capture.statuses)()
    try:
        for i, batch in enumerate(source):
            analysis.ingest_batch(batch)
            if i == batches:
                break
    finally:
        source.close()
        recorder.close()
        analysis.close()


@pytest.mark.parametrize(
    ("names", "stop"),
    [
        (["ndpi_iphone.pcap"], 20),
        (["ndpi_sonos.pcapng"], 3),  # pcapng: interfaces read again before the jump
        (["ndpi_iphone.pcap", "nfstream_mdns_sll.pcap"], 70),  # stopped in the second file
    ],
)
def test_read_half_stop_resume_equals_one_read(tmp_path: Path, names: list[str], stop: int) -> None:
    paths = [str(fixture_path(n)) for n in names]
    with HistoryStore(tmp_path / "h.db", sensor="pi") as store:
        _stop_after(store, paths, stop)
        half = store.positions()
        assert any(0 < p.end_offset < Path(p.path).stat().st_size for p in half.values())
        assert not all(p.complete for p in half.values())
        record(store, paths, chunk_size=CHUNK)
        stored = store.load(timeline_bins=RESOLUTIONS)  # the timeline window of one live analysis
        positions = store.positions()
    whole, statuses = live(paths, chunk_size=CHUNK)
    assert totals(stored.snapshot) == totals(whole)
    for status in statuses:
        pos = positions[status.path]
        assert pos.complete
        assert pos.end_offset == Path(status.path).stat().st_size
        assert pos.packets == status.packets
        assert pos.bytes == status.bytes
    assert len(stored.runs) == 2


def test_files_read_to_their_end_are_not_read_again(tmp_path: Path) -> None:
    path = str(fixture_path("ndpi_iphone.pcap"))
    with HistoryStore(tmp_path / "h.db", sensor="pi") as store:
        record(store, [path])
        assert store.resume_offsets([path]) == {path: Path(path).stat().st_size}
        assert store.analysed_span([path]) is not None
        again = record(store, [path])
        assert again.stats.flushes == 1
        stored = store.load()
    whole, _ = live([path])
    assert totals(stored.snapshot) == totals(whole)


def test_a_changed_file_is_read_from_its_start(tmp_path: Path) -> None:
    """A dump rotated away and a new one written under the same name: its saved position is not used."""
    path = tmp_path / "dump.pcap"
    shutil.copy(fixture_path("ndpi_iphone.pcap"), path)
    with HistoryStore(tmp_path / "h.db", sensor="pi") as store:
        _stop_after(store, [str(path)], 5)
        assert store.resume_offsets([str(path)])
        shutil.copy(fixture_path("zeek_dhcp.pcap"), path)
        assert store.resume_offsets([str(path)]) == {}
        assert store.analysed_span([str(path)]) is None


def test_the_newest_position_in_a_folder(tmp_path: Path) -> None:
    """What a follower of a folder of rotating dumps goes on from."""
    folder = tmp_path / "dumps"
    folder.mkdir()
    first, second = folder / "a.pcap", folder / "b.pcap"
    shutil.copy(fixture_path("ndpi_iphone.pcap"), first)
    shutil.copy(fixture_path("zeek_dhcp.pcap"), second)
    with HistoryStore(tmp_path / "h.db", sensor="pi") as store:
        assert store.latest_position(folder) is None
        _stop_after(store, [str(first), str(second)], 10_000)
        newest = store.latest_position(folder)
    assert newest is not None
    assert newest.path == CaptureSet([str(first), str(second)]).paths[-1]  # the last read: newest packets
    assert newest.end_offset == Path(newest.path).stat().st_size
