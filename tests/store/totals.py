"""What must add up exactly when an analysis is split over several runs (stopped, killed, resumed): every
packet and byte, per protocol, MAC, address, device, flow total, timeline bin and DNS name."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.analysis import AnalysisSnapshot
from engine.decode.packets import ip_to_str, mac_to_str


def totals(snap: AnalysisSnapshot) -> dict[str, Any]:
    t = snap.totals
    out: dict[str, Any] = {
        "packets": t.packets,
        "bytes": t.bytes,
        "captured_bytes": t.captured_bytes,
        "untimed": t.untimed_packets,
        "first_ts": t.first_ts,
        "last_ts": t.last_ts,
        "ethertypes": {k: (v.packets, v.bytes) for k, v in t.ethertypes.items()},
        "ip_protocols": {k: (v.packets, v.bytes) for k, v in t.ip_protocols.items()},
        "ip_versions": {k: (v.packets, v.bytes) for k, v in t.ip_versions.items()},
        "link_classes": {k: (v.packets, v.bytes) for k, v in t.link_classes.items()},
        "malformed": dict(t.malformed),
        "macs": {
            mac_to_str(int(k[0])): tuple(c.tolist())
            for k, c in zip(snap.macs.keys, snap.macs.counts, strict=True)
        },
        "hosts": {
            ip_to_str(int(k[0]), int(k[1])): tuple(c.tolist())
            for k, c in zip(snap.hosts.keys, snap.hosts.counts, strict=True)
        },
    }
    d = snap.devices
    if d is not None:
        out["devices"] = {
            (int(d.kind[i]), int(d.key_hi[i]), int(d.key_lo[i])): tuple(
                int(d.columns[c][i]) for c in ("packets_up", "bytes_up", "packets_down", "bytes_down")
            )
            for i in range(len(d))
            if d.columns["packets_up"][i] or d.columns["packets_down"][i]
        }
    if snap.flows is not None:
        records, _labels = snap.flows.all()
        c = records.columns
        out["flow_packets"] = int(c["packets_ab"].sum() + c["packets_ba"].sum())
        out["flow_bytes"] = int(c["bytes_ab"].sum() + c["bytes_ba"].sum())
        out["flow_payload"] = int(c["payload_ab"].sum() + c["payload_ba"].sum())
    if snap.timeline is not None:
        for res in (60, 900, 3600):
            series = snap.timeline.total_bytes[res]
            packets = snap.timeline.total_packets[res]
            out[f"timeline_{res}"] = {
                float(series.start + i * res): (int(series.values[i]), int(packets.values[i]))
                for i in np.flatnonzero(series.values | packets.values).tolist()
            }
    if snap.metadata is not None:
        out["dns_names"] = {
            (s.name.lower(), s.qtype, s.kind): (s.queries, s.responses) for s in snap.metadata.dns.names
        }
    return out
