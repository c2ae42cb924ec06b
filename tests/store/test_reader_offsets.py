"""Capture readers resume at a saved byte offset (`RecordBatch.end_offset`): what they read from there is
exactly what a full read yields after that point, for pcap, pcapng (section and interface blocks are read
again first) and compressed files."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from engine.capture.records import RecordBatch
from engine.capture.source import CaptureSet, open_capture
from engine.errors import CaptureError
from tests.conftest import fixture_path
from tests.engine.crafted import epb, idb, records_of, shb, write_pcap

CHUNK = 4096  # small chunks: many batches, so there are many offsets to resume at

FILES = [
    "ndpi_iphone.pcap",  # pcap, microseconds
    "arkime_bigendian.pcap",
    "pcpp_many_interfaces-1.pcapng",  # several interfaces of different link types
    "ndpi_sonos.pcapng",
    "nfstream_dhcp_big_endian.pcapng",
]


def _read(path: Path, start: int = 0, chunk: int = CHUNK) -> list[RecordBatch]:
    cap = open_capture(str(path), start_offset=start)
    return list(cap.batches(chunk))


def _check_every_offset(path: Path, chunk: int = CHUNK) -> int:
    """Resume after every batch of a full read; returns how many offsets were tried."""
    full = _read(path, chunk=chunk)
    records = records_of(full)
    assert records, path
    resumed = 0
    done = 0
    for batch in full[:-1]:
        done += len(batch)
        rest = _read(path, batch.end_offset, chunk)
        assert records_of(rest) == records[done:], (path, batch.end_offset)
        resumed += 1
    # resuming after the last record reads nothing
    assert _read(path, full[-1].end_offset) == []
    return resumed


@pytest.mark.parametrize("name", FILES)
def test_resume_at_every_batch_end(name: str) -> None:
    path = fixture_path(name)
    tried = _check_every_offset(path, CHUNK if path.stat().st_size > 4 * CHUNK else 64)
    assert tried >= 1


def test_resume_in_a_gzip_file(tmp_path: Path) -> None:
    target = tmp_path / "iphone.pcap.gz"
    with open(fixture_path("ndpi_iphone.pcap"), "rb") as src, gzip.open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
    assert _check_every_offset(target) > 3


def _two_sections(path: Path) -> None:
    """Two sections of opposite byte order, each with its own interfaces (link types 1 and 101)."""
    frame = bytes(60)
    path.write_bytes(
        shb()
        + idb(1)
        + b"".join(epb(0, 1_700_000_000_000_000 + i, frame) for i in range(40))
        + shb(big_endian=True)
        + idb(101, tsresol=9, big_endian=True)
        + idb(1, big_endian=True)
        + b"".join(epb(i % 2, 1_700_000_000_000_000_000 + i, frame, big_endian=True) for i in range(40))
    )


def test_resume_in_a_later_section_of_the_other_byte_order(tmp_path: Path) -> None:
    target = tmp_path / "two-sections.pcapng"
    _two_sections(target)
    full = _read(target)
    records = records_of(full)
    assert {r[3] for r in records} == {1, 101}
    assert _check_every_offset(target, 1024) > 3


def test_an_offset_inside_a_block_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "two-sections.pcapng"
    _two_sections(target)
    end = _read(target)[0].end_offset
    with pytest.raises(CaptureError, match="no block starts there"):
        _read(target, end + 4)


def test_an_offset_past_the_end_is_refused(tmp_path: Path) -> None:
    pcap = tmp_path / "short.pcap"
    write_pcap(pcap, [bytes(60)] * 3)
    size = pcap.stat().st_size
    with pytest.raises(CaptureError, match="cannot resume at byte"):
        _read(pcap, size + 100)
    ng = tmp_path / "short.pcapng"
    _two_sections(ng)
    with pytest.raises(CaptureError, match="cannot resume at byte"):
        _read(ng, ng.stat().st_size + 16)


def test_capture_set_resumes_each_file_at_its_offset() -> None:
    first, second = fixture_path("ndpi_iphone.pcap"), fixture_path("ndpi_sonos.pcapng")
    whole = CaptureSet([str(first), str(second)], ordered=False)
    every = list(whole.batches(CHUNK))
    middle = next(b for b in every if b.source_index == 1 and b.end_offset > 0)
    later = CaptureSet(
        [str(first), str(second)],
        ordered=False,
        start_offsets={
            str(first): every[[b.source_index for b in every].index(1) - 1].end_offset,
            str(second): middle.end_offset,
        },
    )
    rest = list(later.batches(CHUNK))
    assert all(b.source_index == 1 for b in rest)
    after = every[every.index(middle) + 1 :]
    assert records_of(rest) == records_of(after)
    status = later.statuses[1]
    assert status.start_offset == middle.end_offset
    assert status.packets == sum(len(b) for b in after)
