"""Working state of the decoder for one batch: byte views for gathering, and the columns being filled."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from engine.capture.record_walk import unaligned_view
from engine.capture.records import RecordBatch
from engine.decode.malformed import Malformed
from engine.decode.packets import ArpFields, TunnelLayers

Rows = slice | npt.NDArray[np.int64]


class ByteViews:
    """Views of a batch buffer that gather 1, 2, 4 or 8 bytes at arbitrary offsets in one numpy call."""

    def __init__(self, data: bytes) -> None:
        # short buffers are padded so that a clamped "safe" offset can always be read
        buf = data if len(data) >= 64 else data + bytes(64)
        self.size = len(buf)
        self.u8: npt.NDArray[np.uint8] = np.frombuffer(buf, dtype=np.uint8)
        self.be16: Any = unaligned_view(buf, ">u2")
        self.be32: Any = unaligned_view(buf, ">u4")
        self.be64: Any = unaligned_view(buf, ">u8")
        self.le16: Any = unaligned_view(buf, "<u2")
        self.le32: Any = unaligned_view(buf, "<u4")

    def safe(
        self, pos: npt.NDArray[np.int64], ok: npt.NDArray[np.bool_], width: int
    ) -> npt.NDArray[np.int64]:
        """`pos` where `ok`, else 0, and never closer than `width` bytes to the end of the buffer."""
        out = np.where(ok, pos, 0)
        np.clip(out, 0, self.size - width, out=out)
        return out

    def _gather(self, view: Any, width: int, pos: Any, ok: Any, dtype: type) -> Any:
        if ok is None or ok.all():
            return view[pos].astype(dtype)
        return np.where(ok, view[self.safe(pos, ok, width)], 0).astype(dtype)

    def u8_at(self, pos: npt.NDArray[np.int64], ok: Any = None) -> npt.NDArray[np.uint8]:
        """Byte at each offset; 0 where `ok` is False (those offsets may lie outside the buffer)."""
        result: npt.NDArray[np.uint8] = self._gather(self.u8, 1, pos, ok, np.uint8)
        return result

    def be16_at(self, pos: npt.NDArray[np.int64], ok: Any = None) -> npt.NDArray[np.uint16]:
        result: npt.NDArray[np.uint16] = self._gather(self.be16, 2, pos, ok, np.uint16)
        return result

    def be32_at(self, pos: npt.NDArray[np.int64], ok: Any = None) -> npt.NDArray[np.uint32]:
        result: npt.NDArray[np.uint32] = self._gather(self.be32, 4, pos, ok, np.uint32)
        return result

    def be64_at(self, pos: npt.NDArray[np.int64], ok: Any = None) -> npt.NDArray[np.uint64]:
        result: npt.NDArray[np.uint64] = self._gather(self.be64, 8, pos, ok, np.uint64)
        return result

    def le16_at(self, pos: npt.NDArray[np.int64], ok: Any = None) -> npt.NDArray[np.uint16]:
        result: npt.NDArray[np.uint16] = self._gather(self.le16, 2, pos, ok, np.uint16)
        return result

    def le32_at(self, pos: npt.NDArray[np.int64], ok: Any = None) -> npt.NDArray[np.uint32]:
        result: npt.NDArray[np.uint32] = self._gather(self.le32, 4, pos, ok, np.uint32)
        return result


class DecodeState:
    """The columns of a batch while its layers are decoded, shared by the per-layer decoders."""

    def __init__(self, batch: RecordBatch) -> None:
        n = len(batch)
        self.n = n
        self.batch = batch
        self.v = ByteViews(batch.data)
        self.start = batch.starts
        self.caplen = batch.caplen.astype(np.int64)
        self.end = self.start + self.caplen
        self.wirelen = batch.wirelen.astype(np.int64)
        self.cut = self.caplen < self.wirelen  # the capture kept less than the wire carried
        z64 = np.zeros(n, dtype=np.uint64)
        self.src_mac = z64
        self.dst_mac = z64.copy()
        self.has_src_mac = np.zeros(n, dtype=bool)
        self.has_dst_mac = np.zeros(n, dtype=bool)
        self.vlan = np.zeros(n, dtype=np.uint16)
        self.ethertype = np.zeros(n, dtype=np.uint16)
        self.link_class = np.zeros(n, dtype=np.uint8)
        self.l3 = np.full(n, -1, dtype=np.int64)
        self.ip_version = np.zeros(n, dtype=np.uint8)
        self.src_hi = z64.copy()
        self.src_lo = z64.copy()
        self.dst_hi = z64.copy()
        self.dst_lo = z64.copy()
        self.ip_proto = np.zeros(n, dtype=np.uint8)
        self.ttl = np.zeros(n, dtype=np.uint8)
        self.fragment = np.zeros(n, dtype=np.uint8)
        self.l4 = np.full(n, -1, dtype=np.int64)
        self.l4_end = np.full(n, -1, dtype=np.int64)
        self.sport = np.zeros(n, dtype=np.uint16)
        self.dport = np.zeros(n, dtype=np.uint16)
        self.tcp_flags = np.zeros(n, dtype=np.uint8)
        self.icmp_type = np.zeros(n, dtype=np.uint8)
        self.icmp_code = np.zeros(n, dtype=np.uint8)
        self.payload = np.full(n, -1, dtype=np.int64)
        self.payload_len = np.zeros(n, dtype=np.int64)
        self.malformed = np.zeros(n, dtype=np.uint8)
        self.snaplen_cut = np.zeros(n, dtype=bool)
        self.tunnels: TunnelLayers | None = None
        self.arp: ArpFields | None = None

    def flag(self, rows: Rows, bad: npt.NDArray[np.bool_], reason: Malformed) -> None:
        """Mark `rows[bad]` malformed for `reason`, or cut by the snap length when the capture was short.

        Only the first defect of a packet is kept.
        """
        if not bad.any():
            return
        idx = np.arange(self.n)[rows][bad] if isinstance(rows, slice) else rows[bad]
        cut = self.cut[idx]
        if cut.any():
            self.snaplen_cut[idx[cut]] = True
        real = idx[~cut]
        if real.size:
            fresh = real[self.malformed[real] == 0]
            self.malformed[fresh] = reason
