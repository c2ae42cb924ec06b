"""Bad input, through the command line (`python -m tui report`, in a subprocess) and through the engine API.

The documented behaviour (DESIGN.md, tui/cli.py): bad input never crashes and never silently loses data. A
truncated file yields every complete packet and says where it stopped; a corrupt record stops the file with
a message naming the offset and the packets read; an unsupported format or link type is named. Exit codes:
0 ok, 3 nothing could be read, 4 a result was produced but part of the input was damaged or not decodable.
No traceback is ever printed.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import pwd
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# Everything a child process running as another user needs is imported up front (see _as_nobody).
# The permission test forks a child that drops to `nobody`, which may not read the interpreter's files:
# everything the report command imports must already be imported here.
import engine.address_scope
import engine.analysis
import engine.capture.source
import engine.config
import engine.labels
import engine.report
import tui.cli
from engine.capture.source import CaptureSet, open_capture
from engine.decode.decoder import decode
from engine.errors import CaptureError, ExitCode
from tests.conftest import REPO, fixture_path
from tests.engine.crafted import Rec, ethernet, ipv4, pcap_bytes, read_batches, report_for, udp, write_pcap

assert engine.analysis and engine.capture.source and engine.report  # imported for _as_nobody


def frame(n: int) -> bytes:
    return ethernet(ipv4(udp(2000 + n, 53, bytes(n % 13 + 1))))


def run_cli(*args: str | Path, stdin: bytes | None = None) -> tuple[int, Any, str]:
    """Run `python -m tui report ARGS`; returns (exit code, parsed JSON or text, stderr)."""
    argv = [str(a) for a in args]
    result = subprocess.run(
        [sys.executable, "-m", "tui", "report", *argv],
        input=stdin,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        timeout=120,
        check=False,
    )
    stderr = result.stderr.decode("utf-8", "replace")
    assert "Traceback" not in stderr
    assert "internal error" not in stderr
    out = result.stdout.decode("utf-8")
    return result.returncode, (json.loads(out) if "--json" in argv else out), stderr


def source_of(report: dict[str, Any] | str, index: int = 0) -> dict[str, Any]:
    assert isinstance(report, dict)
    src: dict[str, Any] = report["sources"][index]
    return src


def fatal(source: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in source["problems"] if p["fatal"]]


# --- damaged captures ------------------------------------------------------------------------------


def test_truncated_in_a_record_header() -> None:
    path = fixture_path("dpkt_truncated_dns_2.pcap")
    code, report, _ = run_cli(path, "--json")
    assert code == int(ExitCode.PARTIAL) == 4
    src = source_of(report)
    assert (src["packets"], src["bytes"], src["complete"]) == (1, 282, False)
    (problem,) = fatal(src)
    assert (problem["kind"], problem["offset"]) == ("truncated", 240)
    # 247 bytes: the 24-byte header, one record of 16 + 200, then 7 bytes of the next record header
    assert "only 7 of the 16 bytes" in problem["message"]
    assert "the 1 complete packets before it were read" in problem["message"]
    code, text, _ = run_cli(path)
    assert code == 4
    assert "truncated (byte 240)" in text and "INCOMPLETE" in text


def test_truncated_after_25_packets() -> None:
    path = fixture_path("markofu_ppa_http-fault-post.pcap")
    code, report, _ = run_cli(path, "--json")
    assert code == 4
    src = source_of(report)
    assert (src["packets"], src["bytes"]) == (25, 8453)
    assert [(p["kind"], p["offset"]) for p in fatal(src)] == [("truncated", 8877)]
    assert report["totals"]["packets"] == 25
    status = _status_via_api(path)
    assert status.packets == 25
    assert status.problems[0].offset == 8877


@pytest.mark.parametrize(
    ("name", "packets", "offset", "claimed"),
    [
        ("suricata-verify_bug-6875_fuzz_corrupt.pcap", 1, 228, 1409179648),
        ("suricata-verify_smtp-to-comma_corrupt.pcap", 18, 3695, 3925868813),
    ],
)
def test_impossible_record_length(name: str, packets: int, offset: int, claimed: int) -> None:
    path = fixture_path(name)
    code, report, _ = run_cli(path, "--json")
    assert code == 4
    src = source_of(report)
    assert src["packets"] == packets
    (problem,) = fatal(src)
    assert (problem["kind"], problem["offset"]) == ("corrupt", offset)
    assert f"record {packets + 1} at byte {offset} claims {claimed} captured bytes" in problem["message"]
    assert f"the {packets} packets before it were read" in problem["message"]
    # the bytes of the corrupt record, as a little-endian caplen field, are the claimed length
    raw = path.read_bytes()
    assert struct.unpack_from("<I", raw, offset + 8)[0] == claimed
    status = _status_via_api(path)
    assert (status.packets, status.problems[0].offset) == (packets, offset)


def test_unsupported_link_type() -> None:
    path = fixture_path("tcpdump_kday6_unsupported-linktype.pcap")
    code, report, _ = run_cli(path, "--json")
    assert code == 4
    src = source_of(report)
    assert src["packets"] == 1
    assert src["link_types"] == [
        {
            "linktype": 182,
            "name": "link type 182 (unassigned, formerly used by some tools)",
            "packets": 1,
            "supported": False,
        }
    ]
    (problem,) = src["problems"]
    assert problem["kind"] == "unsupported-linktype"
    assert problem["fatal"] is False
    assert "182" in problem["message"]
    assert report["totals"]["packets"] == 1
    assert report["link_layer"] == [
        {"kind": "unsupported-linktype", "name": "unsupported link type", "packets": 1, "bytes": src["bytes"]}
    ]


def test_snoop_is_named_and_nothing_is_read() -> None:
    path = fixture_path("pcpp_solaris.snoop")
    code, report, _ = run_cli(path, "--json")
    assert code == int(ExitCode.NO_INPUT) == 3
    src = source_of(report)
    assert (src["packets"], src["format"]) == (0, "unknown")
    (problem,) = src["problems"]
    assert problem["kind"] == "unsupported-format"
    assert "Solaris snoop" in problem["message"]
    with pytest.raises(CaptureError) as info:
        open_capture(str(path))
    assert info.value.kind == "unsupported-format"
    assert "snoop" in info.value.message


def test_empty_capture_is_fine() -> None:
    code, report, _ = run_cli(fixture_path("zeek_empty.pcap"), "--json")
    assert code == 0
    src = source_of(report)
    assert (src["packets"], src["problems"], src["complete"], src["format"]) == (0, [], True, "pcap")
    assert report["totals"]["first_ts"] is None


def test_malformed_dns_content_is_readable() -> None:
    # the damage is inside the DNS messages; every layer the decoder reads (Ethernet, IPv4, UDP) is sound
    code, report, _ = run_cli(fixture_path("ndpi_malformed_dns.pcap"), "--json")
    assert code == 0
    assert isinstance(report, dict)
    assert (report["totals"]["packets"], report["totals"]["bytes"]) == (6, 5860)
    assert report["ip_protocols"] == [{"protocol": 17, "name": "UDP", "packets": 6, "bytes": 5860}]
    assert report["malformed"]["packets"] == 0
    assert source_of(report)["problems"] == []


def test_fuzzed_capture_counts_malformed_packets_per_reason() -> None:
    path = fixture_path("ndpi_fuzz-2006-06-26-2594.pcap")
    code, report, _ = run_cli(path, "--json")
    assert code == 0
    assert isinstance(report, dict)
    assert report["totals"]["packets"] == 691
    # tshark: frames 45, 55, 78, 318, 551 and 669 have an IP version other than 4, frame 303 a 16-byte
    # IPv4 header, and frame 86 a TCP header cut short by IPv4 options (28-byte header in 54 bytes)
    reasons = {r["reason"]: r["packets"] for r in report["malformed"]["reasons"]}
    assert reasons == {"ipv4-bad-version": 6, "ipv4-bad-header-length": 1, "tcp-truncated": 1}
    assert report["malformed"]["packets"] == 8
    assert source_of(report)["problems"] == []
    malformed_frames = []
    offset = 0
    for batch in open_capture(str(path)).batches():
        packets = decode(batch)
        malformed_frames += [offset + i + 1 for i in range(len(packets)) if packets.malformed[i]]
        offset += len(packets)
    assert malformed_frames == [45, 55, 78, 86, 303, 318, 551, 669]


def test_timestamps_far_out_of_range() -> None:
    code, report, _ = run_cli(fixture_path("pcpp_pcapng-example.pcapng"), "--json")
    assert code == 0
    assert isinstance(report, dict)
    src = source_of(report)
    (problem,) = src["problems"]
    assert problem["kind"] == "timestamps-out-of-range"
    assert problem["fatal"] is False
    assert "100 packets" in problem["message"]
    totals = report["totals"]
    assert (totals["packets"], totals["untimed_packets"]) == (159, 100)
    # the earliest and latest plausible timestamps, as tshark prints them (frame.time_epoch)
    assert totals["first_ts"] == pytest.approx(1422527998.578402, abs=1e-6)
    assert totals["last_ts"] == pytest.approx(2894531997.938836, abs=1e-6)


# --- inputs that are not captures at all -----------------------------------------------------------


def test_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pcap"
    code, report, _ = run_cli(missing, "--json")
    assert code == 3
    (problem,) = source_of(report)["problems"]
    assert problem["kind"] == "missing"
    assert "no such file" in problem["message"]
    with pytest.raises(CaptureError) as info:
        open_capture(str(missing))
    assert info.value.kind == "missing"
    assert info.value.exit_code == 3


def test_directory(tmp_path: Path) -> None:
    code, report, _ = run_cli(tmp_path, "--json")
    assert code == 3
    (problem,) = source_of(report)["problems"]
    assert problem["kind"] == "directory"
    assert "is a directory" in problem["message"] and "homescope follow" in problem["message"]


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pcap"
    empty.touch()
    code, report, _ = run_cli(empty, "--json")
    assert code == 3
    (problem,) = source_of(report)["problems"]
    assert problem["kind"] == "empty"
    assert "empty" in problem["message"]


def test_text_file(tmp_path: Path) -> None:
    notes = tmp_path / "notes.pcap"
    notes.write_text("these are not packets\n")
    code, report, _ = run_cli(notes, "--json")
    assert code == 3
    (problem,) = source_of(report)["problems"]
    assert (problem["kind"], "text file" in problem["message"]) == ("unsupported-format", True)


def test_garbage_on_stdin() -> None:
    code, report, _ = run_cli("-", "--json", stdin=b"\x00\x01\x02\x03" * 10)
    assert code == 3
    (problem,) = source_of(report)["problems"]
    assert problem["kind"] == "unsupported-format"
    assert "stream" in problem["message"] and "00 01 02 03" in problem["message"]


def test_header_cut_short(tmp_path: Path) -> None:
    path = tmp_path / "short.pcap"
    path.write_bytes(pcap_bytes([])[:13])
    code, report, _ = run_cli(path, "--json")
    (problem,) = source_of(report)["problems"]
    assert (problem["kind"], "13 of 24 bytes" in problem["message"]) == ("truncated", True)
    # a file whose header is cut short has nothing readable
    assert code == 3


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (pcap_bytes([frame(1)])[:30], "truncated"),  # header complete, the first record cut
        (pcap_bytes([Rec(frame(1), wirelen=9)]), None),  # one odd but readable packet: fine
        (b"\x0a\x0d\x0d\x0a" + bytes(8), "corrupt"),  # pcapng whose section header has no byte-order magic
        (pcap_bytes([])[:4] + bytes(4), "truncated"),
    ],
    ids=["first-record-cut", "one-packet", "pcapng-bad-section-header", "magic-only"],
)
def test_nothing_before_the_damage_is_nothing_read(tmp_path: Path, content: bytes, kind: str | None) -> None:
    path = tmp_path / "capture"
    path.write_bytes(content)
    code, report, _ = run_cli(path, "--json")
    src = source_of(report)
    assert [p["kind"] for p in fatal(src)] == ([kind] if kind else [])
    assert code == (3 if kind else 0)


# --- a file without read permission ----------------------------------------------------------------


@contextlib.contextmanager
def _unreadable_file() -> Iterator[Path]:
    """A capture in a folder anyone may enter, with no read permission for anyone."""
    folder = Path(tempfile.mkdtemp(prefix="homescope-perm-"))
    try:
        folder.chmod(0o755)
        path = folder / "secret.pcap"
        shutil.copy(fixture_path("arkime_bigendian.pcap"), path)
        path.chmod(0o000)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _as_nobody(work: Callable[[], int]) -> tuple[int, str, str]:
    """Run `work` in a forked child that has dropped to the user `nobody`; (exit code, stdout, stderr).

    The child uses the modules this process already imported, so it needs no access to the interpreter's
    own files (which, under /root, `nobody` may not read).
    """
    nobody = pwd.getpwnam("nobody")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 1
            try:
                # pytest replaces sys.stdout and sys.stderr: write to the files themselves
                sys.stdout = open(out.fileno(), "w", closefd=False)  # noqa: SIM115
                sys.stderr = open(err.fileno(), "w", closefd=False)  # noqa: SIM115
                os.setgroups([])
                os.setgid(nobody.pw_gid)
                os.setuid(nobody.pw_uid)
                code = work()
            except BaseException as exc:  # report anything to the parent as text, never hang
                os.write(err.fileno(), f"child failed: {exc!r}\n".encode())
                code = 99
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        out.seek(0)
        err.seek(0)
        return os.waitstatus_to_exitcode(status), out.read().decode(), err.read().decode()


def test_file_without_read_permission(monkeypatch: pytest.MonkeyPatch) -> None:
    # `nobody` must be able to look for its (absent) configuration: give it a readable, empty home
    with tempfile.TemporaryDirectory(prefix="homescope-nobody-") as home, _unreadable_file() as path:
        os.chmod(home, 0o755)
        for var in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
            monkeypatch.setenv(var, home)
        if os.geteuid() != 0:
            code, report, _ = run_cli(path, "--json")
            (problem,) = source_of(report)["problems"]
        else:
            try:
                result = subprocess.run(
                    [sys.executable, "-m", "tui", "report", str(path), "--json"],
                    capture_output=True,
                    env={**os.environ, "PYTHONPATH": str(REPO)},
                    cwd="/",
                    user="nobody",
                    timeout=60,
                    check=False,
                )
                code, out, err = result.returncode, result.stdout.decode(), result.stderr.decode()
            except PermissionError:
                # this interpreter lives where `nobody` cannot run it: run the command in a forked child
                # that drops to `nobody` instead
                code, out, err = _as_nobody(lambda: tui.cli.main(["report", str(path), "--json"]))
            assert "Traceback" not in err and "child failed" not in err, err
            (problem,) = json.loads(out)["sources"][0]["problems"]
        assert code == 3
        assert problem["kind"] == "permission"
        assert "permission denied" in problem["message"]


def test_file_without_read_permission_via_api() -> None:
    def open_it() -> int:
        try:
            open_capture(str(path))
        except CaptureError as err:
            print(err.kind, err.exit_code)
            return 0
        return 1

    if os.geteuid() != 0:
        with _unreadable_file() as path:
            with pytest.raises(CaptureError) as info:
                open_capture(str(path))
            assert info.value.kind == "permission"
        return
    with _unreadable_file() as path:
        code, out, err = _as_nobody(open_it)
    assert (code, out.split(), err) == (0, ["permission", "3"], "")


# --- files that change or end early ----------------------------------------------------------------


def test_file_still_being_written(tmp_path: Path) -> None:
    data = pcap_bytes([frame(i) for i in range(4)])
    path = tmp_path / "live.pcap"
    path.write_bytes(data[:-30])  # the writer is in the middle of packet 4
    capture = open_capture(str(path))
    with open(path, "ab") as fh:  # ... and goes on writing while we read
        fh.write(data[-30:-10])
    batches = list(capture.batches())
    assert sum(len(b) for b in batches) == 3
    (problem,) = capture.status.problems
    assert problem.kind == "growing"
    assert problem.offset == len(data) - 16 - len(frame(3))
    assert "still being written" in problem.message
    assert "the 3 complete packets before it were read" in problem.message


def test_file_that_stopped_growing_is_truncated(tmp_path: Path) -> None:
    data = pcap_bytes([frame(i) for i in range(4)])
    path = tmp_path / "cut.pcap"
    path.write_bytes(data[:-10])
    _, status = read_batches(path)
    assert [p.kind for p in status.problems] == ["truncated"]


def test_growing_file_read_by_the_command(tmp_path: Path) -> None:
    """A capture still being written when `homescope report` reads it: a complete report of what is there."""
    path = tmp_path / "growing.pcap"
    records = [Rec(frame(i), sec=1_700_000_000 + i) for i in range(2000)]
    data = pcap_bytes(records)
    path.write_bytes(data[:24])
    stop = threading.Event()

    def writer() -> None:
        with open(path, "ab", buffering=0) as fh:
            for i in range(24, len(data), 7):
                if stop.is_set():
                    return
                fh.write(data[i : i + 7])
                time.sleep(0.0002)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        code, report, _ = run_cli(path, "--json")
    finally:
        stop.set()
        thread.join(timeout=10)
    src = source_of(report)
    kinds = [p["kind"] for p in src["problems"]]
    # the command saw the file at some point of the writing: every complete record up to there, then
    # either a clean end between records or an incomplete one while the file grew
    assert kinds in ([], ["growing"], ["truncated"])
    assert code == (0 if not kinds else 4 if src["packets"] else 3)
    assert 0 <= src["packets"] <= 2000
    assert src["bytes"] == sum(len(frame(i)) for i in range(src["packets"]))


def test_truncated_gzip(tmp_path: Path) -> None:
    original = fixture_path("dpkt_nb6-http.pcap").read_bytes()
    compressed = gzip.compress(original)
    path = tmp_path / "cut.pcap.gz"
    path.write_bytes(compressed[: len(compressed) * 6 // 10])
    # what an independent decompressor recovers from the cut stream, and the complete records in it
    recovered = zlib.decompressobj(wbits=31).decompress(path.read_bytes())
    complete, pos = 0, 24
    while pos + 16 <= len(recovered):
        caplen = struct.unpack_from("<I", recovered, pos + 8)[0]
        if pos + 16 + caplen > len(recovered):
            break
        complete += 1
        pos += 16 + caplen
    assert 0 < complete < 62
    code, report, _ = run_cli(path, "--json")
    assert code == 4
    src = source_of(report)
    assert (src["format"], src["packets"], src["complete"]) == ("pcap+gzip", complete, False)
    kinds = [(p["kind"], p["fatal"]) for p in src["problems"]]
    assert kinds == [("truncated", True), ("truncated", True)]
    assert f"the {complete} complete packets before it were read" in src["problems"][0]["message"]
    assert src["problems"][0]["offset"] == pos
    assert "gzip stream ends before its end marker" in src["problems"][1]["message"]
    assert src["problems"][1]["offset"] == len(recovered)


# --- several inputs, some bad ----------------------------------------------------------------------


def test_one_missing_among_several(tmp_path: Path) -> None:
    good = fixture_path("arkime_nbns.pcap")
    other = fixture_path("arkime_bigendian.pcap")
    missing = tmp_path / "gone.pcap"
    code, report, _ = run_cli(good, missing, other, "--json")
    assert code == 4  # a result, but part of the input could not be read
    assert isinstance(report, dict)
    by_path = {s["path"]: s for s in report["sources"]}
    assert by_path[str(good)]["packets"] == 62
    assert by_path[str(other)]["packets"] == 2
    assert [p["kind"] for p in by_path[str(missing)]["problems"]] == ["missing"]
    assert report["totals"]["packets"] == 64
    assert report["totals"]["bytes"] == 8567 + 196
    # the unreadable input goes last; the readable ones are in time order (bigendian.pcap is from 2012)
    assert [s["path"] for s in report["sources"]] == [str(other), str(good), str(missing)]


def test_nothing_readable_among_several(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pcap"
    empty.touch()
    code, report, _ = run_cli(tmp_path / "a.pcap", empty, fixture_path("pcpp_solaris.snoop"), "--json")
    assert code == 3
    assert isinstance(report, dict)
    assert sorted(p["kind"] for s in report["sources"] for p in s["problems"]) == [
        "empty",
        "missing",
        "unsupported-format",
    ]
    assert report["totals"]["packets"] == 0


def test_damaged_and_good_together(tmp_path: Path) -> None:
    good = write_pcap(tmp_path / "good.pcap", [Rec(frame(1), sec=1_800_000_000)])
    code, report, _ = run_cli(fixture_path("markofu_ppa_http-fault-post.pcap"), good, "--json")
    assert code == 4
    assert report["totals"]["packets"] == 26


def test_api_keeps_going_after_an_unreadable_source(tmp_path: Path) -> None:
    capture = CaptureSet([str(tmp_path / "missing.pcap"), str(fixture_path("arkime_bigendian.pcap"))])
    batches = list(capture.batches())
    assert sum(len(b) for b in batches) == 2
    statuses = {s.path: s for s in capture.statuses}
    assert statuses[str(tmp_path / "missing.pcap")].fatal_problem is not None
    assert statuses[str(tmp_path / "missing.pcap")].finished is True
    report = report_for([tmp_path / "missing.pcap", fixture_path("arkime_bigendian.pcap")])
    assert report["totals"]["packets"] == 2


def _status_via_api(path: Path) -> Any:
    capture = CaptureSet([str(path)])
    for _ in capture.batches(chunk_size=1000):
        pass
    return capture.statuses[0]
