"""One device in depth: who it is, its traffic over time, the remotes it talks to, the names it looks up
and its protocols."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from engine.analysis import AnalysisSnapshot
from engine.protocols.dns import type_name
from engine.report.formatting import human_bytes
from engine.views.devices import DeviceView
from tui.model.dashboard import DeviceDetail, Series, TableModel, TableRow
from tui.model.formatting import DASH, clock_text, count_text
from tui.model.geo import GeoLookup
from tui.model.remote_rows import device_remote_table
from tui.model.timeline_series import device_series

DNS_NAME_ROWS = 200
_NAME_SOURCES = {
    "dhcp-hostname": "DHCP",
    "dhcp-fqdn": "DHCP FQDN",
    "mdns-host": "mDNS",
    "mdns-service": "mDNS service",
    "mdns-friendly-name": "mDNS name",
    "nbns": "NetBIOS",
    "llmnr": "LLMNR",
}


def _facts(v: DeviceView, tz: dt.tzinfo) -> tuple[tuple[str, str], ...]:
    """The most telling first: a small terminal shows only the first three lines."""
    what = [v.vendor or ("private (randomised) MAC" if v.randomized_mac else "unknown vendor"), v.mac or DASH]
    if v.router:
        what.append("router (forwards internet traffic)")
    addresses = list(v.ipv4[:3]) + list(v.ipv6[:2])
    more = len(v.addresses) - len(addresses)
    facts = [
        ("Device", " · ".join(what)),
        ("Addresses", ", ".join(addresses) + (f" +{more}" if more > 0 else "") if addresses else DASH),
        (
            "Traffic",
            f"down {human_bytes(v.bytes_down)}, up {human_bytes(v.bytes_up)} · internet down "
            f"{human_bytes(v.internet_bytes_down)}, up {human_bytes(v.internet_bytes_up)} · "
            f"{count_text(v.internet_peers)} internet peers",
        ),
        (
            "Seen",
            f"{clock_text(v.first_ts, tz, with_date=True)} to {clock_text(v.last_ts, tz, with_date=True)}",
        ),
    ]
    if v.names:
        shown = [f"{name} ({_NAME_SOURCES.get(source, source)})" for name, source, _ in v.names[:4]]
        facts.append(("Names", ", ".join(shown)))
    if v.label:
        facts.append(("Label", v.label))
    for trait, values in sorted(v.traits.items()):
        facts.append((trait.capitalize(), ", ".join(values[:3])))
    return tuple(facts)


def _dns_names(snapshot: AnalysisSnapshot, device: int, tz: dt.tzinfo) -> TableModel:
    if snapshot.metadata is None:
        return TableModel()
    mine = [s for s in snapshot.metadata.dns.names if device in s.devices]
    mine.sort(key=lambda s: (-(s.queries + s.responses), s.name))
    rows = []
    for s in mine[:DNS_NAME_ROWS]:
        answers = list(s.answers)
        answer = answers[0] if answers else DASH
        if len(answers) > 1:
            answer += f" +{len(answers) - 1}"
        rows.append(
            TableRow(
                key=f"{s.name}|{s.qtype}|{s.kind}",
                cells=(
                    s.name or "(root)",
                    type_name(s.qtype) if s.qtype else DASH,
                    count_text(s.queries or s.responses),
                    answer,
                    clock_text(s.last_ts, tz),
                ),
            )
        )
    return TableModel(rows=tuple(rows), matched=len(mine), total=len(mine))


def device_detail(
    key: str,
    views: Sequence[DeviceView],
    snapshot: AnalysisSnapshot,
    resolution: int,
    capture_start: float | None,
    geo: GeoLookup | None,
    tz: dt.tzinfo,
) -> DeviceDetail:
    view = next((v for v in views if v.key == key), None)
    if view is None:
        empty = Series(resolution, 0.0)
        return DeviceDetail(key, key, (), empty, empty, (), TableModel(), TableModel(), found=False)
    down, up = device_series(snapshot.timeline, view.id, resolution, since=capture_start)
    return DeviceDetail(
        key=key,
        name=view.name,
        facts=_facts(view, tz),
        down=down,
        up=up,
        protocols=view.protocols,
        remotes=device_remote_table(snapshot, view.id, geo),
        dns_names=_dns_names(snapshot, view.id, tz),
    )
