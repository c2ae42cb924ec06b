"""`homescope history info|export|prune`: the history store, and the store options of other commands.

`register(subparsers)` adds `history` (importing nothing heavy); `run(args)` does the work and returns an
exit code. The helpers below give `report`, `replay`, `live` and `follow` their store options
(`add_store_options`) and what those options mean (`open_store`, `time_span`, `load_stored`,
`recorder_for`, `report_analysis`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import ExitCode, HomescopeError, UsageError

if TYPE_CHECKING:
    from engine.analysis import Analysis, AnalysisSnapshot
    from engine.capture.records import SourceStatus
    from engine.capture.source import CaptureSet
    from engine.config import Settings
    from engine.store import HistoryStore, Recorder, Retention, StoredAnalysis

NAME = "history"


EPILOG = (
    "Times: now, today, yesterday, 'yesterday 23:00', '23:00', 2024-03-04, '2024-03-04 23:00', ISO 8601, "
    "'2h' or '2h ago' (s, m, h, d, w), @EPOCH; read in the configured time zone. Exit codes: 0 ok; 2 usage "
    "error; 3 the store cannot be read."
)


# ---- options shared with other commands ----------------------------------------------------------------


def add_store_options(
    parser: argparse.ArgumentParser, *, records_by_default: bool, reads: bool = False
) -> None:
    """The store options of a command. `records_by_default`: the command records into the store unless
    --no-store (follow, replay, live); otherwise only with --store (report). `reads`: --from-store and
    the time span options (report)."""
    group = parser.add_argument_group("history store")
    parser.set_defaults(records_by_default=records_by_default)
    if records_by_default:
        group.add_argument(
            "--store",
            metavar="PATH",
            help="the history store to record into (default: from the configuration)",
        )
        group.add_argument("--no-store", action="store_true", help="do not record into the history store")
    else:
        group.add_argument(
            "--store",
            metavar="PATH",
            nargs="?",
            const="",
            help="record the analysis into the history store (at PATH, default: from the configuration); "
            "captures analysed before open from it at once",
        )
        parser.set_defaults(no_store=False)
    if reads:
        group.add_argument(
            "--from-store",
            action="store_true",
            help="read the analysis from the history store instead of captures (with --since/--until)",
        )
        add_span_options(group)


def add_span_options(group: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    group.add_argument("--since", metavar="TIME", help="from this capture time on (see Times below)")
    group.add_argument("--until", metavar="TIME", help="up to this capture time")
    group.add_argument("--day", metavar="DATE", help="one whole day: 2024-03-04, today, yesterday")
    group.add_argument(
        "--night",
        metavar="DATE",
        nargs="?",
        const="",
        help="the quiet hours of the night starting on DATE (default: last night)",
    )
    group.add_argument("--sensor", metavar="NAME", help="only this sensor's data (default: all sensors)")


def store_path(args: argparse.Namespace, settings: Settings) -> Path:
    given = getattr(args, "store", None)
    return Path(given).expanduser() if given else settings.store_path


def open_store(
    args: argparse.Namespace, settings: Settings, *, read_only: bool = False, reading: bool = False
) -> HistoryStore | None:
    """The store these options name, or None when the command does not use one (--no-store, or a report
    without --store). `reading` opens it whatever the recording options say (--from-store)."""
    if not reading:
        if getattr(args, "no_store", False):
            return None
        if not getattr(args, "records_by_default", False) and getattr(args, "store", None) is None:
            return None
    from engine.store import HistoryStore

    return HistoryStore(store_path(args, settings), read_only=read_only)


def retention_of(settings: Settings) -> Retention:
    from engine.store import Retention

    return Retention(settings.store.retention_days, settings.store.max_bytes)


def time_span(args: argparse.Namespace, settings: Settings) -> tuple[float | None, float | None]:
    """[start, end) of capture time the options ask for (None: open). Raises HomescopeError (usage)."""
    from engine.store.time_range import day_span, night_span, parse_time

    tz = settings.tzinfo()
    try:
        if getattr(args, "day", None):
            return day_span(args.day, tz)
        if getattr(args, "night", None) is not None:
            return night_span(settings.quiet_hours, tz, args.night or None)
        start = parse_time(args.since, tz) if getattr(args, "since", None) else None
        end = parse_time(args.until, tz) if getattr(args, "until", None) else None
    except ValueError as err:
        raise UsageError(str(err), title="Invalid time") from None
    if start is not None and end is not None and end <= start:
        raise UsageError("--until must be later than --since", title="Invalid time")
    return start, end


def load_stored(args: argparse.Namespace, settings: Settings) -> StoredAnalysis:
    """The stored analysis the options ask for (report --from-store)."""
    store = open_store(args, settings, read_only=True, reading=True)
    assert store is not None
    with store:
        start, end = time_span(args, settings)
        stored = store.load(start, end, getattr(args, "sensor", None))
    if not stored.runs:
        from engine.store import StoreError

        raise StoreError(
            f"{store.path}: nothing recorded{_span_text(start, end, settings)}", title="Empty history"
        )
    return stored


def recorder_for(
    store: HistoryStore,
    analysis: Analysis,
    settings: Settings,
    *,
    mode: str,
    dns_log_limit: int | None = None,
) -> Recorder:
    """A recorder of `analysis` into `store` with the configured retention."""
    from engine.metadata.dns_log import LOG_LIMIT
    from engine.store import Recorder

    return Recorder(
        store,
        analysis,
        mode=mode,
        retention=retention_of(settings),
        dns_log_limit=dns_log_limit or LOG_LIMIT,
    )


def report_analysis(
    args: argparse.Namespace, settings: Settings, capture: CaptureSet, analysis: Analysis
) -> tuple[AnalysisSnapshot, list[SourceStatus]]:
    """What `report CAPTURE... --store` reports: captures analysed before (unchanged) come from the store;
    others are analysed (resuming files read in part before) and recorded. Without --store, a plain
    analysis. `analysis` should keep a full DNS log (the default limit) when recording."""
    from engine.analysis import run_capture

    store = open_store(args, settings)
    if store is None:
        try:
            run_capture(capture, analysis)
            return analysis.snapshot(), capture.statuses
        finally:
            analysis.close()
    with store:
        span = store.analysed_span(capture.paths)
        if span is None:
            capture.start_offsets = store.resume_offsets(capture.paths)
            recorder = recorder_for(store, analysis, settings, mode="report")
            try:
                recorder.record(capture)
            finally:
                recorder.close()
                analysis.close()
            if not capture.start_offsets:
                return analysis.snapshot(), capture.statuses
            span = store.analysed_span(capture.paths)
        if span is None:  # e.g. stdin: nothing to open again
            return analysis.snapshot(), capture.statuses
        stored = store.load(span[0], span[1] + 1e-6, store.sensor)
        return stored.snapshot, stored.sources


def _span_text(start: float | None, end: float | None, settings: Settings) -> str:
    tz = settings.tzinfo()

    def at(ts: float) -> str:
        return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M:%S")

    if start is None and end is None:
        return ""
    if start is None:
        return f" before {at(end or 0)}"
    if end is None:
        return f" since {at(start)}"
    return f" between {at(start)} and {at(end)}"


# ---- the history command -------------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    """Add `history` to the `homescope` command's subparsers."""
    parser = subparsers.add_parser(
        NAME,
        help="the history store: what is in it, export it to Parquet, prune it",
        description="homescope records what it learns into a history store (a DuckDB database; default "
        "homescope.db in the data folder), so it remembers across restarts and opens analysed captures at "
        "once. These commands look after it.",
        epilog=EPILOG,
    )
    parser.add_argument("--store", metavar="PATH", help="the store (default: from the configuration)")
    parser.add_argument("--config", metavar="FILE", help="configuration file")
    sub = parser.add_subparsers(dest="history_command", metavar="ACTION", required=True)
    info = sub.add_parser(
        "info", help="what the store holds: sensors, runs, time covered, sizes", epilog=EPILOG
    )
    info.add_argument("--json", action="store_true", help="print JSON")
    export = sub.add_parser(
        "export",
        help="write Parquet files partitioned by sensor and day (to merge several sensors)",
        description="Write the store (or a time span of it) as Parquet datasets under DIR: flows/, dns/, "
        "traffic/, timeline/, device_timeline/ partitioned by sensor and day, devices/, remote_names/, "
        "server_names/ by sensor. Exports of several sensors can share DIR, or be queried together: "
        "SELECT * FROM read_parquet('*/flows/**/*.parquet', hive_partitioning=true).",
        epilog=EPILOG,
    )
    export.add_argument("directory", metavar="DIR", help="where to write (created if missing)")
    add_span_options(export)
    prune = sub.add_parser(
        "prune",
        help="drop old history (by age and by size) and give the space back",
        description="Drop capture data older than --retention-days (counted back from the newest capture "
        "time in the store), then the oldest days while the store is larger than --max-bytes; then "
        "rewrite the file so it shrinks. Defaults: [store] retention_days and max_bytes of the "
        "configuration. Stop anything recording into the store first.",
        epilog=EPILOG,
    )
    prune.add_argument("--retention-days", type=float, metavar="DAYS", help="keep this many days")
    prune.add_argument(
        "--max-bytes", metavar="SIZE", help="keep at most this much: bytes, or '2 GB', '500 MiB'"
    )
    prune.add_argument("--no-compact", action="store_true", help="only free the space inside the file")
    parser.set_defaults(subcommand_run=run)


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except HomescopeError as err:
        print(f"homescope: {err.title}: {err.message}", file=sys.stderr)
        return int(err.exit_code)


