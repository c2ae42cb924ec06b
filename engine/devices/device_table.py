"""Devices on the home network, and which device sent and received each packet.

A device is keyed by its MAC address where the link type has one, otherwise by its local IP address (raw
IP captures). Every address a device sends from is remembered, so one phone with an IPv4 address, a
link-local and three IPv6 privacy addresses is one device. The router is recognised as the MAC behind
which internet addresses appear: it forwards other hosts' traffic, so the internet addresses it sends
from are not its own. It shows by an internet address talking with a local one through it (NAT), or by the
internet addresses it sends from spanning several prefixes.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.aggregate.address_book import AddressBook, PacketAddresses
from engine.aggregate.column_table import ColumnTable
from engine.aggregate.interning import KeyInterner
from engine.decode.packets import Packets
from engine.scope_table import AddressScope

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
# scopes of addresses that cannot belong to one device, as a lookup table by scope value
_NOT_UNICAST = np.zeros(256, dtype=bool)
_NOT_UNICAST[
    [
        AddressScope.UNSPECIFIED,
        AddressScope.MULTICAST_LINK,
        AddressScope.MULTICAST_SITE_ORG,
        AddressScope.MULTICAST_GLOBAL,
        AddressScope.BROADCAST,
    ]
] = True
# scopes of addresses that are local when they are not internet (global ones then lie in a home prefix)
_MAYBE_LOCAL = np.zeros(256, dtype=bool)
_MAYBE_LOCAL[
    [AddressScope.PRIVATE, AddressScope.LINK_LOCAL, AddressScope.ULA, AddressScope.CGNAT, AddressScope.GLOBAL]
] = True

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
    "forwards": (np.bool_, False),  # an internet address talked with a local one through this MAC
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
    """All devices as columns (kind, hi, lo keys and DEVICE_COLUMNS), plus the addresses they sent from
    (device id, address id, ADDRESS_COLUMNS)."""

    kind: U64
    key_hi: U64
    key_lo: U64
    columns: dict[str, npt.NDArray[Any]]
    address_device: I64
    address_id: I64
    address_columns: dict[str, npt.NDArray[Any]]

    def __len__(self) -> int:
        return int(self.kind.shape[0])


class DeviceTable:
    def __init__(self, book: AddressBook) -> None:
        self.book = book
        self._devices = KeyInterner(3, capacity=256)
        self.cols = ColumnTable(DEVICE_COLUMNS, capacity=256)
        self._addresses = KeyInterner(2, capacity=1024)  # (device id, address id)
        self.address_cols = ColumnTable(ADDRESS_COLUMNS)
        # the device that sends from each local address (by address id), for link types that name only
        # the sender (Linux cooked capture) and for looking devices up by address
        self._owner = np.full(1024, -1, dtype=np.int64)
        self._batches = 0
        self._tried: set[ipaddress.IPv6Network] = set()  # /64 prefixes already offered to the home network

    def __len__(self) -> int:
        return len(self._devices)

    def device_for_mac(self, mac: int) -> int:
        """The id of the device with this MAC (created if new)."""
        ids = self._devices.intern(
            np.array([KIND_MAC], dtype=np.uint64), np.zeros(1, np.uint64), np.array([mac], dtype=np.uint64)
        )
        self.cols.ensure(len(self._devices))
        return int(ids[0])

    def owners(self, address_ids: I64) -> I64:
        """The device that sends from each address id, or -1."""
        self._ensure_owner(len(self.book))
        result: I64 = np.where(address_ids >= 0, self._owner[np.maximum(address_ids, 0)], -1)
        return result

    def not_forwarded(self, devices: I64, internet: Mask) -> I64:
        """Per packet side: its device id, or -1 where that device is a router and the address an internet
        one (the router forwards that host's packets; the host is not the router)."""
        c = self.cols
        routers = c["router"] | c["forwards"]
        forwarded = (devices >= 0) & internet & routers[np.maximum(devices, 0)]
        result: I64 = np.where(forwarded, -1, devices)
        return result

    def _ensure_owner(self, size: int) -> None:
        if size > self._owner.shape[0]:
            grown = np.full(max(size, self._owner.shape[0] * 2), -1, dtype=np.int64)
            grown[: self._owner.shape[0]] = self._owner
            self._owner = grown

    def ingest(self, p: Packets, addrs: PacketAddresses) -> DeviceAssignment:
        n = len(p)
        book = self.book
        has_src_ip = addrs.src >= 0
        src_id = np.maximum(addrs.src, 0)
        dst_id = np.maximum(addrs.dst, 0)
        src_internet = book.internet_of(addrs.src)
        dst_internet = book.internet_of(addrs.dst)
        src_unicast = has_src_ip & ~_NOT_UNICAST[book.scope_of(addrs.src)]
        dst_unicast = has_src_ip & ~_NOT_UNICAST[book.scope_of(addrs.dst)]
        src = np.full(n, -1, dtype=np.int64)
        dst = np.full(n, -1, dtype=np.int64)
        mac_src = p.has_src_mac & ((p.src_mac & _GROUP_BIT) == 0) & (p.src_mac != 0)
        mac_dst = p.has_dst_mac & ((p.dst_mac & _GROUP_BIT) == 0) & (p.dst_mac != 0)
        for sel, macs, out in ((mac_src, p.src_mac, src), (mac_dst, p.dst_mac, dst)):
            rows = np.flatnonzero(sel)
            if rows.size:
                kind = np.full(rows.size, KIND_MAC, dtype=np.uint64)
                out[rows] = self._devices.intern(kind, np.zeros(rows.size, dtype=np.uint64), macs[rows])
        # Packets whose link type names no MAC: the local IP address stands for the device.
        no_macs = ~p.has_src_mac & ~p.has_dst_mac & has_src_ip
        self._by_ip(no_macs & ~src_internet & src_unicast, src_id, src)
        self._by_ip(no_macs & ~dst_internet & dst_unicast, dst_id, dst)
        self.cols.ensure(len(self._devices))
        # An internet address talking with a local one (behind NAT) comes through the router's MAC
        src_local = has_src_ip & ~src_internet & _MAYBE_LOCAL[book.scope_of(addrs.src)]
        dst_local = has_src_ip & ~dst_internet & _MAYBE_LOCAL[book.scope_of(addrs.dst)]
        for devs, forwarded in ((src, src_internet & dst_local), (dst, dst_internet & src_local)):
            rows = np.flatnonzero(forwarded & (devs >= 0))
            if rows.size:
                self.cols["forwards"][devs[rows]] = True
        # Addresses are remembered, and home prefixes learnt from them, before the batch is counted: a
        # phone's traffic to the NAS over their global IPv6 addresses is LAN traffic from the first packet.
        self._remember_addresses(p, src, addrs.src, src_unicast)
        self._batches += 1
        if self._batches % _RELEARN_EVERY == 1:
            self.relearn()
            src_internet = book.internet_of(addrs.src)
            dst_internet = book.internet_of(addrs.dst)
        self._set_owners(src, addrs.src, src_unicast & ~src_internet)
        # Link types that name only the sender (Linux cooked capture): find the receiver by its address,
        # also when it first sends later in the same batch.
        only_src = p.has_src_mac & ~p.has_dst_mac & ~dst_internet & dst_unicast
        if only_src.any():
            rows = np.flatnonzero(only_src)
            dst[rows] = self.owners(addrs.dst[rows])
        self._count(p, src, dst, src_internet, dst_internet)
        return DeviceAssignment(src, dst, src_internet, dst_internet)

    def _by_ip(self, sel: Mask, address_ids: I64, out: I64) -> None:
        rows = np.flatnonzero(sel)
        if rows.size:
            ids = address_ids[rows]
            kind = np.full(rows.size, KIND_IP, dtype=np.uint64)
            out[rows] = self._devices.intern(kind, self.book.hi[ids], self.book.lo[ids])

    def _count(self, p: Packets, src: I64, dst: I64, src_inet: Mask, dst_inet: Mask) -> None:
        c = self.cols
        wl = p.wirelen
        finite = np.isfinite(p.ts)
        ts_lo = np.where(finite, p.ts, np.inf)
        ts_hi = np.where(finite, p.ts, -np.inf)
        for devs, side, inet in ((src, "up", dst_inet), (dst, "down", src_inet)):
            rows = np.flatnonzero(devs >= 0)
            if not rows.size:
                continue
            d = devs[rows]
            np.add.at(c[f"packets_{side}"], d, 1)
            np.add.at(c[f"bytes_{side}"], d, wl[rows])
            i = inet[rows]
            np.add.at(c[f"internet_packets_{side}"], d[i], 1)
            np.add.at(c[f"internet_bytes_{side}"], d[i], wl[rows][i])
            np.minimum.at(c["first_ts"], d, ts_lo[rows])
            np.maximum.at(c["last_ts"], d, ts_hi[rows])

    def _remember_addresses(self, p: Packets, src: I64, src_addr: I64, unicast: Mask) -> None:
        rows = np.flatnonzero((src >= 0) & unicast)
        if not rows.size:
            return
        ids = self._addresses.intern(src[rows].astype(np.uint64), src_addr[rows].astype(np.uint64))
        a = self.address_cols
        a.ensure(len(self._addresses))
        np.add.at(a["packets"], ids, 1)
        ts = p.ts[rows]
        finite = np.isfinite(ts)
        np.minimum.at(a["first_ts"], ids, np.where(finite, ts, np.inf))
        np.maximum.at(a["last_ts"], ids, np.where(finite, ts, -np.inf))

    def _set_owners(self, src: I64, src_addr: I64, local_unicast: Mask) -> None:
        """Local addresses point back to the device sending from them (internet ones may be a router
        forwarding)."""
        rows = np.flatnonzero((src >= 0) & local_unicast)
        if rows.size:
            self._ensure_owner(len(self.book))
            self._owner[src_addr[rows]] = src[rows]

    def relearn(self) -> None:
        """Re-decide which devices are routers, and learn home prefixes from the other devices' global
        IPv6 addresses (each device's /64)."""
        size = len(self._addresses)
        if not size:
            return
        keys = self._addresses.keys
        dev = keys[:, 0].astype(np.int64)
        addr = keys[:, 1].astype(np.int64)
        hi, lo = self.book.hi[addr], self.book.lo[addr]
        glob = self.book.scope[addr] == AddressScope.GLOBAL
        is_v4 = (hi == 0) & ((lo >> np.uint64(32)) == np.uint64(0xFFFF))
        prefix = np.where(is_v4, lo >> np.uint64(16), hi >> np.uint64(32))
        self.cols.ensure(len(self._devices))
        routers = self.cols["forwards"][: len(self._devices)].copy()
        if glob.any():
            pairs = np.unique(np.stack([dev[glob].astype(np.uint64), prefix[glob]], axis=1), axis=0)
            per_device = np.bincount(pairs[:, 0].astype(np.int64), minlength=len(self._devices))
            routers |= per_device >= ROUTER_PREFIXES
        self.cols["router"][: len(self._devices)] = routers
        # a non-router device's global IPv6 address lies in a home prefix
        mine = glob & ~is_v4 & ~routers[dev]
        for h in np.unique(hi[mine]).tolist():
            net = ipaddress.IPv6Network((int(h) << 64, 64))
            if net in self._tried:
                continue
            self._tried.add(net)
            try:
                self.book.home.learn_prefix(str(net), source="device address")
            except ValueError:
                continue  # not a possible home prefix (e.g. documentation space): it stays internet

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
            address_id=akeys[:, 1].astype(np.int64),
            address_columns=self.address_cols.rows(len(self._addresses)),
        )
