"""Night-time activity: traffic during quiet hours (`Settings.quiet_hours`, read in `Settings.timezone`), per
device and destination.

A flow counts for the part of its duration that falls in quiet hours: its bytes are shared out evenly over
its lifetime (a one-packet flow counts whole if it was sent in quiet hours). A device and destination
(server name, else passive name, else address) with at least `min_bytes` in quiet hours, over at least
`min_flows` flows, is a finding: a notice from `notice_bytes` on, else info.

The rule reads the contact log's 15-minute traffic bins (engine/flows/contacts.py), so it sees every flow,
not only those the analysis kept; quiet hours on whole quarter hours are read exactly, others to within
the bin their edge falls in.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

import numpy as np

from engine.findings.context import FindingContext, plausible
from engine.findings.groups import Members, group_ids, grouped_max, grouped_min, grouped_sum
from engine.findings.local_time import QuietWindows
from engine.findings.model import MAX_REFERENCES, Evidence, Finding, Severity
from engine.findings.options import ENABLED, Option, Options
from engine.findings.rule import Rule
from engine.findings.wording import human_bytes, plural

NAME = "night_traffic"


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
    c = ctx.contacts
    wanted = ctx.device_flows() & plausible(f.first_ts) & plausible(f.last_ts)
    if not opts.flag("include_lan"):
        wanted &= f.peer_internet
    # the traffic bins of those rows that fall in quiet hours; within a bin, traffic is taken as spread
    # evenly between its first and last moment (exact for quiet hours on whole quarter hours)
    picked = np.flatnonzero(wanted[c.bin_row])
    if not picked.size:
        return []
    t_from, t_to = c.bin_from[picked], c.bin_to[picked]
    length = t_to - t_from
    instant = length <= 0
    overlap = windows.overlap(t_from, t_to)
    in_quiet = np.where(instant, windows.contains(t_from), overlap > 0)
    picked, t_from, t_to = picked[in_quiet], t_from[in_quiet], t_to[in_quiet]
    if not picked.size:
        return []
    share = np.where(instant[in_quiet], 1.0, overlap[in_quiet] / np.maximum(length[in_quiet], 1e-9))
    quiet_bytes = c.bin_bytes[picked] * np.clip(share, 0.0, 1.0)
    bin_start = c.bin_start[picked]
    k = np.clip(np.searchsorted(windows.starts, t_to, side="right") - 1, 0, len(windows) - 1)
    # flows in quiet hours: those active in the bin where a window starts, and those starting later in it
    opens = (bin_start <= windows.starts[k]) & (windows.starts[k] < bin_start + c.bin_seconds)
    counted = np.where(opens, c.bin_touches[picked], c.bin_starts[picked])
    bin_rows = c.bin_row[picked]
    rows = np.unique(bin_rows)
    endpoint, spelling = ctx.endpoints(rows)
    row_gid, first_row = group_ids(f.device[rows], endpoint)
    n = first_row.shape[0]
    gid = row_gid[np.searchsorted(rows, bin_rows)]
    total = grouped_sum(quiet_bytes, gid, n)
    flows = grouped_sum(counted, gid, n).astype(np.int64)
    # the quiet part of the traffic: from the later of its start and the window start, to the earlier end
    seen_from = grouped_min(np.maximum(t_from, windows.starts[k]), gid, n)
    seen_to = grouped_max(np.minimum(t_to, windows.ends[k]), gid, n)
    flagged = np.flatnonzero((total >= opts.integer("min_bytes")) & (flows >= opts.integer("min_flows")))
    if not flagged.size:
        return []
    groups = Members(row_gid, n)
    bin_groups = Members(gid, n)
    quiet_text = str(settings.quiet_hours)
    findings = []
    for g in flagged.tolist():
        members = rows[groups[g]]
        positions = bin_groups[g]
        device = int(f.device[members[0]])
        ref = ctx.device_ref(device)
        who = ref.name if ref is not None else ctx.device_name(device)
        name = spelling[int(endpoint[first_row[g]])]
        remote, addresses = ctx.remote_of(members, name)
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
                    flows=_quiet_serials(ctx, members, windows),
                    flow_count=count,
                    dns_names=ctx.dns_names_for(addresses, name),
                    bins=bin_start[positions][counted[positions] > 0].tolist(),
                    bin_seconds=c.bin_seconds,
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


def _quiet_serials(ctx: FindingContext, members: np.ndarray, windows: QuietWindows) -> list[int]:
    """The newest flows of these rows that were active in quiet hours, newest first."""
    c = ctx.contacts
    idx, _ = ctx.event_rows(members)
    start, end = c.event_start[idx], c.event_end[idx]
    quiet = np.where(end > start, windows.overlap(start, end) > 0, windows.contains(start))
    idx = idx[quiet]
    idx = idx[np.lexsort((-c.event_serial[idx], -c.event_start[idx]))][:MAX_REFERENCES]
    return [int(s) for s in c.event_serial[idx].tolist()]


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
