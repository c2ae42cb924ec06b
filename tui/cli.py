"""The `homescope` command: `report` runs headless; `replay`, `live` and `follow` open the TUI.

Heavy modules (textual, pandas) are imported only by the subcommands that need them, so `homescope
report` starts in a fraction of a second. Every error reaches the user as one clear message and a
documented exit code, never as a traceback (set HOMESCOPE_DEBUG=1 to see one).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from engine import __version__
from engine.errors import ExitCode, HomescopeError, UsageError
from tui.subcommands.common import guarded
from tui.subcommands.remote_options import add_ssh_options

if TYPE_CHECKING:
    from engine.capture.ssh_target import SshSettings
    from tui.model.feed import EngineFeed


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="homescope",
        description="Watch what the devices on your home network send to the internet: live, following "
        "rotating dumps, or replaying captures. Without a command, opens the TUI on a bundled demo capture.",
        epilog="Exit codes: 0 ok; 2 usage error; 3 no input could be read; 4 some input was damaged or "
        "not decodable (the result covers the rest); 5 live capture failed; 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"homescope {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    report = sub.add_parser(
        "report",
        help="analyse captures headless and print a summary (or JSON)",
        description="Analyse pcap/pcapng captures (optionally gzip/bzip2/xz-compressed; '-' reads stdin) and "
        "print a readable summary, or the homescope.report/1 JSON document with --json. Several files are "
        "read in time order as one capture.",
    )
    report.add_argument(
        "captures",
        nargs="*",
        metavar="CAPTURE",
        help="capture files, or - for stdin, or USER@HOST:/path for a file on another machine (read over "
        "SSH); none with --from-store",
    )
    report.add_argument("--json", action="store_true", help="print the JSON report instead of the summary")
    report.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of stdout")
    report.add_argument("--top", type=int, default=10, metavar="N", help="rows per table in the summary (10)")
    report.add_argument(
        "--traffic-only",
        action="store_true",
        help="only the traffic counters (totals, MACs, hosts, EtherTypes, IP protocols): the fastest summary",
    )
    report.add_argument(
        "--top-flows", type=int, default=50, metavar="N", help="flows listed in the JSON report (50)"
    )
    report.add_argument(
        "--labels", metavar="FILE", help="device labels file (default: from the configuration)"
    )
    report.add_argument(
        "--config",
        metavar="FILE",
        help="configuration file (default: $HOMESCOPE_CONFIG or ~/.config/homescope/config.toml)",
    )
    replay = sub.add_parser(
        "replay",
        help="open the TUI on saved captures, replayed at any speed",
        description="Replay pcap/pcapng captures (optionally compressed) in the terminal UI, paced by their "
        "packet timestamps. Several files are read in time order as one capture. Space pauses, + and - "
        "change the speed, ? lists every key.",
    )
    replay.add_argument(
        "captures",
        nargs="*",
        metavar="CAPTURE",
        help="capture files, or USER@HOST:/path for a file on another machine (read over SSH as it is "
        "replayed); none with --from-store",
    )
    _add_replay_options(replay)

    from tui.subcommands import SUBCOMMANDS, history

    history.add_store_options(report, records_by_default=False, reads=True)
    _add_replay_store_options(replay)
    for parser_with_files in (report, replay):
        add_ssh_options(parser_with_files, print_command=False)

    for module in SUBCOMMANDS:
        module.register(sub)
    return parser


SPEED_CHOICES = ("max", "1", "10", "60", "600")
DEMO_SPEED = "60"  # the demo evening (45 minutes) plays in under a minute


def _add_replay_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--speed",
        choices=SPEED_CHOICES,
        default="max",
        help="replay speed: as fast as possible (max, the default) or that many times capture time",
    )
    parser.add_argument("--paused", action="store_true", help="start paused (space resumes)")
    parser.add_argument(
        "--engine",
        choices=("process", "thread"),
        default="process",
        help="run the analysis in a separate process (default: the TUI stays responsive and ingest keeps "
        "its speed) or on a thread of the TUI's process (slower: one interpreter lock for both)",
    )


def _add_replay_store_options(parser: argparse.ArgumentParser) -> None:
    from tui.subcommands import history

    parser.epilog = history.EPILOG
    group = parser.add_argument_group("history store")
    group.add_argument(
        "--from-store",
        action="store_true",
        help="show a past time range from the history store instead of captures (--since/--until, --day, "
        "--night, --sensor; default: everything stored)",
    )
    group.add_argument("--store", metavar="PATH", help="the history store (default: from the configuration)")
    history.add_span_options(group)


def _cmd_report(args: argparse.Namespace) -> int:
    from engine.address_scope import HomeNetwork
    from engine.analysis import Analysis, inspector_mode
    from engine.capture.source import CaptureSet
    from engine.config import load_settings
    from engine.labels import Labels
    from engine.metadata.dns_log import LOG_LIMIT
    from engine.report import build_report, render_text
    from tui.subcommands import history

    settings = load_settings(Path(args.config) if args.config else None)
    if not args.traffic_only:
        from engine.findings import rule_options

        rule_options(settings)  # invalid [findings] settings fail before the analysis
    labels_path = Path(args.labels) if args.labels else settings.labels_file
    labels = Labels.load(labels_path) if labels_path is not None and labels_path.exists() else None
    home = HomeNetwork(settings.home_prefixes, cgnat_is_local=settings.cgnat_is_local)
    if args.from_store and args.captures:
        raise UsageError("--from-store reads the history store: give no capture files with it")
    if not args.from_store and not args.captures:
        raise UsageError("give capture files to analyse (or --from-store to read the history store)")
    recording = args.store is not None
    if args.traffic_only and (recording or args.from_store):
        raise UsageError("--traffic-only keeps only the traffic counters: it cannot use the history store")
    statuses: Sequence[object]
    if args.from_store:
        stored = history.load_stored(args, settings)
        snapshot, statuses = stored.snapshot, stored.sources
    else:
        capture = CaptureSet(list(args.captures), ssh=_ssh(args))
        # a report needs the largest flows and the DNS statistics, not every flow and lookup: keeping only
        # those holds memory flat however long the capture (the store, when recording, wants the whole log)
        analysis = Analysis(
            depth="traffic" if args.traffic_only else "full",
            home=home,
            closed_flow_limit=max(1000, args.top_flows),
            closed_flow_retention="largest",
            dns_log_limit=LOG_LIMIT if recording else 1000,
            inspector=inspector_mode(capture.paths),
        )
        snapshot, statuses = history.report_analysis(args, settings, capture, analysis)
    geo = None
    if not args.traffic_only:
        from engine.findings import needs_geo

        if needs_geo(settings):
            from engine.enrich.geo import shared_geo

            geo = shared_geo()
    # the findings (evaluated with the settings) never change the exit code
    report = build_report(
        snapshot, list(statuses), labels=labels, top_flows=args.top_flows, settings=settings, geo=geo
    )
    text = json.dumps(report, indent=1) + "\n" if args.json else render_text(report, top=args.top)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    return int(_exit_code_for(statuses))


def _ssh(args: argparse.Namespace) -> SshSettings:
    """How to run ssh for files on another machine (the demo's arguments have no ssh options)."""
    from engine.capture.ssh_target import SshSettings

    return SshSettings(
        config_file=getattr(args, "ssh_config", None) or None,
        options=tuple(getattr(args, "ssh_option", None) or ()),
    )


def _check_inputs(paths: Sequence[str], ssh: SshSettings) -> None:
    """Open each capture once before the TUI starts: when none can be read, fail with the reasons."""
    from engine.capture.remote_file import open_remote_capture
    from engine.capture.source import is_remote_file, open_capture
    from engine.errors import CaptureError, RemoteError

    problems: list[HomescopeError] = []
    for path in paths:
        try:
            if is_remote_file(path):
                open_remote_capture(path, ssh=ssh).stream.close()
            else:
                open_capture(path).stream.close()
        except (CaptureError, RemoteError) as err:
            problems.append(err)
    if problems and len(problems) == len(paths):
        if len(problems) == 1:
            raise problems[0]
        raise CaptureError("; ".join(p.message for p in problems))
    for problem in problems:
        print(
            f"homescope: {problem.title}: {problem.message} (replaying the other captures)", file=sys.stderr
        )


def _cmd_replay(args: argparse.Namespace) -> int:
    from engine.config import load_settings
    from tui.model.feed import EngineConfig, ThreadFeed

    paths = list(args.captures)
    if getattr(args, "from_store", False):
        if paths:
            raise UsageError("--from-store reads the history store: give no capture files with it")
        from tui.subcommands.watch_tui import run_stored

        return run_stored(args)
    if not paths:
        raise UsageError("give capture files to replay (or --from-store to show the history store)")
    if "-" in paths:
        print(
            "homescope: replay reads capture files; to analyse stdin, use `homescope report -`",
            file=sys.stderr,
        )
        return int(ExitCode.USAGE)
    _check_inputs(paths, _ssh(args))
    settings = load_settings()
    config = EngineConfig(
        paths=tuple(paths),
        ssh=_ssh(args),
        speed=None if args.speed == "max" else float(args.speed),
        paused=args.paused,
        home_prefixes=tuple(str(p) for p in settings.home_prefixes),
        cgnat_is_local=settings.cgnat_is_local,
        labels_file=str(settings.labels_file),
        timezone=settings.timezone,
    )
    if args.engine == "process":
        from tui.model.process_feed import ProcessFeed

        config.labels()  # a bad labels file is reported here, not from inside the engine process
        feed: EngineFeed = ProcessFeed(config)
    else:
        feed = ThreadFeed(config)
    from tui.app import HomescopeApp  # textual is imported only now: `report` starts faster without it

    app = HomescopeApp(feed, tz=config.tzinfo(), refresh_hz=settings.ui.refresh_hz)
    try:
        app.run()
    finally:
        feed.stop(timeout=0.5)
    return int(app.return_code or 0)


def _cmd_demo() -> int:
    from tui.demo_capture import demo_capture_path

    demo = demo_capture_path()
    if demo is None:
        print(
            "homescope: the demo capture is missing from this installation. Try `homescope replay CAPTURE`, "
            "or `homescope --help`.",
            file=sys.stderr,
        )
        return int(ExitCode.NO_INPUT)
    args = argparse.Namespace(captures=[str(demo)], speed=DEMO_SPEED, paused=False, engine="process")
    return _cmd_replay(args)


def _exit_code_for(statuses: Sequence[object]) -> ExitCode:
    from engine.capture.records import SourceStatus

    sts = [s for s in statuses if isinstance(s, SourceStatus)]
    # an input that stopped on a fatal problem before its first packet gave nothing to report, whatever
    # the problem (missing, unsupported, or a file header cut short or damaged)
    opened = [s for s in sts if s.packets or s.fatal_problem is None]
    if not opened:
        return ExitCode.NO_INPUT
    damaged = any(s.fatal_problem is not None for s in sts) or any(
        p.kind == "unsupported-linktype" for s in sts for p in s.problems
    )
    return ExitCode.PARTIAL if damaged else ExitCode.OK


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return guarded(_dispatch)(args)


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "report":
        return _cmd_report(args)
    if args.command == "replay":
        return _cmd_replay(args)
    if getattr(args, "subcommand_run", None) is not None:
        return int(args.subcommand_run(args))
    return _cmd_demo()


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
