"""Following a dump folder over SSH against a real OpenSSH server on 127.0.0.1: the same packets as a local
follow while files appear and grow, rotation, compression, names without times, a lost connection resumed
without losing or repeating a packet, and every failure message."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.capture.follow import DumpFollower, FollowState, ResumePoint
from engine.capture.records import RecordBatch
from engine.capture.remote_follow import ConnectionState, RemoteDumpFollower
from engine.capture.ssh_target import SshSettings, parse_remote
from engine.capture.watch_session import remote_follow_session
from engine.errors import CaptureError, ExitCode, RemoteError
from engine.session import SessionMode
from tests.conftest import fixture_path
from tests.live.following import Following, run_in_thread
from tests.live.writers import (
    RingWriter,
    gzip_and_remove,
    pcap_file,
    pcapng_file,
    pcapng_header,
    pcapng_packet,
    ring_name,
    wait_for,
    write_in_pieces,
)
from tests.remote.sshd import ALIAS, SshServer

POLL = 0.05


def run(follower: RemoteDumpFollower | DumpFollower) -> Following:
    return run_in_thread(follower)


@pytest.fixture
def started() -> Iterator[list[Following]]:
    runs: list[Following] = []
    yield runs
    for r in runs:
        r.follower.stop()
        if r.thread is not None:
            r.thread.join(10)


def remote(
    started: list[Following],
    server: SshServer,
    folder: Path,
    settings: SshSettings | None = None,
    **kwargs: object,
) -> Following:
    kwargs.setdefault("poll_interval", POLL)
    follower = RemoteDumpFollower(
        parse_remote(f"{ALIAS}:{folder}"),
        ssh=settings or server.settings(),
        **kwargs,  # type: ignore[arg-type]
    )
    r = run(follower)
    started.append(r)
    return r


def local_packets(folder: Path) -> list[tuple[float, bytes]]:
    """Every packet a local follow of the folder reads, to its end."""
    follower = DumpFollower(str(folder), poll_interval=POLL)
    r = run(follower)
    try:
        wait_for(
            lambda: follower.status().state == FollowState.FOLLOWING and r.count() > 0, what="local follow"
        )
        time.sleep(0.3)
    finally:
        r.stop()
    return packets_of(r.batches)


def packets_of(batches: list[RecordBatch]) -> list[tuple[float, bytes]]:
    out: list[tuple[float, bytes]] = []
    for b in batches:
        for ts, start, caplen in zip(b.ts.tolist(), b.starts.tolist(), b.caplen.tolist(), strict=True):
            out.append((ts, b.data[start : start + caplen]))
    return out


# ---- reading and following ----------------------------------------------------------------------------


def test_files_appear_and_grow_while_following_and_match_a_local_follow(
    tmp_path: Path, server: SshServer, started: list[Following]
) -> None:
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    # a real capture already there, then a ring written while the follower reads
    shutil.copy(fixture_path("ndpi_sonos.pcapng"), dumps / ring_name(1, 1_700_000_000))
    fixture_count = 61
    r = remote(started, server, dumps)
    r.wait_count(fixture_count)
    writer = RingWriter(dumps, files=4, per_file=40, first_started=1_700_000_100).start()
    writer.join()
    r.wait_count(fixture_count + 160)
    time.sleep(0.3)
    r.stop()
    assert r.numbers[fixture_count:] == list(range(160))
    assert packets_of(r.batches) == local_packets(dumps)
    assert r.follower.status().files_read >= 4
    assert all(not st.problems for st in r.follower.statuses)
    assert r.follower.statuses[0].path == f"{ALIAS}:{dumps}/{ring_name(1, 1_700_000_000)}"


def test_a_growing_file_is_read_as_it_is_written(
    tmp_path: Path, server: SshServer, started: list[Following]
) -> None:
    path = tmp_path / ring_name(1, time.time())
    path.write_bytes(pcapng_header())
    r = remote(started, server, tmp_path)
    wait_for(lambda: r.follower.status().state == FollowState.FOLLOWING, what="following")
    for n in range(5):
        written = time.monotonic()
        write_in_pieces(path, pcapng_packet(n), [7])
        r.wait_count(n + 1, timeout=10)
        assert time.monotonic() - written < 3.0
    status = r.follower.status()
    assert status.connection.state == ConnectionState.CONNECTED
    assert status.describe() == f"following {path.name} at byte {path.stat().st_size:,}"
    assert status.follow.size == path.stat().st_size
    r.stop()
    assert r.numbers == list(range(5))
    assert r.follower.status().connection.state == ConnectionState.STOPPED


def test_from_now_compressed_files_and_names_without_times(
    tmp_path: Path, server: SshServer, started: list[Following]
) -> None:
    # tcpdump -C names: ordered by their first packet, which is read over the connection
    (tmp_path / "dump2").write_bytes(pcap_file(range(0, 10)))
    (tmp_path / "dump").write_bytes(pcap_file(range(10, 20)))
    (tmp_path / "dump1").write_bytes(pcap_file(range(20, 30)))
    gzip_and_remove(tmp_path / "dump1")
    r = remote(started, server, tmp_path)
    r.wait_count(30)
    r.stop()
    assert r.numbers == list(range(30))

    newest = tmp_path / ring_name(2, time.time())
    newest.write_bytes(pcapng_file(range(100, 105)))
    later = remote(started, server, tmp_path, start="now")
    wait_for(lambda: later.follower.status().state == FollowState.FOLLOWING, what="following")
    write_in_pieces(newest, b"".join(pcapng_packet(n) for n in range(105, 108)), [11], pause=0.001)
    later.wait_count(3)
    later.stop()
    assert later.numbers == [105, 106, 107]


def test_session_over_ssh(tmp_path: Path, server: SshServer) -> None:
    (tmp_path / ring_name(1, time.time())).write_bytes(pcapng_file(range(25)))
    session = remote_follow_session(parse_remote(f"{ALIAS}:{tmp_path}"), ssh=server.settings())
    source = session.source
    assert isinstance(source, RemoteDumpFollower)
    source.check()  # connects at once
    session.start()
    try:
        wait_for(lambda: session.progress().packets == 25, what="25 packets ingested")
        progress = session.progress()
        assert progress.mode == SessionMode.FOLLOW and progress.running and progress.error is None
        assert session.snapshot().totals.packets == 25
    finally:
        session.stop()
        session.analysis.close()
    assert not session.progress().running


# ---- a lost connection --------------------------------------------------------------------------------


def test_a_dropped_connection_resumes_without_losing_or_repeating_packets(
    tmp_path: Path, server: SshServer, started: list[Following]
) -> None:
    writer = RingWriter(
        tmp_path, files=3, per_file=300, pieces=[333], pause=0.004, first_started=1_700_000_000
    )
    r = remote(started, server, tmp_path, first_retry=0.2, longest_retry=0.5)
    writer.start()
    r.wait_count(250)
    # the server and every connection it has die (by PID), while the ring goes on writing
    server.stop()
    wait_for(lambda: r.follower.status().connection.state == ConnectionState.RETRYING, what="retrying")
    wait_for(lambda: r.follower.status().connection.attempt >= 2, what="a second attempt")
    status = r.follower.status()
    assert "retrying (attempt" in status.describe() and status.describe().startswith(
        "disconnected from testpi"
    )
    assert status.connection.last_error is not None
    seen_before = r.count()
    dropped_at = r.follower.resume_point()
    assert dropped_at is not None
    server.start()
    writer.join(60)
    r.wait_count(900)
    time.sleep(0.5)
    status = r.follower.status()
    assert status.connection.state == ConnectionState.CONNECTED
    assert status.connection.reconnections == 1
    resumed = status.connection.resumed_at
    assert resumed is not None
    # it went on at the file and offset after the last complete record handed out before the drop
    assert resumed == dropped_at
    assert "(reconnected: resumed at" in status.describe()
    r.stop()
    assert r.numbers == list(range(900)), "no packet lost or read twice"
    assert sum(st.packets for st in r.follower.statuses) == 900
    assert seen_before <= 900
    notes = [text for _, text in r.follower.events_since(0)]
    assert any(n.startswith("connection to testpi lost: ") for n in notes), notes
    assert any(
        n.startswith("reconnected to testpi after ")
        and f"resumed at {resumed.file} byte {resumed.offset:,}" in n
        for n in notes
    ), notes


def test_a_killed_session_reconnects_at_once(
    tmp_path: Path, server: SshServer, started: list[Following]
) -> None:
    path = tmp_path / ring_name(1, time.time())
    path.write_bytes(pcapng_file(range(10)) + pcapng_packet(10)[:20])  # a record half written
    r = remote(started, server, tmp_path, first_retry=0.1)
    r.wait_count(10)
    wait_for(lambda: r.follower.status().state == FollowState.FOLLOWING, what="following")
    point = r.follower.resume_point()
    assert point == ResumePoint(path.name, len(pcapng_file(range(10))))
    server.kill_connections()
    wait_for(lambda: r.follower.status().connection.reconnections == 1, what="reconnection")
    with open(path, "ab") as fh:
        fh.write(pcapng_packet(10)[20:] + pcapng_packet(11))
    r.wait_count(12)
    r.stop()
    assert r.numbers == list(range(12))
    assert r.follower.status().connection.resumed_at == point


# ---- failures -----------------------------------------------------------------------------------------


def first_error(
    server: SshServer, spec: str, settings: SshSettings | None = None
) -> RemoteError | CaptureError:
    follower = RemoteDumpFollower(parse_remote(spec), ssh=settings or server.settings())
    with pytest.raises((RemoteError, CaptureError)) as caught:
        follower.check()
    follower.stop()
    assert caught.value.exit_code == ExitCode.NO_INPUT == 3
    return caught.value


def test_missing_folder_and_not_a_folder(tmp_path: Path, server: SshServer) -> None:
    err = first_error(server, f"{ALIAS}:{tmp_path}/nope")
    assert err.title == "No such folder"
    assert err.message == (
        f"{ALIAS}:{tmp_path}/nope: no such folder on {ALIAS} "
        "(the Pi's capture service writes to /var/lib/homescope/dumps)"
    )
    (tmp_path / "file.pcap").write_bytes(pcap_file([1]))
    err = first_error(server, f"{ALIAS}:{tmp_path}/file.pcap")
    assert err.title == "Not a folder" and f"homescope replay {ALIAS}:{tmp_path}/file.pcap" in err.message


def test_a_first_failure_is_not_retried(tmp_path: Path, server: SshServer, started: list[Following]) -> None:
    r = remote(started, server, tmp_path / "nope")
    assert r.thread is not None
    r.thread.join(10)
    assert isinstance(r.error, RemoteError) and r.error.kind == "missing"
    assert r.follower.status().connection.state == ConnectionState.FAILED


def test_permission_denied_on_the_folder_and_on_its_files(tmp_path: Path) -> None:
    from tests.remote.sshd import ssh_server

    if os.geteuid() != 0:
        pytest.skip("needs root: the server runs without the capabilities that bypass file permissions")
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    with ssh_server(tmp_path / "sshd", capabilities_dropped=True) as server:
        closed = shared / "closed"
        closed.mkdir()
        closed.chmod(0o000)
        err = first_error(server, f"{ALIAS}:{closed}")
        assert err.title == "Permission denied"
        assert f"{ALIAS}:{closed}: permission denied: {server.user} may not read the folder" in err.message
        assert f"sudo usermod -aG root {server.user}" in err.message and "HS_VIEWERS" in err.message
        closed.chmod(0o755)
        dump = closed / ring_name(1, time.time())
        dump.write_bytes(pcapng_file(range(3)))
        dump.chmod(0o000)
        follower = RemoteDumpFollower(
            parse_remote(f"{ALIAS}:{closed}"), ssh=server.settings(), poll_interval=POLL
        )
        with pytest.raises(CaptureError) as caught:
            list(follower.batches())
        assert "may list the folder but not read its files" in caught.value.message
        assert caught.value.exit_code == 3


def test_connection_failures(tmp_path: Path, server: SshServer) -> None:
    spec = f"{ALIAS}:{tmp_path}"
    unused = server.write_client_config("refused", port=_unused_port())
    err = first_error(server, spec, server.settings(unused))
    assert err.title == "Connection refused" and "Connection refused" in err.message
    assert isinstance(err, RemoteError) and err.retryable

    other_key = server.write_client_config("other_key", key=server.other_key)
    err = first_error(server, spec, server.settings(other_key))
    assert err.title == "Login refused" and "Permission denied (publickey)" in err.message
    assert f"ssh-copy-id {ALIAS}" in err.message and f"`ssh {ALIAS} true`" in err.message

    empty = tmp_path / "known_hosts_empty"
    empty.write_text("")
    unknown = server.write_client_config("unknown", known_hosts=empty)
    err = first_error(server, spec, server.settings(unknown))
    assert err.title == "Unknown host key" and f"`ssh {ALIAS}`" in err.message

    wrong = tmp_path / "known_hosts_wrong"
    other_pub = " ".join(server.other_key.with_suffix(".pub").read_text().split()[:2])
    wrong.write_text(f"[127.0.0.1]:{server.port} {other_pub}\n")
    changed = server.write_client_config("changed", known_hosts=wrong)
    err = first_error(server, spec, server.settings(changed))
    assert err.title == "Host key changed" and "ssh-keygen -R" in err.message


def _unused_port() -> int:
    from tests.remote.sshd import free_port

    return free_port()
