"""A single capture file on the Pi read over SSH for replay (`open_remote_capture`): the same records as a
local read, compressed or not, its size for the progress share, the failure messages, and a transfer cut
short by a lost connection keeping every complete packet."""

from __future__ import annotations

import gzip
import shutil
import struct
from pathlib import Path

import pytest

from engine.capture.records import RecordBatch
from engine.capture.remote_file import open_remote_capture, remote_capture_command
from engine.capture.source import open_capture
from engine.errors import ExitCode, RemoteError
from tests.conftest import fixture_path
from tests.live.writers import frame, pcap_header
from tests.remote.sshd import ALIAS, SshServer


def packets_of(batches: list[RecordBatch]) -> list[tuple[float, int, bytes]]:
    out: list[tuple[float, int, bytes]] = []
    for b in batches:
        for ts, start, caplen, wirelen in zip(
            b.ts.tolist(), b.starts.tolist(), b.caplen.tolist(), b.wirelen.tolist(), strict=True
        ):
            out.append((ts, wirelen, b.data[start : start + caplen]))
    return out


@pytest.mark.parametrize(
    "name", ["ndpi_sonos.pcapng", "zeek_wikipedia.pcap", "nfstream_dhcp_big_endian.pcapng"]
)
@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_a_remote_file_reads_like_the_local_one(
    tmp_path: Path, server: SshServer, name: str, compress: bool
) -> None:
    source = fixture_path(name)
    path = tmp_path / (name + (".gz" if compress else ""))
    if compress:
        with open(source, "rb") as src, gzip.open(path, "wb") as dst:
            shutil.copyfileobj(src, dst)
    else:
        shutil.copy(source, path)
    local = open_capture(str(path))
    expected = packets_of(list(local.batches()))
    remote = open_remote_capture(f"{ALIAS}:{path}", ssh=server.settings(), source_index=3)
    got = list(remote.batches())
    assert packets_of(got) == expected
    assert {b.source_index for b in got} == {3}
    status = remote.status
    assert status.path == f"{ALIAS}:{path}"
    assert status.format == local.status.format
    assert status.problems == local.status.problems == []
    assert status.size == path.stat().st_size
    assert status.bytes_read == path.stat().st_size, "progress counts the bytes on the wire"
    assert status.finished


def test_ssh_url_with_port(tmp_path: Path, server: SshServer) -> None:
    path = tmp_path / "w.pcap"
    shutil.copy(fixture_path("zeek_wikipedia.pcap"), path)
    # the URL's port overrides the configuration's; the user name comes from the configuration
    remote = open_remote_capture(f"ssh://{ALIAS}:{server.port}{path}", ssh=server.settings())
    assert sum(len(b) for b in remote.batches()) == sum(len(b) for b in open_capture(str(path)).batches())
    argv = remote_capture_command(f"ssh://{ALIAS}:{server.port}{path}", server.settings())
    assert argv[argv.index("-p") + 1] == str(server.port)


def test_remote_file_failures(tmp_path: Path, server: SshServer) -> None:
    with pytest.raises(RemoteError) as caught:
        open_remote_capture(f"{ALIAS}:{tmp_path}/nope.pcap", ssh=server.settings())
    assert caught.value.title == "No such file" and caught.value.exit_code == ExitCode.NO_INPUT
    assert caught.value.message == f"{ALIAS}:{tmp_path}/nope.pcap: no such file on {ALIAS}"
    with pytest.raises(RemoteError) as caught:
        open_remote_capture(f"{ALIAS}:{tmp_path}", ssh=server.settings())
    assert (
        caught.value.title == "Not a file" and f"homescope follow {ALIAS}:{tmp_path}" in caught.value.message
    )
    other_key = server.write_client_config("other_key", key=server.other_key)
    with pytest.raises(RemoteError) as caught:
        open_remote_capture(f"{ALIAS}:{tmp_path}/x.pcap", ssh=server.settings(other_key))
    assert caught.value.title == "Login refused"
    with pytest.raises(RemoteError) as caught:
        open_remote_capture("not a remote spec", ssh=server.settings())
    assert caught.value.exit_code == ExitCode.NO_INPUT


def test_a_lost_connection_cuts_the_file_short_and_keeps_every_complete_packet(
    tmp_path: Path, server: SshServer
) -> None:
    packet = frame(7, size=200)
    record = struct.pack("<IIII", 1_700_000_000, 0, len(packet), len(packet)) + packet
    count = 300_000  # ~74 MB: more than the pipes and sockets on the way hold
    path = tmp_path / "big.pcap"
    with open(path, "wb") as fh:
        fh.write(pcap_header())
        for _ in range(count // 10_000):
            fh.write(record * 10_000)
    remote = open_remote_capture(f"{ALIAS}:{path}", ssh=server.settings())
    batches = remote.batches()
    got = [next(batches)]
    server.kill_connections()
    got.extend(batches)
    read = sum(len(b) for b in got)
    assert 0 < read < count
    problems = remote.status.problems
    # the cut falls inside a record (and the reader says so) unless it happens to fall between two
    assert [p.kind for p in problems] in (["truncated", "truncated"], ["truncated"]), problems
    assert len(problems) == 1 or "the file is cut short" in problems[0].message
    assert problems[-1].message.startswith(
        f"the transfer from {ALIAS} ended early: the SSH connection to {ALIAS} was lost"
    )
