"""The investigation screens on the demo capture: findings and their evidence, a remote (with a fake
online lookup: nothing here goes online), the flow list with its filter and the packets of a flow,
countries, the device screen's extras, and labelling a device."""

from __future__ import annotations

import datetime as dt
import pickle
import shutil
import time
from pathlib import Path

import pytest
from textual.widgets import Input, Static, Tree

from engine.enrich.online import LookupResult
from tests.tui.conftest import DEMO, MakeApp, column, wait_finished, wait_for
from tui.app import HomescopeApp
from tui.model.dashboard import ModelRequest
from tui.model.feed import EngineConfig, ThreadFeed
from tui.model.investigation import FlowEndpoints
from tui.screens.device import DeviceScreen
from tui.screens.findings import FindingScreen, FindingsScreen, FindingsTable
from tui.screens.flows import CountriesScreen, FlowsScreen
from tui.screens.help import help_text
from tui.screens.packets import PacketsScreen
from tui.screens.remote import RemoteScreen
from tui.widgets.device_facts import DeviceFacts
from tui.widgets.device_table import DeviceTable
from tui.widgets.keyed_table import KeyedTable

IPHONE = "c4:61:8b:35:82:a9"  # Lucas-iPhone in the demo capture
CAPTIVE = FlowEndpoints(189, "TCP", "192.168.2.17", 49152, "17.253.105.202", 80, 1709923365.81, 1709923366.14)


def finished_feed(config_file: str | None = None) -> ThreadFeed:
    feed = ThreadFeed(EngineConfig((str(DEMO),), timezone="UTC", config_file=config_file))
    feed.start()
    deadline = time.monotonic() + 30
    while not feed.progress().finished:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return feed


def test_the_model_carries_findings_and_pickles() -> None:
    feed = finished_feed()
    try:
        model = feed.model(ModelRequest(flows_open=True, detail_remote="8.8.8.8", countries_open=True))
    finally:
        feed.stop()
    copy = pickle.loads(pickle.dumps(model))  # the process feed sends it across a pipe
    findings = copy.investigation.findings
    assert findings.evaluated and findings.final
    titles = {(r.title, r.device_name) for r in findings.rows}
    assert ("New device", "Lucas-iPhone") in titles
    assert ("DNS over TLS", "private MAC 86:9b:90") in titles
    severities = [["info", "notice", "warning"].index(r.severity) for r in findings.rows]
    assert severities == sorted(severities, reverse=True)
    remote = copy.investigation.remote
    assert remote.title == "dns.google" and ("Names", "dns.google (tls-sni)") in remote.facts
    assert any("GOOGLE" in value for what, value in remote.facts if what == "Owner")
    assert [r.cells[0] for r in remote.devices.rows] == ["private MAC 86:9b:90"]
    assert copy.investigation.countries.rows[0].key == "United States (US)"
    flows = copy.investigation.flows
    assert flows.table.total == flows.table.matched == 375 and len(flows.endpoints) == len(flows.table.rows)
    assert flows.endpoint(flows.table.rows[0].key).serial == int(flows.table.rows[0].key)


def test_findings_follow_the_configured_rules(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[findings.new_device]\nenabled = false\n")
    feed = finished_feed(str(config))
    try:
        model = feed.model(ModelRequest())
    finally:
        feed.stop()
    titles = {r.title for r in model.investigation.findings.rows}
    assert "New device" not in titles and "DNS over TLS" in titles


def test_findings_are_evaluated_at_their_own_cadence() -> None:
    feed = finished_feed()
    try:
        state = feed.context.investigation
        assert state is not None
        snapshot = feed.session.snapshot()
        first = state.findings(snapshot, None, False, {}, dt.UTC)
        assert first.evaluated and not first.final
        assert state.findings(snapshot, None, False, {}, dt.UTC) is first  # not again within the period
        last = state.findings(snapshot, None, True, {}, dt.UTC)
        assert last is not first and last.final  # once more at the end
        assert state.findings(snapshot, None, True, {}, dt.UTC) is last
    finally:
        feed.stop()


async def test_findings_screen_shows_the_evidence_and_jumps_to_the_device(make_app: MakeApp) -> None:
    app = make_app("demo")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_finished(pilot, app)
        await pilot.press("F")
        assert isinstance(app.screen, FindingsScreen)
        table = app.screen.query_one(FindingsTable)
        await wait_for(pilot, lambda: "Lucas-iPhone" in column(table, "device"), "the findings")
        assert "DNS over TLS" in column(table, "kind")
        table.move_cursor(row=column(table, "device").index("Lucas-iPhone"))
        await pilot.press("enter")
        assert isinstance(app.screen, FindingScreen)
        assert app.screen.row.title == "New device"
        flows = app.screen.query_one("#finding-flows", KeyedTable)
        assert "captive.apple.com" in column(flows, "remote")
        assert "(20 of 43)" in str(flows.border_title)
        await pilot.press("d")
        assert isinstance(app.screen, DeviceScreen) and app.screen.key == IPHONE
        await pilot.press("escape", "escape", "escape")
        assert not isinstance(app.screen, FindingsScreen | FindingScreen | DeviceScreen)


def _fake_lookup(address: str) -> LookupResult:
    return LookupResult(
        address, "ok", "found", asn="15169", asn_description="GOOGLE, US", reverse_names=("dns.google",)
    )


def _offline_lookup(address: str) -> LookupResult:
    return LookupResult(address, "timeout", "no answer within 5 s (offline, or the registry is slow)")


async def test_remote_screen_from_the_remotes_pane_and_a_fake_whois(make_app: MakeApp) -> None:
    app = make_app("demo")
    asked: list[str] = []

    def lookup(address: str) -> LookupResult:
        asked.append(address)
        return _fake_lookup(address)

    app.online_lookup = lookup  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_finished(pilot, app)
        await pilot.press("tab", "tab", "tab", "tab")  # the remotes pane
        remotes = app.screen.query_one("#remotes", KeyedTable)
        top = remotes.cursor_key
        assert top is not None
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, RemoteScreen) and screen.address == top
        facts = screen.query_one(DeviceFacts)
        await wait_for(pilot, lambda: bool(facts.facts), "the remote's facts")
        assert [what for what, _ in facts.facts][:3] == ["Names", "Owner", "Traffic"]
        flows = screen.query_one("#remote-flows", KeyedTable)
        assert len(column(flows, "remote")) > 0
        assert asked == []  # nothing is sent until asked
        await pilot.press("w")
        lookup_box = screen.query_one("#remote-lookup", Static)
        await wait_for(pilot, lambda: "15169" in str(lookup_box.render()), "the lookup's answer")
        assert asked == [top]
        assert "dns.google" in str(lookup_box.render())
        app.online_lookup = _offline_lookup  # type: ignore[method-assign]
        await pilot.press("w")
        await wait_for(pilot, lambda: "offline" in str(lookup_box.render()), "the offline message")
        await pilot.press("escape")
        assert app.request.detail_remote is None


