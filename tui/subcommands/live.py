"""`homescope live -i IFACE`: capture through dumpcap (or tcpdump) and analyse as packets arrive.

With `--ssh USER@HOST` the capture runs on that machine (the Pi) and streams back over the user's own
ssh; `--print-command` prints the ssh command line and exits.

`run(args)` opens the TUI on a terminal (`run_tui`), else runs headless (a rolling summary, then a
report on Ctrl-C, SIGTERM or --duration); the TUI's engine builds the same session with
`open_session(args)`. Exit codes: 0 after a clean stop, 5 when
the capture could not start or the capture tool stopped by itself (permission, interface, tool,
filter: each with a message saying what to do).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from tui.subcommands.history import add_store_options
from tui.subcommands.remote_options import add_ssh_options, print_command, ssh_settings
from tui.subcommands.watch_headless import add_common_options

if TYPE_CHECKING:  # the engine is imported when the command runs: `homescope --help` stays quick
    from engine.analysis import Analysis
    from engine.capture.live import LiveOptions
    from engine.capture.watch_session import WatchSession

NAME = "live"
# Absorbs the moments homescope reads slower than packets arrive (a snapshot for the screen, a burst):
# with dumpcap's 2 MiB, whole packets were dropped from 80,000 packets/s on the benchmark machine.
DEFAULT_BUFFER_MIB = 16


def register(subparsers: Any) -> None:
    """Add `live` to the `homescope` command's subparsers."""
    parser = subparsers.add_parser(
        NAME,
        help="capture on a network interface (through dumpcap or tcpdump) and analyse live",
        description="Capture on a network interface through dumpcap (preferred) or tcpdump, which need "
        "capture rights (the wireshark group, or capabilities); homescope itself runs unprivileged. "
        "Opens the TUI on a terminal; with --headless (or --json, --duration, or output not to a terminal) "
        "prints a summary every few seconds and a report when stopped (Ctrl-C, SIGTERM or --duration). "
        "With --ssh USER@HOST, captures on that machine (the Pi) and streams the packets back over SSH.",
    )
    add_arguments(parser)
    parser.set_defaults(subcommand_run=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-i", "--interface", required=True, metavar="IFACE", help="interface to capture on")
    parser.add_argument(
        "-f", "--filter", dest="capture_filter", metavar="BPF", help='capture filter, e.g. "not port 22"'
    )
    parser.add_argument(
        "-s", "--snaplen", type=int, default=0, metavar="N", help="bytes kept per packet (0: whole packets)"
    )
    parser.add_argument(
        "--tool",
        choices=("auto", "dumpcap", "tcpdump"),
        default="auto",
        help="capture tool (auto: dumpcap if installed, else tcpdump)",
    )
    parser.add_argument(
        "--buffer",
        type=int,
        default=DEFAULT_BUFFER_MIB,
        metavar="MIB",
        help=f"the capture tool's kernel buffer in MiB ({DEFAULT_BUFFER_MIB}; the tools' own default is 2)",
    )
    parser.add_argument(
        "--ssh",
        metavar="USER@HOST",
        help="capture on this machine over SSH (USER@HOST, a Host of your ~/.ssh/config, or "
        "ssh://USER@HOST:PORT); dumpcap or tcpdump runs there, writing to the connection",
    )
    parser.add_argument(
        "--remote-tool-path",
        metavar="DIRS",
        help="with --ssh: where to look for dumpcap and tcpdump on the remote machine, as a PATH "
        "(default: the account's PATH, /usr/sbin and /sbin)",
    )
    add_ssh_options(parser)
    add_common_options(parser)
    add_store_options(parser, records_by_default=True)


def options_from(args: argparse.Namespace) -> LiveOptions:
    from engine.capture.live import LiveOptions

    return LiveOptions(
        interface=args.interface,
        capture_filter=args.capture_filter or None,
        snaplen=max(0, args.snaplen),
        tool=args.tool,
        buffer_mib=args.buffer,
    )


def open_session(args: argparse.Namespace, analysis: Analysis | None = None) -> WatchSession:
    """The live session for these arguments, checked (tool and interface) but not started; with --ssh,
    the capture on the remote machine (checked there when it starts). Raises LiveCaptureError, or a
    RemoteError for a malformed --ssh (exit code 5)."""
    from engine.capture.live import LiveCapture
    from engine.capture.ssh_target import parse_remote
    from engine.capture.watch_session import live_session, remote_live_session
    from engine.errors import ExitCode

    if args.ssh:
        target = parse_remote(args.ssh, need_path=False, exit_code=ExitCode.CAPTURE_FAILED)
        return remote_live_session(
            options_from(args),
            target,
            ssh=ssh_settings(args),
            tool_dirs=args.remote_tool_path,
            analysis=analysis,
        )
    session = live_session(options_from(args), analysis=analysis)
    assert isinstance(session.source, LiveCapture)
    session.source.check()
    return session


def remote_command(args: argparse.Namespace) -> list[str]:
    """The ssh command line `--ssh` runs. Raises RemoteError for a malformed --ssh."""
    from engine.capture.remote_live import RemoteLiveCapture
    from engine.capture.ssh_target import parse_remote
    from engine.errors import ExitCode

    target = parse_remote(args.ssh, need_path=False, exit_code=ExitCode.CAPTURE_FAILED)
    capture = RemoteLiveCapture(
        options_from(args), target, ssh=ssh_settings(args), tool_dirs=args.remote_tool_path
    )
    return capture.command()


def run(args: argparse.Namespace) -> int:
    from engine.capture.live import LiveCapture
    from engine.errors import HomescopeError
    from tui.subcommands.watch_headless import Output, open_headless, report_error, run_session
    from tui.subcommands.watch_store import note, start_recording, stop_recording
    from tui.subcommands.watch_tui import wants_tui

    output = Output(json_lines=args.json)
    if args.print_command:
        if not args.ssh:
            from tui.subcommands.common import usage_error

            return usage_error("--print-command shows the command of a remote capture: give --ssh USER@HOST")
        try:
            return print_command(remote_command(args))
        except HomescopeError as err:
            report_error(err, output)
            return int(err.exit_code)
    if wants_tui(args):
        return run_tui(args)
    opened = open_headless(args, output, open_session)
    if isinstance(opened, int):
        return opened
    session, labels = opened
    source = session.source
    assert isinstance(source, LiveCapture)
    what = f"filter {args.capture_filter!r}" if args.capture_filter else "no filter"
    snap = f"{args.snaplen} bytes per packet" if args.snaplen else "whole packets"
    if args.ssh:
        tool = "dumpcap or tcpdump" if args.tool == "auto" else args.tool
        output.text(
            f"homescope live: capturing on {args.interface} on {args.ssh} with {tool} over SSH ({what}, "
            f"{snap}); Ctrl-C stops and prints the report"
        )
    else:
        output.text(
            f"homescope live: capturing on {args.interface} with {source.tool} ({what}, {snap}); "
            "Ctrl-C stops and prints the report"
        )
    recording = start_recording(args, session, session.analysis, mode="live", say=lambda t: note(output, t))
    if recording is not None:
        output.text(f"  recording into {recording.store.path} (--no-store: do not)")
    output.event(
        "start",
        interface=args.interface,
        tool=source.tool,
        command=source.command(),
        remote=args.ssh or None,
        store=str(recording.store.path) if recording is not None else None,
    )
    try:
        return run_session(
            session,
            args=args,
            labels=labels,
            output=output,
            drop_lines=lambda: source.drop_counts().lines(),
            drop_fields=lambda: source.drop_counts().as_dict(),
            drop_summary=lambda: source.drop_counts().short(),
            final_fields=lambda: {"tool_stderr": source.stderr_text().splitlines()[-6:]},
            on_stopped=lambda: stop_recording(recording, output),
        )
    finally:
        source.close()


def run_tui(args: argparse.Namespace) -> int:
    """The TUI on this live source (the default on a terminal)."""
    from engine.errors import HomescopeError
    from tui.subcommands.watch_headless import Output, report_error
    from tui.subcommands.watch_tui import run_watch

    try:
        return run_watch("live", args)
    except HomescopeError as err:
        report_error(err, Output(json_lines=False))
        return int(err.exit_code)
