"""`homescope follow` records into the history store and goes on where the store's record ends: a folder
followed in two runs (with a new dump between them) is stored exactly once, equal to one read of it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.store import HistoryStore
from tests.conftest import fixture_path

ROOT = Path(__file__).resolve().parents[2]


def _homescope(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _split(tmp_path: Path) -> tuple[Path, Path]:
    """ndpi_iphone.pcap in two halves, as a capture ring would have written it."""
    if subprocess.run(["which", "editcap"], capture_output=True, check=False).returncode != 0:
        pytest.skip("editcap (Debian package tshark) is not installed")
    source = fixture_path("ndpi_iphone.pcap")
    first, second = tmp_path / "first.pcap", tmp_path / "second.pcap"
    subprocess.run(["editcap", "-r", str(source), str(first), "1-250"], check=True)
    subprocess.run(["editcap", "-r", str(source), str(second), "251-500"], check=True)
    return first, second


def _follow(folder: Path, store: Path) -> subprocess.CompletedProcess[str]:
    return _homescope("follow", str(folder), "--duration", "2", "--json", "--store", str(store))


def _start_event(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    start: dict[str, object] = next(e for e in events if e["event"] == "start")
    return start


def test_follow_goes_on_where_the_store_ends_and_counts_nothing_twice(tmp_path: Path) -> None:
    first, second = _split(tmp_path)
    folder, store = tmp_path / "dumps", tmp_path / "history.db"
    folder.mkdir()
    (folder / "hs_00001_20200223104200.pcap").write_bytes(first.read_bytes())

    one = _follow(folder, store)
    assert one.returncode == 0, one.stderr
    assert _start_event(one)["resumed_at"] is None
    assert _start_event(one)["store"] == str(store)

    (folder / "hs_00002_20200223104300.pcap").write_bytes(second.read_bytes())
    two = _follow(folder, store)
    assert two.returncode == 0, two.stderr
    assert _start_event(two)["resumed_at"] == {
        "file": "hs_00001_20200223104200.pcap",
        "offset": first.stat().st_size,
    }
    final = [json.loads(line) for line in two.stdout.splitlines() if '"final"' in line][-1]
    assert final["packets"] == 250  # only the new file was read

    stored = _homescope("report", "--from-store", "--store", str(store), "--json")
    whole = _homescope("report", "--json", str(fixture_path("ndpi_iphone.pcap")))
    assert stored.returncode == 0, stored.stderr
    got, want = json.loads(stored.stdout), json.loads(whole.stdout)
    for key in ("packets", "bytes", "first_ts", "last_ts"):
        assert got["totals"][key] == want["totals"][key], key
    assert got["hosts"] == want["hosts"]
    with HistoryStore(store, read_only=True) as opened:
        assert len(opened.load().runs) == 2


def test_no_store_records_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "dumps"
    folder.mkdir()
    (folder / "hs_00001_20200223104200.pcap").write_bytes(fixture_path("zeek_dhcp.pcap").read_bytes())
    result = _homescope("follow", str(folder), "--duration", "1", "--json", "--no-store")
    assert result.returncode == 0, result.stderr
    assert _start_event(result)["store"] is None
    assert not list(tmp_path.rglob("*.db"))
    assert not list(Path.home().rglob("*.db"))  # the test's own home: nothing in the default place either


def test_a_busy_store_is_said_and_the_follow_goes_on(tmp_path: Path) -> None:
    folder, store = tmp_path / "dumps", tmp_path / "history.db"
    folder.mkdir()
    (folder / "hs_00001_20200223104200.pcap").write_bytes(fixture_path("zeek_dhcp.pcap").read_bytes())
    with HistoryStore(store):  # another homescope writes into it
        result = _follow(folder, store)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    notes = [e["message"] for e in events if e["event"] == "note"]
    assert any("not recording into the history store" in n for n in notes), notes
    final = next(e for e in events if e["event"] == "final")
    assert final["packets"] == 9
