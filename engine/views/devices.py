"""Devices as people want to read them: a name, a vendor, addresses, traffic up and down, and what they
talk to. Built from an analysis snapshot; shared by the report, the DataFrames and the TUI."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.analysis import AnalysisSnapshot
from engine.classify.protocol_labels import label_name
from engine.decode.packets import ip_to_str, mac_to_str
from engine.devices.device_table import KIND_MAC
from engine.labels import Labels
from engine.mac_vendor import is_locally_administered, vendor_of


@dataclass(frozen=True, slots=True)
class DeviceView:
    id: int
    key: str  # the MAC, or the IP address for devices seen without one
    mac: str | None
    name: str  # what to call it: the user's label, an announced name, else vendor and MAC tail
    label: str | None  # the user's label, if any
    hostname: str | None  # the best name the device announced
    names: tuple[tuple[str, str, str | None], ...]  # (name, source, detail), best first
    vendor: str | None
    randomized_mac: bool  # locally administered MAC (phones use random ones per network)
    router: bool  # forwards internet traffic: the home router, not a device talking
    ipv4: tuple[str, ...]
    ipv6: tuple[str, ...]
    first_ts: float | None
    last_ts: float | None
    packets_up: int
    bytes_up: int
    packets_down: int
    bytes_down: int
    internet_bytes_up: int
    internet_bytes_down: int
    lan_bytes_up: int
    lan_bytes_down: int
    traits: dict[str, tuple[str, ...]] = field(default_factory=dict)  # vendor class, user agents, model...
    protocols: tuple[tuple[str, int], ...] = ()  # (label name, bytes), largest first
    internet_peers: int = 0  # distinct internet addresses it exchanged traffic with

    @property
    def bytes_total(self) -> int:
        return self.bytes_up + self.bytes_down

    @property
    def addresses(self) -> tuple[str, ...]:
        return self.ipv4 + self.ipv6


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def device_views(snapshot: AnalysisSnapshot, labels: Labels | None = None) -> list[DeviceView]:
    """Every device of the snapshot, most traffic first."""
    d = snapshot.devices
    if d is None or snapshot.book is None:
        return []
    book = snapshot.book
    meta = snapshot.metadata
    names = meta.device_names if meta is not None else None
    cols = d.columns
    # addresses per device, most used first
    addresses: dict[int, list[tuple[int, str]]] = {}
    order = np.argsort(-d.address_columns["packets"], kind="stable")
    internet = book.internet
    routers = d.columns["router"]
    for i in order.tolist():
        dev, addr = int(d.address_device[i]), int(d.address_id[i])
        if routers[dev] and internet[addr]:
            continue  # a router sends internet hosts' packets on: those addresses are not its own
        addresses.setdefault(dev, []).append((int(d.address_columns["packets"][i]), book.text(addr)))
    protocols: dict[int, list[tuple[str, int]]] = {}
    peers: dict[int, int] = {}
    if snapshot.flows is not None:
        dl = snapshot.flows.summaries.device_labels
        for (dev, lab), nbytes in zip(dl.keys.tolist(), dl.columns["bytes"].tolist(), strict=True):
            protocols.setdefault(int(dev), []).append((label_name(int(lab)), int(nbytes)))
        dp = snapshot.flows.summaries.device_peers
        inet = dp.columns["internet"]
        if len(dp):
            counts = np.bincount(dp.keys[:, 0].astype(np.int64)[inet], minlength=len(d))
            peers = {i: int(c) for i, c in enumerate(counts.tolist()) if c}
    views = []
    for i in range(len(d)):
        kind = int(d.kind[i])
        key_hi, key_lo = int(d.key_hi[i]), int(d.key_lo[i])
        mac = mac_to_str(key_lo) if kind == KIND_MAC else None
        key = mac if mac is not None else ip_to_str(key_hi, key_lo)
        addrs = [a for _, a in addresses.get(i, [])]
        ipv4 = tuple(a for a in addrs if ":" not in a)
        ipv6 = tuple(a for a in addrs if ":" in a)
        dev_names = names.names.get(i, []) if names is not None else []
        hostname = dev_names[0].name if dev_names else None
        host_names = [
            n.name for n in dev_names if n.source in ("dhcp-hostname", "mdns-host", "dhcp-fqdn", "nbns")
        ]
        label_match = labels.label_for(mac, addrs, host_names) if labels is not None else None
        label = label_match.label if label_match is not None else None
        vendor = vendor_of(key_lo) if mac is not None else None
        randomized = mac is not None and is_locally_administered(key_lo)
        up, down = int(cols["bytes_up"][i]), int(cols["bytes_down"][i])
        iup, idown = int(cols["internet_bytes_up"][i]), int(cols["internet_bytes_down"][i])
        name = label or hostname or _fallback_name(mac, vendor, randomized, key)
        views.append(
            DeviceView(
                id=i,
                key=key,
                mac=mac,
                name=name,
                label=label,
                hostname=hostname,
                names=tuple((n.name, n.source, n.detail) for n in dev_names),
                vendor=vendor,
                randomized_mac=randomized,
                router=bool(cols["router"][i]),
                ipv4=ipv4,
                ipv6=ipv6,
                first_ts=_finite(cols["first_ts"][i]),
                last_ts=_finite(cols["last_ts"][i]),
                packets_up=int(cols["packets_up"][i]),
                bytes_up=up,
                packets_down=int(cols["packets_down"][i]),
                bytes_down=down,
                internet_bytes_up=iup,
                internet_bytes_down=idown,
                lan_bytes_up=up - iup,
                lan_bytes_down=down - idown,
                traits={
                    k: tuple(v) for k, v in (names.traits.get(i, {}) if names is not None else {}).items()
                },
                protocols=tuple(sorted(protocols.get(i, []), key=lambda x: -x[1])),
                internet_peers=peers.get(i, 0),
            )
        )
    views.sort(key=lambda v: (-v.bytes_total, v.key))
    return views


def _fallback_name(mac: str | None, vendor: str | None, randomized: bool, key: str) -> str:
    if mac is None:
        return key
    tail = mac[-8:]
    if vendor:
        return f"{vendor.split(',')[0].split(' ')[0]} {tail}"
    if randomized:
        return f"private MAC {tail}"
    return mac