async def test_device_screen_extras_and_opening_a_remote(make_app: MakeApp) -> None:
    app = make_app("demo")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_finished(pilot, app)
        app.open_device(IPHONE)
        await pilot.pause()
        facts = app.screen.query_one(DeviceFacts)
        await wait_for(pilot, lambda: any(w == "Findings" for w, _ in facts.facts), "the device's findings")
        extras = dict(facts.facts)
        assert "New device (notice)" in extras["Findings"]
        assert extras["Resolvers"] == "192.168.2.1 (19 queries)"
        assert "busiest 18:00" in extras["Hours"]
        await pilot.press("r")
        assert isinstance(app.screen, RemoteScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, DeviceScreen) and app.request.detail_device == IPHONE


async def test_flow_list_filters_and_shows_packets(make_app: MakeApp) -> None:
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed: the packet drill-down needs it")
    app = make_app("demo")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_finished(pilot, app)
        await pilot.press("o")
        assert isinstance(app.screen, FlowsScreen)
        table = app.screen.query_one("#flows", KeyedTable)
        await wait_for(pilot, lambda: len(column(table, "remote")) > 100, "the flows")
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"captive", "enter")
        await wait_for(pilot, lambda: set(column(table, "remote")) == {"captive.apple.com"}, "the filter")
        assert app.request.flow_filter == "captive"
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, PacketsScreen)
        await wait_for(pilot, lambda: screen.result is not None or screen.problem is not None, "tshark")
        assert screen.problem is None and screen.result is not None
        packets = screen.result.packets
        assert len(packets) == 9 and [layer.name for layer in packets[3].layers] == [
            "eth",
            "ip",
            "tcp",
            "http",
        ]
        tree = screen.query_one(Tree)
        labels = [str(node.label) for node in tree.root.children[3].children]
        assert "HTTP" in labels and any(label.startswith("payload as text") for label in labels)
        await pilot.press("escape", "escape")  # back, then the filter is cleared
        assert isinstance(app.screen, FlowsScreen) and app.request.flow_filter == ""
        await pilot.press("escape")
        assert not app.request.flows_open


async def test_packets_of_a_live_capture_say_why_not(make_app: MakeApp) -> None:
    app = make_app("demo")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_finished(pilot, app)
        screen = PacketsScreen(CAPTIVE, (), live=True, tz=dt.UTC)
        await app.push_screen(screen)
        await wait_for(pilot, lambda: screen.problem is not None, "the message")
        assert "live capture" in str(screen.problem)


async def test_countries_rank_the_remotes(make_app: MakeApp) -> None:
    app = make_app("demo")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_finished(pilot, app)
        await pilot.press("c")
        assert isinstance(app.screen, CountriesScreen)
        table = app.screen.query_one("#countries", KeyedTable)
        await wait_for(pilot, lambda: bool(column(table, "country")), "the countries")
        assert column(table, "country")[:2] == ["United States (US)", "The Netherlands (NL)"]
        assert column(table, "remotes")[0] == "22"


async def test_labelling_a_device_writes_the_labels_file(make_app: MakeApp, tmp_path: Path) -> None:
    labels = tmp_path / "labels.toml"
    app = make_app("ndpi_iphone.pcap", labels_file=str(labels))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_finished(pilot, app)
        table = app.screen.query_one(DeviceTable)
        table.move_cursor(row=column(table, "name").index("Lucas-iPhone"))
        await pilot.press("l")
        assert isinstance(app.focused, Input)
        app.focused.value = ""
        await pilot.press(*"Lucas phone", "enter")
        assert "Lucas phone" in labels.read_text()
        await wait_for(pilot, lambda: "Lucas phone" in column(table, "name"), "the new name")


def test_help_lists_the_investigation_keys() -> None:
    text = help_text(100).plain
    for words in ("Findings", "Whois/RDAP + reverse DNS (sends this address to the internet", "Countries"):
        assert words in text


def test_app_keeps_a_seam_for_online_lookups() -> None:
    assert callable(HomescopeApp.online_lookup)
