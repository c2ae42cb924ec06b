"""The payload inspector's findings as rows of the store, and back.

Each table keeps, per run, one row per key (a DNS name and type, an address and name, a device and name,
...) holding the run's running totals; a flush rewrites the rows that changed. Reading merges the rows of
every run: counts add up, sets unite, first and last times widen. `ordinal` keeps the order in which the
analysis first met each key, so a stored analysis lists things in the same order as the live one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from engine.metadata.device_names import DeviceName, DeviceNamesSnapshot, DeviceRef, name_rank
from engine.metadata.dhcp_log import DhcpClient
from engine.metadata.dns_log import MAX_ANSWERS_PER_NAME, MAX_DEVICES_PER_NAME, NameStats, ResolverUse
from engine.metadata.payload_inspector import MetadataSnapshot, ResolverOverEncryption
from engine.metadata.remote_names import SOURCE_RANK, NameSeen
from engine.metadata.server_names import ServerNameStats

Row = tuple[Any, ...]
DeviceMap = Callable[[DeviceRef], int]
_SEP = "\x1f"

# table -> its columns after (sensor, run_id, key, ordinal)
TABLES: dict[str, tuple[str, ...]] = {
    "dns_names": (
        "name", "qtype", "kind", "queries", "responses", "devices", "rcodes", "answers", "first_ts", "last_ts"
    ),
    "dns_resolvers": ("device_id", "client", "server", "queries", "first_ts", "last_ts"),
    "remote_names": ("address", "name", "sources", "count", "first_ts", "last_ts"),
    "device_names": ("device_id", "name", "source", "detail", "count", "first_ts", "last_ts"),
    "device_traits": ("device_id", "trait", "trait_values"),
    "dhcp_clients": (
        "client", "device_id", "hostnames", "fqdns", "vendor_classes", "requested", "assigned",
        "fingerprint", "messages", "servers", "first_ts", "last_ts",
    ),
    "server_names": ("name", "source", "count", "devices", "servers", "details", "first_ts", "last_ts"),
    "doh": ("device_id", "client", "server", "name", "count"),
    "malformed": ("scope", "reason", "count"),
}  # fmt: skip
# tables whose rows carry a time span (read back only when it overlaps the range asked for)
TIMED = frozenset(
    {"dns_names", "dns_resolvers", "remote_names", "device_names", "dhcp_clients", "server_names"}
)


def _key(*parts: object) -> str:
    return _SEP.join(str(p) for p in parts)


def metadata_rows(meta: MetadataSnapshot, device: DeviceMap) -> dict[str, list[tuple[str, Row]]]:
    """Every table's (key, row) pairs, in the order the analysis lists them."""

    def devices(ids: Iterable[int]) -> list[int]:
        return sorted({device(i) for i in ids})

    out: dict[str, list[tuple[str, Row]]] = {name: [] for name in TABLES}
    row: Row
    for s in meta.dns.names:
        row = (s.name, s.qtype, s.kind, s.queries, s.responses, devices(s.devices),
               json.dumps(s.rcodes), list(s.answers), s.first_ts, s.last_ts)  # fmt: skip
        out["dns_names"].append((_key(s.name.lower(), s.qtype, s.kind), row))
    for r in meta.dns.resolvers:
        dev = device(r.device)
        out["dns_resolvers"].append(
            (_key(dev, r.client, r.server), (dev, r.client, r.server, r.queries, r.first_ts, r.last_ts))
        )
    for address, names in meta.remote_names.items():
        for n in names:
            row = (address, n.name, sorted(n.sources), n.count, n.first_ts, n.last_ts)
            out["remote_names"].append((_key(address, n.name.lower()), row))
    for ref, found in meta.device_names.names.items():
        dev = device(ref)
        for dn in found:
            row = (dev, dn.name, dn.source, dn.detail, dn.count, dn.first_ts, dn.last_ts)
            out["device_names"].append((_key(dev, dn.source, dn.name.lower()), row))
    for ref, traits in meta.device_names.traits.items():
        dev = device(ref)
        for trait, values in traits.items():
            out["device_traits"].append((_key(dev, trait), (dev, trait, list(values))))
    for c in meta.dhcp:
        row = (c.client, device(c.device), list(c.hostnames), list(c.fqdns), list(c.vendor_classes),
               list(c.requested), list(c.assigned), c.fingerprint, json.dumps(c.messages), list(c.servers),
               c.first_ts, c.last_ts)  # fmt: skip
        out["dhcp_clients"].append((c.client, row))
    for sn in meta.server_names:
        row = (sn.name, sn.source, sn.count, devices(sn.devices), list(sn.servers), list(sn.details),
               sn.first_ts, sn.last_ts)  # fmt: skip
        out["server_names"].append((_key(sn.name.lower(), sn.source), row))
    for d in meta.doh:
        dev = device(d.device)
        out["doh"].append((_key(dev, d.client, d.server, d.name), (dev, d.client, d.server, d.name, d.count)))
    for reason, count in meta.malformed.items():
        out["malformed"].append((_key("messages", reason), ("messages", reason, count)))
    for reason, count in meta.dns.malformed.items():
        out["malformed"].append((_key("dns", reason), ("dns", reason, count)))
    return out


