"""Following a folder of rotating capture files while a capture tool writes them.

`DumpFollower(folder).batches()` reads the dumps already there in time order (see `dump_order`), then
follows the newest file as it grows and moves on when the ring rotates: dumpcap's `-b` ring
(`hs_NNNNN_YYYYmmddHHMMSS.pcapng`) and tcpdump's `-G` / `-C` files alike. It needs no privileges, only
read access to the folder and its files.

- A record is handed out only once complete: at the end of the bytes written so far the reader keeps
  the partial record pending and the followed file waits (polling every `poll_interval`) for more
  bytes instead of reporting the file as cut short. A file is finished when a newer one appears, or
  when it is removed, replaced or truncated; only then can a partial record at its end count as
  truncation.
- A file compressed after rotation (`X.gz` appears, `X` disappears) is not read twice; a `.gz` whose
  original is still there is being written by the compressor and waits.
- Files the ring deletes while they are read are read to their end (the open file stays readable);
  files deleted before their turn are reported, with the number of ring files missed.
- An empty folder, or one whose newest file is finished, is waited on.

`status()` is a snapshot for a status bar (state, file, offset, size) and `resume_point()` names the
file and byte offset just after the last complete record handed out, from which a later run can go on
(`DumpFollower(folder, resume=...)`).
"""

from __future__ import annotations

import fnmatch
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import BinaryIO, Literal

import numpy as np

from engine.capture.byte_stream import ByteStream
from engine.capture.dump_order import (
    OrderKey,
    is_compressed_name,
    name_time,
    natural_key,
    order_key,
    parse_ring_name,
    uncompressed_name,
)
from engine.capture.folder_access import FileInfo, FolderAccess, LocalFolder
from engine.capture.records import Problem, RecordBatch, SourceStatus
from engine.capture.source import open_capture_stream
from engine.errors import CaptureError

StartAt = Literal["start", "now"]

POLL_INTERVAL = 0.2  # seconds between looks at a file that has no new bytes (dumpcap flushes every 0.1 s)
MAX_STATUSES = 64  # per-file statuses kept; older ones are summed into one
_KEEP_PROBLEMS = 20  # problems of the summed statuses kept


class FollowState(StrEnum):
    WAITING = "waiting"  # no file to read: the folder is empty, or its newest file is finished
    READING = "reading"  # reading what was written before (catching up)
    FOLLOWING = "following"  # at the end of the newest file, reading what is added as it is added
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class ResumePoint:
    """Where reading can go on later: a file of the folder and the byte offset just after the last
    complete record handed out (an offset in the decompressed data for a compressed file)."""

    file: str  # the file's name inside the folder
    offset: int


@dataclass(frozen=True, slots=True)
class FollowStatus:
    """What the follower is doing, for a status bar."""

    directory: str
    state: FollowState
    file: str | None  # path of the file being read, or the last one read
    offset: int  # byte offset after the last complete record handed out from `file`
    size: int | None  # size of `file` on disk, when it still exists
    files_read: int  # files read to their end
    packets: int  # packets handed out
    since: float  # wall-clock time (time.time()) the state began
    note: str | None  # the latest event worth telling (a skipped, missed or rewritten file)

    def describe(self) -> str:
        name = os.path.basename(self.file) if self.file else None
        if self.state == FollowState.WAITING:
            if self.files_read or name:
                return f"waiting for the next capture file in {self.directory}"
            return f"waiting for capture files in {self.directory} (none yet)"
        if self.state == FollowState.STOPPED:
            return f"stopped following {self.directory}"
        where = f"{name} at byte {self.offset:,}"
        if self.state == FollowState.READING:
            return f"reading {where} (catching up)"
        return f"following {where}"


class _Stopped(Exception):
    """Raised inside a waiting read when the follower is stopped."""


@dataclass(slots=True)
class _Entry:
    """A file seen in the folder."""

    name: str
    path: str
    base: str  # the name without a compression suffix
    compressed: bool
    dev: int
    ino: int
    size: int
    key: OrderKey


@dataclass(slots=True)
class _Done:
    ino: int
    size: int


