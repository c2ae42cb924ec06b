"""`homescope follow DIR`: read a folder of rotating dumps and follow it as the capture writes it.

Needs no capture rights, only read access to the folder (on the Pi: the homescope group). `run(args)`
opens the TUI on a terminal (`run_tui`), else runs headless (a rolling summary, then a report on Ctrl-C,
SIGTERM or --duration); the TUI's engine builds the same session with `open_session(args)`. Exit codes:
0 after a clean stop, 3 when the folder cannot be read.

`homescope follow USER@HOST:/path` (or `ssh://USER@HOST:PORT/path`) follows a folder on another machine
(the Pi) over one SSH connection, reconnecting and resuming where it was when the connection drops.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from tui.subcommands.history import add_store_options
from tui.subcommands.remote_options import add_ssh_options, print_command, ssh_settings
from tui.subcommands.watch_headless import add_common_options

if TYPE_CHECKING:  # the engine is imported when the command runs: `homescope --help` stays quick
    from engine.analysis import Analysis
    from engine.capture.follow import DumpFollower
    from engine.capture.remote_follow import RemoteDumpFollower
    from engine.capture.watch_session import WatchSession

    Follower = DumpFollower | RemoteDumpFollower

NAME = "follow"


def register(subparsers: Any) -> None:
    """Add `follow` to the `homescope` command's subparsers."""
    parser = subparsers.add_parser(
        NAME,
        help="read a folder of rotating dumps (dumpcap ring, tcpdump -G/-C) and follow it as it grows",
        description="Read the capture files already in DIR in time order, then follow the newest as the "
        "capture tool writes it and move on when it rotates. No capture rights needed. Opens the TUI on a "
        "terminal; with --headless (or --json, --duration, or output not to a terminal) prints a summary "
        "every few seconds and a report when stopped (Ctrl-C, SIGTERM or --duration). DIR may be on "
        "another machine: USER@HOST:/path or ssh://USER@HOST:PORT/path reads it over SSH, reconnecting "
        "and resuming where it was when the connection drops.",
    )
    add_arguments(parser)
    parser.set_defaults(subcommand_run=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "directory",
        metavar="DIR",
        help="the dump folder, e.g. /var/lib/homescope/dumps, or on the Pi over SSH: "
        "pi@raspberrypi.local:/var/lib/homescope/dumps",
    )
    start = parser.add_mutually_exclusive_group()
    start.add_argument(
        "--from-start",
        dest="start",
        action="store_const",
        const="start",
        help="read every file already there first (the default)",
    )
    start.add_argument(
        "--from-now",
        dest="start",
        action="store_const",
        const="now",
        help="skip what is there: only packets written from now on",
    )
    start.add_argument(
        "--start",
        dest="start",
        choices=("start", "now"),
        help="where to begin: 'start' (the oldest file) or 'now' (the end of the newest file)",
    )
    parser.set_defaults(start="start")
    parser.add_argument(
        "--pattern", metavar="GLOB", help="only files whose names match, e.g. 'hs_*.pcapng*' (default: all)"
    )
    add_ssh_options(parser)
    add_common_options(parser)
    add_store_options(parser, records_by_default=True)


def open_session(args: argparse.Namespace, analysis: Analysis | None = None) -> WatchSession:
    """The follow session for these arguments, its folder checked (for a remote folder: connected), not
    started. Raises CaptureError, or RemoteError for a remote folder (exit code 3)."""
    from engine.capture.follow import DumpFollower
    from engine.capture.remote_follow import RemoteDumpFollower
    from engine.capture.ssh_target import is_remote_spec, parse_remote
    from engine.capture.watch_session import follow_session, remote_follow_session

    if is_remote_spec(args.directory):
        session = remote_follow_session(
            parse_remote(args.directory),
            ssh=ssh_settings(args),
            start=args.start,
            pattern=args.pattern,
            analysis=analysis,
        )
        assert isinstance(session.source, RemoteDumpFollower)
    else:
        # absolute: the history store knows the folder's files by their full paths
        directory = os.path.abspath(args.directory)
        session = follow_session(directory, start=args.start, pattern=args.pattern, analysis=analysis)
        assert isinstance(session.source, DumpFollower)
    try:
        session.source.check()
    except BaseException:
        session.source.stop()
        raise
    return session


