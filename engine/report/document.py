"""The `homescope.report/1` JSON document (described in docs/report-schema.md)."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine import __version__
from engine.aggregate.endpoint_counters import EndpointTable
from engine.analysis import AnalysisSnapshot
from engine.capture.records import SourceStatus
from engine.config import Settings, default_settings
from engine.decode.decoder import is_supported_linktype
from engine.decode.malformed import REASON_KEY, REASON_TEXT, Malformed
from engine.decode.packets import LINK_CLASS_KEYS, LINK_CLASS_NAMES, LinkClass, ip_to_str, mac_to_str
from engine.labels import Labels
from engine.linktypes import linktype_name
from engine.protocol_numbers import ethertype_name, ip_protocol_name
from engine.report.semantic_sections import semantic_sections

SCHEMA = "homescope.report/1"


def _source(st: SourceStatus) -> dict[str, Any]:
    return {
        "path": st.path,
        "format": st.format,
        "size": st.size,
        "link_types": [
            {
                "linktype": lt,
                "name": linktype_name(lt),
                "packets": n,
                "supported": is_supported_linktype(lt),
            }
            for lt, n in sorted(st.linktypes.items())
        ],
        "packets": st.packets,
        "bytes": st.bytes,
        "captured_bytes": st.captured_bytes,
        "complete": st.fatal_problem is None,
        "problems": [p.as_dict() for p in st.problems],
    }


def _endpoint_rows(table: EndpointTable, key_name: str, mac: bool) -> list[dict[str, Any]]:
    counts = table.counts
    if not len(table):
        return []
    total = counts[:, 1] + counts[:, 3]
    order = np.lexsort((np.arange(len(table)), -total))
    rows = []
    for i in order.tolist():
        if mac:
            key: dict[str, Any] = {key_name: mac_to_str(int(table.keys[i, 0]))}
        else:
            hi, lo = int(table.keys[i, 0]), int(table.keys[i, 1])
            text = ip_to_str(hi, lo)
            key = {key_name: text, "version": 6 if ":" in text else 4}
        c = counts[i]
        key.update(tx_packets=int(c[0]), tx_bytes=int(c[1]), rx_packets=int(c[2]), rx_bytes=int(c[3]))
        rows.append(key)
    return rows


def build_report(
    snapshot: AnalysisSnapshot,
    sources: list[SourceStatus],
    *,
    labels: Labels | None = None,
    top_flows: int = 50,
    top_remotes: int = 100,
    settings: Settings | None = None,
    geo: object = None,
) -> dict[str, Any]:
    """The report as plain JSON-ready data: the traffic sections, plus the home-network sections and the
    findings when the snapshot comes from a full analysis.

    The findings are evaluated with `settings` (the rules' options, quiet hours and time zone; default: the
    built-in defaults, no file read) and `geo` (the offline geo database, for watchlist countries and
    organisations). Raises ConfigError for invalid ``[findings]`` settings."""
    doc = _traffic_report(snapshot, sources)
    doc["depth"] = snapshot.depth
    doc.update(semantic_sections(snapshot, labels=labels, top_flows_count=top_flows, top_remotes=top_remotes))
    if snapshot.depth == "full" and snapshot.flows is not None:
        from engine.findings import evaluate

        found = evaluate(snapshot, settings or default_settings(), geo=geo, labels=labels)
        doc["findings"] = [f.as_dict() for f in found]
    return doc


def _traffic_report(snapshot: AnalysisSnapshot, sources: list[SourceStatus]) -> dict[str, Any]:
    t = snapshot.totals
    duration = (t.last_ts - t.first_ts) if t.first_ts is not None and t.last_ts is not None else None
    ethertypes = sorted(t.ethertypes.items(), key=lambda kv: (-kv[1].bytes, kv[0]))
    link_layer = sorted(t.link_classes.items(), key=lambda kv: (-kv[1].packets, kv[0]))
    ip_protocols = sorted(t.ip_protocols.items(), key=lambda kv: (-kv[1].bytes, kv[0]))
    malformed_total = sum(t.malformed.values())
    return {
        "schema": SCHEMA,
        "generator": {"name": "homescope", "version": __version__},
        "sources": [_source(s) for s in sources],
        "totals": {
            "packets": t.packets,
            "bytes": t.bytes,
            "captured_bytes": t.captured_bytes,
            "first_ts": t.first_ts,
            "last_ts": t.last_ts,
            "duration": duration,
            "untimed_packets": t.untimed_packets,
            "snaplen_cut_packets": t.snaplen_cut_packets,
            "ip_versions": {
                str(v): {"packets": c.packets, "bytes": c.bytes} for v, c in sorted(t.ip_versions.items())
            },
        },
        "macs": _endpoint_rows(snapshot.macs, "mac", mac=True),
        "hosts": _endpoint_rows(snapshot.hosts, "ip", mac=False),
        "ethertypes": [
            {"ethertype": f"0x{k:04x}", "name": ethertype_name(k), "packets": c.packets, "bytes": c.bytes}
            for k, c in ethertypes
        ],
        "link_layer": [
            {
                "kind": LINK_CLASS_KEYS[LinkClass(k)],
                "name": LINK_CLASS_NAMES[LinkClass(k)],
                "packets": c.packets,
                "bytes": c.bytes,
            }
            for k, c in link_layer
        ],
        "ip_protocols": [
            {"protocol": k, "name": ip_protocol_name(k), "packets": c.packets, "bytes": c.bytes}
            for k, c in ip_protocols
        ],
        "malformed": {
            "packets": malformed_total,
            "reasons": [
                {
                    "reason": REASON_KEY[Malformed(k)],
                    "description": REASON_TEXT[Malformed(k)],
                    "packets": n,
                }
                for k, n in sorted(t.malformed.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
        },
    }
