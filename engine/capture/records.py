"""What capture readers produce: batches of raw packet records, and a per-source account of what was read."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
U32Array = npt.NDArray[np.uint32]
U16Array = npt.NDArray[np.uint16]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class RecordBatch:
    """Consecutive packet records of one capture source, sharing one immutable buffer.

    `data` holds the raw bytes of a stretch of the file; record `i` has its packet bytes at
    `data[starts[i] : starts[i] + caplen[i]]`. Timestamps are epoch seconds (NaN for the rare pcapng
    simple packet block, which carries none). `wirelen` is the original length on the wire, which byte
    counts use; `caplen` is what was captured.
    """

    data: bytes
    starts: IntArray
    caplen: U32Array
    wirelen: U32Array
    ts: FloatArray
    linktype: U16Array
    interface: U16Array
    source_index: int = 0
    # byte offset in the (decompressed) source just after the last record of this batch: where to resume
    end_offset: int = 0

    def __len__(self) -> int:
        return int(self.starts.shape[0])


@dataclass(slots=True)
class Problem:
    """Why a source stopped early or was only partly understood. `offset` is a byte offset in the file
    (in the decompressed stream for compressed files)."""

    kind: str  # truncated, corrupt, unsupported-format, unsupported-linktype, unreadable, empty, ...
    message: str
    offset: int | None = None
    fatal: bool = True  # True: reading stopped here; False: reading went on (e.g. unknown link type)

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "offset": self.offset, "message": self.message, "fatal": self.fatal}


@dataclass(slots=True)
class InterfaceStats:
    """Capture statistics a pcapng stream reports for an interface (interface statistics block)."""

    received: int | None = None
    dropped: int | None = None  # dropped by the interface/driver (isb_ifdrop)
    os_dropped: int | None = None  # dropped by the OS before reaching the capture (isb_osdrop)
    filter_accepted: int | None = None


@dataclass(slots=True)
class SourceStatus:
    """Running account of one capture source: what it is, what was read, and any problem."""

    path: str
    format: str = "unknown"  # pcap, pcap-nsec, pcapng, each possibly with "+gzip" and the like
    compression: str | None = None
    linktypes: dict[int, int] = field(default_factory=dict)  # link type -> packets
    packets: int = 0
    bytes: int = 0  # wire bytes
    captured_bytes: int = 0
    size: int | None = None  # file size on disk, when known
    bytes_read: int = 0  # bytes of the (compressed) file consumed so far, for progress
    problems: list[Problem] = field(default_factory=list)
    interface_stats: dict[int, InterfaceStats] = field(default_factory=dict)
    first_ts: float | None = None
    untimed_packets: int = 0  # packets without a timestamp, or with one outside 1970..2106
    finished: bool = False
    start_offset: int = 0  # byte offset reading started at (a resumed file); the counts above start there

    @property
    def fatal_problem(self) -> Problem | None:
        return next((p for p in self.problems if p.fatal), None)

    def add_problem(self, problem: Problem) -> None:
        self.problems.append(problem)
