"""pcapng: several sections and interfaces, per-interface link types and timestamp resolutions.

Enhanced, simple and obsolete packet blocks are read; interface statistics blocks are kept (live capture
reports drops through them); every other block type is skipped. Packet blocks are decoded with numpy over a
whole chunk; the few other blocks are read one by one in file order.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.capture.byte_stream import ByteStream
from engine.capture.pcap import MAX_BATCH_RECORDS
from engine.capture.record_walk import unaligned_view, walk_records
from engine.capture.records import InterfaceStats, Problem, RecordBatch, SourceStatus
from engine.errors import CaptureError

SHB = 0x0A0D0D0A
IDB = 0x00000001
OPB = 0x00000002  # obsolete packet block
SPB = 0x00000003  # simple packet block
ISB = 0x00000005
EPB = 0x00000006
BYTE_ORDER_MAGIC = 0x1A2B3C4D
CHUNK_SIZE = 4 << 20
MAX_BLOCK = 256 << 20  # a larger block length means a damaged file, not a real block


@dataclass(slots=True)
class Interface:
    linktype: int
    snaplen: int
    seconds_per_tick: float = 1e-6
    ts_offset: int = 0
    tick_exponent: tuple[int, int] = (10, 6)  # base, exponent of if_tsresol, for exact integer division


def _options(body: bytes, little: bool) -> Iterator[tuple[int, bytes]]:
    """The (code, value) pairs of a pcapng options list; stops quietly at a damaged option."""
    order = "<" if little else ">"
    pos = 0
    while pos + 4 <= len(body):
        code, length = struct.unpack_from(order + "HH", body, pos)
        if code == 0:
            return
        value = body[pos + 4 : pos + 4 + length]
        if len(value) < length:
            return
        yield code, value
        pos += 4 + ((length + 3) & ~3)


def section_byte_order(block: bytes) -> bool | None:
    """True for a little-endian section header, False for big-endian, None if the magic is wrong."""
    if len(block) < 12:
        return None
    if block[8:12] == b"\x4d\x3c\x2b\x1a":
        return True
    if block[8:12] == b"\x1a\x2b\x3c\x4d":
        return False
    return None


class PcapngReader:
    """Reads a pcapng stream from its first byte; `head` holds bytes already read from the stream."""

    def __init__(self, stream: ByteStream, status: SourceStatus, head: bytes, source_index: int = 0) -> None:
        little = section_byte_order(head)
        if little is None:
            raise ValueError("not a pcapng section header")
        self._little = little
        self._stream = stream
        self._status = status
        self._source_index = source_index
        self._interfaces: list[Interface] = []
        self._pending = head
        self._offset = 0  # file offset of the first pending byte
        status.format = "pcapng" if stream.compression is None else f"pcapng+{stream.compression}"
        status.compression = stream.compression

    @property
    def interfaces(self) -> list[Interface]:
        return self._interfaces

    def skip_to(self, offset: int) -> None:
        """Start reading at `offset`, the byte offset of a block (a saved `RecordBatch.end_offset`), before
        the first batch is read. The blocks before it are read for their section headers and interface
        descriptions (a packet's link type and time resolution come from them), not for their packets.
        Raises CaptureError when the input is shorter, damaged, or has no block starting at `offset`."""
        name = self._stream.name
        buf = self._pending
        while True:
            wanted = offset - self._offset - len(buf)
            if wanted > 0:
                chunk = self._stream.read(min(CHUNK_SIZE, wanted))
                if not chunk:
                    raise CaptureError(
                        f"{name}: cannot resume at byte {offset}: the file ends at byte "
                        f"{self._offset + len(buf)}",
                        path=name,
                        kind="moved",
                    )
                buf = buf + chunk if buf else chunk
            while buf:
                order_before = self._little
                _skipped, consumed, problem = self._parse(buf)
                self._offset += consumed
                buf = buf[consumed:]
                if problem is not None:
                    message = f"{name}: cannot resume at byte {offset}: {problem.message}"
                    raise CaptureError(message, path=name)
                if consumed == 0 and self._little == order_before:
                    break
            if self._offset + len(buf) >= offset:
                break
        if buf or self._offset != offset:
            raise CaptureError(
                f"{name}: cannot resume at byte {offset}: no block starts there (the file changed)",
                path=name,
                kind="moved",
            )
        self._pending = b""
        self._status.start_offset = offset

    def batches(self, chunk_size: int = CHUNK_SIZE) -> Iterator[RecordBatch]:
        buf = self._pending
        while True:
            chunk = self._stream.read(chunk_size)
            at_end = not chunk
            buf = buf + chunk if buf else chunk
            while buf:
                order_before = self._little
                batch, consumed, problem = self._parse(buf)
                self._offset += consumed
                buf = buf[consumed:]
                if batch is not None:
                    yield batch
                if problem is not None:
                    self._pending = b""
                    self._status.add_problem(problem)
                    return
                # no progress: wait for more bytes, unless a section in the other byte order starts here
                if consumed == 0 and self._little == order_before:
                    break
            self._pending = buf
            if at_end:
                self._finish()
                return

    def _parse(self, buf: bytes) -> tuple[RecordBatch | None, int, Problem | None]:
        """Parse the complete blocks at the start of `buf`: (packets, bytes consumed, problem)."""
        offsets = walk_records(buf, 0, 4, 0, self._little, limit=MAX_BATCH_RECORDS)
        if not offsets:
            return None, 0, None
        order = "<" if self._little else ">"
        blk = np.asarray(offsets, dtype=np.int64)
        u32 = unaligned_view(buf, order + "u4")
        btype = u32[blk].astype(np.uint32)
        blen = u32[blk + 4].astype(np.int64)
        end = blk + blen
        fits = end <= len(buf)
        # a section header in a new byte order: stop before it, switch order, parse on from there
        shb_idx = np.flatnonzero(btype == SHB)
        stop = len(offsets)
        for i in shb_idx:
            off = int(blk[i])
            if off + 12 > len(buf):
                stop = int(i)
                break
            little = section_byte_order(buf[off : off + 12])
            if little is not None and little != self._little:
                stop = int(i)
                if i == 0:
                    self._little = little
                    self._interfaces = []
                    return None, 0, None
                break
        blk, btype, blen, end, fits = blk[:stop], btype[:stop], blen[:stop], end[:stop], fits[:stop]
        problem: Problem | None = None
        bad = (blen < 12) | (blen % 4 != 0) | (blen > MAX_BLOCK)
        trailer_ok = np.ones(blk.shape[0], dtype=bool)
        inside = fits & ~bad
        trailer_ok[inside] = u32[end[inside] - 4] == blen[inside]
        bad |= ~trailer_ok
        bad_idx = np.flatnonzero(bad)
        if bad_idx.size:
            k = int(bad_idx[0])
            if fits[k] or blen[k] < 12 or blen[k] % 4 or blen[k] > MAX_BLOCK:
                where = self._offset + int(blk[k])
                problem = Problem(
                    "corrupt",
                    f"block at byte {where} has an impossible length ({int(blen[k])}) or a length that does "
                    f"not match its trailer: the file is damaged from there on; the {self._status.packets} "
                    "packets before it were read",
                    offset=where,
                )
                # packets of this chunk before the damage are still counted below
            blk, btype, blen, end, fits = blk[:k], btype[:k], blen[:k], end[:k], fits[:k]
        if fits.size and not fits[-1]:
            keep = int(np.argmin(fits))  # index of the first block that does not fit
            blk, btype, blen, end = blk[:keep], btype[:keep], blen[:keep], end[:keep]
        blocks_end = int(end[-1]) if end.size else 0
        # after damage nothing more of the buffer is read; the batch still ends after its last block
        consumed = len(buf) if problem is not None else blocks_end
        if not blk.size:
            return None, consumed, problem
        batch = self._packets(buf, blk, btype, blen, u32, blocks_end)
        if problem is not None and batch is not None:
            problem.message = problem.message.replace(
                f"the {self._status.packets} packets", f"the {self._status.packets + len(batch)} packets"
            )
        return batch, consumed, problem

    def _control_block(self, buf: bytes, off: int, btype: int, blen: int) -> None:
        body = buf[off + 8 : off + blen - 4]
        order = "<" if self._little else ">"
        if btype == SHB:
            self._interfaces = []
        elif btype == IDB and len(body) >= 8:
            linktype, _reserved, snaplen = struct.unpack_from(order + "HHI", body, 0)
            iface = Interface(linktype=linktype, snaplen=snaplen)
            for code, value in _options(body[8:], self._little):
                if code == 9 and value:  # if_tsresol
                    v = value[0]
                    if v & 0x80:
                        iface.seconds_per_tick = 2.0 ** -(v & 0x7F)
                        iface.tick_exponent = (2, v & 0x7F)
                    else:
                        iface.seconds_per_tick = 10.0**-v
                        iface.tick_exponent = (10, v)
                elif code == 14 and len(value) >= 8:  # if_tsoffset, seconds
                    iface.ts_offset = struct.unpack_from(order + "q", value, 0)[0]
            self._interfaces.append(iface)
        elif btype == ISB and len(body) >= 12:
            (iface_id,) = struct.unpack_from(order + "I", body, 0)
            stats = self._status.interface_stats.setdefault(iface_id, InterfaceStats())
            for code, value in _options(body[12:], self._little):
                if len(value) < 8:
                    continue
                (number,) = struct.unpack_from(order + "Q", value, 0)
                if code == 4:
                    stats.received = number
                elif code == 5:
                    stats.dropped = number
                elif code == 6:
                    stats.filter_accepted = number
                elif code == 7:
                    stats.os_dropped = number

    def _packets(
        self,
        buf: bytes,
        blk: npt.NDArray[np.int64],
        btype: npt.NDArray[np.uint32],
        blen: npt.NDArray[np.int64],
        u32: npt.NDArray[np.generic],
        blocks_end: int,
    ) -> RecordBatch | None:
        is_packet = (btype == EPB) | (btype == SPB) | (btype == OPB)
        control = np.flatnonzero(~is_packet)
        # Interface ids are per section: split at section headers, read each stretch's control blocks in
        # order, then its packet blocks with the interfaces known at that point.
        shb_positions = [int(i) for i in control if btype[i] == SHB]
        bounds = [0, *shb_positions, blk.shape[0]]
        parts: list[RecordBatch] = []
        for lo, hi in itertools.pairwise(bounds):
            for i in control[(control >= lo) & (control < hi)]:
                self._control_block(buf, int(blk[i]), int(btype[i]), int(blen[i]))
            sel = np.flatnonzero(is_packet[lo:hi]) + lo
            if sel.size:
                part = self._packet_blocks(buf, blk[sel], btype[sel], blen[sel], u32)
                if part is not None:
                    parts.append(part)
        if not parts:
            return None
        if len(parts) == 1:
            p = parts[0]
        else:
            p = RecordBatch(
                data=buf,
                starts=np.concatenate([q.starts for q in parts]),
                caplen=np.concatenate([q.caplen for q in parts]),
                wirelen=np.concatenate([q.wirelen for q in parts]),
                ts=np.concatenate([q.ts for q in parts]),
                linktype=np.concatenate([q.linktype for q in parts]),
                interface=np.concatenate([q.interface for q in parts]),
            )
        return RecordBatch(
            data=buf,
            starts=p.starts,
            caplen=p.caplen,
            wirelen=p.wirelen,
            ts=p.ts,
            linktype=p.linktype,
            interface=p.interface,
            source_index=self._source_index,
            end_offset=self._offset + blocks_end,
        )

    def _packet_blocks(
        self,
        buf: bytes,
        blk: npt.NDArray[np.int64],
        btype: npt.NDArray[np.uint32],
        blen: npt.NDArray[np.int64],
        u32: npt.NDArray[np.generic],
    ) -> RecordBatch | None:
        n = blk.shape[0]
        if not self._interfaces:
            self._status.add_problem(
                Problem(
                    "corrupt",
                    f"{n} packet blocks before any interface description block: they were skipped",
                    offset=self._offset + int(blk[0]),
                    fatal=False,
                )
            )
            return None
        order = "<" if self._little else ">"
        is_spb = btype == SPB
        is_opb = btype == OPB
        iface = np.zeros(n, dtype=np.int64)
        epb = ~is_spb & ~is_opb
        iface[epb] = u32[blk[epb] + 8]
        if is_opb.any():
            u16 = unaligned_view(buf, order + "u2")
            iface[is_opb] = u16[blk[is_opb] + 8]
        known = iface < len(self._interfaces)
        if not known.all():
            self._status.add_problem(
                Problem(
                    "corrupt",
                    f"{int((~known).sum())} packet blocks name an interface that was never described: "
                    "skipped",
                    offset=self._offset + int(blk[~known][0]),
                    fatal=False,
                )
            )
            blk, btype, blen, iface, is_spb, is_opb = (
                blk[known],
                btype[known],
                blen[known],
                iface[known],
                is_spb[known],
                is_opb[known],
            )
            n = blk.shape[0]
            if not n:
                return None
        linktypes = np.array([i.linktype for i in self._interfaces], dtype=np.uint16)
        snaplens = np.array([i.snaplen or 0xFFFFFFFF for i in self._interfaces], dtype=np.int64)
        tsoff = np.array([i.ts_offset for i in self._interfaces], dtype=np.float64)
        caplen = np.empty(n, dtype=np.int64)
        wirelen = np.empty(n, dtype=np.int64)
        starts = np.empty(n, dtype=np.int64)
        ts = np.full(n, np.nan, dtype=np.float64)
        full = ~is_spb  # EPB and OPB share the layout from the timestamp on
        fb = blk[full]
        caplen[full] = u32[fb + 20]
        wirelen[full] = u32[fb + 24]
        starts[full] = fb + 28
        ticks = (u32[fb + 12].astype(np.uint64) << np.uint64(32)) | u32[fb + 16].astype(np.uint64)
        ts[full] = _ticks_to_seconds(ticks, iface[full], self._interfaces) + tsoff[iface[full]]
        if is_spb.any():
            sb = blk[is_spb]
            wirelen[is_spb] = u32[sb + 8]
            starts[is_spb] = sb + 12
            caplen[is_spb] = np.minimum(np.minimum(wirelen[is_spb], blen[is_spb] - 16), snaplens[0])
        # a captured length longer than its block means a damaged block: keep what the block holds
        room = blk + blen - 4 - starts
        caplen = np.clip(np.minimum(caplen, room), 0, None)
        return RecordBatch(
            data=buf,
            starts=starts,
            caplen=caplen.astype(np.uint32),
            wirelen=wirelen.astype(np.uint32),
            ts=ts,
            linktype=linktypes[iface],
            interface=iface.astype(np.uint16),
            source_index=self._source_index,
        )

    def _finish(self) -> None:
        damage = self._stream.damage
        if self._pending:
            where = self._offset
            kind = "growing" if self._stream.grew_since_open() else "truncated"
            lead = (
                "the file is still being written: it grew while being read, and"
                if kind == "growing"
                else "the file is cut short:"
            )
            self._status.add_problem(
                Problem(
                    kind,
                    f"{lead} the block at byte {where} is incomplete ({len(self._pending)} bytes present); "
                    f"the {self._status.packets} complete packets before it were read",
                    offset=where,
                )
            )
        if damage is not None:
            self._status.add_problem(damage)


def _ticks_to_seconds(
    ticks: npt.NDArray[np.uint64],
    iface: npt.NDArray[np.int64],
    interfaces: list[Interface],
) -> npt.NDArray[np.float64]:
    """Epoch seconds from timestamp ticks; whole seconds are split off first so nanosecond ticks keep
    their precision."""
    out = np.empty(ticks.shape[0], dtype=np.float64)
    for idx, itf in enumerate(interfaces):
        sel = iface == idx
        if not sel.any():
            continue
        base, exp = itf.tick_exponent
        per_second = base**exp
        t = ticks[sel]
        if per_second >= 1 << 63:  # finer than uint64 arithmetic allows: plain floating point
            out[sel] = t.astype(np.float64) * itf.seconds_per_tick
            continue
        whole = t // np.uint64(per_second)
        frac = t - whole * np.uint64(per_second)
        out[sel] = whole.astype(np.float64) + frac.astype(np.float64) / per_second
    return out
