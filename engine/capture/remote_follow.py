"""Following the Pi's rotating dumps from another machine, over SSH, through lost connections.

`RemoteDumpFollower(target)` is the local `DumpFollower` (same time order, rotation, compression and
record-boundary rules) reading through a `RemoteFolder`. When the connection drops (Wi-Fi, a sleeping
laptop, the Pi rebooting) it reconnects with a growing delay (1, 2, 4 ... up to 30 s, for ever) and goes on
at the ResumePoint of the follower: the file and byte offset just after the last complete record handed
out, so that no packet is lost or read twice. If the ring deleted that file in the meantime, it goes on
with the files after it and says how many were missed.

The first connection is not retried: a wrong name, key or path is reported at once (a RemoteError).
Nor are failures that waiting will not mend (a rejected key, a changed host key, a folder gone).

`status()` is a snapshot for a status bar: the follower's own (state, file, offset) plus the
connection's (connected / disconnected / retrying, attempt N, next in S seconds, resumed at file and
offset); `describe()` puts it in a few words.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from engine.capture.follow import POLL_INTERVAL, DumpFollower, FollowState, FollowStatus, ResumePoint, StartAt
from engine.capture.records import RecordBatch, SourceStatus
from engine.capture.remote_folder import RemoteFolder
from engine.capture.ssh_target import SshSettings, SshTarget
from engine.errors import RemoteError

REMOTE_POLL_INTERVAL = 0.5  # seconds between looks at a file with no new bytes: each look is a round trip
FIRST_RETRY = 1.0
LONGEST_RETRY = 30.0
SHOW_RESUMED = 30.0  # seconds the status line keeps saying where reading resumed


class ConnectionState(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RETRYING = "retrying"  # the connection was lost: waiting before the next attempt
    STOPPED = "stopped"
    FAILED = "failed"  # a failure that trying again will not mend


@dataclass(frozen=True, slots=True)
class ConnectionStatus:
    """The SSH connection of a remote source, for a status bar."""

    target: str
    state: ConnectionState
    attempt: int  # reconnection attempts since the connection was lost (0 while connected)
    next_retry_in: float | None  # seconds until the next attempt, while retrying
    last_error: str | None  # why the connection was lost (or failed), in a few words
    resumed_at: ResumePoint | None  # where reading went on after the latest reconnection
    resumed_ago: float | None  # seconds since then
    reconnections: int
    since: float  # wall-clock time (time.time()) the state began

    def describe(self) -> str:
        if self.state == ConnectionState.CONNECTING:
            return f"connecting to {self.target}"
        if self.state == ConnectionState.RETRYING:
            why = f" ({self.last_error})" if self.last_error else ""
            when = f", next in {self.next_retry_in:.0f} s" if self.next_retry_in is not None else ""
            return f"disconnected from {self.target}{why}; retrying (attempt {self.attempt}{when})"
        if self.state == ConnectionState.FAILED:
            return f"connection to {self.target} failed: {self.last_error}"
        if self.state == ConnectionState.STOPPED:
            return f"disconnected from {self.target}"
        return f"connected to {self.target}"


@dataclass(frozen=True, slots=True)
class RemoteFollowStatus:
    """The follower's status and its connection's. `state`, `file`, `offset`, `files_read` and `packets`
    are the follower's, as in FollowStatus."""

    follow: FollowStatus
    connection: ConnectionStatus

    @property
    def state(self) -> FollowState:
        return self.follow.state

    @property
    def file(self) -> str | None:
        return self.follow.file

    @property
    def offset(self) -> int:
        return self.follow.offset

    @property
    def files_read(self) -> int:
        return self.follow.files_read

    @property
    def packets(self) -> int:
        return self.follow.packets

    def describe(self) -> str:
        c = self.connection
        if c.state != ConnectionState.CONNECTED:
            return c.describe()
        text = self.follow.describe()
        if c.resumed_at is not None and c.resumed_ago is not None and c.resumed_ago < SHOW_RESUMED:
            text += f" (reconnected: resumed at {c.resumed_at.file} byte {c.resumed_at.offset:,})"
        return text


