"""Property tests: real captures, mutated (byte flips, truncation, inserted and deleted bytes, corrupted
record and block lengths, in the file header, the record headers and the packet bytes), go through the
reader, the decoder and the aggregators.

Properties: nothing but `CaptureError` (when opening) ever escapes; what is reported adds up (source
status, batches and report agree); every record handed out is a stretch of the input, in order; and no
input is silently lost: a cut file yields exactly the records before the cut plus a problem, or ends
cleanly at a record boundary. For classic pcap, the records read equal those of a plain reading of the
format specification. Bounded: about 200 examples, a few seconds.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.analysis import Analysis, note_undecoded
from engine.capture.records import RecordBatch, SourceStatus
from engine.capture.source import open_capture
from engine.errors import CaptureError
from engine.report import build_report
from tests.conftest import FIXTURES

SEEDS = [
    "dpkt_nb6-http.pcap",  # pcap, Ethernet, PPPoE and IPv4
    "arkime_bigendian.pcap",  # big-endian pcap
    "pcpp_sll2.pcap",
    "arkime_nflog.pcap",
    "arkime_80211http.pcap",  # radiotap
    "zeek_pcapng-multi-interface.pcapng",
    "nfstream_dhcp_big_endian.pcapng",
    "ndpi_upnp.pcap",  # pcapng named .pcap
    "pcpp_many_interfaces-1.pcapng",  # 11 interfaces, statistics blocks
]
DATA = {name: (FIXTURES / name).read_bytes() for name in SEEDS}
CHUNKS = st.sampled_from([17, 64, 1000, 4 << 20])
PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}


def record_boundaries(data: bytes) -> tuple[list[int], list[bool]]:
    """Offsets where each record or block of a valid capture ends, and whether it holds a packet."""
    ends: list[int] = []
    is_packet: list[bool] = []
    if data[:4] in PCAP_MAGICS:
        order = PCAP_MAGICS[data[:4]][0]
        pos = 24
        while pos < len(data):
            pos += 16 + struct.unpack_from(order + "I", data, pos + 8)[0]
            ends.append(pos)
            is_packet.append(True)
        return ends, is_packet
    pos, order = 0, "<"
    while pos < len(data):
        if data[pos : pos + 4] == b"\x0a\x0d\x0d\x0a":
            order = "<" if data[pos + 8 : pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
        btype, length = struct.unpack_from(order + "II", data, pos)
        pos += length
        ends.append(pos)
        is_packet.append(btype in (2, 3, 6))
    return ends, is_packet


@dataclass
class Outcome:
    status: SourceStatus
    records: list[bytes]
    report: dict[str, object]


def batch_records(batch: RecordBatch) -> list[bytes]:
    return [batch.data[int(s) : int(s) + int(c)] for s, c in zip(batch.starts, batch.caplen, strict=True)]


def read_everything(data: bytes, tmp: Path, chunk: int, *, size: int | None = None) -> Outcome | None:
    """Reader, decoder, aggregators and report over `data`; None when the input cannot be opened.

    `size` bounds the offsets of problems: the decompressed size for a compressed input."""
    path = tmp / "mutated.cap"
    path.write_bytes(data)
    try:
        cap = open_capture(str(path))
    except CaptureError as err:
        assert err.kind in {"empty", "truncated", "corrupt", "unsupported-format"}, err.kind
        return None
    analysis = Analysis()
    records: list[bytes] = []
    batch_packets = 0
    batch_bytes = 0
    for batch in cap.batches(chunk):
        assert np.all(batch.starts >= 0)
        assert np.all(batch.starts + batch.caplen <= len(batch.data))
        records += [
            batch.data[int(s) : int(s) + int(c)] for s, c in zip(batch.starts, batch.caplen, strict=True)
        ]
        batch_packets += len(batch)
        batch_bytes += int(batch.wirelen.sum(dtype=np.int64))
        analysis.ingest_batch(batch)
    status = cap.status
    note_undecoded([status])
    report = build_report(analysis.snapshot(), [status])
    totals = report["totals"]
    assert isinstance(totals, dict)
    assert status.finished
    assert status.packets == batch_packets == totals["packets"] == len(records)
    assert status.bytes == batch_bytes == totals["bytes"]
    assert sum(status.linktypes.values()) == status.packets
    for problem in status.problems:
        assert problem.offset is None or 0 <= problem.offset <= (len(data) if size is None else size)
        assert problem.message
    assert len([p for p in status.problems if p.fatal]) <= 2  # the reader's own, and a stream's damage
    return Outcome(status, records, report)


def assert_records_are_stretches_of_input(records: list[bytes], data: bytes) -> None:
    pos = 0
    for rec in records:
        found = data.find(rec, pos)
        assert found >= pos, "a record that is not in the input"
        pos = found + len(rec)


def reference_pcap_records(data: bytes) -> tuple[list[bytes], str | None]:
    """Records of a classic pcap as the format specification defines them, and how reading ends."""
    order = PCAP_MAGICS[data[:4]][0]
    snaplen = struct.unpack_from(order + "I", data, 16)[0]
    limit = max(262144, snaplen)
    records: list[bytes] = []
    pos = 24
    while pos < len(data):
        # a captured length beyond the limit is corrupt as soon as its field is there, even in a cut header
        if pos + 12 <= len(data) and struct.unpack_from(order + "I", data, pos + 8)[0] > limit:
            return records, "corrupt"
        if pos + 16 > len(data):
            return records, "truncated"
        caplen = struct.unpack_from(order + "I", data, pos + 8)[0]
        if pos + 16 + caplen > len(data):
            return records, "truncated"
        records.append(data[pos + 16 : pos + 16 + caplen])
        pos += 16 + caplen
    return records, None


# --- mutations -------------------------------------------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(SEEDS))
    data = bytearray(DATA[name])
    ends, _ = record_boundaries(bytes(data))
    header_end = 24 if bytes(data[:4]) in PCAP_MAGICS else 0
    starts = [header_end, *ends[:-1]]
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "length", "header"]))
        pos = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[pos] ^= draw(st.integers(1, 255))
        elif kind == "truncate":
            del data[pos:]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=24))
        elif kind == "delete":
            del data[pos : pos + draw(st.integers(1, 24))]
        elif kind == "length":
            # overwrite the length field of a record (pcap caplen at +8) or block (pcapng length at +4)
            start = draw(st.sampled_from(starts))
            field = start + (8 if header_end else 4)
            value = draw(st.sampled_from([0, 1, 3, 11, 12, 13, 0xFFFF, 262145, 0x7FFFFFFF, 0xFFFFFFFF]))
            if field + 4 <= len(data):
                data[field : field + 4] = struct.pack("<I", value)
        else:
            at = draw(st.integers(0, min(len(data), 28) - 1))
            data[at] = draw(st.integers(0, 255))
    return name, bytes(data)


@settings(
    max_examples=140,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=mutated(), chunk=CHUNKS)
def test_mutated_captures_never_crash_and_account_for_their_input(
    tmp_path: Path, case: tuple[str, bytes], chunk: int
) -> None:
    _name, data = case
    outcome = read_everything(data, tmp_path, chunk)
    if outcome is None:
        return
    assert_records_are_stretches_of_input(outcome.records, data)
    if data[:4] in PCAP_MAGICS and len(data) >= 24:
        expected, ending = reference_pcap_records(data)
        assert outcome.records == expected
        fatal = [p.kind for p in outcome.status.problems if p.fatal]
        assert fatal == ([ending] if ending else [])


# --- truncation at every kind of point -------------------------------------------------------------


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(name=st.sampled_from(SEEDS), fraction=st.floats(0.0, 1.0), chunk=CHUNKS, at_boundary=st.booleans())
def test_truncation_yields_every_record_before_the_cut_and_says_so(
    tmp_path: Path, name: str, fraction: float, chunk: int, at_boundary: bool
) -> None:
    full = DATA[name]
    ends, is_packet = record_boundaries(full)
    cut = int(fraction * len(full))
    if at_boundary:
        cut = min(ends, key=lambda e: abs(e - cut))
    data = full[:cut]
    outcome = read_everything(data, tmp_path, chunk)
    header = 24 if full[:4] in PCAP_MAGICS else 12
    if outcome is None:
        assert cut < header  # only a cut inside the file header makes it unopenable
        return
    complete = [i for i, e in enumerate(ends) if e <= cut]
    assert outcome.status.packets == sum(is_packet[i] for i in complete)
    fatal = [p for p in outcome.status.problems if p.fatal]
    clean = cut in ends or (cut == header and full[:4] in PCAP_MAGICS)
    if clean:
        assert fatal == []
    else:
        assert [p.kind for p in fatal] == ["truncated"]
        last_end = max([header if full[:4] in PCAP_MAGICS else 0, *(ends[i] for i in complete)])
        assert fatal[0].offset == last_end


# --- compressed captures cut short -----------------------------------------------------------------

COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
}


def _records_of_fixture(name: str) -> list[bytes]:
    cap = open_capture(str(FIXTURES / name))
    return [
        b.data[int(s) : int(s) + int(c)]
        for b in cap.batches()
        for s, c in zip(b.starts, b.caplen, strict=True)
    ]


ORIGINAL_RECORDS = {name: _records_of_fixture(name) for name in SEEDS}


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    name=st.sampled_from(SEEDS),
    method=st.sampled_from(sorted(COMPRESSORS)),
    fraction=st.floats(0.05, 0.95),
    chunk=CHUNKS,
)
def test_cut_compressed_capture_yields_a_prefix_and_a_problem(
    tmp_path: Path, name: str, method: str, fraction: float, chunk: int
) -> None:
    full = DATA[name]
    packed = COMPRESSORS[method](full)
    outcome = read_everything(packed[: int(fraction * len(packed))], tmp_path, chunk, size=len(full))
    if outcome is None:  # cut before the capture's own file header came out of the decompressor
        return
    ends, is_packet = record_boundaries(full)
    # whatever was decompressed is a prefix of the original: the records read are its first ones
    blocks = [i for i in range(len(ends)) if is_packet[i]]
    assert outcome.records == ORIGINAL_RECORDS[name][: len(outcome.records)]
    assert len(outcome.records) <= len(blocks)
    kinds = [p.kind for p in outcome.status.problems if p.fatal]
    assert "truncated" in kinds
    assert outcome.status.format.endswith("+" + method)
