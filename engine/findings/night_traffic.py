"""Night-time activity: traffic during quiet hours (`Settings.quiet_hours`, read in `Settings.timezone`), per
device and destination.

A flow counts for the part of its duration that falls in quiet hours: its bytes are shared out evenly over
its lifetime (a one-packet flow counts whole if it was sent in quiet hours). A device and destination
(server name, else passive name, else address) with at least `min_bytes` in quiet hours, over at least
`min_flows` flows, is a finding: a notice from `notice_bytes` on, else info.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

import numpy as np

from engine.findings.context import FindingContext, bins_of, plausible
from engine.findings.groups import Members, group_ids, grouped_max, grouped_min, grouped_sum
from engine.findings.local_time import QuietWindows
from engine.findings.model import Evidence, Finding, Severity
from engine.findings.options import ENABLED, Option, Options
from engine.findings.rule import Rule
from engine.findings.wording import human_bytes, plural

NAME = "night_traffic"
BIN_SECONDS = 900


def _clock(ts: float, tz: tzinfo) -> str:
    return datetime.fromtimestamp(ts, UTC).astimezone(tz).strftime("%H:%M")


def run(ctx: FindingContext, opts: Options) -> list[Finding]:
    start, end = ctx.start_ts, ctx.end_ts
    if start is None or end is None:
        return []
    settings = ctx.settings
    tz = settings.tzinfo()
    windows = QuietWindows.build(settings.quiet_hours, tz, start, end)
    if not len(windows):
        return []
    f = ctx.flows
    wanted = ctx.device_flows() & plausible(f.first_ts) & plausible(f.last_ts)
    if not opts.flag("include_lan"):
        wanted &= f.peer_internet
    rows = np.flatnonzero(wanted)
    if not rows.size:
        return []
    first, last = f.first_ts[rows], f.last_ts[rows]
    duration = last - first
    overlap = windows.overlap(first, last)
    instant = duration <= 0
    in_quiet = np.where(instant, windows.contains(first), overlap > 0)
    rows, first, last = rows[in_quiet], first[in_quiet], last[in_quiet]
    if not rows.size:
        return []
    share = np.where(instant[in_quiet], 1.0, overlap[in_quiet] / np.maximum(duration[in_quiet], 1e-9))
    quiet_bytes = f.bytes[rows] * np.clip(share, 0.0, 1.0)
    endpoint, spelling = ctx.endpoints(rows)
    gid, first_row = group_ids(f.device[rows], endpoint)
    n = first_row.shape[0]
    total = grouped_sum(quiet_bytes, gid, n)
    flows = np.bincount(gid, minlength=n)
    # the quiet part of each flow: from the later of its start and the window start, to the earlier end
    k = np.clip(np.searchsorted(windows.starts, last, side="right") - 1, 0, len(windows) - 1)
    seen_from = grouped_min(np.maximum(first, windows.starts[k]), gid, n)
    seen_to = grouped_max(np.minimum(last, windows.ends[k]), gid, n)
    flagged = np.flatnonzero((total >= opts.integer("min_bytes")) & (flows >= opts.integer("min_flows")))
    groups = Members(gid, n)
    quiet_text = str(settings.quiet_hours)
    findings = []
    for g in flagged.tolist():
        positions = groups[g]
        members = rows[positions]
        device = int(f.device[members[0]])
        ref = ctx.device_ref(device)
        who = ref.name if ref is not None else ctx.device_name(device)
        name = spelling[int(endpoint[first_row[g]])]
        remote, addresses = ctx.remote_of(members, name)
        quiet_ts = np.maximum(first[positions], windows.starts[k[positions]])
        nights = int(np.unique(k[positions]).shape[0])  # one quiet window a night
        start_text, end_text = _clock(float(seen_from[g]), tz), _clock(float(seen_to[g]), tz)
        when = f"at {start_text}" if start_text == end_text else f"between {start_text} and {end_text}"
        if nights > 1:
            when = f"on {nights} nights"
        severity = Severity.NOTICE if total[g] >= opts.integer("notice_bytes") else Severity.INFO
        count = int(flows[g])
        connections = plural(count, "connection")
        findings.append(
            Finding(
                rule=NAME,
                kind="night-traffic",
                severity=severity,
                title="Night-time traffic",
                explanation=(
                    f"{who} exchanged {human_bytes(total[g])} with {name} during quiet hours ({quiet_text}), "
                    f"{when}, in {connections}."
                ),
                device=ref,
                remote=remote,
                size=int(total[g]),
                first_ts=float(seen_from[g]),
                last_ts=float(seen_to[g]),
                evidence=Evidence.of(
                    flows=ctx.recent_serials(members),
                    dns_names=ctx.dns_names_for(addresses, name),
                    bins=bins_of(quiet_ts.tolist(), BIN_SECONDS),
                    bin_seconds=BIN_SECONDS,
                    addresses=addresses,
                ),
                details={
                    "quiet_bytes": int(total[g]),
                    "flows": count,
                    "nights": nights,
                    "quiet_hours": quiet_text,
                    "timezone": settings.timezone,
                },
                subject=name.lower(),
            )
        )
    return findings


RULE = Rule(
    name=NAME,
    title="Night-time activity",
    summary="traffic during quiet hours, per device and destination",
    options=(
        ENABLED,
        Option("min_bytes", 50_000, "int", "bytes in quiet hours (per device and destination) to report", 0),
        Option("min_flows", 1, "int", "connections in quiet hours to report", 1),
        Option("notice_bytes", 10_000_000, "int", "from this many bytes on, a notice (else info)", 0),
        Option("include_lan", False, "bool", "also count traffic to destinations in the home network"),
    ),
    run=run,
)
