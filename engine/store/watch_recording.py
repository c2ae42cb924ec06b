"""Recording a live capture or a followed dump folder into the history store, and going on after a restart.

`record_watch(session, recorder)` hands a `WatchSession`'s batches through a `Recorder`: positions are
kept per file of the followed folder (per stream label for a live capture), so that
`resume_from_store(session, store)` knows the file and byte offset just after the last flush. Following
the folder again from there counts nothing twice: what was analysed after that flush was never written,
and is read again (a crash or `kill -9` loses at most the last flush interval, never the store).
"""

from __future__ import annotations

import os

from engine.capture.follow import DumpFollower, ResumePoint
from engine.capture.remote_follow import RemoteDumpFollower
from engine.capture.watch_session import WatchSession
from engine.store.recorder import Recorder
from engine.store.store import HistoryStore


def record_watch(session: WatchSession, recorder: Recorder) -> None:
    """Record everything `session` analyses through `recorder`; call before `session.start()`, and
    `recorder.close()` after the session stopped."""
    session.wrap_batches(lambda batches: recorder.wrap(batches, session.path_of, session.status_of))


def resume_from_store(session: WatchSession, store: HistoryStore) -> ResumePoint | None:
    """Make a follow session go on where the store's record of its folder ends: the newest file recorded
    from it, just after what was stored. Returns that point, or None when the store has nothing of the
    folder (the session then starts as it was told). Call before `session.start()`."""
    source = session.source
    follower = source.follower if isinstance(source, RemoteDumpFollower) else source
    if not isinstance(follower, DumpFollower):
        return None  # a live capture: nothing to go on from
    position = store.latest_position(follower.directory)
    if position is None:
        return None
    point = ResumePoint(os.path.basename(position.path), position.end_offset)
    follower.resume = point
    return point