class RemoteDumpFollower:
    """Follows a dump folder on another machine over SSH; see the module docstring. Has the same
    `batches()`, `stop()`, `status()`, `resume_point()`, `events_since()` and `drops()` as DumpFollower."""

    def __init__(
        self,
        target: SshTarget,
        *,
        ssh: SshSettings | None = None,
        start: StartAt = "start",
        pattern: str | None = None,
        resume: ResumePoint | None = None,
        poll_interval: float = REMOTE_POLL_INTERVAL,
        first_retry: float = FIRST_RETRY,
        longest_retry: float = LONGEST_RETRY,
    ) -> None:
        self.target = target
        self.folder = RemoteFolder(target, ssh, on_connect=self._connected)
        self.follower = DumpFollower(
            target.describe(),
            start=start,
            pattern=pattern,
            resume=resume,
            poll_interval=poll_interval if poll_interval > 0 else POLL_INTERVAL,
            folder=self.folder,
        )
        self.directory = self.follower.directory
        self.first_retry = first_retry
        self.longest_retry = longest_retry
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._state = ConnectionState.CONNECTING
        self._since = time.time()
        self._attempt = 0
        self._next_at: float | None = None
        self._last_error: str | None = None
        self._resuming: ResumePoint | None = None
        self._resumed_at: ResumePoint | None = None
        self._resumed_when: float | None = None
        self._reconnections = 0

    @property
    def statuses(self) -> list[SourceStatus]:
        return self.follower.statuses

    # ---- control and status ------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop following (from any thread): a wait gives up at once, a request on a dead link soon."""
        self._stop.set()
        self.follower.stop()
        timer = threading.Timer(1.0, self.folder.kill)  # a request stuck on a dead link
        timer.daemon = True
        timer.start()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def status(self) -> RemoteFollowStatus:
        with self._lock:
            now = time.time()
            next_in = max(0.0, self._next_at - time.monotonic()) if self._next_at is not None else None
            connection = ConnectionStatus(
                target=self.target.display,
                state=self._state,
                attempt=self._attempt,
                next_retry_in=next_in if self._state == ConnectionState.RETRYING else None,
                last_error=self._last_error,
                resumed_at=self._resumed_at,
                resumed_ago=now - self._resumed_when if self._resumed_when is not None else None,
                reconnections=self._reconnections,
                since=self._since,
            )
        return RemoteFollowStatus(self.follower.status(), connection)

    def resume_point(self) -> ResumePoint | None:
        return self.follower.resume_point()

    def resume_point_of(self, batch: RecordBatch) -> ResumePoint | None:
        return self.follower.resume_point_of(batch)

    def events_since(self, count: int) -> list[tuple[int, str]]:
        return self.follower.events_since(count)

    def path_of(self, index: int) -> str:
        return self.follower.path_of(index)

    def status_of(self, index: int) -> SourceStatus | None:
        return self.follower.status_of(index)

    def drops(self) -> int | None:
        return self.follower.drops()

    def check(self) -> None:
        """Connect and check the folder now; raises RemoteError (`batches()` uses this connection)."""
        self.follower.check()

    def command(self) -> list[str]:
        """The ssh command line of the connection."""
        return self.folder.command()

    # ---- reading -----------------------------------------------------------------------------------

    def batches(self) -> Iterator[RecordBatch]:
        """Record batches as the follower reads them, reconnecting when the connection drops, until
        `stop()`. Raises RemoteError when the first connection fails or a later failure will not mend."""
        try:
            while not self._stop.is_set():
                try:
                    yield from self.follower.batches()
                    return
                except RemoteError as err:
                    self.folder.close()
                    if self._stop.is_set():
                        return
                    if self.folder.connections == 0 or not err.retryable:
                        self._set_state(ConnectionState.FAILED, error=err.message)
                        raise
                    self._lost(err)
                if not self._reconnect():
                    return
        finally:
            self.folder.close()
            if self._state != ConnectionState.FAILED:
                self._set_state(ConnectionState.STOPPED)

    def _lost(self, err: RemoteError) -> None:
        """Remember where to go on, and say that the connection was lost."""
        point = self.follower.position()
        if point is not None:
            self.follower.resume = point
        self._resuming = point
        where = f"; reading goes on at {point.file} byte {point.offset:,}" if point is not None else ""
        self.follower.note(f"connection to {self.target.display} lost: {err.message}{where}")
        with self._lock:
            self._attempt = 0
            self._last_error = _short(err)

    def _reconnect(self) -> bool:
        """Wait, then connect, with growing delays while connecting fails in a way that may mend. False
        when stopped; raises RemoteError for a failure that will not mend."""
        while True:
            with self._lock:
                self._attempt += 1
                delay = min(self.longest_retry, self.first_retry * (2 ** (self._attempt - 1)))
                self._next_at = time.monotonic() + delay
            self._set_state(ConnectionState.RETRYING)
            if self._stop.wait(delay):
                return False
            with self._lock:
                self._next_at = None
            try:
                self.folder.check()  # on success `_connected` says where reading resumes
                return True
            except RemoteError as err:
                self.folder.close()
                if self._stop.is_set():
                    return False
                if not err.retryable:
                    self._set_state(ConnectionState.FAILED, error=err.message)
                    raise
                with self._lock:
                    self._last_error = _short(err)

    def _connected(self) -> None:
        """Called by the folder once a connection is up."""
        with self._lock:
            attempts = self._attempt
            self._attempt = 0
            if self.folder.connections > 1:
                self._reconnections += 1
                self._resumed_at = self._resuming
                self._resumed_when = time.time()
        self._set_state(ConnectionState.CONNECTED)
        if self.folder.connections > 1:
            point = self._resuming
            where = f"resumed at {point.file} byte {point.offset:,}" if point is not None else "reading again"
            tries = f" after {attempts} attempt{'s' if attempts != 1 else ''}" if attempts else ""
            self.follower.note(f"reconnected to {self.target.display}{tries}: {where}")

    def _set_state(self, state: ConnectionState, *, error: str | None = None) -> None:
        with self._lock:
            if state != self._state:
                self._state = state
                self._since = time.time()
            if error is not None:
                self._last_error = error


def _short(err: RemoteError) -> str:
    """A few words for the status line: the error's title and ssh's words if any."""
    text = err.message
    said = text.split("(ssh said: ", 1)
    if len(said) == 2:
        return f"{err.title.lower()}: {said[1].split(')', 1)[0]}"
    return err.title.lower()