# ---- reading back --------------------------------------------------------------------------------------


@dataclass(slots=True)
class StoredRow:
    run_id: int
    ordinal: int
    key: str
    values: dict[str, Any]


def _union(lists: Iterable[Iterable[Any] | None], limit: int | None = None) -> list[Any]:
    seen: dict[Any, None] = {}
    for items in lists:
        for item in items or ():
            if limit is not None and len(seen) >= limit:
                return list(seen)
            seen.setdefault(item, None)
    return list(seen)


def _grouped(rows: Iterable[StoredRow]) -> Iterator[list[StoredRow]]:
    """Rows of the same key together (runs in order), keys in the order they were first met."""
    groups: dict[str, list[StoredRow]] = {}
    for r in sorted(rows, key=lambda r: (r.run_id, r.ordinal)):
        groups.setdefault(r.key, []).append(r)
    yield from groups.values()


def _first(group: list[StoredRow]) -> float:
    return min(float(r.values["first_ts"]) for r in group)


def _last(group: list[StoredRow]) -> float:
    return max(float(r.values["last_ts"]) for r in group)


def _sum(group: list[StoredRow], column: str) -> int:
    return sum(int(r.values[column]) for r in group)


def _counts(texts: Iterable[str | None]) -> dict[str, int]:
    """Counts by key (JSON objects, as stored), added up."""
    merged: dict[str, int] = {}
    for text in texts:
        for k, v in json.loads(text or "{}").items():
            merged[k] = merged.get(k, 0) + int(v)
    return merged


def dns_names(rows: Iterable[StoredRow], device: Callable[[int], int]) -> list[NameStats]:
    out = []
    for g in _grouped(rows):
        v = g[0].values
        devices = {device(d) for r in g for d in (r.values["devices"] or ())}
        devices.discard(-1)
        rcodes = _counts(r.values["rcodes"] for r in g)
        stats = NameStats(v["name"], int(v["qtype"]), v["kind"], _sum(g, "queries"), _sum(g, "responses"))
        stats.devices = set(sorted(devices)[:MAX_DEVICES_PER_NAME])
        stats.rcodes = {int(k): n for k, n in rcodes.items()}
        stats.answers = dict.fromkeys(_union((r.values["answers"] for r in g), MAX_ANSWERS_PER_NAME))
        stats.first_ts, stats.last_ts = _first(g), _last(g)
        out.append(stats)
    return out


def dns_resolvers(rows: Iterable[StoredRow], device: Callable[[int], int]) -> list[ResolverUse]:
    out = []
    for g in _grouped(rows):
        v = g[0].values
        use = ResolverUse(device(int(v["device_id"])), v["client"], v["server"], _sum(g, "queries"))
        use.first_ts, use.last_ts = _first(g), _last(g)
        out.append(use)
    return out


