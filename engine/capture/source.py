"""Opening capture inputs by magic number, and reading several of them in time order as one capture."""

from __future__ import annotations

import math
import os
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field

import numpy as np

from engine.capture.byte_stream import ByteStream, open_byte_stream
from engine.capture.pcap import PCAP_MAGICS, PcapReader
from engine.capture.pcapng import PcapngReader, section_byte_order
from engine.capture.records import Problem, RecordBatch, SourceStatus
from engine.capture.ssh_target import SshSettings, is_remote_spec
from engine.errors import CaptureError, RemoteError

PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"

# Formats that are not pcap or pcapng, recognised only to name them in the error message.
_OTHER_FORMATS: tuple[tuple[bytes, str], ...] = (
    (b"snoop\x00\x00\x00", "a Solaris snoop capture"),
    (b"GMBU", "a Microsoft Network Monitor capture"),
    (b"XCP\x00", "a NetXray/Sniffer capture"),
    (b"\xa1\xb2\xcd\x34", "a 'modified' (Kuznetzov) pcap"),
    (b"\x34\xcd\xb2\xa1", "a 'modified' (Kuznetzov) pcap"),
    (b"iptrace", "an AIX iptrace capture"),
    (b"PK\x03\x04", "a zip archive"),
)


def _describe_unknown(head: bytes) -> str:
    for magic, name in _OTHER_FORMATS:
        if head.startswith(magic):
            return f"it is {name}, not pcap or pcapng; convert it first, e.g. with `editcap -F pcapng IN OUT`"
    if head and all(32 <= c < 127 or c in (9, 10, 13) for c in head):
        return "it looks like a text file, not a pcap or pcapng capture"
    return f"it is not a pcap or pcapng capture (it starts with bytes {head[:8].hex(' ')})"


@dataclass
class CaptureFile:
    """One opened capture input: its status and a reader that yields record batches."""

    status: SourceStatus
    stream: ByteStream
    reader: PcapReader | PcapngReader

    def batches(self, chunk_size: int | None = None) -> Iterator[RecordBatch]:
        try:
            it = self.reader.batches() if chunk_size is None else self.reader.batches(chunk_size)
            for batch in it:
                self._account(batch)
                yield batch
        finally:
            self.status.bytes_read = self.stream.raw_position
            self.status.finished = True
            self.stream.close()

    def _account(self, batch: RecordBatch) -> None:
        st = self.status
        st.bytes_read = self.stream.raw_position
        st.packets += len(batch)
        st.bytes += int(batch.wirelen.sum(dtype=np.int64))
        st.captured_bytes += int(batch.caplen.sum(dtype=np.int64))
        types, counts = np.unique(batch.linktype, return_counts=True)
        for t, c in zip(types.tolist(), counts.tolist(), strict=True):
            st.linktypes[t] = st.linktypes.get(t, 0) + c
        plausible = (batch.ts >= 0.0) & (batch.ts < float(1 << 32))
        st.untimed_packets += len(batch) - int(plausible.sum())
        if st.first_ts is None and plausible.any():
            st.first_ts = float(batch.ts[plausible][0])


def open_capture(
    path: str, source_index: int = 0, status: SourceStatus | None = None, start_offset: int = 0
) -> CaptureFile:
    """Open a capture file (or `-` for stdin) by its magic number. Raises CaptureError.

    `start_offset` (a saved `RecordBatch.end_offset`) resumes reading there: the first batch holds the
    record that starts at that byte (in the decompressed stream for compressed files)."""
    status = status if status is not None else SourceStatus(path=path)
    stream = open_byte_stream(path)
    status.size = stream.size
    return open_capture_stream(stream, status, source_index, start_offset)


def open_capture_stream(
    stream: ByteStream, status: SourceStatus, source_index: int = 0, start_offset: int = 0
) -> CaptureFile:
    """Read a capture from an already opened ByteStream (a pipe from a capture tool, a followed file) by
    its magic number, from `start_offset` on (see open_capture). Closes the stream and raises CaptureError
    when it is not a capture."""
    path = status.path
    try:
        capture = _open_reader(path, stream, status, source_index)
        if start_offset:
            capture.reader.skip_to(start_offset)
            status.bytes_read = stream.raw_position
        return capture
    except BaseException:
        stream.close()
        raise


