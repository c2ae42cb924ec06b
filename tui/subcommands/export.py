"""`homescope export CAPTURE... --format csv|json|parquet --out DIR [--tables ...] [--anonymise] [--key K]`:
the analysis as files, one per table, with a manifest."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tui.subcommands.common import (
    EXIT_CODES_EPILOG,
    add_settings_options,
    analyse_captures,
    exit_code_for,
    load_settings_and_labels,
    report_problems,
    usage_error,
)

# kept here so building the parser imports nothing heavy (engine.export holds the same list)
TABLES = ("devices", "flows", "dns", "remotes", "protocols", "timeline", "device_timeline", "findings")
FORMATS = ("csv", "json", "parquet")


def _tables(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in names if t not in TABLES]
    if unknown:
        raise argparse.ArgumentTypeError(f"no table {unknown[0]!r}; choose from {', '.join(TABLES)}")
    return names


def register(subparsers: Any) -> None:
    """Add `export` to the command's subparsers."""
    parser = subparsers.add_parser(
        "export",
        help="write the analysis as CSV, JSON or Parquet files, optionally anonymised",
        description="Analyse captures and write each table (devices, flows, dns, remotes, protocols, "
        "timeline, device_timeline, findings) as <table>.<format> in a folder, with manifest.json. "
        "--anonymise replaces MAC and IP addresses and private host names by stable pseudonyms "
        "(docs/findings.md, 'Export').",
        epilog=EXIT_CODES_EPILOG,
    )
    parser.add_argument("captures", nargs="+", metavar="CAPTURE", help="capture files, or - for stdin")
    parser.add_argument("--format", choices=FORMATS, default="csv", help="file format (csv)")
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="folder to write into (created if missing)"
    )
    parser.add_argument(
        "--tables",
        type=_tables,
        action="extend",
        metavar="T1,T2",
        help=f"tables to write, comma-separated (default: all: {', '.join(TABLES)})",
    )
    parser.add_argument(
        "--anonymise",
        "--anonymize",
        action="store_true",
        help="replace MACs, IP addresses and private host names by keyed pseudonyms",
    )
    parser.add_argument(
        "--key",
        metavar="K",
        help="pseudonym key (any text); default: a random key kept in the data folder (export.key)",
    )
    parser.add_argument(
        "--names",
        choices=("local", "all"),
        default="local",
        help="with --anonymise: replace only local host names (default) or every host name",
    )
    add_settings_options(parser)
    parser.set_defaults(subcommand_run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from engine.anonymise import Anonymiser, load_or_create_key
    from engine.dataframes import AnalysisResult
    from engine.enrich.geo import shared_geo
    from engine.errors import ExitCode
    from engine.export import export_tables
    from engine.findings import evaluate, needs_geo, rule_options

    if args.key is not None and not args.anonymise:
        return usage_error("--key is only used with --anonymise")
    if args.key is not None and not args.key:
        return usage_error("--key is empty")
    settings, labels = load_settings_and_labels(args)
    tables = args.tables or list(TABLES)
    if "findings" in tables:
        rule_options(settings)  # invalid [findings] settings fail before the analysis
    key = None
    if args.anonymise:  # the key first: a key that cannot be stored fails before the analysis
        key = args.key.encode("utf-8") if args.key is not None else load_or_create_key(settings.data_dir)
    snapshot, statuses = analyse_captures(args.captures, settings)
    report_problems(statuses)
    code = exit_code_for(statuses)
    if code == ExitCode.NO_INPUT:
        return int(code)
    anonymiser = Anonymiser(key, names=args.names, home=snapshot.home) if key is not None else None
    result = AnalysisResult(snapshot, statuses, labels)
    findings = []
    if "findings" in tables and snapshot.flows is not None:
        geo = shared_geo() if needs_geo(settings) else None
        findings = evaluate(snapshot, settings, geo=geo, labels=labels)
    written = export_tables(
        result,
        Path(args.out),
        fmt=args.format,
        tables=tables,
        findings=findings,
        anonymiser=anonymiser,
        sources=[s.path for s in statuses],
    )
    for name, path in written.files.items():
        print(f"{path}  {written.rows[name]:,} rows", file=sys.stderr)
    note = f", anonymised (key {anonymiser.key_id})" if anonymiser is not None else ""
    print(f"homescope: wrote {len(written.files)} tables and {written.manifest.name}{note}", file=sys.stderr)
    return int(code)
