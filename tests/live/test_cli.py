"""`homescope live` and `homescope follow` as commands: rolling output, a clean stop on SIGINT/SIGTERM
with the final report, JSON lines, and the error messages with their exit codes (also from the real
dumpcap and tcpdump where this machine has them)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.engine.crafted import isb
from tests.live.fake_tools import DUMPCAP_PERMISSION, FakeTools, install_fake_tools, pid_alive
from tests.live.writers import pcapng_file, pcapng_header, pcapng_packet, ring_name

REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534


def as_nobody() -> list[str]:
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]


def world_runnable(path: str) -> bool:
    """Whether any account may run `path`: every folder on its real path is searchable by others."""
    real = Path(os.path.realpath(path))
    return all(p.stat().st_mode & 0o001 for p in [real, *real.parents])


def python_for_others() -> tuple[str, str]:
    """An interpreter another account can run (the test venv may live in root's home), and the
    PYTHONPATH that gives it this environment's packages."""
    if world_runnable(sys.executable):
        return sys.executable, str(REPO)
    system = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
    if not Path(system).exists():
        pytest.skip("no Python interpreter that other accounts may run")
    packages = [p for p in sys.path if p.endswith("site-packages")]
    return system, os.pathsep.join([str(REPO), *packages])


needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv to run as nobody"
)


def nobody_env() -> dict[str, str]:
    """For a run as another account: a home it cannot read would be a configuration error."""
    env = env_with()
    env["PYTHONPATH"] = python_for_others()[1]
    for var in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        env[var] = f"/nonexistent/{var.lower()}"
    return env


def command(name: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "tui.cli", name, *args]


def nobody_command(name: str, *args: str) -> list[str]:
    return [python_for_others()[0], "-m", "tui.cli", name, *args]


