"""Periodic or runaway traffic: a device that contacts one endpoint at a regular interval (beaconing), or at
a high rate around the clock (a runaway client spamming an API).

A *contact* is the start of a connection (a flow) from a device to an endpoint; connections started within
`burst_s` of each other count as one contact (a lookup and its connection, parallel connections). The
endpoint is the server name the device asked for (TLS SNI, QUIC, HTTP Host), else the best name seen for
the address, else the address, so a service behind rotating addresses stays one endpoint.

- Beaconing: at least `min_contacts` contacts at a steady interval. The interval (the period) is the
  time between contacts, where a gap that spans several beats (a check-in missed, at most `max_missed`
  in a row) counts as that many periods. A gap is regular when it lies within `max_jitter` of the period (a
  fraction, at least `tolerance_s` seconds) of a whole number of periods; at least `min_regular_share` of
  the gaps must be regular, at least half of them single periods, and the period at least
  `min_interval_s`. The explanation gives the period, the median deviation of the gaps from it
  ("±0.4 s"), and how many contacts a day that makes.
- Runaway: not regular, but at least `high_rate_per_hour` contacts an hour on average over at least
  `min_span_s`, with contacts in at least `min_active_share` of the hours spanned.

A UDP exchange that keeps the same ports is one flow however often it repeats, so its rhythm is not seen
here (see docs/findings.md).
"""

from __future__ import annotations

import numpy as np

from engine.findings.context import FindingContext, plausible
from engine.findings.groups import (
    Members,
    group_ids,
    grouped_max,
    grouped_median,
    grouped_min,
    grouped_quantile,
    grouped_sum,
)
from engine.findings.model import Evidence, Finding, Severity
from engine.findings.options import ENABLED, Option, Options
from engine.findings.rule import Rule
from engine.findings.wording import human_bytes, human_duration, interval, jitter, times

NAME = "periodic"
DAY = 86400.0


