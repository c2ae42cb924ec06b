"""Export from the monitor: `e` asks for a folder, a format and anonymisation, and the feed (in this process
or in the engine process) writes the same tables as `homescope export`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
from textual.widgets import Checkbox, Input, RadioSet

from tests.conftest import fixture_path
from tests.tui.conftest import MakeApp, wait_finished, wait_for
from tui.model.export_request import ExportRequest
from tui.model.feed import EngineConfig
from tui.model.process_feed import ProcessFeed
from tui.screens.export_dialog import ExportDialog


async def test_export_key_writes_every_table(make_app: MakeApp, tmp_path: Path) -> None:
    out = tmp_path / "out"
    app = make_app("ndpi_iphone.pcap")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_finished(pilot, app)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ExportDialog), "the export dialog")
        folder = app.screen.query_one("#export-folder", Input)
        assert folder.value.startswith(str(Path.cwd() / "homescope-export-"))
        folder.value = str(out)
        await pilot.press("enter")
        await wait_for(pilot, lambda: (out / "manifest.json").exists, "the export", timeout=30)
        await wait_for(pilot, lambda: any("Wrote" in n.message for n in app._notifications), "the notice")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "csv" and manifest["anonymised"] is False
    devices = pd.read_csv(out / "devices.csv")
    assert "Lucas-iPhone" in set(devices["name"])
    flows = pd.read_csv(out / "flows.csv")
    assert len(flows) == manifest["tables"]["flows"]["rows"] > 0


async def test_export_dialog_takes_format_and_anonymise(make_app: MakeApp, tmp_path: Path) -> None:
    app = make_app("ndpi_iphone.pcap")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_finished(pilot, app)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ExportDialog), "the export dialog")
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        dialog.query_one("#format-json").value = True
        dialog.query_one("#export-anonymise", Checkbox).value = True
        dialog.query_one("#export-folder", Input).value = str(tmp_path / "anon")
        await pilot.pause()
        assert dialog.query_one("#export-format", RadioSet).pressed_index == 1
        assert dialog.request() == ExportRequest(str(tmp_path / "anon"), "json", True)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ExportDialog), "the dialog to close")
    assert not (tmp_path / "anon").exists()


def test_the_engine_process_answers_an_export(tmp_path: Path) -> None:
    feed = ProcessFeed(EngineConfig((str(fixture_path("ndpi_iphone.pcap")),), timezone="UTC"))
    feed.start()
    try:
        deadline = time.monotonic() + 30
        while not feed.progress().finished:
            assert time.monotonic() < deadline, "the replay did not finish"
            time.sleep(0.05)
        done = feed.export(ExportRequest(str(tmp_path / "p"), "json", anonymise=True))
    finally:
        feed.stop(timeout=5)
    assert done.error is None, done.error
    assert done.anonymised_key
    names = dict(done.tables)
    assert set(names) >= {"devices", "flows", "dns", "remotes", "protocols", "findings"}
    devices = json.loads((tmp_path / "p" / "devices.json").read_text())
    assert devices and all("Lucas-iPhone" not in json.dumps(d) for d in devices)  # a local name: replaced


def test_an_export_that_cannot_write_says_why(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    feed = ProcessFeed(EngineConfig((str(fixture_path("zeek_dhcp.pcap")),), timezone="UTC"))
    feed.start()
    try:
        done = feed.export(ExportRequest(str(blocker / "sub"), "csv"))
    finally:
        feed.stop(timeout=5)
    assert done.error is not None and "cannot create the folder" in done.error
    assert done.describe().startswith("Export failed:")
