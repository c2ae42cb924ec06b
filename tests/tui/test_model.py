"""The dashboard model builders, without a screen: sorting, filtering, flags and text."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np

from engine.aggregate.timeline import TimelineSeries
from engine.metadata.dns_log import DnsEntry, DnsSnapshot
from engine.views.devices import DeviceView
from tui.model.dashboard import DEVICE_COLUMNS, ModelRequest
from tui.model.device_rows import DEVICE_ROWS, device_table
from tui.model.dns_rows import dns_log
from tui.model.formatting import bar_text, clock_text, rate_text, share_text, sparkline_text
from tui.model.timeline_series import as_series, long_resolution

START = 1_709_922_600.0  # 2024-03-08 18:30:00 UTC
UTC = dt.UTC


def device(
    i: int, name: str, *, down: int = 0, up: int = 0, first: float = START, **more: object
) -> DeviceView:
    view = DeviceView(
        id=i,
        key=f"02:00:00:00:00:{i:02x}",
        mac=f"02:00:00:00:00:{i:02x}",
        name=name,
        label=None,
        hostname=None,
        names=(),
        vendor=None,
        randomized_mac=True,
        router=False,
        ipv4=(f"192.168.1.{i}",),
        ipv6=(),
        first_ts=first,
        last_ts=first + 60,
        packets_up=1,
        bytes_up=up,
        packets_down=1,
        bytes_down=down,
        internet_bytes_up=0,
        internet_bytes_down=0,
        lan_bytes_up=up,
        lan_bytes_down=down,
    )
    return replace(view, **more)  # type: ignore[arg-type]


VIEWS = [
    device(1, "laptop", down=500, up=50),
    device(2, "Phone", down=100, up=900),
    device(3, "tv", down=300, up=10, first=START + 1800),
]


def names(request: ModelRequest, clock: float = START + 1900) -> list[str]:
    table = device_table(VIEWS, None, clock, START, request, UTC)
    return [row.cells[0] for row in table.rows]


def test_devices_sort_by_any_column_and_reverse() -> None:
    assert names(ModelRequest()) == ["laptop", "tv", "Phone"]  # bytes down, most first
    assert names(ModelRequest(device_sort="up")) == ["Phone", "laptop", "tv"]
    assert names(ModelRequest(device_sort="name")) == ["laptop", "Phone", "tv"]  # A first, any case
    assert names(ModelRequest(device_sort="name", device_sort_reverse=True)) == ["tv", "Phone", "laptop"]
    assert names(ModelRequest(device_sort="last")) == ["tv", "laptop", "Phone"]  # newest first
    for column in DEVICE_COLUMNS:  # every column sorts
        assert sorted(names(ModelRequest(device_sort=column.key))) == ["Phone", "laptop", "tv"]


def test_device_filter_matches_name_address_and_mac() -> None:
    assert names(ModelRequest(device_filter="PHONE")) == ["Phone"]
    assert names(ModelRequest(device_filter="192.168.1.3")) == ["tv"]
    assert names(ModelRequest(device_filter="00:03")) == ["tv"]
    table = device_table(VIEWS, None, START, START, ModelRequest(device_filter="o"), UTC)
    assert (table.matched, table.total) == (2, 3)


def test_device_rows_are_capped() -> None:
    views = [device(i, f"d{i:03d}", down=i) for i in range(DEVICE_ROWS + 20)]
    table = device_table(views, None, START, START, ModelRequest(), UTC)
    assert len(table.rows) == DEVICE_ROWS
    assert table.rows[0].cells[0] == f"d{DEVICE_ROWS + 19:03d}"
    assert table.matched == DEVICE_ROWS + 20


def test_a_device_that_joined_recently_is_new() -> None:
    table = device_table(VIEWS, None, START + 1900, START, ModelRequest(), UTC)
    flags = {row.cells[0]: row.flags for row in table.rows}
    assert "new" in flags["tv"]  # joined 30 minutes in, seen 100 s ago
    assert "new" not in flags["laptop"]  # there from the start
    later = device_table(VIEWS, None, START + 1800 + 601, START, ModelRequest(), UTC)
    assert all("new" not in row.flags for row in later.rows)


def test_device_cells_are_formatted_text() -> None:
    table = device_table(VIEWS, None, START + 1900, START, ModelRequest(device_filter="laptop"), UTC)
    cells = table.rows[0].cells
    assert cells[:4] == ("laptop", "500 B", "50 B", "-")
    assert cells[5] == "18:31:00"  # last seen, in the chosen time zone
    assert cells[6] == "private MAC"
    assert cells[8] == "192.168.1.1"


def entry(ts: float, name: str, device: int, **more: object) -> DnsEntry:
    e = DnsEntry(ts, "dns", "udp", device, f"192.168.1.{device}", "192.168.1.254", name, 1, True)
    for key, value in more.items():
        setattr(e, key, value)
    return e


def test_dns_rows_are_keyed_by_sequence_and_filtered_by_name_or_device() -> None:
    entries = [
        entry(START, "example.org", 1, rcode=0, answers=("A 93.184.216.34",), latency=0.0123),
        entry(START + 1, "nope.example", 2, rcode=3),
        entry(START + 2, "api.example.com", 2),
    ]
    snapshot = DnsSnapshot(entries=entries, total_entries=10, names=[], resolvers=[], malformed={})
    device_names = {1: "laptop", 2: "Phone"}
    model = dns_log(snapshot, device_names, {}, ModelRequest(), UTC)
    assert [row.key for row in model.rows] == ["7", "8", "9"]
    assert model.rows[0].cells == ("18:30:00", "laptop", "example.org", "A", "93.184.216.34", "12", "dns")
    assert model.rows[1].cells[4] == "NXDOMAIN" and "failed" in model.rows[1].flags
    assert model.rows[2].cells[4] == "…"  # asked, not answered yet
    only_phone = dns_log(snapshot, device_names, {}, ModelRequest(dns_filter="phone"), UTC)
    assert [row.cells[2] for row in only_phone.rows] == ["nope.example", "api.example.com"]
    by_name = dns_log(snapshot, device_names, {}, ModelRequest(dns_filter="EXAMPLE.ORG"), UTC)
    assert (len(by_name.rows), by_name.matched, by_name.total) == (1, 1, 10)


def test_multicast_answers_are_shown_under_who_answered() -> None:
    mdns = DnsEntry(
        START, "mdns", "udp", -1, "224.0.0.251", "192.168.1.7", "tv.local", 1, False, 0, ("A 1.2.3.4",)
    )
    snapshot = DnsSnapshot(entries=[mdns], total_entries=1, names=[], resolvers=[], malformed={})
    model = dns_log(snapshot, {}, {"192.168.1.7": "tv"}, ModelRequest(), UTC)
    assert model.rows[0].cells[1] == "tv"


def test_long_window_resolution_keeps_the_chart_small() -> None:
    assert long_resolution(45 * 60) == 60
    assert long_resolution(6 * 3600) == 60
    assert long_resolution(20 * 3600) == 900
    assert long_resolution(5 * 86400) == 3600


def test_series_start_at_the_capture_and_are_per_second() -> None:
    raw = TimelineSeries(60, START - 120, np.array([0, 0, 60, 120, 600], dtype=np.int64))
    series = as_series(raw, since=START)
    assert series.start == START and series.values == (1.0, 2.0, 10.0)
    assert as_series(raw, since=START, last=2).values == (2.0, 10.0)


def test_text_helpers() -> None:
    assert bar_text(0.5, 4) == "██  "
    assert bar_text(1 / 16, 2) == "▏ "
    assert bar_text(2.0, 3) == "███"
    assert sparkline_text([0, 1, 8]) == " ▂█"
    assert sparkline_text([0, 0]) == "  "
    assert share_text(0.5) == "50%" and share_text(0.0123) == "1.2%" and share_text(0.00001) == "<0.1%"
    assert rate_text(None) == "-" and rate_text(125_000) == "1 Mb/s"
    assert clock_text(START, UTC, with_date=True) == "2024-03-08 18:30:00"
    assert clock_text(None, UTC) == "-"
