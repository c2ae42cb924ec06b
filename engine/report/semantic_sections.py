"""The home-network sections of the report: devices, flows, protocols, DNS, names, DHCP, server names,
remotes and timelines (see docs/report-schema.md)."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.analysis import AnalysisSnapshot
from engine.classify.protocol_labels import Label
from engine.flows.flow_table import FlowRecords
from engine.labels import Labels
from engine.protocols.dns_records import rcode_name, type_name
from engine.views.devices import DeviceView, device_views
from engine.views.flows import FlowView, top_flows
from engine.views.protocols import protocol_breakdown
from engine.views.remotes import remote_views

SERVER_NAME_SOURCES = {
    "tls_sni": ("tls-sni",),
    "quic_sni": ("quic-sni", "gquic-sni"),
    "http_hosts": ("http-host",),
}


def _device_ref(devices: dict[int, DeviceView], device: int | str) -> dict[str, Any] | None:
    view = devices.get(device) if isinstance(device, int) else None
    return None if view is None else {"name": view.name, "key": view.key}


def _device_dict(v: DeviceView) -> dict[str, Any]:
    return {
        "key": v.key,
        "name": v.name,
        "label": v.label,
        "hostname": v.hostname,
        "mac": v.mac,
        "vendor": v.vendor,
        "randomized_mac": v.randomized_mac,
        "router": v.router,
        "ipv4": list(v.ipv4),
        "ipv6": list(v.ipv6),
        "names": [{"name": n, "source": s, "detail": d} for n, s, d in v.names],
        "traits": {k: list(vals) for k, vals in v.traits.items()},
        "first_ts": v.first_ts,
        "last_ts": v.last_ts,
        "packets_up": v.packets_up,
        "bytes_up": v.bytes_up,
        "packets_down": v.packets_down,
        "bytes_down": v.bytes_down,
        "internet_bytes_up": v.internet_bytes_up,
        "internet_bytes_down": v.internet_bytes_down,
        "lan_bytes_up": v.lan_bytes_up,
        "lan_bytes_down": v.lan_bytes_down,
        "internet_peers": v.internet_peers,
        "protocols": [{"name": n, "bytes": b} for n, b in v.protocols],
    }


def _flow_dict(f: FlowView, devices: dict[int, DeviceView]) -> dict[str, Any]:
    return {
        "protocol": f.protocol,
        "label": f.label,
        "protection": f.protection,
        "client": f.client,
        "client_port": f.client_port,
        "server": f.server,
        "server_port": f.server_port,
        "server_name": f.server_name,
        "client_device": _device_ref(devices, f.client_device),
        "server_device": _device_ref(devices, f.server_device),
        "first_ts": f.first_ts,
        "last_ts": f.last_ts,
        "packets_up": f.packets_up,
        "bytes_up": f.bytes_up,
        "packets_down": f.packets_down,
        "bytes_down": f.bytes_down,
        "state": f.state,
        "active": f.active,
    }


def _series(series: Any, first_ts: float | None) -> dict[str, Any] | None:
    values = series.values
    if first_ts is None or not values.size:
        return None
    start_bin = int(first_ts // series.resolution) * series.resolution
    skip = max(int((start_bin - series.start) // series.resolution), 0)
    values = values[skip:]
    nonzero = np.flatnonzero(values)
    if not nonzero.size:
        return None
    values = values[: int(nonzero[-1]) + 1]
    return {"start": series.start + skip * series.resolution, "values": [int(x) for x in values]}


def _dns_over_tls(snapshot: AnalysisSnapshot, devices: dict[int, DeviceView]) -> list[dict[str, Any]]:
    """Resolver use over DNS-over-TLS flows (port 853), per client device and server."""
    if snapshot.flows is None:
        return []
    records: FlowRecords
    records, labels = snapshot.flows.all()
    rows = np.flatnonzero(labels == Label.DNS_OVER_TLS)
    found: dict[tuple[int, str, str], int] = {}
    c = records.columns
    book = snapshot.book
    if book is None:
        return []
    for i in rows.tolist():
        client_is_b = c["client"][i] == 1
        client = int(records.b_id[i] if client_is_b else records.a_id[i])
        server = int(records.a_id[i] if client_is_b else records.b_id[i])
        device = int(c["dev_b"][i] if client_is_b else c["dev_a"][i])
        key = (device, book.text(client), book.text(server))
        found[key] = found.get(key, 0) + 1
    return [
        {"device": _device_ref(devices, d), "client": cl, "server": sv, "kind": "dot", "flows": n}
        for (d, cl, sv), n in sorted(found.items(), key=lambda kv: -kv[1])
    ]


def semantic_sections(
    snapshot: AnalysisSnapshot,
    *,
    labels: Labels | None = None,
    top_flows_count: int = 50,
    top_remotes: int = 100,
) -> dict[str, Any]:
    """The sections of the full analysis (an empty dict for a traffic-only snapshot)."""
    if snapshot.flows is None or snapshot.metadata is None or snapshot.timeline is None:
        return {}
    views = device_views(snapshot, labels)
    devices = {v.id: v for v in views}
    meta = snapshot.metadata
    flows = snapshot.flows
    breakdown = protocol_breakdown(snapshot)

    def names_of(ids: set[int]) -> list[str]:
        return sorted(devices[i].name for i in ids if i in devices)

    dns_names = sorted(meta.dns.names, key=lambda s: (-(s.queries + s.responses), s.name))
    resolvers = [
        {
            "device": _device_ref(devices, r.device),
            "client": r.client,
            "server": r.server,
            "kind": "dns",
            "queries": r.queries,
            "first_ts": r.first_ts,
            "last_ts": r.last_ts,
        }
        for r in sorted(meta.dns.resolvers, key=lambda r: -r.queries)
    ]
    resolvers += _dns_over_tls(snapshot, devices)
    resolvers += [
        {
            "device": _device_ref(devices, d.device),
            "client": d.client,
            "server": d.server,
            "kind": "doh",
            "server_name": d.name,
            "connections": d.count,
        }
        for d in meta.doh
    ]
    server_sections: dict[str, list[dict[str, Any]]] = {}
    for key, sources in SERVER_NAME_SOURCES.items():
        stats = [s for s in meta.server_names if s.source in sources]
        stats.sort(key=lambda s: (-s.count, s.name))
        server_sections[key] = [
            {
                "name": s.name,
                "source": s.source,
                "count": s.count,
                "devices": names_of(s.devices),
                "servers": list(s.servers),
                "details": list(s.details),
                "first_ts": s.first_ts,
                "last_ts": s.last_ts,
            }
            for s in stats
        ]
    timeline = snapshot.timeline
    first_ts = snapshot.totals.first_ts
    series = {}
    for res in (60, 900, 3600):
        b = _series(timeline.total_bytes[res], first_ts)
        p = _series(timeline.total_packets[res], first_ts)
        if b is not None and p is not None:
            series[str(res)] = {
                "start": b["start"],
                "bytes": b["values"],
                "packets": p["values"][: len(b["values"])],
            }
    per_device = []
    for v in views:
        up = timeline.device_bytes_up.get(3600, {}).get(v.id)
        down = timeline.device_bytes_down.get(3600, {}).get(v.id)
        if up is None or down is None:
            continue
        su, sd = _series(up, first_ts), _series(down, first_ts)
        if su is None and sd is None:
            continue
        start = (su or sd or {})["start"]
        length = max(len((su or {"values": []})["values"]), len((sd or {"values": []})["values"]))
        per_device.append(
            {
                "device": {"name": v.name, "key": v.key},
                "start": start,
                "resolution": 3600,
                "bytes_up": _pad((su or {"values": []})["values"], length),
                "bytes_down": _pad((sd or {"values": []})["values"], length),
            }
        )
    return {
        "devices": [_device_dict(v) for v in views],
        "flows": {
            "total": len(flows.closed) + len(flows.active) + flows.closed_dropped,
            "active": len(flows.active),
            "closed": len(flows.closed) + flows.closed_dropped,
            "top": [_flow_dict(f, devices) for f in top_flows(snapshot, top_flows_count)],
        },
        "protocols": {
            "labels": [
                {
                    "label": p.name,
                    "protection": p.protection,
                    "description": p.description,
                    "packets": p.packets,
                    "bytes": p.bytes,
                    "flows": p.flows,
                    "share": round(p.share, 6),
                }
                for p in breakdown.protocols
            ],
            "protection_bytes": breakdown.protection_bytes,
            "ip_version_bytes": breakdown.ip_version_bytes,
        },
        "dns": {
            "messages": meta.dns.total_entries,
            "names": [
                {
                    "name": s.name,
                    "type": _qtype(s.qtype),
                    "kind": s.kind,
                    "queries": s.queries,
                    "responses": s.responses,
                    "devices": names_of(s.devices),
                    "rcodes": {_rcode(k): n for k, n in sorted(s.rcodes.items())},
                    "answers": list(s.answers),
                    "first_ts": s.first_ts,
                    "last_ts": s.last_ts,
                }
                for s in dns_names
            ],
            "resolvers": resolvers,
            "malformed": meta.dns.malformed,
        },
        "names": [
            {
                "ip": ip,
                "name": seen[0].name,
                "names": [
                    {
                        "name": n.name,
                        "sources": sorted(n.sources),
                        "count": n.count,
                        "first_ts": n.first_ts,
                        "last_ts": n.last_ts,
                    }
                    for n in seen
                ],
            }
            for ip, seen in sorted(meta.remote_names.items())
            if seen
        ],
        "dhcp": [
            {
                "client": c.client,
                "device": _device_ref(devices, c.device),
                "hostnames": list(c.hostnames),
                "fqdns": list(c.fqdns),
                "vendor_classes": list(c.vendor_classes),
                "requested": list(c.requested),
                "assigned": list(c.assigned),
                "fingerprint": c.fingerprint,
                "messages": c.messages,
                "servers": list(c.servers),
                "first_ts": c.first_ts,
                "last_ts": c.last_ts,
            }
            for c in sorted(meta.dhcp, key=lambda c: c.client)
        ],
        **server_sections,
        "remotes": [
            {
                "ip": r.address,
                "name": r.name,
                "bytes_in": r.bytes_in,
                "bytes_out": r.bytes_out,
                "packets_in": r.packets_in,
                "packets_out": r.packets_out,
                "flows": r.flows,
                "devices": names_of(set(r.devices)),
                "protocols": list(r.protocols),
                "first_ts": r.first_ts,
                "last_ts": r.last_ts,
            }
            for r in remote_views(snapshot, top_remotes)
        ],
        "timeline": {
            "series": series,
            "devices": per_device,
            "packet_sizes": timeline.size_histogram,
            "late_packets": {str(k): v for k, v in timeline.late.items()},
        },
        "malformed_messages": meta.malformed,
    }


def _pad(values: list[int], length: int) -> list[int]:
    return values + [0] * (length - len(values))


def _qtype(qtype: int) -> str:
    return type_name(qtype)


def _rcode(rcode: int) -> str:
    return rcode_name(rcode)
