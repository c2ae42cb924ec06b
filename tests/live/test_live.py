"""Live capture with stand-in capture tools: reading as the tool writes, stopping, drop counts, and every
error message (permission, interface, tool missing, bad filter, the tool dying)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.capture.live import LiveCapture, LiveOptions
from engine.capture.records import RecordBatch
from engine.capture.watch_session import live_session
from engine.errors import ExitCode, LiveCaptureError
from engine.session import SessionMode
from tests.engine.crafted import isb
from tests.live.fake_tools import (
    DUMPCAP_BAD_FILTER,
    DUMPCAP_DIED,
    DUMPCAP_NO_DEVICE,
    DUMPCAP_PERMISSION,
    TCPDUMP_BAD_FILTER,
    TCPDUMP_PERMISSION,
    FakeTools,
    install_fake_tools,
    pid_alive,
)
from tests.live.writers import (
    numbers_in,
    pcap_file,
    pcap_header,
    pcap_packet,
    pcapng_file,
    pcapng_header,
    pcapng_packet,
    wait_for,
)

HEADER = len(pcapng_header())
RECORD = len(pcapng_packet(0))


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeTools:
    return install_fake_tools(tmp_path, monkeypatch)


@pytest.fixture
def sysfs(tmp_path: Path) -> Path:
    """A pretend /sys/class/net with a few interfaces and their rx_dropped counters."""
    root = tmp_path / "sysfs"
    for name in ("eth0", "lo", "wlan0"):
        stats = root / name / "statistics"
        stats.mkdir(parents=True)
        (stats / "rx_dropped").write_text("100\n")
    return root


def capture(
    tools: FakeTools, sysfs: Path, interface: str = "wlan0", stop_timeout: float = 5.0, **options: object
) -> LiveCapture:
    return LiveCapture(
        LiveOptions(interface, **options),  # type: ignore[arg-type]
        search_path=str(tools.bin),
        sysfs=str(sysfs),
        stop_timeout=stop_timeout,
        stats_every=0.1,
    )


def dumpcap_stream(count: int, *, received: int | None = None, dropped: int = 0) -> dict[str, object]:
    return {
        "stream": pcapng_file(range(count)),
        "header": HEADER,
        "record": RECORD,
        "trailer": isb(0, 0, received=count if received is None else received, dropped=dropped),
    }


def read_until(batches: Iterator[RecordBatch], count: int, got: list[RecordBatch]) -> None:
    while sum(len(b) for b in got) < count:
        got.append(next(batches))


def assert_tool_gone(tools: FakeTools) -> None:
    ran = tools.ran()
    assert ran is not None, "the tool never ran"
    wait_for(lambda: not pid_alive(ran[0]), timeout=3, what="the capture tool to exit")


# ---- reading and stopping -----------------------------------------------------------------------------


def test_reads_packets_as_the_tool_writes_them_and_stops_cleanly(tools: FakeTools, sysfs: Path) -> None:
    tools.configure(**dumpcap_stream(30), piece=50, pause=0.002)  # type: ignore[arg-type]
    live = capture(tools, sysfs, capture_filter="udp and not port 22", snaplen=128)
    got: list[RecordBatch] = []
    batches = live.batches()
    read_until(batches, 30, got)
    assert live.running
    live.stop()
    got.extend(batches)  # the rest, to the end of the tool's output
    assert numbers_in(got) == list(range(30))
    assert_tool_gone(tools)
    ran = tools.ran()
    assert ran is not None
    assert ran[1][1:] == ["-q", "-i", "wlan0", "-s", "128", "-f", "udp and not port 22", "-w", "-"]
    drops = live.drop_counts()
    assert drops.final and (drops.received, drops.dropped, drops.kernel) == (30, 0, 0)
    assert live.status.interface_stats[0].received == 30
    assert live.status.format == "pcapng" and live.status.packets == 30
    assert live.status.problems == []


def test_the_first_packets_come_out_before_the_tool_writes_more(tools: FakeTools, sysfs: Path) -> None:
    """Low latency: a batch is handed out as soon as its bytes are in the pipe, not when a 4 MiB chunk
    is full or the tool stops."""
    tools.configure(**dumpcap_stream(10), piece=RECORD, hold_after=1, hold=5)  # type: ignore[arg-type]
    live = capture(tools, sysfs)
    begun = time.monotonic()
    batches = live.batches()
    first = next(batches)
    assert time.monotonic() - begun < 2.5  # interpreter start-up included; the tool holds for 5 s
    assert numbers_in([first]) == [0]
    live.close()
    assert_tool_gone(tools)


def test_dumpcap_drop_counts_each_labelled(tools: FakeTools, sysfs: Path) -> None:
    final = (
        "Packets received/dropped on interface '{iface}': 25/5 (pcap:3/dumpcap:2/flushed:0/ps_ifdrop:0) "
        "(83.3%)\n"
    )
    tools.configure(**dumpcap_stream(20, received=25, dropped=5), final=final)  # type: ignore[arg-type]
    live = capture(tools, sysfs)
    batches = live.batches()
    read_until(batches, 20, [])
    assert live.drop_counts().dropped is None, "dumpcap says nothing before it stops"
    assert "dumpcap reports its own drop counts when it stops" in live.drop_counts().lines()
    live.stop()
    list(batches)
    drops = live.drop_counts()
    assert (drops.received, drops.dropped, drops.kernel, drops.tool_buffer, drops.flushed) == (25, 5, 3, 2, 0)
    assert drops.total == 5 and live.drops() == 5
    text = "\n".join(drops.lines())
    assert "dumpcap at stop: 25 received, 5 dropped" in text
    assert "kernel capture buffer full: 3" in text and "dumpcap's own buffer: 2" in text
    assert live.status.interface_stats[0].dropped == 5  # the statistics block
    assert [p.kind for p in live.status.problems] == ["dropped"]


def test_interface_rx_dropped_counts_while_capturing(tools: FakeTools, sysfs: Path) -> None:
    tools.configure(**dumpcap_stream(5))  # type: ignore[arg-type]
    live = capture(tools, sysfs)
    batches = live.batches()
    read_until(batches, 5, [])
    assert live.drop_counts().interface_rx_dropped == 0
    (sysfs / "wlan0/statistics/rx_dropped").write_text("107\n")
    drops = live.drop_counts()
    assert drops.interface_rx_dropped == 7 and drops.total == 7
    assert drops.short() == "interface rx_dropped +7"
    assert any("rx_dropped: +7 since the capture began" in line for line in drops.lines())
    live.stop()
    list(batches)
    (sysfs / "wlan0/statistics/rx_dropped").write_text("200\n")
    drops = live.drop_counts()
    assert drops.interface_rx_dropped == 7, "frozen when the capture stopped"
    assert drops.total == 0, "the tool's own count is the one number once it is known"


def test_tcpdump_writes_pcap_and_reports_kernel_drops(tools: FakeTools, sysfs: Path) -> None:
    tools.configure(
        stream=pcap_file(range(12)),
        header=len(pcap_header()),
        record=len(pcap_packet(0)),
        kernel_drops=4,
    )
    live = capture(tools, sysfs, tool="tcpdump", snaplen=256, capture_filter="udp")
    batches = live.batches()
    read_until(batches, 12, [])
    # while it runs, tcpdump answers SIGUSR1 with its counts
    wait_for(lambda: live.drop_counts().kernel == 4, timeout=5, what="tcpdump's running counts")
    assert not live.drop_counts().final
    live.stop()
    list(batches)
    ran = tools.ran()
    assert ran is not None
    assert ran[1][1:] == ["-U", "-n", "-i", "wlan0", "-s", "256", "-w", "-", "udp"]
    drops = live.drop_counts()
    assert drops.final and (drops.received, drops.dropped, drops.kernel) == (16, 4, 4)
    assert "tcpdump at stop: 16 received by filter, 4 dropped" in drops.lines()[0]
    assert live.status.format == "pcap"
    assert_tool_gone(tools)


def test_auto_prefers_dumpcap_and_falls_back_to_tcpdump(tools: FakeTools, sysfs: Path) -> None:
    live = capture(tools, sysfs)
    live.check()
    assert live.tool == "dumpcap"
    tools.remove("dumpcap")
    live = capture(tools, sysfs)
    live.check()
    assert live.tool == "tcpdump" and live.command()[1:3] == ["-U", "-n"]


def test_a_tool_that_ignores_sigint_is_killed(tools: FakeTools, sysfs: Path) -> None:
    tools.configure(**dumpcap_stream(3), mode="ignore-sigint")  # type: ignore[arg-type]
    live = capture(tools, sysfs, stop_timeout=0.5)
    batches = live.batches()
    read_until(batches, 3, [])
    begun = time.monotonic()
    live.stop()
    list(batches)  # ends once the tool is killed: no error, it was asked to stop
    assert time.monotonic() - begun < 3
    assert_tool_gone(tools)


def test_closing_the_reader_early_stops_the_tool_and_reads_its_statistics(
    tools: FakeTools, sysfs: Path
) -> None:
    tools.configure(**dumpcap_stream(40), piece=RECORD, pause=0.01)  # type: ignore[arg-type]
    live = capture(tools, sysfs)
    batches = live.batches()
    next(batches)
    batches.close()  # type: ignore[attr-defined]
    assert_tool_gone(tools)
    assert live.drop_counts().final
    assert live.status.interface_stats[0].received is not None


def test_live_session_ingests_and_stops_with_the_final_statistics(tools: FakeTools, sysfs: Path) -> None:
    tools.configure(**dumpcap_stream(25))  # type: ignore[arg-type]
    session = live_session(LiveOptions("wlan0"))
    source = session.source
    assert isinstance(source, LiveCapture)
    source.search_path, source.sysfs = str(tools.bin), str(sysfs)
    session.start()
    try:
        wait_for(lambda: session.progress().packets == 25, what="25 packets")
        progress = session.progress()
        assert progress.mode == SessionMode.LIVE and progress.running
        assert progress.drops == 0  # the interface's rx_dropped while dumpcap has not said
    finally:
        session.stop()
        session.analysis.close()
    progress = session.progress()
    assert not progress.running and progress.error is None
    assert progress.drops == 0 and source.drop_counts().final
    assert session.statuses[0].path == "dumpcap -i wlan0"
    assert_tool_gone(tools)


# ---- error messages -----------------------------------------------------------------------------------


def start_error(live: LiveCapture) -> LiveCaptureError:
    with pytest.raises(LiveCaptureError) as caught:
        list(live.batches())
    assert caught.value.exit_code == ExitCode.CAPTURE_FAILED == 5
    return caught.value


def test_no_permission_dumpcap(tools: FakeTools, sysfs: Path) -> None:
    tools.configure(mode="permission", error=DUMPCAP_PERMISSION)
    err = start_error(capture(tools, sysfs))
    assert err.title == "No permission to capture"
    text = err.message
    assert 'may not capture on "wlan0"' in text
    assert (
        'You do not have permission to capture on device "wlan0". (socket: Operation not permitted)' in text
    )
    assert "sudo dpkg-reconfigure wireshark-common" in text
    assert "sudo usermod -aG wireshark $USER" in text
    assert f"sudo setcap cap_net_raw,cap_net_admin=eip {tools.bin / 'dumpcap'}" in text
    assert "homescope follow /var/lib/homescope/dumps" in text
    assert_tool_gone(tools)


def test_no_permission_tcpdump(tools: FakeTools, sysfs: Path) -> None:
    tools.configure(mode="permission", error=TCPDUMP_PERMISSION)
    err = start_error(capture(tools, sysfs, tool="tcpdump"))
    assert "You don't have permission to perform this capture on that device" in err.message
    assert f"sudo setcap cap_net_raw,cap_net_admin=eip {tools.bin / 'tcpdump'}" in err.message
    assert "wireshark" in err.message


def test_dumpcap_this_account_may_not_run(tools: FakeTools, sysfs: Path) -> None:
    (tools.bin / "dumpcap").chmod(0o644)  # as installed 0754 root:wireshark, seen from outside the group
    err = start_error(capture(tools, sysfs))
    assert err.title == "No permission to capture"
    assert "may only be run by members of its group (usually wireshark)" in err.message
    assert "sudo usermod -aG wireshark $USER" in err.message
    assert tools.ran() is None


def test_interface_missing_lists_the_interfaces(tools: FakeTools, sysfs: Path) -> None:
    err = start_error(capture(tools, sysfs, interface="wlan1"))
    assert err.title == "No such interface"
    assert err.message.startswith(
        'there is no network interface "wlan1" here; the interfaces are: eth0, lo, wlan0'
    )
    assert "ip -br link" in err.message
    assert tools.ran() is None, "checked before starting the tool"


def test_interface_missing_says_the_tool(tools: FakeTools, sysfs: Path) -> None:
    (sysfs / "ghost0").mkdir()  # listed, but the capture tool finds no such device
    tools.configure(mode="no-device", error=DUMPCAP_NO_DEVICE)
    err = start_error(capture(tools, sysfs, interface="ghost0"))
    assert err.title == "No such interface" and "the interfaces are: eth0, ghost0, lo, wlan0" in err.message


def test_capture_tool_missing(tools: FakeTools, sysfs: Path) -> None:
    tools.remove("dumpcap")
    tools.remove("tcpdump")
    err = start_error(capture(tools, sysfs))
    assert err.title == "No capture tool"
    assert "dumpcap (Debian package wireshark-common) or tcpdump (package tcpdump)" in err.message
    err = start_error(capture(tools, sysfs, tool="dumpcap"))
    assert "dumpcap is not installed" in err.message and "sudo apt install wireshark-common" in err.message
    err = start_error(capture(tools, sysfs, tool="tcpdump"))
    assert "sudo apt install tcpdump" in err.message


def test_bad_filter_dumpcap(tools: FakeTools, sysfs: Path) -> None:
    tools.configure(mode="bad-filter", error=DUMPCAP_BAD_FILTER)
    err = start_error(capture(tools, sysfs, capture_filter="port fourty"))
    assert err.title == "Bad capture filter"
    assert err.message.startswith(
        'dumpcap rejected the capture filter "port fourty": That string isn\'t a valid capture filter '
        "(can't parse filter expression: syntax error)."
    )
    assert "pcap-filter(7)" in err.message


def test_bad_filter_tcpdump(tools: FakeTools, sysfs: Path) -> None:
    tools.configure(mode="bad-filter", error=TCPDUMP_BAD_FILTER)
    err = start_error(capture(tools, sysfs, tool="tcpdump", capture_filter="port fourty"))
    assert err.title == "Bad capture filter"
    assert "can't parse filter expression: syntax error" in err.message


def test_the_tool_dying_mid_capture(tools: FakeTools, sysfs: Path) -> None:
    tools.configure(**dumpcap_stream(20), piece=RECORD, die_after=8, error=DUMPCAP_DIED)  # type: ignore[arg-type]
    live = capture(tools, sysfs)
    got: list[RecordBatch] = []
    with pytest.raises(LiveCaptureError) as caught:
        for batch in live.batches():
            got.append(batch)
    assert numbers_in(got) == list(range(8)), "the packets before it are kept"
    err = caught.value
    assert err.title == "Capture tool stopped"
    assert err.message == (
        "dumpcap stopped unexpectedly after 8 packets (exit status 2): Error while capturing packets: "
        "The network adapter on which the capture was being done is no longer running; the capture has "
        "stopped."
    )


def test_the_tool_killed_mid_capture(tools: FakeTools, sysfs: Path) -> None:
    tools.configure(**dumpcap_stream(20), piece=RECORD, die_after=3, mode="die-signal")  # type: ignore[arg-type]
    err = start_error(capture(tools, sysfs))
    assert err.message.startswith("dumpcap stopped unexpectedly after 3 packets (killed by SIGKILL)")


def test_the_tool_failing_for_another_reason(tools: FakeTools, sysfs: Path) -> None:
    tools.configure(mode="fail", error="dumpcap: The capture session could not be initiated (weird).\n")
    err = start_error(capture(tools, sysfs))
    assert err.message == (
        "dumpcap stopped unexpectedly before capturing anything (exit status 1): "
        "The capture session could not be initiated (weird)."
    )


def test_stopped_before_starting_never_starts_the_tool(tools: FakeTools, sysfs: Path) -> None:
    tools.configure(**dumpcap_stream(3))  # type: ignore[arg-type]
    live = capture(tools, sysfs)
    live.stop()
    assert list(live.batches()) == []
    assert tools.ran() is None
