"""The TUI of `homescope live` and `homescope follow` (the default on a terminal), and of
`homescope replay --from-store` (a past time range from the history store).

`live` and `follow` open the dashboard when stdin and stdout are terminals; `--headless`, `--json`, or
output to a pipe or file keep the text mode (`tui.subcommands.watch_headless`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.config import Settings
    from tui.model.feed import EngineFeed
    from tui.model.sources import WatchKind


def add_tui_options(parser: argparse.ArgumentParser) -> None:
    """`--headless` and `--engine` of `live` and `follow`."""
    parser.add_argument(
        "--headless",
        action="store_true",
        help="print a rolling summary and a report instead of opening the TUI (the default when stdin or "
        "stdout is not a terminal, and with --json or --duration)",
    )
    parser.add_argument(
        "--engine",
        choices=("process", "thread"),
        default="process",
        help="TUI: run the analysis in a separate process (default) or on a thread of the TUI's process",
    )


def interactive() -> bool:
    """Whether a person is at a terminal: stdin and stdout both are one."""
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


def wants_tui(args: argparse.Namespace) -> bool:
    if getattr(args, "headless", False) or getattr(args, "json", False):
        return False
    if getattr(args, "duration", None) is not None:  # a timed run ends with the report
        return False
    if getattr(args, "print_command", False):
        return False
    return interactive()


def _settings(args: argparse.Namespace) -> Settings:
    from engine.config import load_settings

    config = getattr(args, "config", None)
    return load_settings(Path(config) if config else None)


def _run_app(feed: EngineFeed, settings: Settings) -> int:
    from tui.app import HomescopeApp  # textual is imported only now

    app = HomescopeApp(feed, tz=settings.tzinfo(), refresh_hz=settings.ui.refresh_hz)
    try:
        app.run()
    finally:
        feed.stop(timeout=0.5)
    return int(app.return_code or 0)


def _precheck(kind: WatchKind, args: argparse.Namespace) -> None:
    """Open the source once in this process, so that a missing tool, interface or folder is reported
    before the TUI starts (the engine process opens it again); a remote folder is connected to once, to
    report a wrong host, key or path at once."""
    from engine.analysis import Analysis
    from tui.model.sources import WatchSpec

    analysis = Analysis(depth="traffic")
    try:
        session = WatchSpec.from_args(kind, args).open(analysis)
        session.source.stop()
        close = getattr(session.source, "close", None)
        if close is not None:
            close()
    finally:
        analysis.close()


def run_watch(kind: WatchKind, args: argparse.Namespace) -> int:
    """`homescope live` or `homescope follow` in the TUI. Raises HomescopeError for the main loop."""
    from engine.session import SessionMode
    from tui.model.feed import EngineConfig, ThreadFeed
    from tui.model.sources import WatchSpec

    settings = _settings(args)
    config = EngineConfig(
        paths=(),
        mode=SessionMode.LIVE if kind == "live" else SessionMode.FOLLOW,
        home_prefixes=tuple(str(p) for p in settings.home_prefixes),
        cgnat_is_local=settings.cgnat_is_local,
        labels_file=str(settings.labels_file),
        timezone=settings.timezone,
        watch=WatchSpec.from_args(kind, args),
        config_file=getattr(args, "config", None),
    )
    feed: EngineFeed
    if args.engine == "process":
        from tui.model.process_feed import ProcessFeed

        config.labels()  # a bad labels file is reported here, not from inside the engine process
        _precheck(kind, args)
        feed = ProcessFeed(config)
    else:
        feed = ThreadFeed(config)
    return _run_app(feed, settings)


def run_stored(args: argparse.Namespace) -> int:
    """`homescope replay --from-store`: the TUI on a time range of the history store."""
    from engine.labels import Labels
    from tui.model.investigation_build import InvestigationState
    from tui.model.stored_feed import StoredFeed
    from tui.subcommands.history import load_stored

    settings = _settings(args)
    stored = load_stored(args, settings)
    labels_path = settings.labels_file
    labels = Labels.load(labels_path) if labels_path is not None and labels_path.exists() else None
    investigation = InvestigationState(str(labels_path), labels, settings.timezone, settings)
    feed = StoredFeed(stored, tz=settings.tzinfo(), labels=labels, investigation=investigation)
    return _run_app(feed, settings)