def _run(args: argparse.Namespace) -> int:
    from engine.config import load_settings

    settings = load_settings(Path(args.config) if args.config else None)
    action = args.history_command
    if action == "info":
        return _info(args, settings)
    if action == "export":
        return _export(args, settings)
    return _prune(args, settings)


def _open(args: argparse.Namespace, settings: Settings, *, read_only: bool) -> HistoryStore:
    from engine.store import HistoryStore

    return HistoryStore(store_path(args, settings), read_only=read_only)


def _info(args: argparse.Namespace, settings: Settings) -> int:
    with _open(args, settings, read_only=True) as store:
        info = store.info()
    tz = settings.tzinfo()

    def at(ts: float | None) -> str | None:
        return None if ts is None else datetime.fromtimestamp(ts, tz).isoformat(timespec="seconds")

    doc = {
        "path": str(info.path),
        "schema_version": info.schema_version,
        "file_bytes": info.file_bytes,
        "used_bytes": info.used_bytes,
        "sensors": info.sensors,
        "first_capture_time": at(info.first_ts),
        "last_capture_time": at(info.last_ts),
        "sources": info.sources,
        "complete_sources": info.complete_sources,
        "runs": [
            {
                "run": r.run_id,
                "sensor": r.sensor,
                "mode": r.mode,
                "depth": r.depth,
                "started": at(r.started),
                "last_flush": at(r.updated),
                "flushes": r.flushes,
                "capture_clock": at(r.clock),
                "finished": r.finished,
            }
            for r in info.runs
        ],
        "rows": info.rows,
    }
    if args.json:
        print(json.dumps(doc, indent=1))
        return int(ExitCode.OK)
    print(f"{info.path}  (schema {info.schema_version}, {_size(info.file_bytes)} on disk, "
          f"{_size(info.used_bytes)} in use)")  # fmt: skip
    print(f"sensors: {', '.join(info.sensors) or '-'}")
    print(f"capture time: {doc['first_capture_time'] or '-'} .. {doc['last_capture_time'] or '-'}")
    print(f"capture files: {info.sources} ({info.complete_sources} read to their end)")
    print(f"runs: {len(info.runs)}")
    for r in info.runs[-10:]:
        state = "finished" if r.finished else "stopped"
        print(f"  #{r.run_id} {r.sensor} {r.mode} started {at(r.started)}, {r.flushes} flushes, {state}, "
              f"capture clock {at(r.clock) or '-'}")  # fmt: skip
    rows = ", ".join(f"{k} {v:,}" for k, v in info.rows.items() if v)
    print(f"rows: {rows or 'none'}")
    return int(ExitCode.OK)


