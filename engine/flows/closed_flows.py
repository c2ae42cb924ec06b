"""Flows that have ended, kept as columns for reports, drill-downs and DataFrames, up to a limit.

Past the limit the oldest closed flows are let go (their traffic stays in every total, which the flow
summaries keep); `dropped` says how many, so views can tell the user.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import numpy.typing as npt

from engine.flows.flow_table import FlowRecords

DEFAULT_LIMIT = 2_000_000


class ClosedFlows:
    def __init__(self, limit: int | None = DEFAULT_LIMIT) -> None:
        self.limit = limit
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
        while self.limit is not None and self._count > self.limit and len(self._chunks) > 1:
            old, _ = self._chunks.popleft()
            self._count -= len(old)
            self.dropped += len(old)

    def records(self) -> tuple[FlowRecords, npt.NDArray[np.uint16]]:
        """All kept closed flows, oldest first, with their labels."""
        if not self._chunks:
            return FlowRecords.concat([]), np.zeros(0, dtype=np.uint16)
        if len(self._chunks) > 1:  # merge once so repeated snapshots stay cheap
            merged = FlowRecords.concat([c[0] for c in self._chunks])
            labels = np.concatenate([c[1] for c in self._chunks])
            self._chunks = deque([(merged, labels)])
        return self._chunks[0]
