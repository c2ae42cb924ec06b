"""kill -9 during ingest: the store opens again, holds one consistent flush, and resuming from its positions
completes the totals exactly, nothing counted twice."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine.aggregate.timeline import RESOLUTIONS
from engine.store import HistoryStore
from tests.conftest import REPO, fixture_path
from tests.store.helpers import live, record
from tests.store.totals import totals

CHUNK = 8192
NAMES = ["ndpi_iphone.pcap", "joy_firefox58.pcap", "ndpi_gnutella.pcap"]


def _kill_mid_way(store: Path, paths: list[str], after_flushes: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.store.crash_child", str(store), str(CHUNK), *paths],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
    )
    inspector: int | None = None
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith("inspector "):
                inspector = int(line.split()[1])
            if line.startswith("flushed ") and int(line.split()[1]) >= after_flushes:
                break
            if line.startswith("done"):
                pytest.fail("the child finished before it could be killed")
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        assert child.returncode == -signal.SIGKILL, child.stderr.read() if child.stderr else ""
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()
        if inspector is not None:  # it ends by itself when its input closes; make sure
            with contextlib.suppress(ProcessLookupError):
                os.kill(inspector, signal.SIGKILL)


@pytest.mark.parametrize("after_flushes", [3, 40])
def test_kill_9_mid_ingest_then_resume(tmp_path: Path, after_flushes: int) -> None:
    paths = [str(fixture_path(n)) for n in NAMES]
    db = tmp_path / "h.db"
    _kill_mid_way(db, paths, after_flushes)
    with HistoryStore(db, sensor="pi") as store:
        assert store.check() == []
        positions = store.positions()
        read = sum(p.packets for p in positions.values())
        whole, statuses = live(paths, chunk_size=CHUNK)
        assert 0 < read < sum(s.packets for s in statuses)  # killed mid-way
        before = store.load()
        assert before.snapshot.totals.packets == read  # counters and positions of the same flush
        runs = store.runs()
        assert len(runs) == 1 and not runs[0].finished
        record(store, paths, chunk_size=CHUNK, inspector="process")
        assert store.check() == []
        after = store.load(timeline_bins=RESOLUTIONS)
        done = store.positions()
    assert totals(after.snapshot) == totals(whole)
    for status in statuses:
        assert done[status.path].complete
        assert done[status.path].packets == status.packets
