"""Whole-capture counters: totals, EtherTypes, link-level kinds, IP protocols, malformed packets."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.decode.decoder import TS_MAX, TS_MIN
from engine.decode.packets import Packets

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class CountPair:
    packets: int
    bytes: int


@dataclass(frozen=True, slots=True)
class TrafficTotalsSnapshot:
    packets: int
    bytes: int
    captured_bytes: int
    first_ts: float | None  # earliest plausible timestamp (see engine.decode.decoder.TS_MIN/TS_MAX)
    last_ts: float | None
    untimed_packets: int  # packets without a timestamp or with one out of range
    snaplen_cut_packets: int
    ethertypes: dict[int, CountPair]
    link_classes: dict[int, CountPair]
    ip_protocols: dict[int, CountPair]
    ip_versions: dict[int, CountPair]
    malformed: dict[int, int]


def _bins(values: npt.NDArray[np.integer], weights: I64, size: int) -> tuple[I64, I64]:
    v = values.astype(np.intp, copy=False)
    packets = np.bincount(v, minlength=size).astype(np.int64)
    data = np.bincount(v, weights=weights.astype(np.float64), minlength=size).astype(np.int64)
    return packets, data


class TrafficTotals:
    """Counts every packet once, whatever its link type or damage."""

    def __init__(self) -> None:
        self.packets = 0
        self.bytes = 0
        self.captured_bytes = 0
        self.first_ts = math.inf
        self.last_ts = -math.inf
        self.untimed = 0
        self.snaplen_cut = 0
        self._ethertype = np.zeros((2, 1 << 16), dtype=np.int64)
        self._link_class = np.zeros((2, 16), dtype=np.int64)
        self._ip_proto = np.zeros((2, 256), dtype=np.int64)
        self._ip_version = np.zeros((2, 16), dtype=np.int64)
        self._malformed = np.zeros(256, dtype=np.int64)

    def ingest(self, p: Packets) -> None:
        n = len(p)
        if not n:
            return
        self.packets += n
        self.bytes += int(p.wirelen.sum())
        self.captured_bytes += int(p.caplen.sum())
        timed = (p.ts >= TS_MIN) & (p.ts < TS_MAX)
        n_timed = int(timed.sum())
        self.untimed += n - n_timed
        if n_timed:
            ts = p.ts[timed] if n_timed < n else p.ts
            self.first_ts = min(self.first_ts, float(ts.min()))
            self.last_ts = max(self.last_ts, float(ts.max()))
        self.snaplen_cut += int(p.snaplen_cut.sum())
        net = p.link_class == 0
        if net.all():
            pk, by = _bins(p.ethertype, p.wirelen, 1 << 16)
        else:
            pk, by = _bins(p.ethertype[net], p.wirelen[net], 1 << 16)
        self._ethertype[0] += pk
        self._ethertype[1] += by
        pk, by = _bins(p.link_class, p.wirelen, 16)
        self._link_class[0] += pk
        self._link_class[1] += by
        ip = p.ip_version != 0
        pk, by = _bins(p.ip_proto[ip], p.wirelen[ip], 256)
        self._ip_proto[0] += pk
        self._ip_proto[1] += by
        pk, by = _bins(p.ip_version, p.wirelen, 16)
        self._ip_version[0] += pk
        self._ip_version[1] += by
        self._malformed += np.bincount(p.malformed, minlength=256).astype(np.int64)

    def snapshot(self) -> TrafficTotalsSnapshot:
        def table(arr: I64, skip_zero_key: bool = False) -> dict[int, CountPair]:
            keys = np.flatnonzero(arr[0])
            return {
                int(k): CountPair(int(arr[0, k]), int(arr[1, k]))
                for k in keys
                if not (skip_zero_key and k == 0)
            }

        has_time = self.first_ts != math.inf
        return TrafficTotalsSnapshot(
            packets=self.packets,
            bytes=self.bytes,
            captured_bytes=self.captured_bytes,
            first_ts=self.first_ts if has_time else None,
            last_ts=self.last_ts if has_time else None,
            untimed_packets=self.untimed,
            snaplen_cut_packets=self.snaplen_cut,
            ethertypes=table(self._ethertype, skip_zero_key=True),
            link_classes=table(self._link_class, skip_zero_key=True),
            ip_protocols=table(self._ip_proto),
            ip_versions=table(self._ip_version, skip_zero_key=True),
            malformed={int(k): int(self._malformed[k]) for k in np.flatnonzero(self._malformed) if k != 0},
        )