def env_with(path: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    if path is not None:
        env["PATH"] = path
    return env


@contextlib.contextmanager
def running(argv: list[str], env: dict[str, str], cwd: Path = REPO) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd, bufsize=1
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def json_lines(proc: subprocess.Popen[str], until: str, timeout: float = 20) -> list[dict[str, Any]]:
    """Read JSON lines until one with event `until` (the process must print them)."""
    assert proc.stdout is not None
    lines: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(json.loads(line))
        if lines[-1]["event"] == until:
            return lines
    raise AssertionError(f"no {until!r} event; got {lines}")


def progress_until(
    proc: subprocess.Popen[str], done: Callable[[dict[str, Any]], bool], timeout: float = 20
) -> dict[str, Any]:
    """The first progress event for which `done` holds (progress comes every --report-every)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = json_lines(proc, "progress", timeout=deadline - time.monotonic())[-1]
        if done(event):
            return event
    raise AssertionError(f"no such progress within {timeout} s")


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A temporary folder other accounts can reach (pytest's own is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="homescope-test-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeTools:
    return install_fake_tools(tmp_path, monkeypatch)


# ---- live ---------------------------------------------------------------------------------------------


def test_live_json_until_sigint(tools: FakeTools) -> None:
    tools.configure(
        stream=pcapng_file(range(40)),
        header=len(pcapng_header()),
        record=len(pcapng_packet(0)),
        trailer=isb(0, 0, received=40, dropped=0),
    )
    env = env_with(f"{tools.bin}{os.pathsep}{os.environ['PATH']}")
    argv = command("live", "-i", "lo", "--json", "--report-every", "0.2", "-f", "udp")
    with running(argv, env) as proc:
        start = json_lines(proc, "start")
        assert start[0]["tool"] == "dumpcap" and start[0]["command"][-2:] == ["-w", "-"]
        progress = progress_until(proc, lambda e: e["packets"] == 40)
        assert progress["drops"]["interface_rx_dropped"] == 0 and progress["drops"]["final"] is False
        proc.send_signal(signal.SIGINT)
        final = json_lines(proc, "final")[-1]
        assert proc.wait(15) == 0
    assert final["stopped_by"] == "SIGINT"
    assert final["packets"] == 40
    assert (
        final["drops"]["final"] is True
        and final["drops"]["received"] == 40
        and final["drops"]["dropped"] == 0
    )
    assert final["report"]["totals"]["packets"] == 40
    assert final["report"]["sources"][0]["path"] == "dumpcap -i lo"
    ran = tools.ran()
    assert ran is not None and not pid_alive(ran[0])


def test_live_text_with_duration(tools: FakeTools) -> None:
    tools.configure(
        stream=pcapng_file(range(5)),
        header=len(pcapng_header()),
        record=len(pcapng_packet(0)),
        trailer=isb(0, 0, received=5, dropped=0),
    )
    env = env_with(f"{tools.bin}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run(
        command("live", "-i", "lo", "--duration", "1.5", "--report-every", "0.5"),
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("homescope live: capturing on lo with dumpcap (no filter, whole packets)")
    assert "5 packets (" in out and "interface rx_dropped +0" in out
    assert "Stopped (duration) after" in out
    assert "drops: dumpcap at stop: 5 received, 0 dropped" in out
    assert "homescope report: 1 capture, 5 packets" in out


def test_live_error_exit_5_with_the_message(tools: FakeTools) -> None:
    tools.configure(mode="permission", error=DUMPCAP_PERMISSION)
    env = env_with(f"{tools.bin}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run(
        command("live", "-i", "lo", "--json"),
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert result.returncode == 5
    assert result.stderr.startswith(
        'homescope: No permission to capture: this account may not capture on "lo"'
    )
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[-1]["event"] == "error" and events[-1]["exit_code"] == 5


def test_live_interface_missing_lists_this_machines_interfaces(tools: FakeTools) -> None:
    env = env_with(f"{tools.bin}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run(
        command("live", "-i", "nosuch0"), capture_output=True, text=True, env=env, timeout=30, check=False
    )
    assert result.returncode == 5
    assert 'there is no network interface "nosuch0" here; the interfaces are: ' in result.stderr
    assert "lo" in result.stderr.split("the interfaces are: ")[1]


def test_live_no_capture_tool(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = subprocess.run(
        command("live", "-i", "lo"),
        capture_output=True,
        text=True,
        env=env_with(str(empty)),
        timeout=30,
        check=False,
    )
    if shutil.which("dumpcap", path="/usr/sbin:/sbin") or shutil.which("tcpdump", path="/usr/sbin:/sbin"):
        pytest.skip("a capture tool is installed in /usr/sbin or /sbin, which are always searched")
    assert result.returncode == 5
    assert "homescope: No capture tool: no capture tool found" in result.stderr
    assert "sudo apt install wireshark-common" in result.stderr


@needs_root
@pytest.mark.skipif(not Path("/usr/bin/dumpcap").exists(), reason="dumpcap is not installed")
def test_real_dumpcap_without_permission() -> None:
    result = subprocess.run(
        [*as_nobody(), *nobody_command("live", "-i", "lo", "--tool", "dumpcap")],
        capture_output=True,
        text=True,
        env=nobody_env(),
        cwd="/",
        timeout=30,
        check=False,
    )
    assert result.returncode == 5, result.stderr
    assert "homescope: No permission to capture" in result.stderr
    assert 'You do not have permission to capture on device "lo"' in result.stderr
    assert "sudo usermod -aG wireshark $USER" in result.stderr


@needs_root
@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed")
def test_real_tcpdump_without_permission() -> None:
    result = subprocess.run(
        [*as_nobody(), *nobody_command("live", "-i", "lo", "--tool", "tcpdump")],
        capture_output=True,
        text=True,
        env=nobody_env(),
        cwd="/",
        timeout=30,
        check=False,
    )
    assert result.returncode == 5, result.stderr
    assert "You don't have permission to perform this capture on that device" in result.stderr
    assert "setcap cap_net_raw,cap_net_admin=eip" in result.stderr


@needs_root
@pytest.mark.skipif(shutil.which("dumpcap") is None, reason="dumpcap is not installed")
@pytest.mark.parametrize("tool", ["dumpcap", "tcpdump"])
def test_real_tool_bad_filter(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")
    result = subprocess.run(
        command("live", "-i", "lo", "--tool", tool, "-f", "port fourty"),
        capture_output=True,
        text=True,
        env=env_with(),
        timeout=30,
        check=False,
    )
    assert result.returncode == 5, result.stderr
    assert f'homescope: Bad capture filter: {tool} rejected the capture filter "port fourty"' in result.stderr
    assert "unknown port 'fourty'" in result.stderr


# ---- follow -------------------------------------------------------------------------------------------


def test_follow_waits_reads_and_stops_on_sigterm(tmp_path: Path) -> None:
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    argv = command("follow", str(dumps), "--report-every", "0.3")
    with running(argv, env_with()) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith(f"homescope follow: reading {dumps} from the oldest file")
        assert proc.stdout.readline().strip().startswith("recording into ")  # the history store, by default
        assert proc.stdout.readline().strip() == f"waiting for capture files in {dumps} (none yet)"
        (dumps / ring_name(1, time.time())).write_bytes(pcapng_file(range(12)))
        while "12 packets" not in (line := proc.stdout.readline()):
            assert line, "the follower ended early"
        assert "following hs_00001_" in line
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
    assert "Stopped (SIGTERM) after" in out and "12 packets read" in out
    assert "the dump files carry no drop counts" in out
    assert "last complete record: hs_00001_" in out
    assert "homescope report: 1 capture, 12 packets" in out


def test_follow_json_from_now(tmp_path: Path) -> None:
    old = tmp_path / ring_name(1, 1_700_000_001)
    old.write_bytes(pcapng_file(range(5)))
    argv = command("follow", str(tmp_path), "--from-now", "--json", "--report-every", "0.2")
    with running(argv, env_with()) as proc:
        # "now" is when the follower reaches the end of the newest file
        progress_until(proc, lambda e: e["state"] == "following")
        with open(old, "ab") as fh:
            fh.write(b"".join(pcapng_packet(n) for n in range(5, 8)))
        progress_until(proc, lambda e: e["packets"] >= 3)
        proc.send_signal(signal.SIGINT)
        final = json_lines(proc, "final")[-1]
        assert proc.wait(15) == 0
    assert final["packets"] == 3
    assert final["state"] == "stopped"
    assert final["resume"] == {"file": old.name, "offset": old.stat().st_size}


def test_follow_missing_folder_exit_3(tmp_path: Path) -> None:
    result = subprocess.run(
        command("follow", str(tmp_path / "nope")),
        capture_output=True,
        text=True,
        env=env_with(),
        timeout=30,
        check=False,
    )
    assert result.returncode == 3
    assert result.stderr.strip() == f"homescope: Cannot read capture: {tmp_path / 'nope'}: no such folder"


@needs_root
def test_follow_without_read_access_says_which_group(shared_tmp: Path) -> None:
    dumps = shared_tmp / "dumps"
    dumps.mkdir(mode=0o750)
    os.chown(dumps, 0, 0)
    result = subprocess.run(
        [*as_nobody(), *nobody_command("follow", str(dumps))],
        capture_output=True,
        text=True,
        env=nobody_env(),
        cwd="/",
        timeout=30,
        check=False,
    )
    assert result.returncode == 3, result.stderr
    assert "permission denied" in result.stderr
    assert "sudo usermod -aG root $USER" in result.stderr


@needs_root
def test_follow_needs_no_privileges_only_the_group(shared_tmp: Path) -> None:
    """As an unprivileged account in the dumps' group, following works."""
    dumps = shared_tmp / "dumps"
    dumps.mkdir(mode=0o750)
    os.chown(dumps, 0, NOBODY)
    dump = dumps / ring_name(1, time.time())
    dump.write_bytes(pcapng_file(range(7)))
    dump.chmod(0o640)
    os.chown(dump, 0, NOBODY)
    argv = ["setpriv", "--reuid=12345", f"--regid={NOBODY}", "--clear-groups", "--"]
    argv += nobody_command("follow", str(dumps), "--duration", "1.5", "--json")
    result = subprocess.run(
        argv, capture_output=True, text=True, env=nobody_env(), cwd="/", timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    final = json.loads(result.stdout.splitlines()[-1])
    assert final["event"] == "final" and final["packets"] == 7


def test_live_then_wait_for_tool_gone(tools: FakeTools) -> None:
    """SIGTERM to homescope live: the tool is stopped through its own PID, never left running."""
    tools.configure(
        stream=pcapng_file(range(3)),
        header=len(pcapng_header()),
        record=len(pcapng_packet(0)),
        trailer=isb(0, 0, received=3, dropped=0),
    )
    env = env_with(f"{tools.bin}{os.pathsep}{os.environ['PATH']}")
    with running(command("live", "-i", "lo", "--json", "--report-every", "0.2"), env) as proc:
        json_lines(proc, "start")
        progress_until(proc, lambda e: e["packets"] == 3)
        ran = tools.ran()
        assert ran is not None and pid_alive(ran[0])
        proc.send_signal(signal.SIGTERM)
        final = json_lines(proc, "final")[-1]
        assert proc.wait(15) == 0
    assert final["stopped_by"] == "SIGTERM" and final["packets"] == 3
    assert not pid_alive(ran[0])
