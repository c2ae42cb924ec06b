"""Raw bytes of one capture input: a file, a compressed file, or a stream on stdin or a pipe.

Compression is recognised by magic number, never by file name. Reads never lose bytes: when a compressed
stream ends early or is damaged, the bytes decompressed up to that point are returned first and the
problem is reported afterwards through `damage`.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import os
import stat
import sys
import zlib
from typing import BinaryIO

from engine.capture.records import Problem
from engine.errors import CaptureError

_SKIP_CHUNK = 1 << 20  # bytes read and dropped at a time when skipping in a stream or compressed file
_COMPRESSION_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)


def sniff_compression(head: bytes) -> str | None:
    """Name of the compression whose magic number starts `head`, or None."""
    for magic, name in _COMPRESSION_MAGIC:
        if head.startswith(magic):
            return name
    return None


class ByteStream:
    """Sequential reader over one input that knows where it is and how it ended.

    `read(n)` returns up to `n` bytes: exactly `n` from a file until its end, whatever is available (at
    least one byte) from a pipe, and `b""` at the end. `position` counts the (decompressed) bytes returned.
    """

    def __init__(self, raw: BinaryIO, *, name: str, is_stream: bool, size: int | None) -> None:
        self.name = name
        self.is_stream = is_stream
        self.size = size
        self.compression: str | None = None
        self.position = 0
        self.damage: Problem | None = None
        self._raw = raw
        self._reader: BinaryIO = raw
        self._pending = b""
        self._eof = False
        self._fd: int | None = None
        with contextlib.suppress(AttributeError, io.UnsupportedOperation, OSError):
            self._fd = raw.fileno()
        head = self._peek_raw(6)
        self.compression = sniff_compression(head)
        if self.compression == "zstd":
            raise CaptureError(
                f"{name}: the file is zstd-compressed, which homescope cannot read; "
                "decompress it first (zstd -d) and open the result.",
                path=name,
                kind="unsupported-format",
            )
        if self.compression is not None:
            self._reader = self._open_decompressor(self.compression)

    def _peek_raw(self, n: int) -> bytes:
        """Read the first bytes of the raw input without losing them."""
        head = b""
        while len(head) < n:
            chunk = self._read_raw_once(n - len(head))
            if not chunk:
                break
            head += chunk
        self._pending = head
        return head

    def _read_raw_once(self, n: int) -> bytes:
        if self.is_stream and self._fd is not None:
            return os.read(self._fd, n)
        return self._raw.read(n)

    def _open_decompressor(self, kind: str) -> BinaryIO:
        inner = _PrefixedReader(self._pending, self)
        self._pending = b""
        if kind == "gzip":
            return gzip.GzipFile(fileobj=inner, mode="rb")  # type: ignore[return-value]
        if kind == "bzip2":
            return bz2.BZ2File(inner, mode="rb")  # type: ignore[return-value]
        return lzma.LZMAFile(inner, mode="rb")  # type: ignore[arg-type,return-value]

    @property
    def raw_position(self) -> int:
        """Bytes of the underlying file consumed so far (compressed bytes for compressed input)."""
        if self._fd is not None and not self.is_stream:
            try:
                return os.lseek(self._fd, 0, os.SEEK_CUR)
            except OSError:
                return self.position
        return self.position

    def read(self, n: int) -> bytes:
        if self._eof or n <= 0:
            return b""
        data = self._read_plain(n) if self.compression is None else self._read_decompressed(n)
        if not data:
            self._eof = True
        self.position += len(data)
        return data

    def read_exact(self, n: int) -> bytes:
        """`n` bytes, or fewer only at the end of the input: a pipe may deliver them in several pieces."""
        data = self.read(n)
        if len(data) >= n or not data or not self.is_stream:
            return data
        parts = [data]
        got = len(data)
        while got < n:
            more = self.read(n - got)
            if not more:
                break
            parts.append(more)
            got += len(more)
        return b"".join(parts)

    def skip(self, n: int) -> int:
        """Move `n` bytes on without returning them: a seek in a plain file, reading and dropping them in a
        compressed file or a stream. Returns the bytes skipped (fewer only at the end of the input)."""
        if n <= 0 or self._eof:
            return 0
        skipped = 0
        if self.compression is None and not self.is_stream and self._fd is not None:
            if self._pending:
                take = min(n, len(self._pending))
                self._pending = self._pending[take:]
                skipped = take
            if skipped < n:
                try:
                    here = self._raw.tell()
                    end = os.fstat(self._fd).st_size
                    step = max(min(n - skipped, end - here), 0)
                    self._raw.seek(here + step)
                    skipped += step
                except OSError:
                    pass  # not seekable after all: read through below
        while skipped < n:
            data = self.read(min(n - skipped, _SKIP_CHUNK))
            if not data:
                break
            skipped += len(data)
            self.position -= len(data)  # counted once below
        self.position += skipped
        return skipped

    def _read_plain(self, n: int) -> bytes:
        if self._pending:
            data, self._pending = self._pending[:n], self._pending[n:]
            if self.is_stream or len(data) == n:
                return data
            return data + self._read_file(n - len(data))
        if self.is_stream:
            return self._read_raw_once(n)
        return self._read_file(n)

    def _read_file(self, n: int) -> bytes:
        parts: list[bytes] = []
        got = 0
        while got < n:
            chunk = self._raw.read(n - got)
            if not chunk:
                break
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)

    def _read_decompressed(self, n: int) -> bytes:
        parts: list[bytes] = []
        got = 0
        reader = self._reader
        while got < n:
            try:
                chunk = reader.read1(n - got)  # type: ignore[attr-defined]
            except EOFError:
                self.damage = Problem(
                    "truncated",
                    f"the {self.compression} stream ends before its end marker: "
                    "the compressed file is cut short",
                    offset=self.position + got,
                )
                break
            except (OSError, zlib.error, lzma.LZMAError, ValueError) as err:
                self.damage = Problem(
                    "corrupt",
                    f"the {self.compression} stream is damaged ({err})",
                    offset=self.position + got,
                )
                break
            if not chunk:
                break
            parts.append(chunk)
            got += len(chunk)
            if self.is_stream:
                break
        return b"".join(parts)

    def grew_since_open(self) -> bool:
        """True when the file on disk is now larger than when it was opened (still being written)."""
        if self._fd is None or self.is_stream or self.size is None:
            return False
        try:
            return os.fstat(self._fd).st_size > self.size
        except OSError:
            return False

    def close(self) -> None:
        with contextlib.suppress(OSError):
            if self._reader is not self._raw:
                self._reader.close()
        if self._raw is not sys.stdin.buffer:
            with contextlib.suppress(OSError):
                self._raw.close()


class _PrefixedReader(io.RawIOBase):
    """The raw input with the already-peeked bytes put back in front, for a decompressor to read."""

    def __init__(self, prefix: bytes, owner: ByteStream) -> None:
        self._prefix = prefix
        self._owner = owner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = len(buffer)
        if self._prefix:
            data, self._prefix = self._prefix[:n], self._prefix[n:]
        else:
            data = self._owner._read_raw_once(n)
        buffer[: len(data)] = data
        return len(data)


def open_byte_stream(path: str) -> ByteStream:
    """Open a capture input by path; `-` is stdin. Raises CaptureError with a clear message."""
    if path == "-":
        return ByteStream(sys.stdin.buffer, name="<stdin>", is_stream=True, size=None)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise CaptureError(f"{path}: no such file", path=path, kind="missing") from None
    except PermissionError:
        raise CaptureError(
            f"{path}: permission denied (cannot look at the file)", path=path, kind="permission"
        ) from None
    except OSError as err:
        raise CaptureError(f"{path}: cannot open ({err.strerror})", path=path) from None
    if stat.S_ISDIR(st.st_mode):
        raise CaptureError(
            f"{path}: is a directory; give capture files (or use `homescope follow {path}` "
            "to read and follow the dumps inside it)",
            path=path,
            kind="directory",
        )
    is_stream = stat.S_ISFIFO(st.st_mode) or stat.S_ISSOCK(st.st_mode) or stat.S_ISCHR(st.st_mode)
    try:
        raw = open(path, "rb", buffering=0 if is_stream else -1)  # noqa: SIM115 - owned by ByteStream
    except PermissionError:
        raise CaptureError(
            f"{path}: permission denied (the file is not readable by this user)", path=path, kind="permission"
        ) from None
    except OSError as err:
        raise CaptureError(f"{path}: cannot open ({err.strerror})", path=path) from None
    if not is_stream and st.st_size == 0:
        raw.close()
        raise CaptureError(f"{path}: the file is empty (0 bytes), not a capture", path=path, kind="empty")
    try:
        return ByteStream(raw, name=path, is_stream=is_stream, size=None if is_stream else st.st_size)
    except BaseException:
        raw.close()
        raise