class _FollowedStream(ByteStream):
    """A capture file read as it grows: `read` returns what is there (at least one byte) and, at the end
    of what is written so far, waits until more arrives or `finished(stream)` says no more will."""

    def __init__(
        self,
        raw: BinaryIO,
        *,
        name: str,
        finished: Callable[[_FollowedStream], bool],
        stop: threading.Event,
        poll_interval: float,
        limit: int | None,
    ) -> None:
        self._finished = finished
        self._stop_event = stop
        self._poll = poll_interval
        self.limit = limit  # deliver no byte past this offset until it is reached (resuming)
        self.follow = True
        self.caught_up = False  # the end of what was written was reached at least once
        self.consumed = 0  # bytes taken from the file
        self.ended = False  # `finished` said so: no more bytes will come
        super().__init__(raw, name=name, is_stream=True, size=None)
        if self.compression is not None:
            self.follow = False  # a compressed file is complete: its compressor is done with it

    def read(self, n: int) -> bytes:
        if self.limit is not None:
            if self.position < self.limit:
                n = min(n, self.limit - self.position)
            else:
                self.limit = None
        return super().read(n)

    def _read_raw_once(self, n: int) -> bytes:
        raw = self._raw
        while True:
            data = raw.read(n) or b""
            if data or not self.follow or self.ended:
                self.consumed += len(data)
                return data
            self.caught_up = True
            if self._finished(self):
                self.ended = True
                data = raw.read(n) or b""  # written just before the end was decided
                self.consumed += len(data)
                return data
            if self._stop_event.wait(self._poll):
                raise _Stopped


