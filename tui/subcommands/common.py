"""What the investigation subcommands share: reading settings and labels, analysing captures headless,
reporting unreadable inputs, exit codes, and turning every error into one message (never a traceback)."""

from __future__ import annotations

import argparse
import functools
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import ExitCode, HomescopeError

if TYPE_CHECKING:
    from engine.analysis import AnalysisSnapshot
    from engine.capture.records import SourceStatus
    from engine.config import Settings
    from engine.labels import Labels

EXIT_CODES_EPILOG = (
    "Exit codes: 0 ok; 2 usage error; 3 no input could be read; 4 some input was damaged or not decodable "
    "(the result covers the rest); 130 interrupted."
)


def add_settings_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="configuration file (default: $HOMESCOPE_CONFIG or ~/.config/homescope/config.toml)",
    )
    parser.add_argument(
        "--labels", metavar="FILE", help="device labels file (default: from the configuration)"
    )


def load_settings_and_labels(
    args: argparse.Namespace, overrides: dict[str, object] | None = None
) -> tuple[Settings, Labels | None]:
    from engine.config import load_settings
    from engine.labels import Labels

    settings = load_settings(Path(args.config) if getattr(args, "config", None) else None, overrides)
    labels_path = Path(args.labels) if getattr(args, "labels", None) else settings.labels_file
    labels = Labels.load(labels_path) if labels_path.exists() else None
    return settings, labels


def analyse_captures(paths: Sequence[str], settings: Settings) -> tuple[AnalysisSnapshot, list[SourceStatus]]:
    """A full analysis of the captures that keeps every flow and DNS lookup (the findings and the export
    need them all)."""
    from engine.address_scope import HomeNetwork
    from engine.analysis import Analysis, inspector_mode, run_capture
    from engine.capture.source import CaptureSet

    capture = CaptureSet(list(paths))
    analysis = Analysis(
        home=HomeNetwork(settings.home_prefixes, cgnat_is_local=settings.cgnat_is_local),
        closed_flow_retention="all",
        dns_log_limit=2_000_000,
        inspector=inspector_mode(capture.paths),
    )
    try:
        run_capture(capture, analysis)
        snapshot = analysis.snapshot()
    finally:
        analysis.close()
    return snapshot, capture.statuses


def report_problems(statuses: Sequence[SourceStatus]) -> None:
    """Every problem of every input, one line each, on stderr."""
    for status in statuses:
        for problem in status.problems:
            print(f"homescope: {problem.message}", file=sys.stderr)


def exit_code_for(statuses: Sequence[SourceStatus]) -> ExitCode:
    """NO_INPUT when no input could be opened, PARTIAL when one was damaged or not decodable, else OK."""
    opened = [s for s in statuses if s.packets or s.fatal_problem is None]
    if not opened:
        return ExitCode.NO_INPUT
    damaged = any(s.fatal_problem is not None for s in statuses) or any(
        p.kind == "unsupported-linktype" for s in statuses for p in s.problems
    )
    return ExitCode.PARTIAL if damaged else ExitCode.OK


def guarded(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A command that reports every error as one line and an exit code, never as a traceback
    (HOMESCOPE_DEBUG=1 shows the traceback of an unexpected error). `homescope` runs every command so."""

    @functools.wraps(run)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except HomescopeError as err:
            print(f"homescope: {err.title}: {err.message}", file=sys.stderr)
            return int(err.exit_code)
        except KeyboardInterrupt:
            print("homescope: interrupted", file=sys.stderr)
            return int(ExitCode.INTERRUPTED)
        except BrokenPipeError:
            # the reader of our output went away (e.g. `| head`): not an error worth a message
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return int(ExitCode.OK)
        except Exception:
            if os.environ.get("HOMESCOPE_DEBUG"):
                traceback.print_exc()
            print(
                "homescope: internal error: this is a bug in homescope. Run again with HOMESCOPE_DEBUG=1 to "
                "see the details, and please report them.",
                file=sys.stderr,
            )
            return int(ExitCode.INTERNAL_ERROR)

    return wrapper


def usage_error(message: str) -> int:
    print(f"homescope: {message}", file=sys.stderr)
    return int(ExitCode.USAGE)
