"""`homescope findings CAPTURE... [--json]`: what is odd about the devices in captures, most severe first."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tui.subcommands.common import (
    EXIT_CODES_EPILOG,
    add_settings_options,
    analyse_captures,
    exit_code_for,
    load_settings_and_labels,
    report_problems,
    usage_error,
)

if TYPE_CHECKING:
    from engine.findings import Finding

SCHEMA = "homescope.findings/1"
SEVERITY_NAMES = ("info", "notice", "warning")


def register(subparsers: Any) -> None:
    """Add `findings` to the command's subparsers (imports nothing heavy: the parser is built on every
    start)."""
    parser = subparsers.add_parser(
        "findings",
        help="find what is odd: beaconing, night traffic, DNS bypass, plaintext, new devices, ...",
        description="Analyse captures and list the findings of every enabled rule (docs/findings.md), most "
        "severe first. Rules and their options come from the [findings.<rule>] tables of the configuration.",
        epilog=EXIT_CODES_EPILOG,
    )
    parser.add_argument("captures", nargs="+", metavar="CAPTURE", help="capture files, or - for stdin")
    parser.add_argument("--json", action="store_true", help=f"print a {SCHEMA} JSON document")
    parser.add_argument(
        "--rule",
        action="append",
        metavar="RULE",
        help="run only this rule (repeatable; default: all enabled)",
    )
    parser.add_argument(
        "--min-severity", choices=SEVERITY_NAMES, default="info", help="leave out findings below this (info)"
    )
    parser.add_argument(
        "--timezone",
        metavar="TZ",
        help='time zone of quiet hours, e.g. "Europe/Berlin" (default: configured)',
    )
    add_settings_options(parser)
    parser.set_defaults(subcommand_run=run)


def _when(ts: float | None, tz: Any) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).astimezone(tz).strftime("%Y-%m-%d %H:%M")


def render_text(findings: list[Finding], tz: Any) -> str:
    if not findings:
        return "No findings.\n"
    lines = [f"{len(findings)} finding{'s' if len(findings) != 1 else ''}, most severe first", ""]
    for f in findings:
        who = f" - {f.device.name}" if f.device is not None else ""
        lines.append(f"{str(f.severity).upper():8} {f.title}{who}")
        lines.append(f"         {f.explanation}")
        ev = f.evidence
        refs = []
        if ev.flow_count:
            shown = ", ".join(f"#{s}" for s in ev.flows[:5])
            more = ", ..." if ev.flow_count > 5 else ""
            refs.append(f"{ev.flow_count} flow{'s' if ev.flow_count != 1 else ''} ({shown}{more})")
        if ev.dns_names:
            refs.append("names " + ", ".join(ev.dns_names[:3]) + (", ..." if len(ev.dns_names) > 3 else ""))
        refs.append(f"{_when(f.first_ts, tz)} to {_when(f.last_ts, tz)}")
        lines.append(f"         {'; '.join(refs)}")
        lines.append("")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from engine import __version__
    from engine.enrich.geo import shared_geo
    from engine.errors import ExitCode
    from engine.findings import RULES, evaluate, needs_geo, rule_options
    from engine.findings.model import Severity

    overrides: dict[str, object] = {}
    if args.timezone:
        overrides["timezone"] = args.timezone
    settings, labels = load_settings_and_labels(args, overrides)
    options = rule_options(settings)  # invalid [findings] settings fail before the analysis
    rules = RULES
    if args.rule:
        unknown = [r for r in args.rule if r not in RULES]
        if unknown:
            return usage_error(f"no rule {unknown[0]!r}; rules: {', '.join(RULES)}")
        rules = {name: RULES[name] for name in args.rule}
    snapshot, statuses = analyse_captures(args.captures, settings)
    report_problems(statuses)
    code = exit_code_for(statuses)
    if code == ExitCode.NO_INPUT:
        return int(code)
    geo = shared_geo() if needs_geo(settings) else None
    found = evaluate(snapshot, settings, geo=geo, labels=labels, rules=rules)
    floor = Severity.parse(args.min_severity)
    found = [f for f in found if f.severity >= floor]
    if args.json:
        document = {
            "schema": SCHEMA,
            "generator": {"name": "homescope", "version": __version__},
            "sources": [
                {"path": s.path, "packets": s.packets, "complete": s.fatal_problem is None} for s in statuses
            ],
            "timezone": settings.timezone,
            "quiet_hours": str(settings.quiet_hours),
            "rules": {name: options[name].as_dict() for name in rules},
            "findings": [f.as_dict() for f in found],
        }
        sys.stdout.write(json.dumps(document, indent=1) + "\n")
    else:
        sys.stdout.write(render_text(found, settings.tzinfo()))
    sys.stdout.flush()
    return int(code)
