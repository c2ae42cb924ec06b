"""The protocol breakdown: bytes, packets and flows per protocol label, encrypted/plaintext shares, and
IPv4/IPv6 shares. Frames that are not IP (ARP, EAPOL, LLDP, ...) count under link-level labels."""

from __future__ import annotations

from dataclasses import dataclass

from engine.analysis import AnalysisSnapshot
from engine.classify.protocol_labels import (
    LABELS,
    PROTECTION_NAMES,
    Label,
    label_protection,
)
from engine.decode.packets import ETH_ARP, ETH_IPV4, ETH_IPV6

_ETHER_LABELS = {ETH_ARP: Label.ARP, 0x888E: Label.EAPOL, 0x88CC: Label.LLDP}


@dataclass(frozen=True, slots=True)
class ProtocolView:
    label: int
    name: str
    protection: str  # encrypted, plaintext, unknown
    description: str
    packets: int
    bytes: int
    flows: int
    share: float  # of all bytes


@dataclass(frozen=True, slots=True)
class ProtocolBreakdown:
    protocols: list[ProtocolView]  # most bytes first
    protection_bytes: dict[str, int]  # encrypted / plaintext / unknown
    ip_version_bytes: dict[str, int]  # IPv4 / IPv6 / not IP
    total_bytes: int


def protocol_breakdown(snapshot: AnalysisSnapshot) -> ProtocolBreakdown:
    t = snapshot.totals
    counts: dict[int, list[int]] = {}
    if snapshot.flows is not None:
        s = snapshot.flows.summaries
        for label in range(len(s.label_bytes)):
            if s.label_packets[label]:
                counts[label] = [
                    int(s.label_packets[label]),
                    int(s.label_bytes[label]),
                    int(s.label_flows[label]),
                ]
    # frames that are not IP: by EtherType where there is one, else "other link layer"
    ip_packets = sum(c.packets for v, c in t.ip_versions.items() if v)
    ip_bytes = sum(c.bytes for v, c in t.ip_versions.items() if v)
    non_ip_packets, non_ip_bytes = t.packets - ip_packets, t.bytes - ip_bytes
    for ethertype, c in t.ethertypes.items():
        if ethertype in (ETH_IPV4, ETH_IPV6):
            continue
        label = int(_ETHER_LABELS.get(ethertype, Label.OTHER_LINK))
        entry = counts.setdefault(label, [0, 0, 0])
        entry[0] += c.packets
        entry[1] += c.bytes
        non_ip_packets -= c.packets
        non_ip_bytes -= c.bytes
    if non_ip_packets > 0:
        entry = counts.setdefault(int(Label.OTHER_LINK), [0, 0, 0])
        entry[0] += non_ip_packets
        entry[1] += non_ip_bytes
    total = max(t.bytes, 1)
    views = []
    for label, (packets, nbytes, flows) in counts.items():
        info = LABELS.get(Label(label)) if label in Label._value2member_map_ else None
        views.append(
            ProtocolView(
                label=label,
                name=info.name if info else f"label {label}",
                protection=PROTECTION_NAMES[label_protection(label)],
                description=info.description if info else "",
                packets=packets,
                bytes=nbytes,
                flows=flows,
                share=nbytes / total,
            )
        )
    views.sort(key=lambda v: (-v.bytes, v.name))
    protection = {name: 0 for name in PROTECTION_NAMES.values()}
    for v in views:
        protection[v.protection] += v.bytes
    versions = {
        "IPv4": t.ip_versions[4].bytes if 4 in t.ip_versions else 0,
        "IPv6": t.ip_versions[6].bytes if 6 in t.ip_versions else 0,
    }
    versions["not IP"] = t.bytes - versions["IPv4"] - versions["IPv6"]
    return ProtocolBreakdown(views, protection, versions, t.bytes)
