"""`homescope live --ssh` and `homescope follow USER@HOST:/path` as commands, against a throw-away sshd:
JSON lines, the printed ssh command, a clean stop with the final report, and exit codes 5 and 3."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from engine.capture.live import LiveOptions
from engine.capture.remote_live import RemoteLiveCapture
from engine.capture.ssh_target import SshSettings, parse_remote
from tests.engine.crafted import isb
from tests.live.test_cli import json_lines, progress_until, running
from tests.live.writers import pcapng_file, pcapng_header, pcapng_packet, ring_name
from tests.remote.remote_tools import RemoteTools
from tests.remote.sshd import ALIAS, SshServer, free_port

REPO = Path(__file__).resolve().parents[2]


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "tui.cli", *args]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def test_live_over_ssh_json_until_sigint(server: SshServer, remote_tools: RemoteTools) -> None:
    remote_tools.configure(
        stream=pcapng_file(range(40)),
        header=len(pcapng_header()),
        record=len(pcapng_packet(0)),
        trailer=isb(0, 0, received=40, dropped=0),
    )
    argv = command(
        "live",
        "--ssh",
        ALIAS,
        "--ssh-config",
        str(server.client_config),
        "--remote-tool-path",
        str(remote_tools.bin),
        "-i",
        "wlan0",
        "--json",
        "--report-every",
        "0.2",
    )
    with running(argv, env()) as proc:
        start = json_lines(proc, "start")[-1]
        assert start["remote"] == ALIAS and start["command"][:4] == ["ssh", "-T", "-o", "BatchMode=yes"]
        progress_until(proc, lambda e: e["packets"] == 40)
        proc.send_signal(signal.SIGINT)
        final = json_lines(proc, "final")[-1]
        assert proc.wait(20) == 0
    assert final["stopped_by"] == "SIGINT" and final["packets"] == 40
    assert final["drops"]["final"] is True and final["drops"]["received"] == 40
    assert final["report"]["sources"][0]["path"] == f"{ALIAS}: dumpcap -i wlan0"


def test_print_command_is_the_exact_ssh_command_line() -> None:
    args = [
        "--ssh",
        "pi@raspberrypi.local",
        "-i",
        "wlan0",
        "-f",
        "not port 22 and host 'x'",
        "--ssh-option",
        "Port=2222",
    ]
    result = subprocess.run(
        command("live", *args, "--print-command"),
        capture_output=True,
        text=True,
        env=env(),
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    printed = shlex.split(result.stdout)
    expected = RemoteLiveCapture(
        LiveOptions("wlan0", capture_filter="not port 22 and host 'x'", buffer_mib=16),
        parse_remote("pi@raspberrypi.local", need_path=False),
        ssh=SshSettings(options=("Port=2222",)),
    ).command()
    assert printed == expected
    assert printed[:8] == ["ssh", "-T", "-o", "BatchMode=yes", "-o", "Port=2222", "-o", "ConnectTimeout=10"]
    assert printed[-2] == "pi@raspberrypi.local" and printed[-1].startswith("sh -c ")

    result = subprocess.run(
        command("follow", "pi@raspberrypi.local:/var/lib/homescope/dumps", "--print-command"),
        capture_output=True,
        text=True,
        env=env(),
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "HOMESCOPE-FOLDER" in shlex.split(result.stdout)[-1]
    result = subprocess.run(
        command("follow", "/var/lib/homescope/dumps", "--print-command"),
        capture_output=True,
        text=True,
        env=env(),
        timeout=30,
        check=False,
    )
    assert result.returncode == 2 and "give USER@HOST:/path" in result.stderr


def test_live_over_ssh_failure_exit_5(server: SshServer, tmp_path: Path) -> None:
    refused = server.write_client_config("refused", port=free_port())
    result = subprocess.run(
        command("live", "--ssh", ALIAS, "--ssh-config", str(refused), "-i", "wlan0"),
        capture_output=True,
        text=True,
        env=env(),
        timeout=60,
        check=False,
    )
    assert result.returncode == 5, result.stderr
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith(f"homescope: Connection refused: {ALIAS} refused the connection")
    )


def test_follow_over_ssh_json_until_sigterm(server: SshServer, tmp_path: Path) -> None:
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    argv = command(
        "follow",
        f"{ALIAS}:{dumps}",
        "--ssh-config",
        str(server.client_config),
        "--json",
        "--report-every",
        "0.2",
    )
    with running(argv, env()) as proc:
        start = json_lines(proc, "start")[-1]
        assert start["remote"] is True
        progress_until(proc, lambda e: e["connection"]["state"] == "connected")
        (dumps / ring_name(1, time.time())).write_bytes(pcapng_file(range(12)))
        event = progress_until(proc, lambda e: e["packets"] == 12)
        assert event["state"] == "following" and event["file"].startswith(f"{ALIAS}:{dumps}/hs_00001_")
        proc.send_signal(signal.SIGTERM)
        final = json_lines(proc, "final")[-1]
        assert proc.wait(20) == 0
    assert final["packets"] == 12 and final["stopped_by"] == "SIGTERM"
    assert final["connection"]["state"] == "stopped" and final["connection"]["reconnections"] == 0
    assert final["resume"]["file"].startswith("hs_00001_")


def test_follow_over_ssh_missing_folder_exit_3(server: SshServer, tmp_path: Path) -> None:
    result = subprocess.run(
        command("follow", f"{ALIAS}:{tmp_path}/nope", "--ssh-config", str(server.client_config)),
        capture_output=True,
        text=True,
        env=env(),
        timeout=60,
        check=False,
    )
    assert result.returncode == 3
    assert result.stderr.strip() == (
        f"homescope: No such folder: {ALIAS}:{tmp_path}/nope: no such folder on {ALIAS} "
        "(the Pi's capture service writes to /var/lib/homescope/dumps)"
    )


def test_open_session_gives_the_tui_remote_sources(server: SshServer, tmp_path: Path) -> None:
    """The TUI builds its session with the subcommands' open_session: remote sources come with the same
    status and drop counts as local ones."""
    import argparse

    from engine.capture.remote_follow import RemoteDumpFollower
    from tui.subcommands import follow, live

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    follow.register(sub)
    live.register(sub)
    (tmp_path / ring_name(1, time.time())).write_bytes(pcapng_file(range(4)))
    args = parser.parse_args(["follow", f"{ALIAS}:{tmp_path}", "--ssh-config", str(server.client_config)])
    session = follow.open_session(args)
    source = session.source
    assert isinstance(source, RemoteDumpFollower)
    assert source.status().connection.state == "connected"  # checked: connected already
    session.start()
    try:
        from tests.live.writers import wait_for

        wait_for(lambda: session.progress().packets == 4, what="4 packets")
        wait_for(lambda: source.status().describe().startswith("following hs_00001_"), what="following")
    finally:
        session.stop()
        session.analysis.close()
    args = parser.parse_args(
        ["live", "--ssh", ALIAS, "--ssh-config", str(server.client_config), "-i", "wlan0"]
    )
    session = live.open_session(args)
    assert isinstance(session.source, RemoteLiveCapture)
    assert session.source.command()[-2] == ALIAS
    session.analysis.close()