class DumpFollower:
    """Reads and follows the capture files of a folder; see the module docstring.

    `start="start"` reads every dump already there first; `"now"` skips to the end of the newest one and
    hands out only what is written from then on. `resume` goes on from a ResumePoint instead. `pattern`
    (a glob such as `hs_*.pcapng*`) limits which files count; hidden files never do. `folder` reaches
    the files (a LocalFolder of `directory` unless given: a RemoteFolder reads them over SSH).

    `batches()` may be called again after it ended with an exception (a remote connection dropped): set
    `resume` to `position()` first and it goes on from there, with everything read so far remembered.
    """

    def __init__(
        self,
        directory: str,
        *,
        start: StartAt = "start",
        pattern: str | None = None,
        resume: ResumePoint | None = None,
        poll_interval: float = POLL_INTERVAL,
        max_statuses: int = MAX_STATUSES,
        folder: FolderAccess | None = None,
    ) -> None:
        self.directory = directory
        self.folder: FolderAccess = folder if folder is not None else LocalFolder(directory)
        self.start = start
        self.pattern = pattern
        self.resume = resume
        self.poll_interval = poll_interval
        self.max_statuses = max(2, max_statuses)
        self.statuses: list[SourceStatus] = []  # one per file read (older ones summed into the first)
        self._stop = threading.Event()
        self._state = FollowState.WAITING
        self._since = time.time()
        self._file: str | None = None
        self._file_name: str | None = None
        self._offset = 0
        self._files_read = 0
        self._packets = 0
        self._live = False  # the end of the newest file was reached once: from now on we follow
        self._done: dict[str, _Done] = {}  # by name without compression suffix
        self._floor: OrderKey | None = None  # files ordered before this one are not read
        self._older: set[tuple[str, int]] = set()  # files skipped for being older (said once)
        self._first_packets: dict[str, tuple[int, int, float]] = {}  # name -> (inode, size, first ts)
        self._names: dict[int, str] = {}  # source index -> file name, for resume points of batches
        self._opened: dict[int, SourceStatus] = {}  # source index -> its status, for a history store
        self._next_index = 0
        self._events: deque[tuple[int, str]] = deque(maxlen=100)
        self._event_count = 0
        self._latest_event: str | None = None
        self._last_ring: tuple[str, int] | None = None  # (prefix, sequence) of the last ring file read
        self._folded = 0
        self._folded_drops = 0
        self._summary: SourceStatus | None = None
        self._lock = threading.Lock()

    # ---- control and status ------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop following (from any thread): a waiting read gives up within `poll_interval`."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def status(self) -> FollowStatus:
        size = self.folder.known_size(self._file_name) if self._file_name is not None else None
        return FollowStatus(
            directory=self.directory,
            state=self._state,
            file=self._file,
            offset=self._offset,
            size=size,
            files_read=self._files_read,
            packets=self._packets,
            since=self._since,
            note=self._latest_event,
        )

    def resume_point(self) -> ResumePoint | None:
        """The file and offset after the last complete record handed out, or None before the first."""
        if self._file_name is None or not self._offset:
            return None
        return ResumePoint(self._file_name, self._offset)

    def position(self) -> ResumePoint | None:
        """Like `resume_point()`, but also at the very start of a file that is open: where a restarted
        `batches()` goes on so that nothing is read twice or missed."""
        if self._file_name is None:
            return None
        return ResumePoint(self._file_name, self._offset)

    def resume_point_of(self, batch: RecordBatch) -> ResumePoint | None:
        """Where reading can go on after `batch` (one this follower handed out recently)."""
        name = self._names.get(batch.source_index)
        return ResumePoint(name, batch.end_offset) if name is not None else None

    def path_of(self, index: int) -> str:
        """The path of the file a batch's `source_index` came from (for a recent batch)."""
        name = self._names.get(index)
        return self.folder.path_of(name) if name is not None else self.directory

    def status_of(self, index: int) -> SourceStatus | None:
        """The account of the file a batch's `source_index` came from (for a recent batch)."""
        return self._opened.get(index)

    def note(self, text: str) -> None:
        """Add an event worth telling (a source that wraps this follower tells of its connection)."""
        self._event(text)

    def events_since(self, count: int) -> list[tuple[int, str]]:
        """Events (skipped, missed, rewritten files) numbered after `count`, oldest first."""
        with self._lock:
            return [(n, text) for n, text in self._events if n > count]

    def drops(self) -> int | None:
        """Packets the capture reported dropped, from interface statistics blocks in the files read
        (dumpcap writes them only when it closes a capture without a ring), or None when none said."""
        counts = [
            s.dropped for st in self.statuses for s in st.interface_stats.values() if s.dropped is not None
        ]
        if not counts and not self._folded_drops:
            return None
        return sum(counts) + self._folded_drops

    # ---- reading -----------------------------------------------------------------------------------

    def batches(self) -> Iterator[RecordBatch]:
        """Record batches of every file in turn, waiting for more, until `stop()`. Raises CaptureError
        when the folder cannot be read."""
        self.check()
        first = True
        try:
            while not self._stop.is_set():
                candidates = self._candidates(self._scan())
                limit: int | None = None
                skip_existing = False
                if first:
                    first = False
                    candidates, limit, skip_existing = self._starting_point(candidates)
                if not candidates:
                    self._set_state(FollowState.WAITING)
                    if self._stop.wait(self.poll_interval):
                        break
                    continue
                entry = candidates[0]
                self._note_missed(entry)
                yield from self._read(entry, limit=limit, skip_existing=skip_existing)
        except _Stopped:
            pass
        finally:
            self._set_state(FollowState.STOPPED)

    def _starting_point(self, candidates: list[_Entry]) -> tuple[list[_Entry], int | None, bool]:
        """The files to read first, the offset to resume at in the first one, and whether to skip what
        the first one holds already (`start="now"`)."""
        if self.resume is not None:
            return self._resume_at(candidates, self.resume)
        if self.start == "now":
            live = [e for e in candidates if not e.compressed]
            if not live:
                if candidates:
                    self._floor = _after(candidates[-1].key)
                    self._older.update((e.name, e.ino) for e in candidates)
                return [], None, False
            newest = live[-1]
            self._floor = newest.key
            self._older.update((e.name, e.ino) for e in candidates if e is not newest)
            return [newest], None, True
        return candidates, None, False

    def _resume_at(
        self, candidates: list[_Entry], resume: ResumePoint
    ) -> tuple[list[_Entry], int | None, bool]:
        for i, e in enumerate(candidates):
            if resume.file in (e.name, e.base):
                self._floor = e.key
                self._older.update((o.name, o.ino) for o in candidates[:i])
                if e.size < resume.offset and not e.compressed:
                    self._event(
                        f"{e.name}: smaller than the resume offset {resume.offset:,}: "
                        "it was rewritten, so it is read from its start"
                    )
                    return candidates[i:], None, False
                return candidates[i:], resume.offset, False
        from_name = name_time(resume.file)
        if from_name is not None:
            key = (from_name[0], from_name[1], natural_key(uncompressed_name(resume.file)))
            self._floor = _after(key)
            later = [e for e in candidates if e.key > key]
            self._older.update((e.name, e.ino) for e in candidates if e.key <= key)
            self._event(f"{resume.file}: gone (deleted by the ring?); going on with the files after it")
            return later, None, False
        self._event(f"{resume.file}: gone, and its name gives no time: reading every file from the start")
        return candidates, None, False

    def _read(self, entry: _Entry, *, limit: int | None, skip_existing: bool) -> Iterator[RecordBatch]:
        try:
            raw, st = self.folder.open(entry.name)
        except FileNotFoundError:
            self._event(f"{entry.name}: deleted before it could be read (the ring removes the oldest files)")
            self._finish(entry, entry.ino, 0)
            return
        index = self._next_index
        self._next_index += 1
        self._names[index] = entry.name
        self._names.pop(index - 1024, None)
        self._file = entry.path
        self._file_name = entry.name
        self._offset = limit or 0
        if not self._live:
            self._set_state(FollowState.READING)
        # going on in the file read last (a restart after a lost connection): its status goes on too
        resumed = (
            limit is not None
            and self.statuses
            and self.statuses[-1].path == entry.path
            and self.statuses[-1] is not self._summary
        )
        status = self.statuses[-1] if resumed else SourceStatus(path=entry.path)
        if limit is not None and not resumed:
            status.start_offset = limit  # its counts start there (a history store goes on from its own)
        self._opened[index] = status
        self._opened.pop(index - 1024, None)
        first_ts = status.first_ts if resumed else None
        status.finished = False
        try:
            stream = _FollowedStream(
                raw,
                name=entry.path,
                finished=lambda s: self._file_finished(entry, s, st),
                stop=self._stop,
                poll_interval=self.poll_interval,
                limit=limit,
            )
        except CaptureError as err:  # a zstd file
            raw.close()
            if not resumed:
                self._add_status(status)
            status.add_problem(Problem(err.kind, err.message))
            status.finished = True
            self._finish(entry, st.ino, st.size)
            return
        except BaseException:
            raw.close()
            raise
        if not resumed:
            self._add_status(status)
        try:
            capture = open_capture_stream(stream, status, index)
        except CaptureError as err:
            status.add_problem(Problem(err.kind, err.message))
            status.finished = True
            self._finish(entry, st.ino, stream.consumed)
            return
        for batch in capture.batches():
            if (skip_existing and not stream.caught_up) or (limit is not None and batch.end_offset <= limit):
                _forget(status, batch)
                status.first_ts = first_ts
                self._offset = batch.end_offset
                continue
            self._offset = batch.end_offset
            self._packets += len(batch)
            yield batch
        self._finish(entry, st.ino, stream.consumed)

    def _file_finished(self, entry: _Entry, stream: _FollowedStream, opened: FileInfo) -> bool:
        """At the end of what `entry` holds so far: is it finished (True), or may it grow (False)?"""
        if self._stop.is_set():
            raise _Stopped
        try:
            now = self.folder.stat(entry.name)
        except FileNotFoundError:
            compressed = any(
                uncompressed_name(n) == entry.name and n != entry.name for n in self.folder.names()
            )
            if not compressed:
                self._event(f"{entry.name}: removed while being read; it was read to its end")
            return True
        if (now.dev, now.ino) != (opened.dev, opened.ino):
            self._event(f"{entry.name}: replaced by a new file of the same name, which is read next")
            return True
        if now.size < stream.consumed:
            self._event(
                f"{entry.name}: truncated while being read (rewritten from its start); "
                "the new content is read next"
            )
            return True
        for other in self._candidates(self._scan()):
            if other.name == entry.name:
                if other.ino != opened.ino:  # replaced since the stat above
                    self._event(f"{entry.name}: replaced by a new file of the same name, which is read next")
                    return True
            elif other.key > entry.key:
                return True
        if not self._live:
            self._live = True
        self._set_state(FollowState.FOLLOWING)
        return False

    def _finish(self, entry: _Entry, ino: int, size: int) -> None:
        self._done[entry.base] = _Done(ino, size)
        self._floor = entry.key if self._floor is None or entry.key > self._floor else self._floor
        self._files_read += 1
        ring = parse_ring_name(entry.name)
        if ring is not None:
            self._last_ring = (ring.prefix, ring.sequence)

    def _note_missed(self, entry: _Entry) -> None:
        """Tell when the ring deleted files before they could be read (a gap in its sequence numbers)."""
        ring = parse_ring_name(entry.name)
        if ring is None or self._last_ring is None:
            return
        prefix, last = self._last_ring
        if ring.prefix == prefix and ring.sequence > last + 1:
            missed = ring.sequence - last - 1
            self._event(
                f"{missed} ring file{'s' if missed != 1 else ''} (numbers {last + 1} to {ring.sequence - 1}) "
                "were deleted by the ring before they could be read: their packets are missing"
            )

    # ---- the folder --------------------------------------------------------------------------------

    def check(self) -> None:
        """Check that the folder exists and can be read; raises CaptureError with how to fix it."""
        self.folder.check()

    def _scan(self) -> list[_Entry]:
        """The capture files in the folder now, in time order."""
        entries: list[_Entry] = []
        for info in self.folder.scan():
            name = info.name
            if name.startswith(".") or (self.pattern is not None and not fnmatch.fnmatch(name, self.pattern)):
                continue
            if not info.regular:
                continue
            first = None if name_time(name) is not None else self._first_packet(info)
            entries.append(
                _Entry(
                    name=name,
                    path=self.folder.path_of(name),
                    base=uncompressed_name(name),
                    compressed=is_compressed_name(name),
                    dev=info.dev,
                    ino=info.ino,
                    size=info.size,
                    key=order_key(name, first, info.mtime),
                )
            )
        present = {e.name for e in entries}
        for cached in [n for n in self._first_packets if n not in present]:
            del self._first_packets[cached]
        self._older &= {(e.name, e.ino) for e in entries}
        bases = {e.base for e in entries}
        for gone in [b for b in self._done if b not in bases]:
            del self._done[gone]
        entries.sort(key=lambda e: e.key)
        return entries

    def _candidates(self, entries: list[_Entry]) -> list[_Entry]:
        """The files still to read, in order."""
        present = {e.name for e in entries}
        out: list[_Entry] = []
        for e in entries:
            if e.compressed and e.base in present:
                continue  # being compressed: the original is still there
            done = self._done.get(e.base)
            if done is not None and (e.compressed or (e.ino == done.ino and e.size >= done.size)):
                continue  # read already (or its compressed copy)
            if self._floor is not None and e.key < self._floor:
                if (e.name, e.ino) not in self._older:
                    self._older.add((e.name, e.ino))
                    self._event(f"{e.name}: older than the files already read: skipped")
                continue
            out.append(e)
        return out

    def _first_packet(self, info: FileInfo) -> float | None:
        cached = self._first_packets.get(info.name)
        if cached is not None and cached[0] == info.ino and info.size >= cached[1]:
            return cached[2]
        found = self.folder.first_timestamp(info.name)
        if found is not None:
            self._first_packets[info.name] = (info.ino, info.size, found)
        return found

    # ---- bookkeeping -------------------------------------------------------------------------------

    def _set_state(self, state: FollowState) -> None:
        if state != self._state:
            self._state = state
            self._since = time.time()

    def _event(self, text: str) -> None:
        with self._lock:
            self._event_count += 1
            self._events.append((self._event_count, text))
            self._latest_event = text

    def _add_status(self, status: SourceStatus) -> None:
        self.statuses.append(status)
        if len(self.statuses) > self.max_statuses:
            self._fold_statuses()

    def _fold_statuses(self) -> None:
        """Sum the oldest finished statuses into one, keeping the list short (a ring can rotate every
        minute for months). Their problems are kept, the last few of them."""
        if self._summary is None:
            self._summary = SourceStatus(path="", format=self.statuses[0].format, finished=True)
            self.statuses.insert(0, self._summary)
        summary = self._summary
        cut = len(self.statuses) - self.max_statuses // 2
        kept = [summary]
        for i, st in enumerate(self.statuses[1:], start=1):
            if i < cut and st.finished:
                _add_counts(summary, st)
                self._folded += 1
                self._folded_drops += sum(s.dropped or 0 for s in st.interface_stats.values())
            else:
                kept.append(st)
        del summary.problems[:-_KEEP_PROBLEMS]
        summary.path = f"{self.directory} ({self._folded} earlier files)"
        self.statuses[:] = kept


