"""Live capture on the far side of a real OpenSSH server on 127.0.0.1, with stand-in capture tools there: the
packets equal a local read of the same capture, stopping reads the tool's final statistics, a lost
connection is reported and leaves nothing running, and every failure has its message (exit code 5)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.capture.live import LiveOptions
from engine.capture.records import RecordBatch
from engine.capture.remote_live import RemoteLiveCapture
from engine.capture.source import open_capture
from engine.capture.ssh_target import SshSettings, parse_remote
from engine.capture.watch_session import remote_live_session
from engine.errors import ExitCode, HomescopeError
from engine.session import SessionMode
from tests.conftest import fixture_path
from tests.engine.crafted import isb
from tests.live.fake_tools import (
    DUMPCAP_BAD_FILTER,
    DUMPCAP_NO_DEVICE,
    DUMPCAP_PERMISSION,
    TCPDUMP_PERMISSION,
    pid_alive,
)
from tests.live.writers import numbers_in, pcapng_file, pcapng_header, pcapng_packet, wait_for
from tests.remote.remote_tools import RemoteTools
from tests.remote.sshd import ALIAS, SshServer

HEADER = len(pcapng_header())
RECORD = len(pcapng_packet(0))


def capture(
    server: SshServer,
    tools: RemoteTools,
    interface: str = "wlan0",
    settings: SshSettings | None = None,
    **options: object,
) -> RemoteLiveCapture:
    return RemoteLiveCapture(
        LiveOptions(interface, **options),  # type: ignore[arg-type]
        parse_remote(ALIAS, need_path=False),
        ssh=settings or server.settings(),
        tool_dirs=str(tools.bin),
        stop_timeout=10,
    )


def packets_of(batches: list[RecordBatch]) -> list[tuple[float, int, bytes]]:
    out: list[tuple[float, int, bytes]] = []
    for b in batches:
        for ts, start, caplen, wirelen in zip(
            b.ts.tolist(), b.starts.tolist(), b.caplen.tolist(), b.wirelen.tolist(), strict=True
        ):
            out.append((ts, wirelen, b.data[start : start + caplen]))
    return out


def read_until(batches: Iterator[RecordBatch], count: int, got: list[RecordBatch]) -> None:
    while sum(len(b) for b in got) < count:
        got.append(next(batches))


def assert_tool_gone(tools: RemoteTools) -> None:
    ran = tools.fakes.ran()
    assert ran is not None, "the tool never ran"
    wait_for(lambda: not pid_alive(ran[0]), timeout=5, what="the remote capture tool to exit")


# ---- capturing ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool", "fixture"), [("dumpcap", "ndpi_sonos.pcapng"), ("tcpdump", "zeek_wikipedia.pcap")]
)
def test_packets_over_ssh_equal_a_local_read(
    server: SshServer, remote_tools: RemoteTools, tool: str, fixture: str
) -> None:
    path = fixture_path(fixture)
    local = open_capture(str(path))
    expected = packets_of(list(local.batches()))
    remote_tools.configure(stream=path.read_bytes(), piece=999, pause=0.001, kernel_drops=3)
    live = capture(server, remote_tools, tool=tool, snaplen=0, capture_filter="not port 22")
    batches = live.batches()
    got: list[RecordBatch] = []
    read_until(batches, len(expected), got)
    assert live.running and live.status.path == f"{ALIAS}: {tool} -i wlan0"
    live.stop()
    got.extend(batches)
    assert packets_of(got) == expected
    ran = remote_tools.fakes.ran()
    assert ran is not None and ran[1][0].endswith(f"/{tool}")
    assert "not port 22" in ran[1]
    assert_tool_gone(remote_tools)
    drops = live.drop_counts()
    assert drops.final and drops.tool == tool
    if tool == "tcpdump":  # its closing summary on stderr, passed on by ssh
        assert (drops.kernel, drops.dropped) == (3, 3)
        assert [p.kind for p in live.status.problems] == ["dropped"]
    else:
        assert drops.dropped == 0
        assert live.status.problems == []


def test_stopping_reads_the_final_statistics_and_drops(server: SshServer, remote_tools: RemoteTools) -> None:
    final = (
        "Packets received/dropped on interface '{iface}': 25/5 (pcap:3/dumpcap:2/flushed:0/ps_ifdrop:0) "
        "(83.3%)\n"
    )
    remote_tools.configure(
        stream=pcapng_file(range(20)),
        header=HEADER,
        record=RECORD,
        trailer=isb(0, 0, received=25, dropped=5),
        final=final,
    )
    live = capture(server, remote_tools)
    batches = live.batches()
    read_until(batches, 20, [])
    assert live.drop_counts().dropped is None and live.drop_counts().interface_rx_dropped is None
    begun = time.monotonic()
    live.stop()
    list(batches)
    assert time.monotonic() - begun < 5
    drops = live.drop_counts()
    assert drops.final and (drops.received, drops.dropped, drops.kernel, drops.tool_buffer) == (25, 5, 3, 2)
    assert live.status.interface_stats[0].dropped == 5, "the statistics block came through the connection"
    assert [p.kind for p in live.status.problems] == ["dropped"]
    assert_tool_gone(remote_tools)


def test_a_lost_connection_is_reported_and_stops_the_remote_tool(
    server: SshServer, remote_tools: RemoteTools
) -> None:
    remote_tools.configure(
        stream=pcapng_file(range(50)), header=HEADER, record=RECORD, piece=RECORD, pause=0.02
    )
    live = capture(server, remote_tools)
    got: list[RecordBatch] = []
    batches = live.batches()
    read_until(batches, 5, got)
    server.kill_connections()
    with pytest.raises(HomescopeError) as caught:
        got.extend(batches)
    err = caught.value
    assert err.exit_code == ExitCode.CAPTURE_FAILED == 5
    assert err.title == "Connection lost" and f"the SSH connection to {ALIAS} was lost" in err.message
    assert numbers_in(got) == list(range(len(numbers_in(got)))), "the packets before it are kept"
    assert_tool_gone(remote_tools)


def test_live_session_over_ssh(server: SshServer, remote_tools: RemoteTools) -> None:
    remote_tools.configure(
        stream=pcapng_file(range(25)), header=HEADER, record=RECORD, trailer=isb(0, 0, received=25, dropped=0)
    )
    session = remote_live_session(
        LiveOptions("wlan0"),
        parse_remote(ALIAS, need_path=False),
        ssh=server.settings(),
        tool_dirs=str(remote_tools.bin),
    )
    session.start()
    try:
        wait_for(lambda: session.progress().packets == 25, what="25 packets")
        assert session.progress().mode == SessionMode.LIVE
    finally:
        session.stop()
        session.analysis.close()
    progress = session.progress()
    assert progress.error is None and progress.drops == 0
    assert session.statuses[0].path == f"{ALIAS}: dumpcap -i wlan0"
    assert_tool_gone(remote_tools)


# ---- failures -----------------------------------------------------------------------------------------


def start_error(live: RemoteLiveCapture) -> HomescopeError:
    with pytest.raises(HomescopeError) as caught:
        list(live.batches())
    assert caught.value.exit_code == ExitCode.CAPTURE_FAILED == 5
    return caught.value


def test_no_capture_tool_on_the_pi(server: SshServer, remote_tools: RemoteTools) -> None:
    remote_tools.remove("dumpcap")
    remote_tools.remove("tcpdump")
    err = start_error(capture(server, remote_tools))
    assert err.title == "No capture tool"
    assert f"no capture tool on {ALIAS}" in err.message
    assert "dumpcap (Debian package wireshark-common) or tcpdump (package tcpdump)" in err.message
    err = start_error(capture(server, remote_tools, tool="dumpcap"))
    assert (
        f"dumpcap is not installed on {ALIAS}" in err.message
        and "sudo apt install wireshark-common" in err.message
    )


def test_no_permission_to_capture_on_the_pi(server: SshServer, remote_tools: RemoteTools) -> None:
    remote_tools.configure(mode="permission", error=DUMPCAP_PERMISSION)
    err = start_error(capture(server, remote_tools))
    assert err.title == "No permission to capture"
    text = err.message
    assert f'{server.user} may not capture on "wlan0" on {ALIAS}' in text
    assert (
        'You do not have permission to capture on device "wlan0". (socket: Operation not permitted)' in text
    )
    assert f"sudo usermod -aG wireshark {server.user}" in text
    assert f"homescope follow {ALIAS}:/var/lib/homescope/dumps" in text
    remote_tools.configure(mode="permission", error=TCPDUMP_PERMISSION)
    err = start_error(capture(server, remote_tools, tool="tcpdump"))
    assert "You don't have permission to perform this capture on that device" in err.message


def test_dumpcap_that_the_account_may_not_run(server: SshServer, remote_tools: RemoteTools) -> None:
    (remote_tools.bin / "dumpcap").chmod(0o644)
    err = start_error(capture(server, remote_tools))
    assert err.title == "No permission to capture"
    assert "may only be run by members of its group (usually wireshark)" in err.message
    assert remote_tools.fakes.ran() is None


def test_no_such_interface_and_bad_filter(server: SshServer, remote_tools: RemoteTools) -> None:
    remote_tools.configure(mode="no-device", error=DUMPCAP_NO_DEVICE)
    err = start_error(capture(server, remote_tools, interface="wlan9"))
    assert err.title == "No such interface"
    assert f'there is no network interface "wlan9" on {ALIAS}' in err.message
    assert f"ssh {ALIAS} ip -br link" in err.message
    remote_tools.configure(mode="bad-filter", error=DUMPCAP_BAD_FILTER)
    err = start_error(capture(server, remote_tools, capture_filter="port fourty"))
    assert err.title == "Bad capture filter"
    assert f'dumpcap on {ALIAS} rejected the capture filter "port fourty"' in err.message


def test_connection_failures(tmp_path: Path, server: SshServer, remote_tools: RemoteTools) -> None:
    from tests.remote.sshd import free_port

    refused = server.write_client_config("refused", port=free_port())
    err = start_error(capture(server, remote_tools, settings=server.settings(refused)))
    assert err.title == "Connection refused"
    other_key = server.write_client_config("other_key", key=server.other_key)
    err = start_error(capture(server, remote_tools, settings=server.settings(other_key)))
    assert err.title == "Login refused" and f"ssh-copy-id {ALIAS}" in err.message
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    unknown = server.write_client_config("unknown", known_hosts=empty)
    err = start_error(capture(server, remote_tools, settings=server.settings(unknown)))
    assert err.title == "Unknown host key"
    missing = SshSettings(program=str(tmp_path / "no-ssh-here"))
    err = start_error(capture(server, remote_tools, settings=missing))
    assert err.title == "ssh not found" and "openssh-client" in err.message