def run(ctx: FindingContext, opts: Options) -> list[Finding]:
    f = ctx.flows
    c = ctx.contacts
    min_contacts = opts.integer("min_contacts")
    wanted = ctx.device_flows() & f.outbound & plausible(f.first_ts)
    if not opts.flag("include_lan"):
        wanted &= f.peer_internet
    rows = np.flatnonzero(wanted)
    if int(f.flows[rows].sum()) < min(min_contacts, 3):
        return []
    endpoint, spelling = ctx.endpoints(rows)
    gid, first_row = group_ids(f.device[rows], endpoint)
    n_groups = first_row.shape[0]
    flows_total = grouped_sum(f.flows[rows], gid, n_groups)
    # only groups with enough flows for either finding are worth the statistics (a contact is a flow or more)
    runaway_contacts = 1 + opts.number("high_rate_per_hour") * opts.number("min_span_s") / 3600
    candidate = flows_total >= min(min_contacts, runaway_contacts)
    keep_rows = candidate[gid]
    rows, gid = rows[keep_rows], gid[keep_rows]
    if not rows.size:
        return []
    # the contacts: the kept flows of each row. A row whose ring is full lost its oldest flows, so a group
    # is read from the newest of its rows' oldest kept flows on, where all its flows are still there.
    events, position = ctx.event_rows(rows)
    ev_gid = gid[position]
    ts = c.event_start[events]
    cut_rows = c.truncated()[rows]
    cutoff = np.full(n_groups, -np.inf)
    if cut_rows.any():
        in_cut = cut_rows[position]
        oldest_kept = grouped_min(ts[in_cut], position[in_cut], rows.shape[0])
        np.maximum.at(cutoff, gid[cut_rows], oldest_kept[cut_rows])
    inside = ts >= cutoff[ev_gid]
    ts, ev_gid = ts[inside], ev_gid[inside]
    flows_seen = np.bincount(ev_gid, minlength=n_groups)
    order = np.lexsort((ts, ev_gid))
    sorted_ts, sorted_gid = ts[order], ev_gid[order]
    burst = opts.number("burst_s")
    new_contact = np.ones(order.shape[0], dtype=bool)
    new_contact[1:] = (sorted_gid[1:] != sorted_gid[:-1]) | (np.diff(sorted_ts) > burst)
    contact_ts = sorted_ts[new_contact]
    contact_group = sorted_gid[new_contact]
    seen = np.bincount(contact_group, minlength=n_groups)  # contacts among the flows read
    # every contact, estimated for the flows let go with the share of contacts among the flows read
    contacts = np.where(
        flows_seen > 0,
        np.rint(seen + (flows_total - flows_seen) * seen / np.maximum(flows_seen, 1)),
        0,
    ).astype(np.int64)
    if not contact_ts.size:
        return []

    same = contact_group[1:] == contact_group[:-1]
    gaps = np.diff(contact_ts)[same]
    gap_group = contact_group[1:][same]
    # The period: a first guess from the lower quartile of the gaps (a missed check-in leaves a double
    # gap), refined by the median of the gaps divided by the beats they span, then by the total time of
    # the regular gaps over their beats (exact for a steady beacon whatever its jitter)
    guess = grouped_quantile(gaps, gap_group, n_groups, 0.25)
    beats = np.maximum(np.rint(gaps / np.maximum(guess[gap_group], 1e-9)), 1)
    rough = grouped_median(gaps / beats, gap_group, n_groups)
    beats = np.maximum(np.rint(gaps / np.maximum(rough[gap_group], 1e-9)), 1)
    tolerance = np.maximum(opts.number("max_jitter") * rough, opts.number("tolerance_s"))
    close = np.abs(gaps - beats * rough[gap_group]) <= tolerance[gap_group]
    close_beats = grouped_sum(np.where(close, beats, 0), gap_group, n_groups)
    median = np.where(
        close_beats > 0,
        grouped_sum(np.where(close, gaps, 0.0), gap_group, n_groups) / np.maximum(close_beats, 1),
        rough,
    )
    beats = np.maximum(np.rint(gaps / np.maximum(median[gap_group], 1e-9)), 1)
    deviation = np.abs(gaps - beats * median[gap_group])
    mad = grouped_median(deviation, gap_group, n_groups)
    tolerance = np.maximum(opts.number("max_jitter") * median, opts.number("tolerance_s"))
    on_time = deviation <= tolerance[gap_group]
    regular = grouped_sum(on_time & (beats <= opts.integer("max_missed") + 1), gap_group, n_groups)
    single = grouped_sum(on_time & (beats == 1), gap_group, n_groups)
    share = regular / np.maximum(seen - 1, 1)
    single_share = single / np.maximum(seen - 1, 1)
    first = np.minimum(
        grouped_min(f.first_ts[rows], gid, n_groups), grouped_min(contact_ts, contact_group, n_groups)
    )
    last = grouped_max(contact_ts, contact_group, n_groups)
    span = np.maximum(last - first, 0.0)

    periodic = (
        candidate
        & (contacts >= min_contacts)
        & (seen >= 3)
        & (median >= opts.number("min_interval_s"))
        & (share >= opts.number("min_regular_share"))
        & (single_share >= 0.5)
    )
    # hours with contacts, from the traffic bins (which go back further than the rings)
    row_group = np.full(len(f), -1, dtype=np.int64)
    row_group[rows] = gid
    bin_group = row_group[c.bin_row]
    started = (bin_group >= 0) & (c.bin_starts > 0)
    hour_of_bin = (c.bin_start[started] // 3600).astype(np.int64)
    hour_group = bin_group[started]
    hours_from = np.maximum(first, c.bins_since)
    hours_spanned = np.maximum(np.floor(last / 3600) - np.floor(hours_from / 3600) + 1, 1)
    active_hours = np.zeros(n_groups, dtype=np.int64)
    if hour_group.size:
        _, first_of_hour = group_ids(hour_group, hour_of_bin - hour_of_bin.min())
        active_hours = np.bincount(hour_group[first_of_hour], minlength=n_groups)
    rate = np.where(span > 0, (contacts - 1) / np.maximum(span, 1e-9) * 3600, 0.0)
    high_rate = opts.number("high_rate_per_hour")
    runaway = (
        candidate
        & ~periodic
        & (seen >= 2)
        & (span >= opts.number("min_span_s"))
        & (rate >= high_rate)
        & (active_hours / hours_spanned >= opts.number("min_active_share"))
    )
    flagged = np.flatnonzero(periodic | runaway)
    if not flagged.size:
        return []

    nbytes = grouped_sum(f.bytes[rows], gid, n_groups)
    groups = Members(gid, n_groups)
    findings = []
    for g in flagged.tolist():
        members = rows[groups[g]]
        device = int(f.device[members[0]])
        ref = ctx.device_ref(device)
        endpoint_name = spelling[int(endpoint[first_row[g]])]
        remote, addresses = ctx.remote_of(members, endpoint_name)
        port = remote.port
        evidence = Evidence.of(
            flows=ctx.recent_serials(members),
            flow_count=ctx.flow_count(members),
            dns_names=ctx.dns_names_for(addresses, endpoint_name),
            bins=(hour_of_bin[hour_group == g] * 3600).tolist(),
            bin_seconds=3600,
            addresses=addresses,
        )
        who = ref.name if ref is not None else ctx.device_name(device)
        n = int(contacts[g])
        over = human_duration(float(span[g]))
        where = f"{endpoint_name} (port {port})" if endpoint_name in addresses else endpoint_name
        if periodic[g]:
            med, dev = float(median[g]), float(mad[g])
            per_day = DAY / med
            severity = Severity.NOTICE if med < opts.number("notice_below_s") else Severity.INFO
            explanation = (
                f"{who} contacts {where} every {interval(med)} ({jitter(dev)}), "
                f"about {times(per_day, about=True)} a day; seen {times(n)} over {over}, "
                f"{human_bytes(nbytes[g])} in all."
            )
            kind, title = "beaconing", "Regular check-ins"
            details = {
                "interval_s": round(med, 3),
                "jitter_s": round(dev, 3),
                "regular_share": round(float(share[g]), 3),
                "contacts": n,
                "per_day": round(per_day, 1),
                "span_s": round(float(span[g]), 1),
                "endpoint": endpoint_name,
            }
        else:
            per_hour = float(rate[g])
            severity = Severity.WARNING if per_hour >= 10 * high_rate else Severity.NOTICE
            explanation = (
                f"{who} contacted {where} {times(n)} in {human_duration(float(span[g]))}: about "
                f"{times(per_hour, about=True)} an hour, in {int(active_hours[g])} of "
                f"{int(hours_spanned[g])} hours, "
                f"{human_bytes(nbytes[g])} in all."
            )
            kind, title = "high-rate", "Requests around the clock"
            details = {
                "per_hour": round(per_hour, 1),
                "contacts": n,
                "active_hours": int(active_hours[g]),
                "hours": int(hours_spanned[g]),
                "span_s": round(float(span[g]), 1),
                "endpoint": endpoint_name,
            }
        findings.append(
            Finding(
                rule=NAME,
                kind=kind,
                severity=severity,
                title=title,
                explanation=explanation,
                device=ref,
                remote=remote,
                size=int(nbytes[g]),
                first_ts=float(first[g]),
                last_ts=float(last[g]),
                evidence=evidence,
                details=details,
                subject=endpoint_name.lower(),
            )
        )
    return findings


RULE = Rule(
    name=NAME,
    title="Periodic or runaway traffic",
    summary="a device contacting one endpoint at a regular interval, or at a high rate around the clock",
    options=(
        ENABLED,
        Option("min_contacts", 10, "int", "contacts needed before a rhythm counts", minimum=3),
        Option("min_interval_s", 5.0, "float", "shortest interval that counts as beaconing (seconds)", 0),
        Option("max_jitter", 0.1, "float", "a gap is regular within this fraction of the interval", 0),
        Option("tolerance_s", 0.5, "float", "...and always within this many seconds", 0),
        Option("min_regular_share", 0.75, "float", "share of gaps that must be regular", 0),
        Option("max_missed", 2, "int", "missed check-ins in a row a gap may span and stay regular", 0),
        Option("burst_s", 2.0, "float", "connections this close together are one contact (seconds)", 0),
        Option("notice_below_s", 30.0, "float", "beacons more often than this are a notice, else info", 0),
        Option("high_rate_per_hour", 120.0, "float", "contacts an hour that make a runaway client", 1),
        Option("min_span_s", 3600.0, "float", "a runaway client must keep it up this long (seconds)", 0),
        Option("min_active_share", 0.75, "float", "...with contacts in this share of the hours", 0),
        Option("include_lan", False, "bool", "also look at endpoints in the home network"),
    ),
    run=run,
)
