"""Bounds-checked reading of wire formats, and the byte-stream reassembly the TLS and QUIC parsers share.

Every read past the end of the data raises `MalformedMessage("truncated", ...)`, so parsers written against
`Reader` cannot raise IndexError or struct.error on damaged input.
"""

from __future__ import annotations

import re
import struct

from engine.protocols.errors import MalformedMessage

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")

Buffer = bytes | bytearray


class Reader:
    """A cursor over `data[pos:end]` reading big-endian integers, QUIC varints and byte strings."""

    __slots__ = ("_what", "data", "end", "pos")

    def __init__(self, data: Buffer, pos: int = 0, end: int | None = None, what: str = "message") -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else min(end, len(data))
        self._what = what

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def _need(self, n: int) -> int:
        pos = self.pos
        if n > self.end - pos:
            raise MalformedMessage(
                "truncated", f"{self._what}: {n} bytes needed at {pos}, {self.end - pos} left"
            )
        self.pos = pos + n
        return pos

    def u8(self) -> int:
        return self.data[self._need(1)]

    def u16(self) -> int:
        value: int = _U16.unpack_from(self.data, self._need(2))[0]
        return value

    def u24(self) -> int:
        pos = self._need(3)
        return int.from_bytes(self.data[pos : pos + 3], "big")

    def u32(self) -> int:
        value: int = _U32.unpack_from(self.data, self._need(4))[0]
        return value

    def take(self, n: int) -> bytes:
        pos = self._need(n)
        return bytes(self.data[pos : pos + n])

    def skip(self, n: int) -> None:
        self._need(n)

    def sub(self, n: int, what: str | None = None) -> Reader:
        """A reader over the next `n` bytes (a length-prefixed block); this reader moves past them."""
        pos = self._need(n)
        return Reader(self.data, pos, pos + n, what or self._what)

    def varint(self) -> int:
        """A QUIC variable-length integer (RFC 9000 §16): the top two bits of the first byte give its size."""
        first = self.u8()
        size = 1 << (first >> 6)
        value = first & 0x3F
        if size > 1:
            pos = self._need(size - 1)
            value = (value << (8 * (size - 1))) | int.from_bytes(self.data[pos : pos + size - 1], "big")
        return value

    def u16_list(self, n: int) -> tuple[int, ...]:
        """`n` bytes read as big-endian uint16 values (`n` must be even)."""
        if n & 1:
            raise MalformedMessage("odd-length", f"{self._what}: a list of 16-bit values has {n} bytes")
        pos = self._need(n)
        return struct.unpack_from(f">{n // 2}H", self.data, pos)


# Control characters and DEL are escaped so names from the network cannot drive a terminal.
_UNPRINTABLE = re.compile(rb"[^\x20-\x7e]")


def printable(raw: bytes) -> str:
    """ASCII text of a name or header value, with every byte outside 0x20-0x7e shown as `\\xNN`."""
    if _UNPRINTABLE.search(raw) is None:
        return raw.decode("ascii")
    return _UNPRINTABLE.sub(lambda m: b"\\x%02x" % m.group()[0], raw).decode("ascii")


class StreamBuffer:
    """One byte stream rebuilt from pieces placed by offset, keeping the contiguous prefix from offset 0.

    Pieces past a hole wait (bounded by `cap` bytes in all) until the hole fills; overlapping and duplicate
    pieces keep the bytes that arrived first. Nothing at or beyond offset `cap` is accepted.
    """

    __slots__ = ("_pending", "_pending_bytes", "cap", "prefix")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.prefix = bytearray()
        self._pending: dict[int, bytes] = {}
        self._pending_bytes = 0

    def add(self, offset: int, data: bytes) -> bool:
        """Place `data` at `offset`; True when the contiguous prefix grew. Raises `too-large` past the cap."""
        end = offset + len(data)
        if end > self.cap:
            raise MalformedMessage("too-large", f"stream data up to offset {end}, limit {self.cap}")
        have = len(self.prefix)
        if end <= have or not data:
            return False  # a duplicate of bytes already in the prefix
        if offset > have:
            old = self._pending.get(offset)
            if old is None or len(old) < len(data):
                self._pending_bytes += len(data) - (len(old) if old else 0)
                if self._pending_bytes > self.cap:
                    raise MalformedMessage("too-large", "out-of-order stream data beyond the limit")
                self._pending[offset] = data
            return False
        self.prefix += data[have - offset :]
        while self._pending:
            # absorb every waiting piece that now touches the end of the prefix
            have = len(self.prefix)
            touching = [off for off in self._pending if off <= have]
            if not touching:
                break
            for off in sorted(touching):
                piece = self._pending.pop(off)
                self._pending_bytes -= len(piece)
                have = len(self.prefix)
                if off + len(piece) > have:
                    self.prefix += piece[have - off :]
        return True

    def clear(self) -> None:
        self.prefix = bytearray()
        self._pending.clear()
        self._pending_bytes = 0
