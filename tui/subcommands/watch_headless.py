"""Headless running of a live or follow session: a rolling summary, then a final report.

Shared by `homescope live` and `homescope follow`. Ctrl-C (SIGINT), SIGTERM or `--duration` stop the
source cleanly (a capture tool is asked to stop and its final statistics are read), then the report of
everything seen is printed. With `--json`, every line of output is one JSON object: `start`, `progress`
(every `--report-every` seconds), `note`, and `final` (with the homescope.report/1 document), or
`error`.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # the engine is imported when a command runs: `homescope --help` stays quick
    from engine.analysis import Analysis
    from engine.capture.watch_session import WatchSession
    from engine.errors import HomescopeError


def add_common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--report-every",
        type=_positive_float,
        default=5.0,
        metavar="S",
        help="print a summary line every S seconds (5)",
    )
    parser.add_argument(
        "--duration", type=_positive_float, metavar="S", help="stop after S seconds (default: until Ctrl-C)"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print JSON lines (start, progress, note, final with the report) instead of text",
    )
    parser.add_argument("--top", type=int, default=10, metavar="N", help="rows per table in the report (10)")
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="configuration file (default: $HOMESCOPE_CONFIG or ~/.config/homescope/config.toml)",
    )
    from tui.subcommands.watch_tui import add_tui_options

    add_tui_options(parser)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def make_analysis(config: str | None) -> tuple[Analysis, Any]:
    """An analysis that keeps memory flat however long it runs, and the device labels for the report."""
    from engine.address_scope import HomeNetwork
    from engine.analysis import Analysis
    from engine.config import load_settings
    from engine.labels import Labels

    settings = load_settings(Path(config) if config else None)
    labels_path = settings.labels_file
    labels = Labels.load(labels_path) if labels_path is not None and labels_path.exists() else None
    home = HomeNetwork(settings.home_prefixes, cgnat_is_local=settings.cgnat_is_local)
    analysis = Analysis(
        depth="full",
        home=home,
        closed_flow_limit=1000,
        closed_flow_retention="largest",
        dns_log_limit=1000,
        inspector="process",
    )
    return analysis, labels


def open_headless(
    args: argparse.Namespace,
    output: Output,
    open_session: Callable[[argparse.Namespace, Analysis], WatchSession],
) -> tuple[WatchSession, Any] | int:
    """The analysis, the labels and the command's session (not started), or the exit code of an error
    already told: what `live` and `follow` do before running headless."""
    from engine.errors import HomescopeError

    try:
        analysis, labels = make_analysis(args.config)
    except HomescopeError as err:
        report_error(err, output)
        return int(err.exit_code)
    try:
        return open_session(args, analysis), labels
    except HomescopeError as err:
        analysis.close()
        report_error(err, output)
        return int(err.exit_code)


@dataclass
class Output:
    """Where the summary goes, as text or JSON lines."""

    json_lines: bool
    out: TextIO = field(default_factory=lambda: sys.stdout)

    def text(self, line: str) -> None:
        if not self.json_lines:
            self.out.write(line + "\n")
            self.out.flush()

    def event(self, kind: str, **fields: Any) -> None:
        if self.json_lines:
            self.out.write(json.dumps({"event": kind, **fields}, default=str) + "\n")
            self.out.flush()


class _StopRequest:
    """SIGINT/SIGTERM set an event instead of raising; the previous handlers come back afterwards."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.signal = signum
        self.event.set()

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def run_session(
    session: WatchSession,
    *,
    args: argparse.Namespace,
    labels: Any,
    output: Output,
    status_text: Callable[[], str | None] | None = None,
    status_fields: Callable[[], dict[str, Any]] | None = None,
    notes: Callable[[int], list[tuple[int, str]]] | None = None,
    drop_lines: Callable[[], list[str]] | None = None,
    drop_fields: Callable[[], Any] | None = None,
    final_fields: Callable[[], dict[str, Any]] | None = None,
    final_lines: Callable[[], list[str]] | None = None,
    drop_summary: Callable[[], str] | None = None,
    on_stopped: Callable[[], None] | None = None,
) -> int:
    """Run `session` until a signal, `--duration`, or the source ends; print as it goes and at the end.
    `on_stopped` runs once the session stopped, before the final snapshot (a recording's last flush).
    Returns the exit code."""
    from engine.errors import ExitCode
    from engine.report import build_report, render_text
    from engine.report.formatting import human_bytes, human_rate

    started = time.monotonic()
    deadline = started + args.duration if args.duration else None
    next_report = started + args.report_every
    last_packets, last_bytes, last_time = 0, 0, started
    last_status: str | None = None
    seen_notes = 0

    def print_notes() -> None:
        nonlocal seen_notes
        if notes is None:
            return
        for number, text in notes(seen_notes):
            seen_notes = number
            output.text(f"  note: {text}")
            output.event("note", message=text)

    with _StopRequest() as stop:
        session.start()
        while True:
            now = time.monotonic()
            wake = next_report if deadline is None else min(next_report, deadline)
            if stop.event.wait(max(0.0, min(wake - now, 0.25))):
                break
            if session.wait(0):  # the source ended by itself (an error, or the tool stopped)
                break
            if deadline is not None and time.monotonic() >= deadline:
                break
            print_notes()
            current = status_text() if status_text is not None else None
            if current is not None and current != last_status and current.startswith("waiting"):
                output.text(f"  {current}")
            last_status = current
            now = time.monotonic()
            if now >= next_report:
                next_report = now + args.report_every
                progress = session.progress()
                total_bytes = sum(s.bytes for s in session.statuses)
                span = max(now - last_time, 1e-9)
                pps = (progress.packets - last_packets) / span
                bps = (total_bytes - last_bytes) / span
                last_packets, last_bytes, last_time = progress.packets, total_bytes, now
                if drop_summary is not None:
                    drops = drop_summary()
                else:
                    drops = "drops unknown" if progress.drops is None else f"{progress.drops:,} dropped"
                line = (
                    f"[{time.strftime('%H:%M:%S')}] {progress.packets:,} packets ({pps:,.0f}/s), "
                    f"{human_bytes(total_bytes)} ({human_rate(bps)}); {drops}"
                )
                if current:
                    line += f"; {current}"
                output.text(line)
                output.event(
                    "progress",
                    time=time.time(),
                    elapsed=round(now - started, 3),
                    packets=progress.packets,
                    bytes=total_bytes,
                    packets_per_second=round(pps, 1),
                    bits_per_second=round(bps * 8, 1),
                    drops=drop_fields() if drop_fields is not None else progress.drops,
                    **(status_fields() if status_fields is not None else {}),
                )
        session.stop(timeout=10)
    print_notes()
    progress = session.progress()
    try:
        if on_stopped is not None:
            on_stopped()
        snapshot = session.snapshot()
    finally:
        session.analysis.close()
    report = build_report(snapshot, session.statuses, labels=labels, top_flows=50)
    elapsed = time.monotonic() - started
    error = progress.error
    if output.json_lines:
        output.event(
            "final",
            elapsed=round(elapsed, 3),
            packets=progress.packets,
            drops=drop_fields() if drop_fields is not None else progress.drops,
            stopped_by=_stopped_by(stop.signal, error, deadline),
            **(final_fields() if final_fields is not None else {}),
            report=report,
        )
    else:
        output.text("")
        output.text(
            f"Stopped ({_stopped_by(stop.signal, error, deadline)}) after {elapsed:.1f} s: "
            f"{progress.packets:,} packets read"
        )
        for line in drop_lines() if drop_lines is not None else []:
            output.text(f"  drops: {line}")
        for line in final_lines() if final_lines is not None else []:
            output.text(f"  {line}")
        output.text("")
        output.out.write(render_text(report, top=args.top))
        output.out.flush()
    if error is not None:
        report_error(error, output)
        return int(error.exit_code)
    return int(ExitCode.OK)


def _stopped_by(sig: int | None, error: HomescopeError | None, deadline: float | None) -> str:
    if error is not None:
        return "error"
    if sig is not None:
        return signal.Signals(sig).name
    if deadline is not None:
        return "duration"
    return "end of input"


def report_error(error: HomescopeError, output: Output) -> None:
    """The error as the homescope command shows every error: one line on stderr (and a JSON line)."""
    output.event("error", title=error.title, message=error.message, exit_code=int(error.exit_code))
    print(f"homescope: {error.title}: {error.message}", file=sys.stderr)
