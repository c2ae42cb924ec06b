"""Real captures in network namespaces this test creates (addresses only inside them):

- the capture service's own command (pi-setup's homescope-capture, as the unit runs it) writes its
  rotating ring from traffic between veth peers, and `homescope follow`, run as an unprivileged
  account that is only in the dumps' group, sees that traffic while it is written;
- `homescope live -i <veth>` captures a bounded UDP burst with dumpcap and with tcpdump, with no drops.

Everything runs under timeouts; processes are stopped by PID and namespaces deleted afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.live.netns import veth_pair
from tests.pi_setup.netns_capture import (
    NOBODY,
    missing_requirements,
    running_capture_ring,
    stop_process_group,
)

pytestmark = [
    pytest.mark.netns,
    pytest.mark.slow,
    pytest.mark.skipif(missing_requirements() is not None, reason=missing_requirements() or ""),
]

REPO = Path(__file__).resolve().parents[2]
SNAPLEN = 96
PAYLOAD = 600
WIRE_LEN = 14 + 20 + 8 + PAYLOAD
FILTER = "udp and not (port 9)"
VIEWER_UID = 12345  # an account with no privileges, only in the dumps' group


def python_for_others() -> tuple[str, str]:
    """An interpreter another account may run, and a PYTHONPATH with this environment's packages."""
    real = Path(os.path.realpath(sys.executable))
    if all(p.stat().st_mode & 0o001 for p in [real, *real.parents]):
        return sys.executable, str(REPO)
    system = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
    if not Path(system).exists():
        pytest.skip("no Python interpreter that other accounts may run")
    return system, os.pathsep.join([str(REPO), *(p for p in sys.path if p.endswith("site-packages"))])


def read_events(proc: subprocess.Popen[str], until: str, timeout: float) -> list[dict[str, Any]]:
    assert proc.stdout is not None
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        events.append(json.loads(line))
        if events[-1]["event"] == until:
            return events
    raise AssertionError(f"no {until!r} event in {timeout} s; got {events[-3:]}")


def wait_for_packets(proc: subprocess.Popen[str], count: int, timeout: float) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen += read_events(proc, "progress", timeout=deadline - time.monotonic())
        if seen[-1]["packets"] >= count:
            return seen
    raise AssertionError(f"fewer than {count} packets in {timeout} s: {seen[-1:]}")


def test_follow_sees_the_capture_services_ring_while_it_is_written() -> None:
    python, pythonpath = python_for_others()
    with running_capture_ring(snaplen=SNAPLEN, rotate_s=2, files=3, capture_filter=FILTER) as ring:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": pythonpath,
            "HOME": "/nonexistent",
            "XDG_CONFIG_HOME": "/nonexistent/config",
        }
        argv = [
            "setpriv", f"--reuid={VIEWER_UID}", f"--regid={NOBODY}", "--clear-groups", "--",
            python, "-m", "tui.cli", "follow", str(ring.dump_dir), "--json", "--report-every", "0.5",
        ]  # fmt: skip
        follower = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd="/",
            env=env,
            start_new_session=True,
        )
        try:
            read_events(follower, "start", timeout=20)
            # ~3000 datagrams over 12 s (long enough that a loaded machine still sees some while they are
            # sent); every 10th goes to the discard port, which the filter leaves out
            sender = ring.start_udp(count=3000, seconds=12, port=5555, payload=PAYLOAD, every_nth_to=(10, 9))
            seen = wait_for_packets(follower, 100, timeout=20)
            assert sender.poll() is None, "the follower saw packets while they were being sent and written"
            assert seen[-1]["state"] == "following"
            out, err = sender.communicate(timeout=30)
            assert sender.returncode == 0, err
            sent, sent_elsewhere = map(int, out.split())
            assert (sent, sent_elsewhere) == (2700, 300)
            time.sleep(1)
            stderr = ring.stop()
            assert ring.received_dropped(stderr) == (sent, 0), stderr
            wait_for_packets(follower, sent, timeout=15)
            # every packet is in; a file counts as read to its end once the follower has seen the next
            # one begin, which may take a poll or two more on a loaded machine
            newest = max(int(p.name.split("_")[1]) for p in ring.ring_files())
            deadline = time.monotonic() + 15
            while read_events(follower, "progress", timeout=15)[-1]["files_read"] < newest - 1:
                assert time.monotonic() < deadline, "the follower did not finish the rotated files"
            follower.send_signal(signal.SIGINT)
            final = read_events(follower, "final", timeout=20)[-1]
            assert follower.wait(20) == 0, follower.stderr.read() if follower.stderr else ""
        finally:
            stop_process_group(follower)
        sequence = max(int(p.name.split("_")[1]) for p in ring.ring_files())
    assert sequence > 3, "the ring rotated past its size: files were deleted after being followed"
    assert final["files_read"] >= sequence - 1
    report = final["report"]
    assert final["packets"] == sent == report["totals"]["packets"]
    assert report["totals"]["bytes"] == sent * WIRE_LEN
    assert report["totals"]["captured_bytes"] == sent * SNAPLEN
    assert [p["protocol"] for p in report["ip_protocols"]] == [17]
    assert all(not s["problems"] for s in report["sources"]), report["sources"]


@pytest.mark.parametrize("tool", ["dumpcap", "tcpdump"])
def test_live_captures_a_burst_on_a_veth_with_no_drops(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")
    burst = 20_000
    with veth_pair() as pair:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        live = pair.start_in_capture_ns(
            [
                sys.executable, "-m", "tui.cli", "live", "-i", pair.capture_iface, "--tool", tool,
                "-f", "udp port 5555", "--json", "--report-every", "0.5",
            ],
            env=env,
            cwd=str(REPO),
        )  # fmt: skip
        read_events(live, "start", timeout=20)
        time.sleep(1.5)  # the tool opens the interface after it starts
        sent = pair.send_udp(burst, rate=10_000)
        wait_for_packets(live, sent, timeout=20)
        live.send_signal(signal.SIGINT)
        final = read_events(live, "final", timeout=20)[-1]
        assert live.wait(20) == 0
    drops = final["drops"]
    assert final["packets"] == sent == final["report"]["totals"]["packets"]
    assert final["report"]["totals"]["bytes"] == sent * (14 + 20 + 8 + 100)
    assert drops["final"] is True
    assert drops["dropped"] == 0 and drops["kernel"] == 0
    assert drops["received"] == sent
    assert drops["interface_rx_dropped"] == 0