def run(args: argparse.Namespace) -> int:
    from engine.capture.follow import DumpFollower
    from engine.capture.remote_follow import RemoteDumpFollower
    from engine.capture.ssh_target import is_remote_spec, parse_remote
    from engine.errors import HomescopeError
    from tui.subcommands.watch_headless import Output, open_headless, report_error, run_session
    from tui.subcommands.watch_store import note, start_recording, stop_recording
    from tui.subcommands.watch_tui import wants_tui

    output = Output(json_lines=args.json)
    remote = is_remote_spec(args.directory)
    if args.print_command:
        if not remote:
            from tui.subcommands.common import usage_error

            return usage_error("--print-command shows the command of a remote folder: give USER@HOST:/path")
        try:
            remote_follower = RemoteDumpFollower(parse_remote(args.directory), ssh=ssh_settings(args))
        except HomescopeError as err:
            report_error(err, output)
            return int(err.exit_code)
        return print_command(remote_follower.command())
    if wants_tui(args):
        return run_tui(args)
    opened = open_headless(args, output, open_session)
    if isinstance(opened, int):
        return opened
    session, labels = opened
    follower = session.source
    assert isinstance(follower, (DumpFollower, RemoteDumpFollower))
    recording = start_recording(args, session, session.analysis, mode="follow", say=lambda t: note(output, t))
    resumed = recording.resumed_at if recording is not None else None
    if resumed is not None:
        where = f"going on at {resumed.file} byte {resumed.offset:,} (where the history store's record ends)"
    elif args.start == "now":
        where = "only what is written from now on"
    else:
        where = "from the oldest file there"
    over = " over SSH" if remote else ""
    output.text(
        f"homescope follow: reading {args.directory}{over} {where}; Ctrl-C stops and prints the report"
    )
    if recording is not None:
        output.text(f"  recording into {recording.store.path} (--no-store: do not)")
    output.event(
        "start",
        directory=args.directory,
        start=args.start,
        pattern=args.pattern,
        remote=remote,
        store=str(recording.store.path) if recording is not None else None,
        resumed_at=None if resumed is None else {"file": resumed.file, "offset": resumed.offset},
    )

    def status_fields() -> dict[str, Any]:
        st = follower.status()
        fields: dict[str, Any] = {
            "state": str(st.state),
            "file": st.file,
            "offset": st.offset,
            "files_read": st.files_read,
        }
        if isinstance(follower, RemoteDumpFollower):
            c = follower.status().connection
            fields["connection"] = {
                "state": str(c.state),
                "attempt": c.attempt,
                "next_retry_in": None if c.next_retry_in is None else round(c.next_retry_in, 1),
                "last_error": c.last_error,
                "reconnections": c.reconnections,
                "resumed_at": None
                if c.resumed_at is None
                else {"file": c.resumed_at.file, "offset": c.resumed_at.offset},
            }
        return fields

    def resume() -> dict[str, Any]:
        point = follower.resume_point()
        return {"resume": {"file": point.file, "offset": point.offset} if point else None}

    def resume_lines() -> list[str]:
        point = follower.resume_point()
        st = follower.status()
        lines = [f"files read to their end: {st.files_read}"]
        if point is not None:
            lines.append(f"last complete record: {point.file} at byte {point.offset:,}")
        return lines

    return run_session(
        session,
        args=args,
        labels=labels,
        output=output,
        status_text=lambda: follower.status().describe(),
        status_fields=status_fields,
        notes=follower.events_since,
        drop_lines=lambda: _drop_lines(follower),
        drop_summary=lambda: _drop_summary(follower),
        final_fields=lambda: {**status_fields(), **resume()},
        final_lines=resume_lines,
        on_stopped=lambda: stop_recording(recording, output),
    )


def _drop_summary(follower: Follower) -> str:
    dropped = follower.drops()
    return "drops not in the files" if dropped is None else f"{dropped:,} dropped (capture statistics)"


def _drop_lines(follower: Follower) -> list[str]:
    dropped = follower.drops()
    if dropped is None:
        return [
            "the dump files carry no drop counts (a dumpcap ring writes none); the capture service's "
            "journal has them: journalctl -u homescope-capture | grep dropped"
        ]
    return [f"{dropped:,} packets dropped, from the statistics blocks in the files"]


def run_tui(args: argparse.Namespace) -> int:
    """The TUI on this follow source (the default on a terminal)."""
    from engine.errors import HomescopeError
    from tui.subcommands.watch_headless import Output, report_error
    from tui.subcommands.watch_tui import run_watch

    try:
        return run_watch("follow", args)
    except HomescopeError as err:
        report_error(err, Output(json_lines=False))
        return int(err.exit_code)
