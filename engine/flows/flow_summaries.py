"""Totals derived from flows: per protocol label, per device and label, per device and peer, per remote.

Closed flows are folded in as they close; a snapshot adds the still-active flows on top, so the totals
are exact at any moment without keeping every flow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.aggregate.address_book import AddressBook
from engine.aggregate.column_table import ColumnTable
from engine.aggregate.interning import KeyInterner
from engine.flows.flow_table import FlowRecords

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
Mask = npt.NDArray[np.bool_]

LABEL_SLOTS = 128

PEER_COLUMNS: dict[str, tuple[Any, Any]] = {
    "packets_up": (np.int64, 0),  # from the device to the peer
    "bytes_up": (np.int64, 0),
    "packets_down": (np.int64, 0),
    "bytes_down": (np.int64, 0),
    "flows": (np.int64, 0),
    "first_ts": (np.float64, np.inf),
    "last_ts": (np.float64, -np.inf),
    "labels_lo": (np.uint64, 0),  # bit set of the labels of the flows (labels 0..63)
    "labels_hi": (np.uint64, 0),  # labels 64..127
}

REMOTE_COLUMNS: dict[str, tuple[Any, Any]] = {
    "packets_in": (np.int64, 0),  # sent by the remote into the home network
    "bytes_in": (np.int64, 0),
    "packets_out": (np.int64, 0),  # sent by the home network to the remote
    "bytes_out": (np.int64, 0),
    "flows": (np.int64, 0),
    "first_ts": (np.float64, np.inf),
    "last_ts": (np.float64, -np.inf),
    "labels_lo": (np.uint64, 0),
    "labels_hi": (np.uint64, 0),
}


@dataclass(frozen=True, slots=True)
class KeyedColumns:
    keys: U64  # one row per entry; the key columns
    columns: dict[str, npt.NDArray[Any]]

    def __len__(self) -> int:
        return int(self.keys.shape[0])


@dataclass(frozen=True, slots=True)
class FlowSummarySnapshot:
    label_packets: I64  # indexed by label
    label_bytes: I64
    label_flows: I64
    device_labels: KeyedColumns  # keys (device, label); packets, bytes, flows
    device_peers: KeyedColumns  # keys (device, peer address id); PEER_COLUMNS + "internet"
    remotes: KeyedColumns  # keys (address id,) of internet addresses; REMOTE_COLUMNS
    flows: int


def _label_bits(labels: npt.NDArray[np.uint16]) -> tuple[U64, U64]:
    lab = labels.astype(np.uint64)
    low = lab < 64
    lo = np.where(low, np.uint64(1) << (lab & np.uint64(63)), 0).astype(np.uint64)
    hi = np.where(~low, np.uint64(1) << ((lab - np.uint64(64)) & np.uint64(63)), 0).astype(np.uint64)
    return lo, hi


class _Keyed:
    def __init__(self, width: int, spec: dict[str, tuple[Any, Any]]) -> None:
        self.keys = KeyInterner(width)
        self.cols = ColumnTable(spec)

    def copy(self) -> _Keyed:
        twin = _Keyed.__new__(_Keyed)
        twin.keys = self.keys.copy()
        twin.cols = self.cols.copy()
        return twin

    def ids(self, *columns: U64) -> I64:
        ids = self.keys.intern(*columns)
        self.cols.ensure(len(self.keys))
        return ids

    def snapshot(self) -> KeyedColumns:
        return KeyedColumns(self.keys.keys.copy(), self.cols.rows(len(self.keys)))


class FlowSummaries:
    def __init__(self, book: AddressBook) -> None:
        self._book = book
        self._labels = np.zeros((3, LABEL_SLOTS), dtype=np.int64)
        self._dev_label = _Keyed(
            2, {"packets": (np.int64, 0), "bytes": (np.int64, 0), "flows": (np.int64, 0)}
        )
        self._dev_peer = _Keyed(2, {**PEER_COLUMNS, "internet": (np.bool_, False)})
        self._remotes = _Keyed(1, REMOTE_COLUMNS)
        self.flows = 0

    def add(self, records: FlowRecords, labels: npt.NDArray[np.uint16]) -> None:
        """Fold flows (with their resolved labels) into the totals."""
        n = len(records)
        if not n:
            return
        c = records.columns
        self.flows += n
        packets = c["packets_ab"] + c["packets_ba"]
        nbytes = c["bytes_ab"] + c["bytes_ba"]
        lab = np.minimum(labels, LABEL_SLOTS - 1).astype(np.intp)
        np.add.at(self._labels[0], lab, packets)
        np.add.at(self._labels[1], lab, nbytes)
        np.add.at(self._labels[2], lab, 1)
        bits_lo, bits_hi = _label_bits(labels)
        internet = self._book.internet
        a_inet = internet[records.a_id]
        b_inet = internet[records.b_id]
        # each side that is a device sees the other side as its peer
        sides = (
            (c["dev_a"], records.b_id, b_inet, "ab", "ba"),
            (c["dev_b"], records.a_id, a_inet, "ba", "ab"),
        )
        for dev, peer_id, peer_inet, up, down in sides:
            rows = np.flatnonzero(dev >= 0)
            if not rows.size:
                continue
            d = dev[rows].astype(np.uint64)
            ids = self._dev_label.ids(d, labels[rows].astype(np.uint64))
            dl = self._dev_label.cols
            np.add.at(dl["packets"], ids, packets[rows])
            np.add.at(dl["bytes"], ids, nbytes[rows])
            np.add.at(dl["flows"], ids, 1)
            ids = self._dev_peer.ids(d, peer_id[rows].astype(np.uint64))
            dp = self._dev_peer.cols
            np.add.at(dp["packets_up"], ids, c[f"packets_{up}"][rows])
            np.add.at(dp["bytes_up"], ids, c[f"bytes_{up}"][rows])
            np.add.at(dp["packets_down"], ids, c[f"packets_{down}"][rows])
            np.add.at(dp["bytes_down"], ids, c[f"bytes_{down}"][rows])
            np.add.at(dp["flows"], ids, 1)
            np.minimum.at(dp["first_ts"], ids, c["first_ts"][rows])
            np.maximum.at(dp["last_ts"], ids, c["last_ts"][rows])
            np.bitwise_or.at(dp["labels_lo"], ids, bits_lo[rows])
            np.bitwise_or.at(dp["labels_hi"], ids, bits_hi[rows])
            dp["internet"][ids] = peer_inet[rows]
        # remotes: internet endpoints of flows whose other side is in the home network
        for addr, inet, other_inet, out_dir, in_dir in (
            (records.a_id, a_inet, b_inet, "ba", "ab"),
            (records.b_id, b_inet, a_inet, "ab", "ba"),
        ):
            rows = np.flatnonzero(inet & ~other_inet)
            if not rows.size:
                continue
            ids = self._remotes.ids(addr[rows].astype(np.uint64))
            rc = self._remotes.cols
            np.add.at(rc["packets_in"], ids, c[f"packets_{in_dir}"][rows])
            np.add.at(rc["bytes_in"], ids, c[f"bytes_{in_dir}"][rows])
            np.add.at(rc["packets_out"], ids, c[f"packets_{out_dir}"][rows])
            np.add.at(rc["bytes_out"], ids, c[f"bytes_{out_dir}"][rows])
            np.add.at(rc["flows"], ids, 1)
            np.minimum.at(rc["first_ts"], ids, c["first_ts"][rows])
            np.maximum.at(rc["last_ts"], ids, c["last_ts"][rows])
            np.bitwise_or.at(rc["labels_lo"], ids, bits_lo[rows])
            np.bitwise_or.at(rc["labels_hi"], ids, bits_hi[rows])

    def _copy(self) -> FlowSummaries:
        twin = FlowSummaries(self._book)
        twin._labels = self._labels.copy()
        twin._dev_label = self._dev_label.copy()
        twin._dev_peer = self._dev_peer.copy()
        twin._remotes = self._remotes.copy()
        twin.flows = self.flows
        return twin

    def snapshot(
        self, active: FlowRecords | None = None, active_labels: npt.NDArray[np.uint16] | None = None
    ) -> FlowSummarySnapshot:
        """The totals, with the still-active flows added (on a copy: the closed totals stay as they are)."""
        target = self
        if active is not None and active_labels is not None and len(active):
            target = self._copy()
            target.add(active, active_labels)
        return FlowSummarySnapshot(
            label_packets=target._labels[0].copy(),
            label_bytes=target._labels[1].copy(),
            label_flows=target._labels[2].copy(),
            device_labels=target._dev_label.snapshot(),
            device_peers=target._dev_peer.snapshot(),
            remotes=target._remotes.snapshot(),
            flows=target.flows,
        )
