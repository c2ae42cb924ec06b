"""Capture sessions over a live capture or a followed dump folder, for the TUI and the headless commands.

`live_session(options)` and `follow_session(folder)` return a `WatchSession`, and so do
`remote_live_session(options, target)` and `remote_follow_session(target)` for a Pi reached over SSH: a
`CaptureSession`
(mode LIVE or FOLLOW) whose batches come from the source, whose `Progress.drops` is the source's drop
count, and whose `stop()` first stops the source and lets it end by itself, so that a capture tool's
last packets and final statistics are read before the ingest thread stops.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from engine.analysis import Analysis
from engine.capture.follow import DumpFollower, ResumePoint, StartAt
from engine.capture.live import LiveCapture, LiveOptions
from engine.capture.records import RecordBatch, SourceStatus
from engine.capture.remote_follow import RemoteDumpFollower
from engine.capture.remote_live import RemoteLiveCapture
from engine.capture.source import CaptureSet
from engine.capture.ssh_target import SshSettings, SshTarget
from engine.errors import HomescopeError
from engine.session import BatchSource, CaptureSession, Progress, SessionMode


class WatchSource(Protocol):
    """A source that runs until stopped: LiveCapture, DumpFollower or RemoteDumpFollower."""

    @property
    def statuses(self) -> list[SourceStatus]: ...

    def batches(self) -> Iterator[RecordBatch]: ...

    def stop(self) -> None: ...

    def drops(self) -> int | None: ...


class WatchSession(CaptureSession):
    """A CaptureSession fed by a WatchSource (see the module docstring)."""

    def __init__(
        self,
        source: WatchSource,
        *,
        mode: SessionMode,
        label: str,
        analysis: Analysis | None = None,
        on_error: Callable[[HomescopeError], None] | None = None,
    ) -> None:
        capture = CaptureSet([])
        capture.paths = [label]
        capture.statuses = source.statuses  # the same list: files the follower opens appear in it
        super().__init__(capture, mode=mode, analysis=analysis, batches=source.batches, on_error=on_error)
        self.source = source

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the source, give it `timeout` seconds to end (a capture tool writes its statistics when
        it stops), then stop the ingest thread."""
        self.source.stop()
        self.wait(timeout)
        super().stop(timeout)

    def progress(self) -> Progress:
        self.drops = self.source.drops()
        return super().progress()

    def wrap_batches(self, wrap: Callable[[BatchSource], BatchSource]) -> None:
        """Hand the source's batches through `wrap` (a history store's recorder); call before `start()`."""
        self._batches = wrap(self._batches)

    def path_of(self, index: int) -> str:
        """The file (or stream label) a batch's `source_index` came from."""
        path_of = getattr(self.source, "path_of", None)
        return path_of(index) if path_of is not None else self.capture.paths[0]

    def status_of(self, index: int) -> SourceStatus | None:
        """The account of the file a batch's `source_index` came from."""
        status_of = getattr(self.source, "status_of", None)
        if status_of is not None:
            found: SourceStatus | None = status_of(index)
            return found
        statuses = self.source.statuses
        return statuses[index] if 0 <= index < len(statuses) else None


def live_session(
    options: LiveOptions,
    *,
    analysis: Analysis | None = None,
    on_error: Callable[[HomescopeError], None] | None = None,
) -> WatchSession:
    """A live capture session; `session.source` is the LiveCapture. Nothing runs before `start()`;
    start-up problems (permission, interface, tool, filter) arrive as a LiveCaptureError through
    `on_error` and `Progress.error`. Call `LiveCapture.check()` first to catch the early ones at once."""
    source = LiveCapture(options)
    return WatchSession(
        source, mode=SessionMode.LIVE, label=f"live:{options.interface}", analysis=analysis, on_error=on_error
    )


def follow_session(
    directory: str,
    *,
    start: StartAt = "start",
    pattern: str | None = None,
    resume: ResumePoint | None = None,
    analysis: Analysis | None = None,
    on_error: Callable[[HomescopeError], None] | None = None,
) -> WatchSession:
    """A session following a dump folder; `session.source` is the DumpFollower (its `status()` is for the
    status bar, its `resume_point()` for a history store)."""
    source = DumpFollower(directory, start=start, pattern=pattern, resume=resume)
    return WatchSession(
        source, mode=SessionMode.FOLLOW, label=directory, analysis=analysis, on_error=on_error
    )


def remote_live_session(
    options: LiveOptions,
    target: SshTarget,
    *,
    ssh: SshSettings | None = None,
    tool_dirs: str | None = None,
    analysis: Analysis | None = None,
    on_error: Callable[[HomescopeError], None] | None = None,
) -> WatchSession:
    """A live capture on another machine over SSH; `session.source` is the RemoteLiveCapture. Nothing
    runs before `start()`; connection and capture problems arrive through `on_error` and
    `Progress.error` (exit code 5)."""
    source = RemoteLiveCapture(options, target, ssh=ssh, tool_dirs=tool_dirs)
    return WatchSession(
        source,
        mode=SessionMode.LIVE,
        label=f"live:{target.display}:{options.interface}",
        analysis=analysis,
        on_error=on_error,
    )


def remote_follow_session(
    target: SshTarget,
    *,
    ssh: SshSettings | None = None,
    start: StartAt = "start",
    pattern: str | None = None,
    resume: ResumePoint | None = None,
    analysis: Analysis | None = None,
    on_error: Callable[[HomescopeError], None] | None = None,
) -> WatchSession:
    """A session following a dump folder on another machine over SSH, reconnecting when the connection
    drops; `session.source` is the RemoteDumpFollower (its `status()` has the connection's state for the
    status bar). Call `session.source.check()` first to connect and report a wrong host, key or path at
    once."""
    source = RemoteDumpFollower(target, ssh=ssh, start=start, pattern=pattern, resume=resume)
    return WatchSession(
        source, mode=SessionMode.FOLLOW, label=target.describe(), analysis=analysis, on_error=on_error
    )
