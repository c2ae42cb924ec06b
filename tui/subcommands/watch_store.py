"""`live` and `follow` record into the history store, and `follow` goes on where the store's record ends.

Both commands record by default (`--store PATH` names another store, `--no-store` records nothing). A
store that cannot be opened (another homescope records into it: DuckDB allows one writer) is said once
and the session runs without recording, rather than not at all.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.analysis import Analysis
    from engine.capture.follow import ResumePoint
    from engine.capture.watch_session import WatchSession
    from engine.store import HistoryStore, Recorder
    from tui.subcommands.watch_headless import Output


@dataclass
class Recording:
    """A session's recording: the store, its recorder, and where following went on from (if it did)."""

    store: HistoryStore
    recorder: Recorder
    resumed_at: ResumePoint | None

    def close(self) -> str | None:
        """Write what is left and close the store (after the session stopped, before its analysis is
        closed). Returns a problem to tell, or None."""
        from engine.errors import HomescopeError

        problem = None
        try:
            self.recorder.close()
        except HomescopeError as err:
            problem = f"{err.title}: {err.message}"
        finally:
            self.store.close()
        return problem


def start_recording(
    args: argparse.Namespace,
    session: WatchSession,
    analysis: Analysis,
    *,
    mode: str,
    say: Callable[[str], None],
) -> Recording | None:
    """Record `session` into the store its options name (None: --no-store, or the store cannot be
    opened, which `say` tells). A follow session resumes where the store's record of its folder ends."""
    from engine.config import load_settings
    from engine.errors import HomescopeError
    from engine.store.watch_recording import record_watch, resume_from_store
    from tui.subcommands.history import open_store, recorder_for

    try:
        settings = load_settings(Path(args.config) if getattr(args, "config", None) else None)
        store = open_store(args, settings)
    except HomescopeError as err:
        say(f"not recording into the history store ({err.title}: {err.message}); --no-store silences this")
        return None
    if store is None:
        return None
    try:
        # --from-now skips what is there: nothing to go on from
        resuming = mode == "follow" and getattr(args, "start", "start") != "now"
        resumed_at = resume_from_store(session, store) if resuming else None
        recorder = recorder_for(store, analysis, settings, mode=mode)
    except HomescopeError as err:
        store.close()
        say(f"not recording into the history store ({err.title}: {err.message})")
        return None
    except BaseException:
        store.close()
        raise
    record_watch(session, recorder)
    return Recording(store, recorder, resumed_at)


def note(output: Output, text: str) -> None:
    """A note in a headless run's output (text and JSON lines)."""
    output.text(f"  note: {text}")
    output.event("note", message=text)


def stop_recording(recording: Recording | None, output: Output) -> None:
    """Close a headless run's recording (`run_session`'s `on_stopped`), telling any problem."""
    if recording is None:
        return
    problem = recording.close()
    if problem is not None:
        note(output, problem)
