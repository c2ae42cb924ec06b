"""The capture service's command, for real: dumpcap writing its ring in a network namespace while a
peer namespace sends it UDP traffic. See netns_capture.py for the set-up; `capture_ring` below is the
fixture to reuse (e.g. for `homescope follow`) when a test needs a ring being written."""

from __future__ import annotations

import shutil
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.capture import open_capture
from tests.pi_setup.netns_capture import RING_FILE, RunningCapture, missing_requirements, running_capture_ring

pytestmark = [
    pytest.mark.netns,
    pytest.mark.slow,
    pytest.mark.skipif(missing_requirements() is not None, reason=missing_requirements() or ""),
]

SNAPLEN = 96
FILES = 3
PAYLOAD = 600
WIRE_LEN = 14 + 20 + 8 + PAYLOAD  # Ethernet + IPv4 + UDP headers + payload
# Two words and a parenthesis: it must reach dumpcap as one argument to work at all.
FILTER = "udp and not (port 9)"


@pytest.fixture
def capture_ring() -> Iterator[RunningCapture]:
    """The capture service's command writing a ring of FILES files, rotating every 2 s, in a
    namespace of its own; stopped and cleaned up after the test."""
    with running_capture_ring(snaplen=SNAPLEN, rotate_s=2, files=FILES, capture_filter=FILTER) as ring:
        yield ring


def tshark_fields(path: Path) -> list[tuple[str, int, int]]:
    """(UDP destination port, captured length, wire length) of every packet, read by tshark."""
    result = subprocess.run(
        [
            "tshark",
            "-n",
            "-r",
            str(path),
            "-T",
            "fields",
            "-e",
            "udp.dstport",
            "-e",
            "frame.cap_len",
            "-e",
            "frame.len",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rows = []
    for line in result.stdout.splitlines():
        port, caplen, wirelen = line.split("\t")
        rows.append((port, int(caplen), int(wirelen)))
    return rows


def read_the_file_being_written(ring: RunningCapture, attempts: int = 6) -> int:
    """Packets homescope's reader gets from the newest ring file while dumpcap still appends to it.
    Proven open by its growing after the read (dumpcap flushes every 100 ms) while still the newest;
    a rotation in between (every 2 s here) just means another try."""
    for _ in range(attempts):
        newest = ring.ring_files()[-1]
        size_before = newest.stat().st_size
        packets = sum(len(batch) for batch in open_capture(str(newest)).batches())
        time.sleep(0.3)
        if packets and ring.ring_files()[-1] == newest and newest.stat().st_size > size_before:
            return packets
    raise AssertionError(f"no readable, growing ring file in {attempts} tries")


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_capture_ring_rotates_truncates_and_can_be_read_while_written(capture_ring: RunningCapture) -> None:
    # ~3000 datagrams over 7 s; every 10th goes to the discard port, which the filter leaves out
    sender = capture_ring.start_udp(count=3000, seconds=7, port=5555, payload=PAYLOAD, every_nth_to=(10, 9))

    # While it is being written, the newest file can be read by homescope's reader
    time.sleep(2)
    packets_live = read_the_file_being_written(capture_ring)
    assert packets_live > 0
    assert len(capture_ring.ring_files()) <= FILES

    out, err = sender.communicate(timeout=30)
    assert sender.returncode == 0, err
    sent, sent_elsewhere = map(int, out.split())
    assert (sent, sent_elsewhere) == (2700, 300)
    time.sleep(1)  # let dumpcap write out the last packets
    stderr = capture_ring.stop()

    files = capture_ring.ring_files()
    names = [RING_FILE.match(p.name) for p in files]
    assert all(names), [p.name for p in files]
    assert 1 <= len(files) <= FILES, [p.name for p in files]
    sequence = [int(m.group(1)) for m in names if m]
    assert max(sequence) > FILES, "the ring never rotated past its size, so nothing was deleted"
    assert sequence == list(range(max(sequence) - len(files) + 1, max(sequence) + 1))
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o640, "files are group-readable for followers"

    rows = [row for path in files for row in tshark_fields(path)]
    assert rows, "no packets in the remaining files"
    assert {port for port, _, _ in rows} == {"5555"}, "the capture filter let other traffic through"
    assert all(caplen == SNAPLEN and wirelen == WIRE_LEN for _, caplen, wirelen in rows)
    assert len(rows) < sent, "the oldest files, deleted by the ring, held the first packets"

    received_dropped = capture_ring.received_dropped(stderr)
    assert received_dropped == (sent, 0), stderr


def test_capture_ring_fixture_cleans_up() -> None:
    """The namespaces and the capture process are gone after the context ends."""
    with running_capture_ring(rotate_s=2) as ring:
        pid = ring.process.pid
        namespaces = (ring.capture_ns, ring.peer_ns)
        dump_dir = ring.dump_dir
        assert ring.ring_files()
    assert ring.process.returncode is not None
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert not any(ns in listed for ns in namespaces)
    assert not dump_dir.exists()
    assert not Path(f"/proc/{pid}").exists()
