"""Every IP address seen, with a dense id, its scope and whether it is on the internet.

Packets carry few distinct addresses, so classifying each distinct address once and then gathering per
packet is much cheaper than classifying every packet. The internet flags are recomputed when the home
network learns a prefix. Hosts, devices and flows all work on these ids.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.aggregate.interning import KeyInterner
from engine.decode.packets import Packets, ip_to_str
from engine.home_network import HomeNetwork
from engine.scope_table import address_halves, classify

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class PacketAddresses:
    """Per packet of a batch: address ids of source and destination (-1 for non-IP packets), and the
    outer addresses of tunnelled packets (rows, source id, destination id)."""

    src: I64
    dst: I64
    tunnel_rows: I64
    tunnel_src: I64
    tunnel_dst: I64


class AddressBook:
    def __init__(self, home: HomeNetwork) -> None:
        self.home = home
        self._keys = KeyInterner(2, capacity=4096)
        self._scope = np.zeros(4096, dtype=np.uint8)
        self._internet = np.zeros(4096, dtype=bool)
        self._home_version = home.version
        self._text: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def hi(self) -> U64:
        return self._keys.column(0)

    @property
    def lo(self) -> U64:
        return self._keys.column(1)

    @property
    def scope(self) -> npt.NDArray[np.uint8]:
        return self._scope[: len(self._keys)]

    @property
    def internet(self) -> Mask:
        """Per address id: reached through the router (see HomeNetwork.is_internet)."""
        if self.home.version != self._home_version:
            self._refresh()
        return self._internet[: len(self._keys)]

    def internet_of(self, ids: I64) -> Mask:
        """Per address id (-1 for none): on the internet."""
        if self.home.version != self._home_version:
            self._refresh()
        result: Mask = np.where(ids >= 0, self._internet[np.maximum(ids, 0)], False)
        return result

    def scope_of(self, ids: I64) -> npt.NDArray[np.uint8]:
        """Per address id (-1 for none): its AddressScope (0 for none)."""
        scope = np.where(ids >= 0, self._scope[np.maximum(ids, 0)], 0)
        result: npt.NDArray[np.uint8] = scope.astype(np.uint8)
        return result

    def text(self, address_id: int) -> str:
        """The address in its usual text form (cached: views ask for the same addresses again and again)."""
        found = self._text.get(address_id)
        if found is None:
            found = ip_to_str(int(self.hi[address_id]), int(self.lo[address_id]))
            self._text[address_id] = found
        return found

    def id_of(self, text: str) -> int:
        """The id of an address given as text (added to the book if new)."""
        hi, lo = address_halves(text)
        return int(self.ids(np.array([hi], dtype=np.uint64), np.array([lo], dtype=np.uint64))[0])

    def ids(self, hi: U64, lo: U64) -> I64:
        before = len(self._keys)
        ids = self._keys.intern(hi, lo)
        after = len(self._keys)
        if after > before:
            self._classify(before, after)
        return ids

    def _classify(self, start: int, end: int) -> None:
        if end > self._scope.shape[0]:
            size = max(end, self._scope.shape[0] * 2)
            self._scope = np.resize(self._scope, size)
            self._internet = np.resize(self._internet, size)
        hi, lo = self._keys.keys[start:end, 0], self._keys.keys[start:end, 1]
        scope = classify(hi, lo)
        self._scope[start:end] = scope
        self._internet[start:end] = self.home.internet_with_scope(hi, lo, scope)

    def _refresh(self) -> None:
        self._home_version = self.home.version
        n = len(self._keys)
        self._internet[:n] = self.home.internet_with_scope(self.hi, self.lo, self._scope[:n])

    def ingest(self, p: Packets) -> PacketAddresses:
        n = len(p)
        src = np.full(n, -1, dtype=np.int64)
        dst = np.full(n, -1, dtype=np.int64)
        ip = np.flatnonzero(p.ip_version != 0)
        if ip.size:
            both = self.ids(
                np.concatenate([p.src_hi[ip], p.dst_hi[ip]]), np.concatenate([p.src_lo[ip], p.dst_lo[ip]])
            )
            src[ip] = both[: ip.size]
            dst[ip] = both[ip.size :]
        t = p.tunnels
        if t is None:
            empty = np.zeros(0, dtype=np.int64)
            return PacketAddresses(src, dst, empty, empty, empty)
        outer = self.ids(np.concatenate([t.src_hi, t.dst_hi]), np.concatenate([t.src_lo, t.dst_lo]))
        k = t.rows.size
        return PacketAddresses(src, dst, t.rows, outer[:k], outer[k:])
