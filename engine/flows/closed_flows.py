"""Flows that have ended, kept as columns for reports, drill-downs and DataFrames, under a retention policy.

Every closed flow's traffic stays in the totals (the flow summaries), whatever the policy keeps:
- "all" (DataFrames): every flow, up to `limit`, then the oldest are let go;
- "recent" (the monitor): the newest `limit` flows;
- "largest" (reports): the `limit` flows with the most bytes, so memory does not grow with the capture.
`dropped` counts the flows let go, so views can tell the user.
"""

from __future__ import annotations

from collections import deque
from typing import Literal

import numpy as np
import numpy.typing as npt

from engine.flows.flow_table import FlowRecords

Retention = Literal["all", "recent", "largest"]
DEFAULT_LIMIT = 2_000_000


def _take(records: FlowRecords, rows: npt.NDArray[np.int64]) -> FlowRecords:
    return FlowRecords(
        a_id=records.a_id[rows],
        b_id=records.b_id[rows],
        a_hi=records.a_hi[rows],
        a_lo=records.a_lo[rows],
        b_hi=records.b_hi[rows],
        b_lo=records.b_lo[rows],
        port_a=records.port_a[rows],
        port_b=records.port_b[rows],
        proto=records.proto[rows],
        columns={k: v[rows] for k, v in records.columns.items()},
    )


class ClosedFlows:
    def __init__(self, limit: int | None = DEFAULT_LIMIT, retention: Retention = "all") -> None:
        self.limit = limit
        self.retention: Retention = retention
        self._chunks: deque[tuple[FlowRecords, npt.NDArray[np.uint16]]] = deque()
        self._count = 0
        self.dropped = 0

    def __len__(self) -> int:
        return self._count

    def add(self, records: FlowRecords, labels: npt.NDArray[np.uint16]) -> None:
        if not len(records):
            return
        self._chunks.append((records, labels))
        self._count += len(records)
        if self.limit is None or self._count <= self.limit:
            return
        if self.retention == "largest":
            if self._count > 2 * self.limit:  # trim in bulk, not on every batch
                self._keep_largest()
            return
        while self._count > self.limit:
            old, old_labels = self._chunks[0]
            excess = self._count - self.limit
            if len(old) <= excess:
                self._chunks.popleft()
                excess = len(old)
            else:
                # the chunk's least recently active flows go (it may be the only chunk: the end of a
                # capture closes every flow at once)
                c = old.columns
                keep = np.sort(np.lexsort((c["serial"], c["last_ts"]))[excess:])
                self._chunks[0] = (_take(old, keep), old_labels[keep])
            self._count -= excess
            self.dropped += excess

    def _keep_largest(self) -> None:
        assert self.limit is not None
        merged, labels = self._merged()
        c = merged.columns
        total = c["bytes_ab"] + c["bytes_ba"]
        keep = np.sort(np.argpartition(-total, self.limit - 1)[: self.limit])
        self.dropped += len(merged) - keep.shape[0]
        self._chunks = deque([(_take(merged, keep), labels[keep])])
        self._count = keep.shape[0]

    def _merged(self) -> tuple[FlowRecords, npt.NDArray[np.uint16]]:
        if not self._chunks:
            return FlowRecords.concat([]), np.zeros(0, dtype=np.uint16)
        if len(self._chunks) > 1:
            merged = FlowRecords.concat([c[0] for c in self._chunks])
            labels = np.concatenate([c[1] for c in self._chunks])
            self._chunks = deque([(merged, labels)])
        return self._chunks[0]

    def records(self) -> tuple[FlowRecords, npt.NDArray[np.uint16]]:
        """The kept closed flows with their labels (oldest first, except under "largest")."""
        if self.retention == "largest" and self.limit is not None and self._count > self.limit:
            self._keep_largest()
        return self._merged()
