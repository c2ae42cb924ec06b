"""Finding record boundaries in a buffer: the one per-record Python loop of the reading path.

Both pcap records and pcapng blocks are length-prefixed, so finding where each one starts is inherently
sequential. Everything else (timestamps, lengths, validation) is gathered afterwards with numpy at the
offsets found here. The loop reads the length through four `uint32` memoryviews shifted by 0..3 bytes,
which avoids a tuple allocation per record and runs at about 5 M records/s.
"""

from __future__ import annotations

import struct
import sys

import numpy as np
import numpy.typing as npt

_NATIVE_LITTLE = sys.byteorder == "little"


def walk_records(
    buf: bytes, start: int, length_at: int, fixed: int, little_endian: bool, limit: int | None = None
) -> list[int]:
    """Offsets of consecutive records in `buf`, starting at `start`.

    Each record is `fixed + L` bytes long, where `L` is the unsigned 32-bit integer `length_at` bytes into
    the record (pcap: caplen at 8, fixed 16 bytes; pcapng: block length at 4, fixed 0). A record whose
    length field lies in `buf` is listed even when its body runs past the end; the caller checks that.
    `limit` caps the number of records listed.
    """
    n = len(buf)
    last = n - length_at - 4  # the last record start whose length field still fits
    offsets: list[int] = []
    append = offsets.append
    off = start
    cap = limit if limit is not None else n
    if little_endian == _NATIVE_LITTLE:
        base = memoryview(buf)
        views = tuple(base[a : a + ((n - a) // 4) * 4].cast("I") for a in range(4))
        try:
            count = 0
            while off <= last and count < cap:
                append(off)
                x = off + length_at
                step = fixed + views[x & 3][x >> 2]
                if step <= 0:  # a zero-length pcapng block would loop forever; the caller rejects it
                    break
                off += step
                count += 1
        finally:
            for v in views:
                v.release()
            base.release()
        return offsets
    unpack_from = struct.Struct("<I" if little_endian else ">I").unpack_from
    count = 0
    while off <= last and count < cap:
        append(off)
        step = fixed + unpack_from(buf, off + length_at)[0]
        if step <= 0:
            break
        off += step
        count += 1
    return offsets


def unaligned_view(buf: bytes, dtype: str) -> npt.NDArray[np.generic]:
    """A numpy view of `buf` in which element `i` is the value of type `dtype` starting at byte `i`.

    Indexing it with an array of byte offsets gathers unaligned integers of either byte order in one go.
    """
    size = np.dtype(dtype).itemsize
    count = max(len(buf) - size + 1, 0)
    return np.ndarray((count,), dtype=dtype, buffer=buf, strides=(1,))
