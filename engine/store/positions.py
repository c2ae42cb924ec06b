"""Where reading of each capture file stopped, and how to tell it is still the same file.

A position is the byte offset just after the last complete record analysed (`RecordBatch.end_offset`, in
the decompressed stream for compressed files) with the counts read up to there. The file is recognised by
a hash of its first bytes (the pcap header and first packets, which carry capture timestamps): a dump
rotated away and a new one written under the same name, or a file replaced by another, do not match, while
the same file copied or moved elsewhere still does. Device and inode are kept as a hint for people.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

HEAD_BYTES = 64 << 10  # bytes hashed to recognise a file


@dataclass(frozen=True, slots=True)
class FileIdentity:
    device: int
    inode: int
    head_size: int  # how many leading bytes the hash covers (fewer for a file smaller than HEAD_BYTES)
    head_hash: str  # sha256 of those bytes, hex


@dataclass(slots=True)
class SourcePosition:
    """How far a capture file was analysed."""

    path: str
    identity: FileIdentity | None  # None for streams (stdin, pipes): they cannot be resumed
    end_offset: int = 0
    packets: int = 0  # packets analysed from the file's start up to end_offset (over every run)
    bytes: int = 0
    captured_bytes: int = 0
    first_ts: float | None = None
    last_ts: float | None = None
    format: str | None = None
    size: int | None = None
    complete: bool = False  # read to its end (a finished file, not one still being written)
    linktypes: dict[int, int] = field(default_factory=dict)
    problems: list[dict[str, object]] = field(default_factory=list)
    run_id: int | None = None  # the run that last read it


def identify(path: str, head_size: int | None = None) -> FileIdentity | None:
    """The identity of a regular file (hashing its first `head_size` bytes, default up to HEAD_BYTES);
    None for streams and for files that cannot be read."""
    if path == "-":
        return None
    try:
        st = os.stat(path)
        if not os.path.isfile(path):
            return None
        size = min(st.st_size, HEAD_BYTES) if head_size is None else head_size
        with open(path, "rb") as fh:
            head = fh.read(size)
    except OSError:
        return None
    if len(head) < size:
        return None
    return FileIdentity(st.st_dev, st.st_ino, size, hashlib.sha256(head).hexdigest())


def same_file(saved: SourcePosition, path: str) -> bool:
    """Whether `path` is the file `saved` describes (its first bytes are unchanged)."""
    if saved.identity is None:
        return False
    now = identify(path, saved.identity.head_size)
    return now is not None and now.head_hash == saved.identity.head_hash
