"""Where reading of each capture file stopped, and how to tell it is still the same file.

A position is the byte offset just after the last complete record analysed (`RecordBatch.end_offset`, in
the decompressed stream for compressed files) with the counts read up to there. The file is recognised by
a hash of its first bytes (the pcap header and first packets, which carry capture timestamps): a dump
rotated away and a new one written under the same name, or a file replaced by another, do not match, while
the same file copied or moved elsewhere still does. Device and inode are kept as a hint for people.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field

import numpy as np

from engine.store.columns import Columns, object_column

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


def position_rows(positions: list[SourcePosition], sensor: str, run_id: int) -> Columns:
    """Rows of the `sources` table."""
    ident = [p.identity for p in positions]
    rows: Columns = {
        "sensor": object_column(sensor for _ in positions),
        "path": object_column(p.path for p in positions),
        "device": object_column(i.device if i else None for i in ident),
        "inode": object_column(i.inode if i else None for i in ident),
        "head_size": object_column(i.head_size if i else None for i in ident),
        "head_hash": object_column(i.head_hash if i else None for i in ident),
        "end_offset": np.array([p.end_offset for p in positions], dtype=np.int64),
        "packets": np.array([p.packets for p in positions], dtype=np.int64),
        "bytes": np.array([p.bytes for p in positions], dtype=np.int64),
        "captured_bytes": np.array([p.captured_bytes for p in positions], dtype=np.int64),
        "format": object_column(p.format for p in positions),
        "size": object_column(p.size for p in positions),
        "first_ts": object_column(p.first_ts for p in positions),
        "last_ts": object_column(p.last_ts for p in positions),
        "complete": np.array([p.complete for p in positions], dtype=bool),
        "run_id": np.full(len(positions), run_id, dtype=np.int32),
        "updated": np.full(len(positions), time.time()),
        "linktypes": object_column(json.dumps(p.linktypes) for p in positions),
        "problems": object_column(json.dumps(p.problems) for p in positions),
    }
    return rows
