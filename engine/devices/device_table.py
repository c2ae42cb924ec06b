"""Devices on the home network, and which device sent and received each packet.

A device is keyed by its MAC address where the link type has one, otherwise by its local IP address (raw
IP captures). Every address a device sends from is remembered, so one phone with an IPv4 address, a
link-local and three IPv6 privacy addresses is one device. The router is recognised as the MAC behind
which internet addresses appear: it forwards other hosts' traffic, so the internet addresses it sends
from are not its own.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.address_scope import AddressScope, HomeNetwork, classify
from engine.aggregate.column_table import ColumnTable
from engine.aggregate.interning import KeyInterner
from engine.decode.packets import Packets

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
Mask = npt.NDArray[np.bool_]

KIND_MAC = 1
KIND_IP = 2
_GROUP_BIT = np.uint64(1 << 40)  # I/G bit of the first octet: multicast and broadcast MACs
# A MAC that sends from internet addresses in at least this many different /16 (IPv4) or /32 (IPv6)
# prefixes is forwarding traffic: a router, not a device talking.
ROUTER_PREFIXES = 3
_RELEARN_EVERY = 16  # batches between re-deciding routers and learnt home prefixes

DEVICE_COLUMNS: dict[str, tuple[Any, Any]] = {
    "first_ts": (np.float64, np.inf),
    "last_ts": (np.float64, -np.inf),
    "packets_up": (np.int64, 0),
    "bytes_up": (np.int64, 0),
    "packets_down": (np.int64, 0),
    "bytes_down": (np.int64, 0),
    "internet_packets_up": (np.int64, 0),
    "internet_bytes_up": (np.int64, 0),
    "internet_packets_down": (np.int64, 0),
    "internet_bytes_down": (np.int64, 0),
    "router": (np.bool_, False),
}

ADDRESS_COLUMNS: dict[str, tuple[Any, Any]] = {
    "first_ts": (np.float64, np.inf),
    "last_ts": (np.float64, -np.inf),
    "packets": (np.int64, 0),
}


@dataclass(frozen=True, slots=True)
class DeviceAssignment:
    """Per packet of a batch: the sending and receiving device ids (-1: none) and whether each side's
    IP address is on the internet."""

    src: I64
    dst: I64
    src_internet: Mask
    dst_internet: Mask


@dataclass(frozen=True, slots=True)
class DeviceRecords:
    """All devices as columns (kind, hi, lo keys and DEVICE_COLUMNS), plus the addresses they used."""

    kind: npt.NDArray[np.uint64]
    key_hi: U64
    key_lo: U64
    columns: dict[str, npt.NDArray[Any]]
    address_device: I64
    address_hi: U64
    address_lo: U64
    address_columns: dict[str, npt.NDArray[Any]]

    def __len__(self) -> int:
        return int(self.kind.shape[0])


def _first_last(ts: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    finite = np.isfinite(ts)
    return np.where(finite, ts, np.inf), np.where(finite, ts, -np.inf)


class DeviceTable:
    def __init__(self, home: HomeNetwork) -> None:
        self.home = home
        self._devices = KeyInterner(3, capacity=256)
        self.cols = ColumnTable(DEVICE_COLUMNS, capacity=256)
        self._addresses = KeyInterner(3, capacity=1024)  # (device, address hi, address lo)
        self.address_cols = ColumnTable(ADDRESS_COLUMNS)
        # the device that owns each local address, for link types that name only the sender (SLL)
        self._owner_keys = KeyInterner(2, capacity=1024)
        self._owner = np.full(1024, -1, dtype=np.int64)
        self._batches = 0
        self._rejected: set[ipaddress.IPv6Network] = set()

    def __len__(self) -> int:
        return len(self._devices)

    def device_for_mac(self, mac: int) -> int:
        """The id of the device with this MAC (created if new)."""
        ids = self._devices.intern(
            np.array([KIND_MAC], dtype=np.uint64), np.zeros(1, np.uint64), np.array([mac], dtype=np.uint64)
        )
        self.cols.ensure(len(self._devices))
        return int(ids[0])

    def device_for_ip(self, hi: int, lo: int) -> int:
        """The device that uses this local address, or -1 when none is known."""
        key = (np.array([hi], dtype=np.uint64), np.array([lo], dtype=np.uint64))
        before = len(self._owner_keys)
        idx = self._owner_keys.intern(*key)
        if len(self._owner_keys) > before:
            self._ensure_owner(len(self._owner_keys))
        return int(self._owner[idx[0]])

    def _ensure_owner(self, size: int) -> None:
        if size > self._owner.shape[0]:
            grown = np.full(max(size, self._owner.shape[0] * 2), -1, dtype=np.int64)
            grown[: self._owner.shape[0]] = self._owner
            self._owner = grown

    def ingest(self, p: Packets) -> DeviceAssignment:
        n = len(p)
        is_ip = p.ip_version != 0
        src_internet = is_ip & self.home.is_internet(p.src_hi, p.src_lo)
        dst_internet = is_ip & self.home.is_internet(p.dst_hi, p.dst_lo)
        src = np.full(n, -1, dtype=np.int64)
        dst = np.full(n, -1, dtype=np.int64)
        mac_src = p.has_src_mac & ((p.src_mac & _GROUP_BIT) == 0) & (p.src_mac != 0)
        mac_dst = p.has_dst_mac & ((p.dst_mac & _GROUP_BIT) == 0) & (p.dst_mac != 0)
        zeros = np.zeros(n, dtype=np.uint64)
        kind_mac = np.full(n, KIND_MAC, dtype=np.uint64)
        for sel, macs, out in ((mac_src, p.src_mac, src), (mac_dst, p.dst_mac, dst)):
            rows = np.flatnonzero(sel)
            if rows.size:
                out[rows] = self._devices.intern(kind_mac[rows], zeros[rows], macs[rows])
        # Packets whose link type names no MAC: the local IP address stands for the device.
        src_scope = classify(p.src_hi, p.src_lo)
        dst_scope = classify(p.dst_hi, p.dst_lo)
        has_no_macs = ~p.has_src_mac & ~p.has_dst_mac & is_ip
        self._by_ip(has_no_macs & ~src_internet & _unicast(src_scope), p.src_hi, p.src_lo, src)
        self._by_ip(has_no_macs & ~dst_internet & _unicast(dst_scope), p.dst_hi, p.dst_lo, dst)
        # Link types that name only the sender (Linux cooked capture): find the receiver by its address.
        only_src = p.has_src_mac & ~p.has_dst_mac & is_ip & ~dst_internet & _unicast(dst_scope)
        if only_src.any():
            rows = np.flatnonzero(only_src)
            dst[rows] = self._owners(p.dst_hi[rows], p.dst_lo[rows])
        self.cols.ensure(len(self._devices))
        self._count(p, src, dst, src_internet, dst_internet)
        self._remember_addresses(p, src, is_ip & _unicast(src_scope), src_internet)
        self._batches += 1
        if self._batches % _RELEARN_EVERY == 1:
            self.relearn()
        return DeviceAssignment(src, dst, src_internet, dst_internet)

    def _by_ip(self, sel: Mask, hi: U64, lo: U64, out: I64) -> None:
        rows = np.flatnonzero(sel)
        if rows.size:
            kind = np.full(rows.size, KIND_IP, dtype=np.uint64)
            out[rows] = self._devices.intern(kind, hi[rows], lo[rows])

    def _owners(self, hi: U64, lo: U64) -> I64:
        before = len(self._owner_keys)
        idx = self._owner_keys.intern(hi, lo)
        self._ensure_owner(len(self._owner_keys))
        if len(self._owner_keys) > before:
            self._owner[before : len(self._owner_keys)] = -1
        result: I64 = self._owner[idx]
        return result

    def _count(self, p: Packets, src: I64, dst: I64, src_inet: Mask, dst_inet: Mask) -> None:
        c = self.cols
        lo_ts, hi_ts = _first_last(p.ts)
        wl = p.wirelen
        size = len(self._devices)
        for devs, side, inet in ((src, "up", dst_inet), (dst, "down", src_inet)):
            rows = np.flatnonzero(devs >= 0)
            if not rows.size:
                continue
            d = devs[rows]
            c[f"packets_{side}"][:size] += np.bincount(d, minlength=size)
            c[f"bytes_{side}"][:size] += np.bincount(d, weights=wl[rows], minlength=size).astype(np.int64)
            i = inet[rows]
            c[f"internet_packets_{side}"][:size] += np.bincount(d[i], minlength=size)
            c[f"internet_bytes_{side}"][:size] += np.bincount(
                d[i], weights=wl[rows][i], minlength=size
            ).astype(np.int64)
            np.minimum.at(c["first_ts"], d, lo_ts[rows])
            np.maximum.at(c["last_ts"], d, hi_ts[rows])

    def _remember_addresses(self, p: Packets, src: I64, unicast: Mask, src_internet: Mask) -> None:
        rows = np.flatnonzero((src >= 0) & unicast)
        if not rows.size:
            return
        d = src[rows].astype(np.uint64)
        ids = self._addresses.intern(d, p.src_hi[rows], p.src_lo[rows])
        a = self.address_cols
        a.ensure(len(self._addresses))
        size = len(self._addresses)
        a["packets"][:size] += np.bincount(ids, minlength=size)
        lo_ts, hi_ts = _first_last(p.ts[rows])
        np.minimum.at(a["first_ts"], ids, lo_ts)
        np.maximum.at(a["last_ts"], ids, hi_ts)
        # local addresses point back to their device (internet ones may be a router forwarding)
        local = ~src_internet[rows]
        if local.any():
            owner_idx = self._owner_keys.intern(p.src_hi[rows][local], p.src_lo[rows][local])
            self._ensure_owner(len(self._owner_keys))
            self._owner[owner_idx] = src[rows][local]

    def relearn(self) -> None:
        """Re-decide which devices are routers, and learn home prefixes from the other devices' global
        IPv6 addresses (each device's /64)."""
        size = len(self._addresses)
        if not size:
            return
        keys = self._addresses.keys
        dev = keys[:, 0].astype(np.int64)
        hi, lo = keys[:, 1], keys[:, 2]
        scope = classify(hi, lo)
        glob = scope == AddressScope.GLOBAL
        is_v4 = (hi == 0) & ((lo >> np.uint64(32)) == np.uint64(0xFFFF))
        prefix = np.where(is_v4, lo >> np.uint64(16), hi >> np.uint64(32))
        routers = np.zeros(len(self._devices), dtype=bool)
        if glob.any():
            pairs = np.unique(np.stack([dev[glob].astype(np.uint64), prefix[glob]], axis=1), axis=0)
            per_device = np.bincount(pairs[:, 0].astype(np.int64), minlength=len(self._devices))
            routers = per_device >= ROUTER_PREFIXES
        self.cols.ensure(len(self._devices))
        self.cols["router"][: len(self._devices)] = routers
        # a non-router device's global IPv6 address lies in a home prefix
        mine = glob & ~is_v4 & ~routers[dev]
        for h in np.unique(hi[mine]).tolist():
            net = ipaddress.IPv6Network((int(h) << 64, 64))
            if net in self._rejected:
                continue
            try:
                self.home.learn_prefix(str(net), source="device address")
            except ValueError:
                # not a possible home prefix (e.g. documentation space): keep treating it as internet
                self._rejected.add(net)

    def snapshot(self) -> DeviceRecords:
        self.relearn()
        size = len(self._devices)
        keys = self._devices.keys
        akeys = self._addresses.keys
        return DeviceRecords(
            kind=keys[:, 0].copy(),
            key_hi=keys[:, 1].copy(),
            key_lo=keys[:, 2].copy(),
            columns=self.cols.rows(size),
            address_device=akeys[:, 0].astype(np.int64),
            address_hi=akeys[:, 1].copy(),
            address_lo=akeys[:, 2].copy(),
            address_columns=self.address_cols.rows(len(self._addresses)),
        )


def _unicast(scope: npt.NDArray[np.uint8]) -> Mask:
    """Addresses that can belong to one device: not multicast, broadcast or unspecified."""
    result: Mask = ~np.isin(
        scope,
        [
            AddressScope.UNSPECIFIED,
            AddressScope.MULTICAST_LINK,
            AddressScope.MULTICAST_SITE_ORG,
            AddressScope.MULTICAST_GLOBAL,
            AddressScope.BROADCAST,
        ],
    )
    return result