def _after(key: OrderKey) -> OrderKey:
    """A key just after `key`: files with it are not read again."""
    return key[0], key[1], (*key[2], (2, 0, ""))


def _forget(status: SourceStatus, batch: RecordBatch) -> None:
    """Take a batch that is skipped (it was there before `start="now"`, or before the resume point) out
    of a status's counts."""
    status.packets -= len(batch)
    status.bytes -= int(batch.wirelen.sum(dtype=np.int64))
    status.captured_bytes -= int(batch.caplen.sum(dtype=np.int64))
    types, counts = np.unique(batch.linktype, return_counts=True)
    for t, c in zip(types.tolist(), counts.tolist(), strict=True):
        left = status.linktypes.get(t, 0) - c
        if left > 0:
            status.linktypes[t] = left
        else:
            status.linktypes.pop(t, None)
    plausible = (batch.ts >= 0.0) & (batch.ts < float(1 << 32))
    status.untimed_packets -= len(batch) - int(plausible.sum())
    status.first_ts = None


def _add_counts(into: SourceStatus, st: SourceStatus) -> None:
    into.packets += st.packets
    into.bytes += st.bytes
    into.captured_bytes += st.captured_bytes
    into.bytes_read += st.bytes_read
    into.problems.extend(
        Problem(p.kind, f"{os.path.basename(st.path)}: {p.message}", p.offset, fatal=False)
        for p in st.problems
    )
    into.untimed_packets += st.untimed_packets
    for t, c in st.linktypes.items():
        into.linktypes[t] = into.linktypes.get(t, 0) + c
    if st.first_ts is not None and (into.first_ts is None or st.first_ts < into.first_ts):
        into.first_ts = st.first_ts