def _export(args: argparse.Namespace, settings: Settings) -> int:
    start, end = time_span(args, settings)
    with _open(args, settings, read_only=True) as store:
        written = store.export(args.directory, start=start, end=end, sensor=args.sensor)
    total = sum(written.values())
    print(
        f"exported {total:,} rows to {args.directory}: " + ", ".join(f"{k} {v:,}" for k, v in written.items())
    )
    return int(ExitCode.OK)


def _prune(args: argparse.Namespace, settings: Settings) -> int:
    from engine.config import load_settings
    from engine.errors import ConfigError
    from engine.store import Retention

    max_bytes = settings.store.max_bytes
    if args.max_bytes is not None:
        try:
            max_bytes = load_settings(
                None, {"store.max_bytes": _number_or_text(args.max_bytes)}
            ).store.max_bytes
        except ConfigError as err:
            raise UsageError(f"--max-bytes: {err.message.split(': ', 2)[-1]}") from None
    days = args.retention_days if args.retention_days is not None else settings.store.retention_days
    if days is not None and days <= 0:
        raise UsageError("--retention-days must be above 0")
    retention = Retention(days, max_bytes)
    if not retention.active:
        print("nothing to prune: no --retention-days or --max-bytes, and none configured ([store])")
        return int(ExitCode.OK)
    started = time.monotonic()
    with _open(args, settings, read_only=False) as store:
        result = store.prune(retention)
        size = store.compact() if not args.no_compact else store.path.stat().st_size
    cutoff = (
        datetime.fromtimestamp(result.cutoff, settings.tzinfo()).isoformat(timespec="seconds")
        if result.cutoff is not None
        else "-"
    )
    print(f"dropped {result.deleted_rows:,} rows of capture time before {cutoff}; "
          f"data {_size(result.used_bytes_before)} -> {_size(result.used_bytes_after)}, file now "
          f"{_size(size)} ({time.monotonic() - started:.1f} s)")  # fmt: skip
    return int(ExitCode.OK)


def _number_or_text(text: str) -> int | str:
    return int(text) if text.strip().isdigit() else text


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"
