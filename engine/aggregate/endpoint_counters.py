"""Packets and bytes sent and received per MAC address and per IP address."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.aggregate.interning import GrowingCounters, KeyInterner
from engine.decode.packets import Packets

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

TX_PACKETS, TX_BYTES, RX_PACKETS, RX_BYTES = range(4)


@dataclass(frozen=True, slots=True)
class EndpointTable:
    """Counters per key: `keys` has one row per endpoint (1 column for MACs, 2 for addresses);
    `counts` columns are tx packets, tx bytes, rx packets, rx bytes."""

    keys: U64
    counts: I64

    def __len__(self) -> int:
        return int(self.counts.shape[0])


class _Endpoints:
    def __init__(self, width: int) -> None:
        self._interner = KeyInterner(width)
        self._counts = GrowingCounters(4)

    def _add(self, columns: tuple[U64, ...], wirelen: I64, packets_col: int) -> None:
        if not columns[0].size:
            return
        ids = self._interner.intern(*columns)
        self._counts.add(ids, packets_col)
        self._counts.add(ids, packets_col + 1, wirelen)

    def snapshot(self) -> EndpointTable:
        n = len(self._interner)
        return EndpointTable(keys=self._interner.keys.copy(), counts=self._counts.view(n).copy())


class MacCounters(_Endpoints):
    """Per MAC: frames whose link layer names it as sender (tx) or receiver (rx)."""

    def __init__(self) -> None:
        super().__init__(1)

    def ingest(self, p: Packets) -> None:
        src = p.has_src_mac
        self._add((p.src_mac[src],), p.wirelen[src], TX_PACKETS)
        dst = p.has_dst_mac
        self._add((p.dst_mac[dst],), p.wirelen[dst], RX_PACKETS)


class HostCounters(_Endpoints):
    """Per IP address (both families): every IP layer of a packet counts, so a tunnelled packet counts
    for its outer and its inner addresses."""

    def __init__(self) -> None:
        super().__init__(2)

    def ingest(self, p: Packets) -> None:
        ip = p.ip_version != 0
        src_hi, src_lo, dst_hi, dst_lo, wl = (
            p.src_hi[ip],
            p.src_lo[ip],
            p.dst_hi[ip],
            p.dst_lo[ip],
            p.wirelen[ip],
        )
        t = p.tunnels
        if t is not None:
            outer_wl = p.wirelen[t.rows]
            src_hi = np.concatenate([src_hi, t.src_hi])
            src_lo = np.concatenate([src_lo, t.src_lo])
            dst_hi = np.concatenate([dst_hi, t.dst_hi])
            dst_lo = np.concatenate([dst_lo, t.dst_lo])
            wl = np.concatenate([wl, outer_wl])
        self._add((src_hi, src_lo), wl, TX_PACKETS)
        self._add((dst_hi, dst_lo), wl, RX_PACKETS)
