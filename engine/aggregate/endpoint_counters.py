"""Packets and bytes sent and received per MAC address and per IP address."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.aggregate.address_book import AddressBook, PacketAddresses
from engine.aggregate.interning import GrowingCounters, KeyInterner
from engine.decode.packets import Packets

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

TX_PACKETS, TX_BYTES, RX_PACKETS, RX_BYTES = range(4)


@dataclass(frozen=True, slots=True)
class EndpointTable:
    """Counters per key: `keys` has one row per endpoint (1 column for MACs, 2 (hi, lo) for addresses);
    `counts` columns are tx packets, tx bytes, rx packets, rx bytes."""

    keys: U64
    counts: I64

    def __len__(self) -> int:
        return int(self.counts.shape[0])


class MacCounters:
    """Per MAC: frames whose link layer names it as sender (tx) or receiver (rx)."""

    def __init__(self) -> None:
        self._interner = KeyInterner(1)
        self._counts = GrowingCounters(4)

    def _add(self, macs: U64, wirelen: I64, packets_col: int) -> None:
        if not macs.size:
            return
        ids = self._interner.intern(macs)
        self._counts.add(ids, packets_col)
        self._counts.add(ids, packets_col + 1, wirelen)

    def ingest(self, p: Packets) -> None:
        src = p.has_src_mac
        self._add(p.src_mac[src], p.wirelen[src], TX_PACKETS)
        dst = p.has_dst_mac
        self._add(p.dst_mac[dst], p.wirelen[dst], RX_PACKETS)

    def snapshot(self) -> EndpointTable:
        n = len(self._interner)
        return EndpointTable(keys=self._interner.keys.copy(), counts=self._counts.view(n).copy())


class HostCounters:
    """Per IP address (both families): every IP layer of a packet counts, so a tunnelled packet counts
    for its outer and its inner addresses."""

    def __init__(self) -> None:
        self._counts = GrowingCounters(4)

    def ingest(self, p: Packets, addrs: PacketAddresses) -> None:
        ip = addrs.src >= 0
        wl = p.wirelen[ip]
        src, dst = addrs.src[ip], addrs.dst[ip]
        if addrs.tunnel_rows.size:
            outer_wl = p.wirelen[addrs.tunnel_rows]
            src = np.concatenate([src, addrs.tunnel_src])
            dst = np.concatenate([dst, addrs.tunnel_dst])
            wl = np.concatenate([wl, outer_wl])
        if not src.size:
            return
        self._counts.add(src, TX_PACKETS)
        self._counts.add(src, TX_BYTES, wl)
        self._counts.add(dst, RX_PACKETS)
        self._counts.add(dst, RX_BYTES, wl)

    def snapshot(self, book: AddressBook) -> EndpointTable:
        n = len(book)
        counts = self._counts.view(n).copy()
        keys = np.stack([book.hi, book.lo], axis=1) if n else np.zeros((0, 2), dtype=np.uint64)
        seen = counts.any(axis=1)
        return EndpointTable(keys=keys[seen], counts=counts[seen])