def remote_names(rows: Iterable[StoredRow]) -> dict[str, list[NameSeen]]:
    found: dict[str, list[NameSeen]] = {}
    for g in _grouped(rows):
        v = g[0].values
        seen = NameSeen(v["name"], set(_union(r.values["sources"] for r in g)), _sum(g, "count"))
        seen.first_ts, seen.last_ts = _first(g), _last(g)
        found.setdefault(v["address"], []).append(seen)
    return {address: sorted(names, key=_name_rank) for address, names in sorted(found.items())}


def _name_rank(seen: NameSeen) -> tuple[int, int, float]:
    """As engine.metadata.remote_names ranks an address's names: by source, then most seen, then newest."""
    rank = min((SOURCE_RANK.get(s, 9) for s in seen.sources), default=9)
    return (rank, -seen.count, -seen.last_ts)


def device_names(
    name_rows: Iterable[StoredRow], trait_rows: Iterable[StoredRow], device: Callable[[int], int]
) -> DeviceNamesSnapshot:
    names: dict[DeviceRef, list[DeviceName]] = {}
    for g in _grouped(name_rows):
        v = g[0].values
        dn = DeviceName(v["name"], v["source"], v["detail"], _sum(g, "count"), _first(g), _last(g))
        names.setdefault(device(int(v["device_id"])), []).append(dn)
    for found in names.values():
        found.sort(key=name_rank)
    traits: dict[DeviceRef, dict[str, list[str]]] = {}
    for g in _grouped(trait_rows):
        v = g[0].values
        values = _union(r.values["trait_values"] for r in g)
        traits.setdefault(device(int(v["device_id"])), {})[v["trait"]] = values
    return DeviceNamesSnapshot(names, traits)


def dhcp_clients(rows: Iterable[StoredRow], device: Callable[[int], int]) -> list[DhcpClient]:
    out = []
    for g in _grouped(rows):
        v = g[-1].values
        client = DhcpClient(v["client"], device(int(v["device_id"])))

        def union(column: str, group: list[StoredRow] = g) -> dict[str, None]:
            return dict.fromkeys(_union(r.values[column] for r in group))

        client.hostnames, client.fqdns = union("hostnames"), union("fqdns")
        client.vendor_classes, client.requested = union("vendor_classes"), union("requested")
        client.assigned, client.servers = union("assigned"), union("servers")
        prints = [r.values["fingerprint"] for r in g if r.values["fingerprint"]]
        client.fingerprint = prints[-1] if prints else None
        client.messages = _counts(r.values["messages"] for r in g)
        client.first_ts, client.last_ts = _first(g), _last(g)
        out.append(client)
    return out


def server_names(rows: Iterable[StoredRow], device: Callable[[int], int]) -> list[ServerNameStats]:
    out = []
    for g in _grouped(rows):
        v = g[0].values
        stats = ServerNameStats(v["name"], v["source"], _sum(g, "count"))
        stats.devices = {device(d) for r in g for d in (r.values["devices"] or ())} - {-1}
        stats.servers = dict.fromkeys(_union(r.values["servers"] for r in g))
        stats.details = dict.fromkeys(_union(r.values["details"] for r in g))
        stats.first_ts, stats.last_ts = _first(g), _last(g)
        out.append(stats)
    return out


def doh(rows: Iterable[StoredRow], device: Callable[[int], int]) -> list[ResolverOverEncryption]:
    return [
        ResolverOverEncryption(
            device(int(g[0].values["device_id"])),
            g[0].values["client"],
            g[0].values["server"],
            g[0].values["name"],
            _sum(g, "count"),
        )
        for g in _grouped(rows)
    ]


def malformed(rows: Iterable[StoredRow]) -> tuple[dict[str, int], dict[str, int]]:
    """(the inspector's malformed messages, the DNS log's) by reason."""
    messages: dict[str, int] = {}
    dns: dict[str, int] = {}
    for g in _grouped(rows):
        v = g[0].values
        target = dns if v["scope"] == "dns" else messages
        target[v["reason"]] = _sum(g, "count")
    return messages, dns