def _open_reader(path: str, stream: ByteStream, status: SourceStatus, source_index: int) -> CaptureFile:
    head = stream.read_exact(4)
    if head[:4] in PCAP_MAGICS:
        rest = stream.read_exact(20)
        if len(rest) < 20:
            raise CaptureError(
                f"{path}: the pcap file header is cut short ({4 + len(rest)} of 24 bytes)",
                path=path,
                kind="truncated",
            )
        return CaptureFile(status, stream, PcapReader(stream, status, head + rest, source_index))
    if head[:4] == PCAPNG_MAGIC:
        rest = stream.read_exact(8)
        block = head + rest
        if section_byte_order(block) is None:
            raise CaptureError(
                f"{path}: starts like pcapng but its section header is damaged or cut short",
                path=path,
                kind="corrupt",
            )
        return CaptureFile(status, stream, PcapngReader(stream, status, block, source_index))
    more = stream.read_exact(12)
    what = "stream" if stream.is_stream else "file"
    if not head:
        raise CaptureError(f"{path}: the {what} is empty, not a capture", path=path, kind="empty")
    compressed = f" (after {stream.compression} decompression)" if stream.compression else ""
    raise CaptureError(
        f"{path}: cannot read this {what}{compressed}: {_describe_unknown(head + more)}",
        path=path,
        kind="unsupported-format",
    )


def first_timestamp(path: str) -> float | None:
    """Timestamp of the first packet of a capture file, or None (no packets, unreadable)."""
    try:
        cap = open_capture(path)
    except CaptureError:
        return None
    try:
        for _batch in cap.batches(chunk_size=64 << 10):
            if cap.status.first_ts is not None:
                return cap.status.first_ts
        return None
    finally:
        cap.stream.close()


@dataclass
class CaptureSet:
    """Several capture inputs read one after the other in the order of their first packet, as one capture.

    A day-rotated set of dumps given in any order is read in time order. Stdin (`-`) can only be read once,
    so it is never reordered. Files that cannot be opened keep a status with their problem and are skipped.
    """

    paths: list[str]
    statuses: list[SourceStatus] = field(default_factory=list)
    ordered: bool = True
    # where to resume reading each file (by path): a saved `RecordBatch.end_offset`
    start_offsets: dict[str, int] = field(default_factory=dict)
    # how to run ssh for files on another machine (USER@HOST:/path): the user's own ssh by default
    ssh: SshSettings | None = None

    def __post_init__(self) -> None:
        order = list(range(len(self.paths)))
        if self.ordered and len(self.paths) > 1 and "-" not in self.paths:
            # a remote file is not opened twice to find its first packet: it keeps its place at the end
            starts = [None if is_remote_file(p) else first_timestamp(p) for p in self.paths]
            order.sort(key=lambda i: (math.inf if starts[i] is None else starts[i], i))
        self.paths = [self.paths[i] for i in order]
        self.statuses = [SourceStatus(path=p) for p in self.paths]

    def batches(self, chunk_size: int | None = None) -> Generator[RecordBatch, None, None]:
        for index, path in enumerate(self.paths):
            status = self.statuses[index]
            try:
                if is_remote_file(path):
                    from engine.capture.remote_file import open_remote_capture

                    cap = open_remote_capture(path, ssh=self.ssh, source_index=index, status=status)
                else:
                    cap = open_capture(
                        path, source_index=index, status=status, start_offset=self.start_offsets.get(path, 0)
                    )
            except (CaptureError, RemoteError) as err:
                status.add_problem(Problem(err.kind, err.message))
                status.finished = True
                continue
            yield from cap.batches(chunk_size)


def is_remote_file(path: str | os.PathLike[str]) -> bool:
    """Whether `path` names a file on another machine (USER@HOST:/path, ssh://...), read over SSH. A local
    file of that name wins."""
    if not isinstance(path, str):  # a Path object (from Python callers) is always local
        return False
    return path != "-" and is_remote_spec(path) and not os.path.exists(path)
