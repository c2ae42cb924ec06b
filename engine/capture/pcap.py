"""Classic pcap files: microsecond and nanosecond timestamps, either byte order, read in chunks."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import numpy as np

from engine.capture.byte_stream import ByteStream
from engine.capture.record_walk import unaligned_view, walk_records
from engine.capture.records import Problem, RecordBatch, SourceStatus
from engine.errors import CaptureError

PCAP_MAGICS: dict[bytes, tuple[bool, float, str]] = {
    # magic as stored -> (little endian, seconds per fraction unit, format name)
    b"\xd4\xc3\xb2\xa1": (True, 1e-6, "pcap"),
    b"\xa1\xb2\xc3\xd4": (False, 1e-6, "pcap"),
    b"\x4d\x3c\xb2\xa1": (True, 1e-9, "pcap-nsec"),
    b"\xa1\xb2\x3c\x4d": (False, 1e-9, "pcap-nsec"),
}
HEADER_SIZE = 24
RECORD_HEADER = 16
# Largest captured length a record may claim, as libpcap and Wireshark accept; above it a file is corrupt.
MAX_RECORD_CAPLEN = 262144
CHUNK_SIZE = 4 << 20
# At most this many records per batch: a chunk of tiny packets would otherwise make the per-batch columns
# (and so the peak memory) depend on the capture's packet sizes.
MAX_BATCH_RECORDS = 32768


class PcapReader:
    """Reads a classic pcap from a ByteStream whose first bytes (the file header) were already read."""

    def __init__(
        self, stream: ByteStream, status: SourceStatus, header: bytes, source_index: int = 0
    ) -> None:
        little, self._frac, fmt = PCAP_MAGICS[header[:4]]
        self._little = little
        order = "<" if little else ">"
        _major, _minor, _zone, _sigfigs, snaplen, network = struct.unpack(order + "HHiIII", header[4:24])
        self.snaplen = snaplen
        self.linktype = network & 0xFFFF  # the upper bits carry FCS information, not the link type
        self._limit = max(MAX_RECORD_CAPLEN, snaplen)
        self._stream = stream
        self._status = status
        self._source_index = source_index
        self._u32 = order + "u4"
        status.format = fmt if stream.compression is None else f"{fmt}+{stream.compression}"
        status.compression = stream.compression
        self._offset = HEADER_SIZE  # file offset of the first byte of the pending buffer
        self._pending = b""

    def skip_to(self, offset: int) -> None:
        """Start reading at `offset`, the byte offset of a record header (a saved `RecordBatch.end_offset`),
        before the first batch is read. Raises CaptureError when the input is shorter than that."""
        if offset < HEADER_SIZE or self._pending:
            raise ValueError(f"cannot start a pcap at byte {offset}")
        wanted = offset - self._offset
        got = self._stream.skip(wanted)
        self._offset += got
        self._status.start_offset = offset
        if got < wanted:
            raise CaptureError(
                f"{self._stream.name}: cannot resume at byte {offset}: the file ends at byte {self._offset}",
                path=self._stream.name,
                kind="moved",
            )

    def batches(self, chunk_size: int = CHUNK_SIZE) -> Iterator[RecordBatch]:
        """Yield record batches until the end of the stream or the first damaged record."""
        while True:
            chunk = self._stream.read(chunk_size)
            buf = self._pending + chunk if self._pending else chunk
            # a buffer may hold more records than one batch takes: parse until no progress
            while buf:
                batch, consumed, problem = self._parse(buf)
                buf = buf[consumed:]
                self._offset += consumed
                if batch is not None:
                    yield batch
                if problem is not None:
                    self._pending = b""
                    self._status.add_problem(problem)
                    return
                if consumed == 0 or batch is None or len(batch) < MAX_BATCH_RECORDS:
                    break
            self._pending = buf
            if not chunk:
                self._finish()
                return

    def _parse(self, buf: bytes) -> tuple[RecordBatch | None, int, Problem | None]:
        offsets = walk_records(buf, 0, 8, RECORD_HEADER, self._little, limit=MAX_BATCH_RECORDS)
        if not offsets:
            return None, 0, None
        hdr = np.asarray(offsets, dtype=np.int64)
        u32 = unaligned_view(buf, self._u32)
        caplen = u32[hdr + 8].astype(np.uint32)
        problem: Problem | None = None
        bad = np.flatnonzero(caplen > self._limit)
        if bad.size:
            k = int(bad[0])
            problem = Problem(
                "corrupt",
                f"record {self._status.packets + k + 1} at byte {self._offset + int(hdr[k])} claims "
                f"{int(caplen[k])} captured bytes, more than the {self._limit} a pcap record may hold: "
                f"the file is damaged from there on; "
                f"the {self._status.packets + k} packets before it were read",
                offset=self._offset + int(hdr[k]),
            )
            hdr, caplen = hdr[:k], caplen[:k]
        # only the last record can run past the end of the buffer; it waits for the next chunk
        complete = hdr + RECORD_HEADER + caplen <= len(buf)
        if complete.size and not complete[-1]:
            hdr, caplen = hdr[:-1], caplen[:-1]
        records_end = int(hdr[-1]) + RECORD_HEADER + int(caplen[-1]) if hdr.size else 0
        # after damage nothing more of the buffer is read; the batch still ends after its last record
        consumed = len(buf) if problem is not None else records_end
        if not hdr.size:
            return None, consumed, problem
        wirelen = u32[hdr + 12].astype(np.uint32)
        ts = u32[hdr].astype(np.float64) + u32[hdr + 4].astype(np.float64) * self._frac
        n = hdr.shape[0]
        batch = RecordBatch(
            data=buf,
            starts=hdr + RECORD_HEADER,
            caplen=caplen,
            wirelen=wirelen,
            ts=ts,
            linktype=np.full(n, self.linktype, dtype=np.uint16),
            interface=np.zeros(n, dtype=np.uint16),
            source_index=self._source_index,
            end_offset=self._offset + records_end,
        )
        return batch, consumed, problem

    def _finish(self) -> None:
        damage = self._stream.damage
        if self._pending:
            where = self._offset
            have = len(self._pending)
            if have < RECORD_HEADER:
                detail = f"only {have} of the 16 bytes of its record header are present"
            else:
                caplen = struct.unpack_from(("<" if self._little else ">") + "I", self._pending, 8)[0]
                detail = f"its record needs {RECORD_HEADER + caplen} bytes, only {have} are present"
            if self._stream.grew_since_open():
                message = (
                    f"the file is still being written: it grew while being read, and its end at byte {where} "
                    f"is part of packet {self._status.packets + 1} ({detail}); "
                    f"the {self._status.packets} complete packets before it were read"
                )
                kind = "growing"
            else:
                message = (
                    f"the file is cut short in the middle of packet {self._status.packets + 1} "
                    f"at byte {where} "
                    f"({detail}); the {self._status.packets} complete packets before it were read"
                )
                kind = "truncated"
            self._status.add_problem(Problem(kind, message, offset=where))
        if damage is not None:
            self._status.add_problem(damage)
