"""Capture formats and inputs: pcap and pcapng recognised by magic number (never by file name), sections,
interfaces and timestamp resolutions, compressed files, stdin and FIFOs, several files in time order, and
records that straddle the reader's chunk boundaries."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import math
import os
import shutil
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.capture.source import CaptureSet, open_capture
from engine.errors import CaptureError
from tests.conftest import REPO, fixture_path
from tests.engine.crafted import (
    BASE_TS,
    Rec,
    epb,
    ethernet,
    idb,
    ipv4,
    isb,
    ng_block,
    opb,
    pcap_bytes,
    read_batches,
    records_of,
    report_for,
    shb,
    spb,
    udp,
    write_pcap,
)


def frame(n: int) -> bytes:
    """A distinct small Ethernet/IPv4/UDP frame; `n` is carried in the source port and the payload."""
    return ethernet(ipv4(udp(1000 + n, 53, bytes([n]) * (n % 7 + 1))))


# --- classic pcap --------------------------------------------------------------------------------


@pytest.mark.parametrize("big_endian", [False, True], ids=["little-endian", "big-endian"])
@pytest.mark.parametrize("nsec", [False, True], ids=["usec", "nsec"])
def test_pcap_variants_by_magic_not_extension(tmp_path: Path, nsec: bool, big_endian: bool) -> None:
    # half a second, in the file's own fraction unit: read with the wrong unit it would be 500 s or 0.5 ms
    half = 500_000_000 if nsec else 500_000
    records = [
        Rec(frame(1), sec=BASE_TS, frac=half),
        Rec(frame(2), sec=BASE_TS + 1, frac=0, wirelen=1500),  # cut by the snap length
    ]
    path = write_pcap(tmp_path / "capture.pcapng", records, nsec=nsec, big_endian=big_endian, linktype=1)
    batches, status = read_batches(path)
    assert status.format == ("pcap-nsec" if nsec else "pcap")
    assert status.packets == 2
    assert status.bytes == len(frame(1)) + 1500  # wire length, not captured length
    assert status.captured_bytes == len(frame(1)) + len(frame(2))
    assert status.linktypes == {1: 2}
    assert status.problems == []
    recs = records_of(batches)
    assert [r[0] for r in recs] == [frame(1), frame(2)]
    assert recs[0][2] == pytest.approx(BASE_TS + 0.5, abs=1e-6)
    assert recs[1][2] == pytest.approx(BASE_TS + 1.0, abs=1e-6)
    assert [r[1] for r in recs] == [len(frame(1)), 1500]


def test_pcap_nanosecond_precision_is_kept(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "ns.bin", [Rec(frame(1), sec=5, frac=123_456_789)], nsec=True)
    batches, _ = read_batches(path)
    assert records_of(batches)[0][2] == pytest.approx(5.123456789, abs=1e-12)


def test_pcap_upper_bits_of_link_type_are_fcs_flags(tmp_path: Path) -> None:
    # LINKTYPE_ETHERNET with the "FCS present, 4 bytes" bits set in the upper half (pcap spec, 'LinkType')
    path = write_pcap(tmp_path / "fcs.pcap", [frame(1)], linktype=(1 << 28) | (2 << 26) | 1)
    _, status = read_batches(path)
    assert status.linktypes == {1: 1}


def test_big_endian_fixture() -> None:
    batches, status = read_batches(fixture_path("arkime_bigendian.pcap"))
    assert status.format == "pcap"
    assert status.packets == 2
    assert status.bytes == 196
    assert status.linktypes == {1: 2}
    recs = records_of(batches)
    # timestamps as tshark prints them (frame.time_epoch)
    assert recs[0][2] == pytest.approx(1335958313.152630, abs=1e-6)
    assert recs[1][2] == pytest.approx(1335958317.529201, abs=1e-6)
    assert [r[1] for r in recs] == [98, 98]


def test_nanosecond_fixture() -> None:
    batches, status = read_batches(fixture_path("smarthomefw_tuya-motion_wlan2.4.pcap"))
    assert status.format == "pcap-nsec"
    assert status.packets == 489
    recs = records_of(batches)
    # tshark: 1707846298.225996773 and 1707846298.226095496; only nanoseconds tell them 98.7 us apart
    assert recs[0][2] == pytest.approx(1707846298.225996773, abs=1e-6)
    assert recs[1][2] - recs[0][2] == pytest.approx(0.000098723, abs=1e-6)
    assert recs[-1][2] == pytest.approx(1707846688.974512276, abs=1e-6)
    assert status.first_ts == pytest.approx(1707846298.225996773, abs=1e-6)


# --- pcapng --------------------------------------------------------------------------------------


def test_pcapng_sections_of_both_byte_orders_in_one_file(tmp_path: Path) -> None:
    le = shb() + idb(1) + epb(0, BASE_TS * 10**6, frame(1)) + epb(0, (BASE_TS + 1) * 10**6, frame(2))
    # the second section is big-endian and describes its own interface 0 (raw IP, nanoseconds)
    raw = ipv4(udp(7, 9, b"x"))
    be = (
        shb(big_endian=True)
        + idb(101, tsresol=9, big_endian=True)
        + epb(0, (BASE_TS + 2) * 10**9 + 250_000_000, raw, big_endian=True)
    )
    path = tmp_path / "two-sections.cap"
    path.write_bytes(le + be)
    for chunk in (None, 17, 64):
        batches, status = read_batches(path, chunk)
        assert status.format == "pcapng"
        assert status.problems == []
        recs = records_of(batches)
        assert [r[0] for r in recs] == [frame(1), frame(2), raw], chunk
        assert [r[3] for r in recs] == [1, 1, 101]
        assert [r[4] for r in recs] == [0, 0, 0]
        assert recs[2][2] == pytest.approx(BASE_TS + 2.25, abs=1e-6)
        assert status.linktypes == {1: 2, 101: 1}


def test_pcapng_big_endian_then_little_endian(tmp_path: Path) -> None:
    be = shb(big_endian=True) + idb(1, big_endian=True) + epb(0, BASE_TS * 10**6, frame(1), big_endian=True)
    le = shb() + idb(1) + epb(0, (BASE_TS + 3) * 10**6, frame(2))
    path = tmp_path / "be-le.pcapng"
    path.write_bytes(be + le)
    batches, status = read_batches(path)
    recs = records_of(batches)
    assert [r[0] for r in recs] == [frame(1), frame(2)]
    assert [round(r[2]) for r in recs] == [BASE_TS, BASE_TS + 3]
    assert status.problems == []


def test_pcapng_interfaces_with_link_types_resolutions_and_offsets(tmp_path: Path) -> None:
    raw = ipv4(udp(5, 6, b"raw"))
    sll = struct.pack(">HHH8sH", 0, 1, 6, bytes(8), 0x0800) + ipv4(udp(5, 6, b"sll"))
    data = (
        shb()
        + idb(1)  # 0: Ethernet, microseconds (no if_tsresol)
        + idb(101, tsresol=9)  # 1: raw IP, nanoseconds
        + idb(113, tsresol=0x80 | 20, tsoffset=1000)  # 2: SLL, 2^-20 s, 1000 s offset
        + idb(1, tsresol=3, tsoffset=-100)  # 3: Ethernet, milliseconds, negative offset
        + epb(0, BASE_TS * 10**6 + 1, frame(1))
        + epb(1, BASE_TS * 10**9 + 2, raw)
        + epb(2, (BASE_TS << 20) + (1 << 19), sll)  # half a second in 2^-20 ticks
        + epb(3, BASE_TS * 1000 + 250, frame(3))
    )
    path = tmp_path / "interfaces.pcapng"
    path.write_bytes(data)
    batches, status = read_batches(path)
    recs = records_of(batches)
    assert [r[3] for r in recs] == [1, 101, 113, 1]
    assert [r[4] for r in recs] == [0, 1, 2, 3]
    assert recs[0][2] == pytest.approx(BASE_TS + 1e-6, abs=1e-7)
    assert recs[1][2] == pytest.approx(BASE_TS + 2e-9, abs=1e-6)
    assert recs[2][2] == pytest.approx(BASE_TS + 1000.5, abs=1e-6)
    assert recs[3][2] == pytest.approx(BASE_TS - 100 + 0.25, abs=1e-6)
    assert status.linktypes == {1: 2, 101: 1, 113: 1}
    # and the decoder uses each packet's own link type
    report = report_for([path])
    assert report["totals"]["packets"] == 4
    assert {h["ip"] for h in report["hosts"]} == {"192.168.1.10", "93.184.216.34"}
    assert report["ethertypes"][0]["packets"] == 4


def test_pcapng_enhanced_simple_and_obsolete_packet_blocks(tmp_path: Path) -> None:
    long = frame(4) + b"\xab" * 40
    data = (
        shb()
        + idb(1, snaplen=64)
        + epb(0, BASE_TS * 10**6, frame(1), wirelen=len(frame(1)) + 100)
        + spb(frame(2))
        + spb(long[:64], wirelen=len(long))  # a simple packet block holds at most the snap length
        + opb(0, (BASE_TS + 1) * 10**6, frame(3))
    )
    path = tmp_path / "blocks.pcapng"
    path.write_bytes(data)
    batches, status = read_batches(path)
    recs = records_of(batches)
    assert [r[0] for r in recs] == [frame(1), frame(2), long[:64], frame(3)]
    assert [r[1] for r in recs] == [len(frame(1)) + 100, len(frame(2)), len(long), len(frame(3))]
    assert recs[0][2] == pytest.approx(BASE_TS)
    assert math.isnan(recs[1][2]) and math.isnan(recs[2][2])  # a simple packet block has no timestamp
    assert recs[3][2] == pytest.approx(BASE_TS + 1)
    assert status.packets == 4
    assert status.bytes == len(frame(1)) + 100 + len(frame(2)) + len(long) + len(frame(3))
    assert status.untimed_packets == 2
    report: dict[str, Any] = report_for([path])
    assert report["totals"]["first_ts"] == pytest.approx(BASE_TS)
    assert report["totals"]["last_ts"] == pytest.approx(BASE_TS + 1)
    assert report["totals"]["untimed_packets"] == 2
    (problem,) = report["sources"][0]["problems"]
    assert (problem["kind"], problem["fatal"]) == ("timestamps-out-of-range", False)
    # simple packet blocks carry no timestamp: the message must not blame the capturing clock alone
    assert problem["message"].startswith("2 packets have no usable timestamp (none recorded")
    assert report["malformed"]["packets"] == 0  # a missing timestamp is not a defect of the packet


def test_pcapng_unknown_blocks_are_skipped(tmp_path: Path) -> None:
    nrb = ng_block(4, struct.pack("<HH4s", 1, 8, bytes([10, 0, 0, 1])) + b"host\0\0\0\0" + bytes(4))
    custom = ng_block(0x00000BAD, b"\x01\x02\x03\x04\x05\x06\x07\x08")
    decryption_secrets = ng_block(0x0000000A, struct.pack("<II", 0x544C534B, 4) + b"keys")
    data = shb() + nrb + idb(1) + custom + epb(0, 0, frame(1)) + decryption_secrets + epb(0, 0, frame(2))
    path = tmp_path / "unknown.pcapng"
    path.write_bytes(data)
    batches, status = read_batches(path)
    assert [r[0] for r in records_of(batches)] == [frame(1), frame(2)]
    assert status.problems == []


def test_pcapng_interface_statistics(tmp_path: Path) -> None:
    data = (
        shb()
        + idb(1)
        + idb(1)
        + epb(0, 0, frame(1))
        + isb(0, 5, received=1234, dropped=7, os_dropped=3)
        + isb(1, 5, received=99)
    )
    path = tmp_path / "stats.pcapng"
    path.write_bytes(data)
    _, status = read_batches(path)
    assert set(status.interface_stats) == {0, 1}
    s0 = status.interface_stats[0]
    assert (s0.received, s0.dropped, s0.os_dropped) == (1234, 7, 3)
    s1 = status.interface_stats[1]
    assert (s1.received, s1.dropped) == (99, None)


def test_pcapng_fixture_with_eleven_interfaces() -> None:
    batches, status = read_batches(fixture_path("pcpp_many_interfaces-1.pcapng"))
    assert status.packets == 64
    assert status.linktypes == {0: 2, 1: 62}  # capinfos: Ethernet (62), NULL/Loopback (2)
    assert set(status.interface_stats) == set(range(11))  # every interface has one statistics block
    recs = records_of(batches)
    assert {r[4] for r in recs if r[3] == 0} == {10}
    assert min(r[2] for r in recs) == pytest.approx(1439753725.701568, abs=1e-6)
    assert max(r[2] for r in recs) == pytest.approx(1439753728.292345, abs=1e-6)


# --- compression and odd inputs ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "compress"),
    [("gzip", gzip.compress), ("bzip2", bz2.compress), ("xz", lzma.compress)],
)
@pytest.mark.parametrize("fixture", ["arkime_nbns.pcap", "zeek_pcapng-multi-interface.pcapng"])
def test_compressed_captures(
    tmp_path: Path, fixture: str, name: str, compress: Callable[[bytes], bytes]
) -> None:
    original = fixture_path(fixture)
    path = tmp_path / "capture.pcap"  # the name says nothing about the compression
    path.write_bytes(compress(original.read_bytes()))
    plain_batches, plain = read_batches(original)
    batches, status = read_batches(path, 1000)
    assert status.compression == name
    assert status.format == f"{plain.format}+{name}"
    assert records_of(batches) == records_of(plain_batches)
    assert (status.packets, status.bytes) == (plain.packets, plain.bytes)
    assert status.problems == []
    assert status.bytes_read == path.stat().st_size


def test_zstd_is_named_in_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "capture.pcap"
    path.write_bytes(b"\x28\xb5\x2f\xfd" + bytes(40))
    with pytest.raises(CaptureError) as info:
        open_capture(str(path))
    assert info.value.kind == "unsupported-format"
    assert "zstd" in info.value.message
    assert "zstd -d" in info.value.message


def _report_cli(args: list[str], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "tui", "report", *args],
        input=stdin,
        capture_output=True,
        env=env,
        cwd=REPO,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_stdin(compressed: bool) -> None:
    data = fixture_path("arkime_nbns.pcap").read_bytes()
    result = _report_cli(["-", "--json"], gzip.compress(data) if compressed else data)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    source = report["sources"][0]
    assert source["path"] == "-"
    assert source["format"] == ("pcap+gzip" if compressed else "pcap")
    assert (source["packets"], source["bytes"]) == (62, 8567)
    assert report["totals"]["packets"] == 62


def _slow_writer(path: Path, data: bytes, piece: int, pause: float) -> threading.Thread:
    def write() -> None:
        with open(path, "wb", buffering=0) as fh:
            for i in range(0, len(data), piece):
                fh.write(data[i : i + piece])
                time.sleep(pause)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("fixture", ["dpkt_nb6-http.pcap", "zeek_pcapng-multi-interface.pcapng"])
def test_fifo_fed_slowly_in_small_pieces(tmp_path: Path, fixture: str) -> None:
    original = fixture_path(fixture)
    expected_batches, expected = read_batches(original)
    fifo = tmp_path / "capture.fifo"
    os.mkfifo(fifo)
    writer = _slow_writer(fifo, original.read_bytes(), piece=97, pause=0.001)
    batches, status = read_batches(fifo, 4096)
    writer.join(timeout=30)
    assert records_of(batches) == records_of(expected_batches)
    assert (status.packets, status.bytes) == (expected.packets, expected.bytes)
    assert status.size is None
    assert status.problems == []


def test_fifo_cut_short_reports_truncation(tmp_path: Path) -> None:
    data = pcap_bytes([frame(1), frame(2), frame(3)])
    fifo = tmp_path / "cut.fifo"
    os.mkfifo(fifo)
    writer = _slow_writer(fifo, data[:-5], piece=11, pause=0.001)
    batches, status = read_batches(fifo)
    writer.join(timeout=30)
    assert [r[0] for r in records_of(batches)] == [frame(1), frame(2)]
    assert [p.kind for p in status.problems] == ["truncated"]
    assert status.problems[0].offset == len(data) - 16 - len(frame(3))


# --- several files -------------------------------------------------------------------------------


def test_several_files_are_read_in_time_order(tmp_path: Path) -> None:
    hours = []
    for h in range(3):
        recs = [Rec(frame(10 * h + i), sec=BASE_TS + 3600 * h + i) for i in range(4)]
        hours.append(write_pcap(tmp_path / f"z-{2 - h}.pcap", recs))
    given = [str(hours[2]), str(hours[0]), str(hours[1])]
    capture = CaptureSet(list(given))
    assert capture.paths == [str(p) for p in hours]
    batches = list(capture.batches())
    ts = np.concatenate([b.ts for b in batches])
    assert np.all(np.diff(ts) > 0)
    assert [b.source_index for b in batches] == [0, 1, 2]
    assert [s.path for s in capture.statuses] == [str(p) for p in hours]
    assert [s.packets for s in capture.statuses] == [4, 4, 4]


def test_fixture_split_in_three_and_given_backwards(tmp_path: Path) -> None:
    batches, _ = read_batches(fixture_path("arkime_nbns.pcap"))
    recs = records_of(batches)
    parts = [recs[:20], recs[20:45], recs[45:]]
    paths = []
    for k, part in enumerate(parts):
        rows = [Rec(d, sec=int(t), frac=round((t % 1) * 1e6), wirelen=w) for d, w, t, _lt, _if in part]
        paths.append(write_pcap(tmp_path / f"part{k}.pcap", rows))
    report = report_for(list(reversed(paths)))
    whole = report_for([fixture_path("arkime_nbns.pcap")])
    assert [s["path"] for s in report["sources"]] == [str(p) for p in paths]
    assert report["totals"] == whole["totals"]
    assert report["hosts"] == whole["hosts"]
    assert report["macs"] == whole["macs"]


def test_files_without_packets_go_last(tmp_path: Path) -> None:
    empty = write_pcap(tmp_path / "a-empty.pcap", [])
    late = write_pcap(tmp_path / "b-late.pcap", [Rec(frame(1), sec=BASE_TS + 60)])
    early = write_pcap(tmp_path / "c-early.pcap", [Rec(frame(2), sec=BASE_TS)])
    capture = CaptureSet([str(empty), str(late), str(early)])
    assert capture.paths == [str(early), str(late), str(empty)]


# --- chunk boundaries ----------------------------------------------------------------------------


def _crafted_mixed_pcapng(tmp_path: Path) -> Path:
    """40 packets of two link types in enhanced and obsolete blocks, big-endian from packet 21 on."""
    blocks = [shb(), idb(1), idb(101, tsresol=9)]
    be = False
    for i in range(40):
        if i % 3 == 0:
            blocks.append(epb(1, BASE_TS * 10**9 + i, ipv4(udp(i, 53, bytes(i))), big_endian=be))
        elif i % 3 == 1:
            blocks.append(epb(0, BASE_TS * 10**6 + i, frame(i), big_endian=be))
        else:
            blocks.append(opb(0, BASE_TS * 10**6 + i, frame(i), big_endian=be))
        if i == 20:
            be = True
            blocks += [shb(big_endian=be), idb(1, big_endian=be), idb(101, tsresol=9, big_endian=be)]
            blocks.append(isb(0, 0, received=5, big_endian=be))
    path = tmp_path / "mixed.pcapng"
    path.write_bytes(b"".join(blocks))
    return path


@pytest.mark.parametrize(
    "source",
    [
        "dpkt_nb6-http.pcap",
        "arkime_bigendian.pcap",
        "pcpp_pcapng-example.pcapng",
        "nfstream_dhcp_big_endian.pcapng",
        "ndpi_stun_pcapng-named-pcap.pcap",
        "smarthomefw_tuya-motion_wlan2.4.pcap",
        "crafted-mixed",
    ],
)
def test_records_straddling_chunk_boundaries(tmp_path: Path, source: str) -> None:
    path = _crafted_mixed_pcapng(tmp_path) if source == "crafted-mixed" else fixture_path(source)
    whole_batches, whole = read_batches(path, 1 << 30)
    expected = records_of(whole_batches)
    assert len(expected) == whole.packets > 0
    if source == "crafted-mixed":
        assert whole.packets == 40
        assert whole.problems == []
        assert whole.interface_stats[0].received == 5
    for chunk in (17, 64, 1000):
        batches, status = read_batches(path, chunk)
        assert records_of(batches) == expected, chunk
        assert (status.packets, status.bytes, status.linktypes) == (
            whole.packets,
            whole.bytes,
            whole.linktypes,
        )
        assert [p.as_dict() for p in status.problems] == [p.as_dict() for p in whole.problems]
        assert status.interface_stats == whole.interface_stats
        # batch end offsets increase and the last one is the end of the file
        ends = [b.end_offset for b in batches]
        assert ends == sorted(ends)
        assert ends[-1] == path.stat().st_size


def test_truncated_file_read_in_tiny_chunks_reports_the_same_offset(tmp_path: Path) -> None:
    original = fixture_path("dpkt_nb6-http.pcap").read_bytes()
    path = tmp_path / "cut.pcap"
    path.write_bytes(original[:5000])
    results = []
    for chunk in (17, 64, 1000, 1 << 20):
        batches, status = read_batches(path, chunk)
        results.append((len(records_of(batches)), [(p.kind, p.offset) for p in status.problems]))
    assert len(set(map(repr, results))) == 1
    packets, problems = results[0]
    assert problems[0][0] == "truncated"
    assert 0 < packets < 62


def test_copy_of_fixture_keeps_its_name_independent_format(tmp_path: Path) -> None:
    # a pcapng named .pcap and a pcap named .pcapng are both read by their magic number
    ng = tmp_path / "really-pcapng.pcap"
    shutil.copy(fixture_path("zeek_pcapng-multi-interface.pcapng"), ng)
    classic = tmp_path / "really-pcap.pcapng"
    shutil.copy(fixture_path("arkime_bigendian.pcap"), classic)
    assert read_batches(ng)[1].format == "pcapng"
    assert read_batches(classic)[1].format == "pcap"


@pytest.mark.parametrize("chunk", [64, 1000, 1 << 20])
def test_batches_after_a_damaged_record_end_where_the_good_records_end(tmp_path: Path, chunk: int) -> None:
    good = pcap_bytes([frame(i) for i in range(5)])
    bad_record = struct.pack("<IIII", BASE_TS, 0, 300_000, 300_000) + bytes(40)
    path = tmp_path / "damaged.pcap"
    path.write_bytes(good + bad_record)
    batches, status = read_batches(path, chunk)
    assert len(records_of(batches)) == 5
    (problem,) = status.problems
    assert (problem.kind, problem.offset) == ("corrupt", len(good))
    assert batches[-1].end_offset == len(good)


@pytest.mark.parametrize("chunk", [64, 1000, 1 << 20])
def test_pcapng_batches_after_a_damaged_block_end_after_the_good_blocks(tmp_path: Path, chunk: int) -> None:
    good = shb() + idb(1) + b"".join(epb(0, i, frame(i)) for i in range(5))
    path = tmp_path / "damaged.pcapng"
    path.write_bytes(good + struct.pack("<II", 6, 7) + bytes(40))  # a length that is not a multiple of 4
    batches, status = read_batches(path, chunk)
    assert len(records_of(batches)) == 5
    (problem,) = status.problems
    assert (problem.kind, problem.offset) == ("corrupt", len(good))
    assert "the 5 packets before it were read" in problem.message
    assert batches[-1].end_offset == len(good)
