"""Capture files on another machine given as USER@HOST:/path to `report` and `replay`: read over SSH as they
arrive, with the same result as the local file, and a clear message when the file is not there."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import fixture_path
from tests.remote.sshd import ALIAS, SshServer
from tests.tui.conftest import column, wait_for
from tui.app import HomescopeApp
from tui.model.feed import EngineConfig, ThreadFeed
from tui.widgets.device_table import DeviceTable

REPO = Path(__file__).resolve().parents[2]


def _report(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", "report", "--json", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
        check=False,
    )


def test_report_of_a_remote_file_equals_the_local_one(tmp_path: Path, server: SshServer) -> None:
    path = tmp_path / "day.pcap"
    shutil.copy(fixture_path("ndpi_iphone.pcap"), path)
    remote = _report(f"{ALIAS}:{path}", "--ssh-config", str(server.client_config))
    local = _report(str(path))
    assert remote.returncode == 0, remote.stderr
    got, want = json.loads(remote.stdout), json.loads(local.stdout)
    assert got["sources"][0]["path"] == f"{ALIAS}:{path}"
    for key in ("totals", "hosts", "macs", "devices", "dns"):
        assert got[key] == want[key], key


def test_report_of_a_missing_remote_file_says_so(tmp_path: Path, server: SshServer) -> None:
    result = _report(f"{ALIAS}:{tmp_path}/nope.pcap", "--ssh-config", str(server.client_config))
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    (problem,) = json.loads(result.stdout)["sources"][0]["problems"]
    assert "nope.pcap" in problem["message"] and problem["fatal"], problem


async def test_replay_of_a_remote_file_in_the_monitor(tmp_path: Path, server: SshServer) -> None:
    path = tmp_path / "day.pcap"
    shutil.copy(fixture_path("ndpi_iphone.pcap"), path)
    config = EngineConfig((f"{ALIAS}:{path}",), timezone="UTC", ssh=server.settings())
    feed = ThreadFeed(config)
    app = HomescopeApp(feed, tz=dt.UTC, stable=True)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            deadline = time.monotonic() + 30
            while app.model is None or not app.model.status.finished:
                assert time.monotonic() < deadline, "the replay did not finish"
                await pilot.pause(0.05)
            assert app.model.status.packets == 500
            await wait_for(
                pilot, lambda: "Lucas-iPhone" in column(app.screen.query_one(DeviceTable), "name"), "rows"
            )
    finally:
        feed.stop(timeout=2)
