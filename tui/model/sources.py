"""What the TUI watches besides capture files: a live capture or a dump folder (each perhaps over SSH).

`WatchSpec` is a picklable description of the source (its kind and the command's options), from which
the engine, in the TUI's process or in its own, opens the session with the command's `open_session`.
`watch_status` says what the status bar shows for such a source: the capture tool and its drops (live);
the file being read, how far, and the files done (follow); the SSH connection's state (remote).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from engine.analysis import Analysis
    from engine.capture.live import LiveDrops
    from engine.capture.watch_session import WatchSession
    from tui.subcommands.watch_store import Recording

WatchKind = Literal["live", "follow"]
# the options of `live` and `follow` that say what to watch, how, and where to record it (not how to print)
_OPTIONS = (
    "interface",
    "capture_filter",
    "snaplen",
    "tool",
    "buffer",
    "ssh",
    "remote_tool_path",
    "ssh_option",
    "ssh_config",
    "directory",
    "start",
    "pattern",
    "store",
    "no_store",
    "records_by_default",
    "config",
)


@dataclass(frozen=True, slots=True)
class WatchSpec:
    """A live capture or a followed folder, as the `live` or `follow` command's options say."""

    kind: WatchKind
    options: tuple[tuple[str, object], ...]

    @classmethod
    def from_args(cls, kind: WatchKind, args: argparse.Namespace) -> WatchSpec:
        values = vars(args)
        options = tuple(
            (name, tuple(values[name]) if isinstance(values[name], list) else values[name])
            for name in _OPTIONS
            if name in values
        )
        return cls(kind, options)

    def namespace(self) -> argparse.Namespace:
        return argparse.Namespace(**{k: list(v) if isinstance(v, tuple) else v for k, v in self.options})

    @property
    def label(self) -> str:
        """The source as the status bar names it."""
        args = self.namespace()
        if self.kind == "live":
            where = f"{args.ssh}:" if getattr(args, "ssh", None) else ""
            return f"{where}{args.interface}"
        return str(args.directory)

    def open(self, analysis: Analysis) -> WatchSession:
        """The session, checked but not started (raises the command's errors)."""
        if self.kind == "live":
            from tui.subcommands.live import open_session
        else:
            from tui.subcommands.follow import open_session
        return open_session(self.namespace(), analysis)

    @property
    def records(self) -> bool:
        """Whether the session records into the history store (the default; not with --no-store)."""
        return not dict(self.options).get("no_store", False)

    def recording(self, session: WatchSession, notes: list[str]) -> Recording | None:
        """Record `session` (not started yet) into the history store the options name, as the headless
        command does (a follow session goes on where the store's record of its folder ends); what is
        worth telling goes to `notes`. None with --no-store, or when the store cannot be opened."""
        from tui.subcommands.watch_store import start_recording

        recording = start_recording(
            self.namespace(), session, session.analysis, mode=self.kind, say=notes.append
        )
        if recording is not None and recording.resumed_at is not None:
            at = recording.resumed_at
            notes.append(f"going on at {at.file} byte {at.offset:,}, where the history store's record ends")
        return recording


@dataclass(frozen=True, slots=True)
class WatchStatus:
    """The status bar's facts of a live or followed source."""

    tool: str | None = None  # live: the capture tool
    drops: str | None = None  # live: the drops in a few words, naming who counted them
    where: str | None = None  # follow: the file being read and how far
    files_done: int | None = None  # follow: files read to their end
    connection: str | None = None  # remote: connected, disconnected (retrying), resumed at...


def live_drops(d: LiveDrops) -> str:
    """The drops of a live capture in a few words: the kernel's (or the tool's total) and the interface's."""
    parts = []
    if d.kernel is not None:
        parts.append(f"kernel {d.kernel:,}")
    elif d.dropped is not None:
        parts.append(f"{d.tool} {d.dropped:,}")
    if d.interface_rx_dropped is not None:
        parts.append(f"interface +{d.interface_rx_dropped:,}")
    return "drops " + (", ".join(parts) if parts else "not known yet")


def watch_status(session: WatchSession) -> WatchStatus:
    from engine.capture.follow import DumpFollower, FollowState
    from engine.capture.live import LiveCapture
    from engine.capture.remote_follow import SHOW_RESUMED, ConnectionState, RemoteDumpFollower
    from engine.capture.remote_live import RemoteLiveCapture

    source = session.source
    if isinstance(source, LiveCapture):
        connection = None
        if isinstance(source, RemoteLiveCapture):
            if not source.running:
                connection = "disconnected" if source.status.packets else "not connected"
            else:
                connection = "connected over SSH" if source.status.packets else "connecting over SSH"
        return WatchStatus(tool=source.tool, drops=live_drops(source.drop_counts()), connection=connection)
    if isinstance(source, (DumpFollower, RemoteDumpFollower)):
        st = source.status()
        name = os.path.basename(st.file) if st.file else None
        if st.state == FollowState.WAITING:
            where = "waiting for the next file" if name else "waiting for capture files"
        elif name is None:
            where = str(st.state)
        else:
            where = f"{st.state} {name} at byte {st.offset:,}"
        connection = None
        if isinstance(source, RemoteDumpFollower):
            c = source.status().connection
            connection = c.describe()
            recent = c.resumed_ago is not None and c.resumed_ago < SHOW_RESUMED
            if c.state == ConnectionState.CONNECTED and c.resumed_at is not None and recent:
                connection += f"; resumed at {c.resumed_at.file} byte {c.resumed_at.offset:,}"
        return WatchStatus(where=where, files_done=st.files_read, connection=connection)
    return WatchStatus()
