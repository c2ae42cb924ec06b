"""The dump follower on files written while it reads: growing, rotating, compressed, deleted, replaced,
truncated, with records split at every piece boundary, in pcap and pcapng."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.capture.follow import DumpFollower, FollowState, ResumePoint
from engine.capture.watch_session import follow_session
from engine.errors import CaptureError
from engine.session import SessionMode
from tests.live.following import Following, run_in_thread
from tests.live.writers import (
    RingWriter,
    gzip_and_remove,
    pcap_file,
    pcap_header,
    pcap_packet,
    pcapng_file,
    pcapng_header,
    pcapng_packet,
    ring_name,
    wait_for,
    write_in_pieces,
)

POLL = 0.02


def follow(directory: Path, **kwargs: object) -> Following:
    return run_in_thread(DumpFollower(str(directory), poll_interval=POLL, **kwargs))  # type: ignore[arg-type]


@pytest.fixture
def following() -> Iterator[list[Following]]:
    """Followers started by a test are stopped after it, whatever happens."""
    started: list[Following] = []
    yield started
    for run in started:
        run.follower.stop()
        if run.thread is not None:
            run.thread.join(5)


def start(started: list[Following], directory: Path, **kwargs: object) -> Following:
    run = follow(directory, **kwargs)
    started.append(run)
    return run


# ---- one growing file -----------------------------------------------------------------------------


@pytest.mark.parametrize("piece", [1, 3, 7, 64, 1000])
def test_growing_pcapng_split_anywhere_reads_every_packet_once(
    tmp_path: Path, following: list[Following], piece: int
) -> None:
    path = tmp_path / ring_name(1, time.time())
    path.write_bytes(b"")
    run = start(following, tmp_path)
    data = pcapng_file(range(60))
    write_in_pieces(path, data, [piece], pause=0.0005 if piece < 8 else 0.002)
    run.wait_count(60)
    status = run.follower.status()
    assert status.state == FollowState.FOLLOWING
    assert status.offset == len(data)
    run.stop()
    assert run.numbers == list(range(60))
    st = run.follower.statuses[0]
    assert st.problems == [], "waiting for the rest of a record is not a truncation"
    assert st.packets == 60
    assert run.follower.resume_point() == ResumePoint(path.name, len(data))


@pytest.mark.parametrize("piece", [1, 5, 16, 17, 300])
def test_growing_pcap_split_anywhere_reads_every_packet_once(
    tmp_path: Path, following: list[Following], piece: int
) -> None:
    path = tmp_path / "dump-20240101-120000.pcap"  # tcpdump -G naming
    run = start(following, tmp_path)
    wait_for(lambda: run.follower.status().state == FollowState.WAITING, what="waiting")
    write_in_pieces(path, pcap_file(range(40)), [piece], pause=0.0005 if piece < 16 else 0.002)
    run.wait_count(40)
    run.stop()
    assert run.numbers == list(range(40))
    assert run.follower.statuses[0].problems == []
    assert run.follower.statuses[0].format == "pcap"


def test_batches_come_out_while_the_file_grows(tmp_path: Path, following: list[Following]) -> None:
    """Latency: a packet written now is handed out within a few polls, not at the end of the file."""
    path = tmp_path / ring_name(1, time.time())
    path.write_bytes(pcapng_header())
    run = start(following, tmp_path)
    for n in range(5):
        written = time.monotonic()
        write_in_pieces(path, pcapng_packet(n), [1000])
        run.wait_count(n + 1, timeout=5)
        assert time.monotonic() - written < 1.0
    run.stop()
    assert run.numbers == list(range(5))


def test_empty_folder_waits_and_says_so(tmp_path: Path, following: list[Following]) -> None:
    run = start(following, tmp_path)
    wait_for(lambda: run.follower.status().state == FollowState.WAITING, what="waiting")
    status = run.follower.status()
    assert status.file is None
    assert "waiting for capture files" in status.describe() and "none yet" in status.describe()
    time.sleep(0.2)
    assert run.count() == 0 and run.error is None
    (tmp_path / ring_name(1, time.time())).write_bytes(pcapng_file(range(3)))
    run.wait_count(3)
    run.stop()


def test_a_new_empty_file_waits_for_its_header(tmp_path: Path, following: list[Following]) -> None:
    path = tmp_path / ring_name(1, time.time())
    path.write_bytes(b"")
    run = start(following, tmp_path)
    time.sleep(0.2)
    assert run.error is None and run.count() == 0
    write_in_pieces(path, pcapng_file(range(2)), [5], pause=0.001)
    run.wait_count(2)
    run.stop()
    assert run.follower.statuses[0].problems == []


# ---- rotation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("pcap", [False, True], ids=["pcapng", "pcap"])
def test_ring_rotation_is_followed_in_order(tmp_path: Path, following: list[Following], pcap: bool) -> None:
    run = start(following, tmp_path)
    writer = RingWriter(tmp_path, files=6, per_file=30, keep=3, pcap=pcap).start()
    writer.join()
    run.wait_count(180)
    run.stop()
    assert run.numbers == list(range(180))
    assert run.follower.status().files_read >= 5
    assert all(not st.problems for st in run.follower.statuses)


def test_dumps_already_there_are_read_in_time_order_first(tmp_path: Path, following: list[Following]) -> None:
    # written out of order, named by the ring: the names give the order, not the modification times
    for seq in (3, 1, 2):
        numbers = range((seq - 1) * 10, seq * 10)
        (tmp_path / ring_name(seq, 1_700_000_000 + seq)).write_bytes(pcapng_file(numbers))
    run = start(following, tmp_path)
    run.wait_count(30)
    run.stop()
    assert run.numbers == list(range(30))


def test_names_without_times_are_ordered_by_first_packet(tmp_path: Path, following: list[Following]) -> None:
    # tcpdump -C naming: dump, dump1, dump2 ... here with contents in another order than the names
    (tmp_path / "dump2").write_bytes(pcap_file(range(0, 10)))
    (tmp_path / "dump").write_bytes(pcap_file(range(10, 20)))
    (tmp_path / "dump1").write_bytes(pcap_file(range(20, 30)))
    run = start(following, tmp_path)
    run.wait_count(30)
    run.stop()
    assert run.numbers == list(range(30))


def test_compressed_after_rotation_is_not_read_twice(tmp_path: Path, following: list[Following]) -> None:
    run = start(following, tmp_path)
    writer = RingWriter(tmp_path, files=5, per_file=25, compress=True).start()
    writer.join()
    run.wait_count(125)
    time.sleep(0.3)  # time to (wrongly) read a .gz again
    run.stop()
    assert run.numbers == list(range(125))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert sum(n.endswith(".gz") for n in names) == 4


def test_a_compressed_dump_already_there_is_read_once(tmp_path: Path, following: list[Following]) -> None:
    first = tmp_path / ring_name(1, 1_700_000_001)
    first.write_bytes(pcapng_file(range(10)))
    gzip_and_remove(first)
    (tmp_path / ring_name(2, 1_700_000_002)).write_bytes(pcapng_file(range(10, 20)))
    run = start(following, tmp_path)
    run.wait_count(20)
    time.sleep(0.2)
    run.stop()
    assert run.numbers == list(range(20))
    assert run.follower.statuses[0].format == "pcapng+gzip"


def test_gz_being_written_while_the_original_exists_is_skipped(
    tmp_path: Path, following: list[Following]
) -> None:
    original = tmp_path / ring_name(1, 1_700_000_001)
    original.write_bytes(pcapng_file(range(10)))
    (tmp_path / (original.name + ".gz")).write_bytes(b"\x1f\x8b\x08")  # a compressor's first bytes
    (tmp_path / ring_name(2, 1_700_000_002)).write_bytes(pcapng_file(range(10, 15)))
    run = start(following, tmp_path)
    run.wait_count(15)
    time.sleep(0.2)
    run.stop()
    assert run.numbers == list(range(15))
    assert all(not st.problems for st in run.follower.statuses)


# ---- deletion, replacement, truncation --------------------------------------------------------------


class _RingDeletesAfterListing(DumpFollower):
    """The ring deletes a file just after the follower listed it, before it opens it."""

    victim: Path | None = None

    def _scan(self):  # type: ignore[no-untyped-def]
        entries = super()._scan()
        if self.victim is not None and any(e.name == self.victim.name for e in entries):
            self.victim.unlink()
            self.victim = None
        return entries


def test_a_file_deleted_before_its_turn_is_reported(tmp_path: Path, following: list[Following]) -> None:
    for seq in (1, 2, 3):
        (tmp_path / ring_name(seq, 1_700_000_000 + seq)).write_bytes(
            pcapng_file(range(seq * 10, seq * 10 + 5))
        )
    follower = _RingDeletesAfterListing(str(tmp_path), poll_interval=POLL)
    follower.victim = tmp_path / ring_name(1, 1_700_000_001)
    run = Following(follower)
    run.thread = threading.Thread(target=lambda: run.batches.extend(follower.batches()), daemon=True)
    run.thread.start()
    following.append(run)
    run.wait_count(10)
    run.stop()
    assert run.numbers == [*range(20, 25), *range(30, 35)]
    notes = [text for _, text in follower.events_since(0)]
    assert notes == [
        f"{ring_name(1, 1_700_000_001)}: deleted before it could be read (the ring removes the oldest files)"
    ]


def test_a_gap_in_the_ring_numbers_is_reported(tmp_path: Path, following: list[Following]) -> None:
    (tmp_path / ring_name(1, 1_700_000_001)).write_bytes(pcapng_file(range(5)))
    run = start(following, tmp_path)
    run.wait_count(5)
    (tmp_path / ring_name(4, 1_700_000_004)).write_bytes(pcapng_file(range(5, 10)))
    run.wait_count(10)
    run.stop()
    notes = [text for _, text in run.follower.events_since(0)]
    assert any("2 ring files (numbers 2 to 3) were deleted by the ring" in n for n in notes), notes


def test_file_deleted_while_being_read_is_read_to_its_end(tmp_path: Path, following: list[Following]) -> None:
    path = tmp_path / ring_name(1, 1_700_000_001)
    path.write_bytes(pcapng_header() + pcapng_packet(0))
    run = start(following, tmp_path)
    run.wait_count(1)
    with open(path, "ab") as fh:
        fh.write(pcapng_packet(1))
    path.unlink()
    run.wait_count(2)
    (tmp_path / ring_name(2, 1_700_000_002)).write_bytes(pcapng_file([2]))
    run.wait_count(3)
    run.stop()
    assert run.numbers == [0, 1, 2]


def test_a_replaced_file_is_read_again(tmp_path: Path, following: list[Following]) -> None:
    path = tmp_path / "dump.pcap"
    path.write_bytes(pcap_file(range(5)))
    run = start(following, tmp_path)
    run.wait_count(5)
    fresh = tmp_path / ".dump.pcap.tmp"  # hidden files are not read
    fresh.write_bytes(pcap_file(range(100, 103)))
    os.replace(fresh, path)
    run.wait_count(8)
    run.stop()
    assert run.numbers == [*range(5), 100, 101, 102]
    assert any("replaced" in text for _, text in run.follower.events_since(0))


def test_a_file_truncated_in_place_is_read_again_from_its_start(
    tmp_path: Path, following: list[Following]
) -> None:
    """tcpdump -C -W reuses its file names: the oldest file is truncated and written again."""
    path = tmp_path / "dump0"
    path.write_bytes(pcap_file(range(20)))
    run = start(following, tmp_path)
    run.wait_count(20)
    with open(path, "r+b") as fh:
        fh.truncate(0)
        fh.write(pcap_header())
        fh.flush()
        time.sleep(0.2)
        fh.write(b"".join(pcap_packet(n) for n in range(200, 204)))
    run.wait_count(24)
    run.stop()
    assert run.numbers == [*range(20), *range(200, 204)]
    assert any("truncated while being read" in text for _, text in run.follower.events_since(0))


def test_a_file_cut_short_before_the_next_one_is_truncated_but_following_goes_on(
    tmp_path: Path, following: list[Following]
) -> None:
    first = tmp_path / ring_name(1, 1_700_000_001)
    data = pcapng_file(range(5))
    first.write_bytes(data + pcapng_packet(5)[:30])  # the writer died mid-record
    run = start(following, tmp_path)
    run.wait_count(5)
    (tmp_path / ring_name(2, 1_700_000_002)).write_bytes(pcapng_file(range(6, 9)))
    run.wait_count(8)
    run.stop()
    assert run.numbers == [0, 1, 2, 3, 4, 6, 7, 8]
    problems = run.follower.statuses[0].problems
    assert [p.kind for p in problems] == ["truncated"]
    assert problems[0].offset == len(data)


# ---- where to start ---------------------------------------------------------------------------------


def test_from_now_skips_what_is_there(tmp_path: Path, following: list[Following]) -> None:
    (tmp_path / ring_name(1, 1_700_000_001)).write_bytes(pcapng_file(range(10)))
    newest = tmp_path / ring_name(2, 1_700_000_002)
    newest.write_bytes(pcapng_file(range(10, 20)) + pcapng_packet(20)[:17])
    run = start(following, tmp_path, start="now")
    wait_for(lambda: run.follower.status().state == FollowState.FOLLOWING, what="following")
    assert run.count() == 0
    write_in_pieces(newest, pcapng_packet(20)[17:] + pcapng_packet(21), [9], pause=0.001)
    run.wait_count(2)
    (tmp_path / ring_name(3, 1_700_000_003)).write_bytes(pcapng_file([22]))
    run.wait_count(3)
    run.stop()
    assert run.numbers == [20, 21, 22]
    st = run.follower.statuses[0]
    assert st.packets == 2, "skipped packets are not counted"


def test_resume_goes_on_after_the_last_complete_record(tmp_path: Path, following: list[Following]) -> None:
    (tmp_path / ring_name(1, 1_700_000_001)).write_bytes(pcapng_file(range(10)))
    second = tmp_path / ring_name(2, 1_700_000_002)
    second.write_bytes(pcapng_file(range(10, 20)))
    run = start(following, tmp_path)
    run.wait_count(20)
    run.stop()
    point = run.follower.resume_point()
    assert point == ResumePoint(second.name, second.stat().st_size)
    # a batch tells where reading can go on after it
    assert run.follower.resume_point_of(run.batches[-1]) == point
    assert run.follower.resume_point_of(run.batches[0]) == ResumePoint(
        ring_name(1, 1_700_000_001), (tmp_path / ring_name(1, 1_700_000_001)).stat().st_size
    )

    with open(second, "ab") as fh:
        fh.write(b"".join(pcapng_packet(n) for n in range(20, 25)))
    (tmp_path / ring_name(3, 1_700_000_003)).write_bytes(pcapng_file(range(25, 30)))
    later = start(following, tmp_path, resume=point)
    later.wait_count(10)
    time.sleep(0.2)
    later.stop()
    assert later.numbers == list(range(20, 30))


def test_resume_in_a_file_compressed_since(tmp_path: Path, following: list[Following]) -> None:
    path = tmp_path / ring_name(1, 1_700_000_001)
    path.write_bytes(pcapng_file(range(10)))
    offset = len(pcapng_header()) + sum(len(pcapng_packet(n)) for n in range(6))
    gzip_and_remove(path)
    run = start(following, tmp_path, resume=ResumePoint(path.name, offset))
    run.wait_count(4)
    time.sleep(0.1)
    run.stop()
    assert run.numbers == [6, 7, 8, 9]


def test_resume_when_its_file_is_gone(tmp_path: Path, following: list[Following]) -> None:
    (tmp_path / ring_name(3, 1_700_000_003)).write_bytes(pcapng_file(range(30, 33)))
    gone = ring_name(2, 1_700_000_002)
    run = start(following, tmp_path, resume=ResumePoint(gone, 1000))
    run.wait_count(3)
    run.stop()
    assert run.numbers == [30, 31, 32]
    assert any("gone" in text for _, text in run.follower.events_since(0))


# ---- the folder ---------------------------------------------------------------------------------------


def test_missing_folder_and_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="no such folder"):
        DumpFollower(str(tmp_path / "nope")).check()
    file = tmp_path / "file.pcap"
    file.write_bytes(pcap_file([1]))
    with pytest.raises(CaptureError, match="not a folder") as err:
        DumpFollower(str(file)).check()
    assert "homescope report" in err.value.message
    assert err.value.exit_code == 3


def test_pattern_limits_the_files(tmp_path: Path, following: list[Following]) -> None:
    (tmp_path / ring_name(1, 1_700_000_001)).write_bytes(pcapng_file(range(3)))
    (tmp_path / "notes.txt").write_text("not a capture")
    (tmp_path / "other_00001_20200101000000.pcapng").write_bytes(pcapng_file(range(100, 103)))
    run = start(following, tmp_path, pattern="hs_*.pcapng*")
    run.wait_count(3)
    time.sleep(0.2)
    run.stop()
    assert run.numbers == [0, 1, 2]
    assert len(run.follower.statuses) == 1


def test_a_file_that_is_not_a_capture_is_noted_and_skipped(
    tmp_path: Path, following: list[Following]
) -> None:
    (tmp_path / "a_notes.txt").write_text("hello")
    os.utime(tmp_path / "a_notes.txt", (1_600_000_000, 1_600_000_000))
    (tmp_path / ring_name(1, time.time())).write_bytes(pcapng_file(range(3)))
    run = start(following, tmp_path)
    run.wait_count(3)
    run.stop()
    kinds = [p.kind for st in run.follower.statuses for p in st.problems]
    assert kinds == ["unsupported-format"]


def test_statuses_stay_few_over_many_files(tmp_path: Path, following: list[Following]) -> None:
    run = start(following, tmp_path, max_statuses=6)
    RingWriter(tmp_path, files=20, per_file=3, pieces=[10_000], pause=0).start().join()
    run.wait_count(60)
    run.stop()
    statuses = run.follower.statuses
    assert len(statuses) <= 7
    assert sum(st.packets for st in statuses) == 60
    assert "earlier files" in statuses[0].path


def test_stop_while_waiting_is_prompt(tmp_path: Path) -> None:
    run = follow(tmp_path)
    wait_for(lambda: run.follower.status().state == FollowState.WAITING, what="waiting")
    begun = time.monotonic()
    run.stop()
    assert time.monotonic() - begun < 1
    assert run.follower.status().state == FollowState.STOPPED


# ---- as a capture session -------------------------------------------------------------------------------


def test_follow_session_ingests_and_stops(tmp_path: Path) -> None:
    path = tmp_path / ring_name(1, time.time())
    path.write_bytes(pcapng_header())
    session = follow_session(str(tmp_path))
    session.source.poll_interval = POLL  # type: ignore[attr-defined]
    session.start()
    try:
        write_in_pieces(path, b"".join(pcapng_packet(n) for n in range(50)), [333], pause=0.001)
        wait_for(lambda: session.progress().packets == 50, what="50 packets ingested")
        progress = session.progress()
        assert progress.mode == SessionMode.FOLLOW
        assert progress.running and progress.error is None
        assert progress.total_size is None, "a growing file has no progress share"
        assert progress.drops is None
        assert session.statuses[0].packets == 50
        snap = session.snapshot()
        assert snap.totals.packets == 50
    finally:
        begun = time.monotonic()
        session.stop()
        session.analysis.close()
    assert time.monotonic() - begun < 2
    assert not session.progress().running


def test_follow_session_reports_an_unreadable_folder(tmp_path: Path) -> None:
    session = follow_session(str(tmp_path / "missing"))
    session.start()
    assert session.wait(5)
    error = session.progress().error
    assert isinstance(error, CaptureError) and "no such folder" in error.message
