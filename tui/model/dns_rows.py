"""DNS log rows: the newest lookups (DNS, mDNS, LLMNR), optionally only those whose name or device
matches a filter, each keyed by its sequence number in the log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from engine.metadata.dns_log import DnsEntry, DnsSnapshot
from tui.model.dashboard import DnsModel, ModelRequest, TableRow
from tui.model.formatting import DASH, clock_text, latency_text

DNS_ROWS = 100  # rows the log keeps (the newest); more would only cost redraws
DNS_SEARCH = 5_000  # newest entries searched when a filter is set


def dns_window(request: ModelRequest) -> int:
    """How many of the newest entries the snapshot must copy for this request."""
    return DNS_SEARCH if request.dns_filter.strip() else DNS_ROWS


def _answer(entry: DnsEntry) -> str:
    if entry.rcode not in (None, 0):
        return entry.rcode_name or DASH
    if not entry.answers:
        return "…" if entry.query_seen and entry.rcode is None and entry.kind == "dns" else DASH
    first = entry.answers[0]
    kind, _, value = first.partition(" ")
    text = value if kind == entry.qtype_name and value else first
    return f"{text} +{len(entry.answers) - 1}" if len(entry.answers) > 1 else text


def _multicast(address: str) -> bool:
    return address.startswith(("224.", "239.", "ff0", "ff1")) or address == "255.255.255.255"


def _device(entry: DnsEntry, device_names: Mapping[int, str], address_names: Mapping[str, str]) -> str:
    """Who asked; for a multicast answer (mDNS, LLMNR) nobody did, so: who answered."""
    if entry.client_device in device_names:
        return device_names[entry.client_device]
    who = entry.server if _multicast(entry.client) else entry.client
    return address_names.get(who, who)


def dns_log(
    dns: DnsSnapshot,
    device_names: Mapping[int, str],
    address_names: Mapping[str, str],
    request: ModelRequest,
    tz: dt.tzinfo,
) -> DnsModel:
    needle = request.dns_filter.strip().lower()
    first_seq = dns.total_entries - len(dns.entries)
    chosen: list[tuple[int, DnsEntry, str]] = []
    for i, entry in enumerate(dns.entries):
        device = _device(entry, device_names, address_names)
        if needle and needle not in entry.name.lower() and needle not in device.lower():
            continue
        chosen.append((first_seq + i, entry, device))
    rows = []
    for seq, entry, device in chosen[-DNS_ROWS:]:
        failed = entry.rcode not in (None, 0)
        rows.append(
            TableRow(
                key=str(seq),
                cells=(
                    clock_text(entry.ts, tz),
                    device,
                    entry.name or "(root)",
                    entry.qtype_name if entry.qtype else DASH,
                    _answer(entry),
                    latency_text(entry.latency),
                    entry.kind,
                ),
                flags=frozenset({"failed"} if failed else ()),
            )
        )
    return DnsModel(
        rows=tuple(rows), newest=dns.total_entries - 1, matched=len(chosen), total=dns.total_entries
    )
