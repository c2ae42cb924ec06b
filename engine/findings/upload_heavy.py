"""Upload-heavy devices: much more sent to the internet than received (cameras streaming to a cloud,
backups, or data leaving that should not).

A device that sent at least `min_bytes_up` to the internet, and at least `min_ratio` times what it received
from it, is a notice; from `warning_bytes_up` on, a warning. The evidence lists where most of it went.
"""

from __future__ import annotations

import numpy as np

from engine.findings.context import FindingContext
from engine.findings.groups import grouped_sum
from engine.findings.model import MAX_REFERENCES, Evidence, Finding, Severity
from engine.findings.options import ENABLED, Option, Options
from engine.findings.rule import Rule
from engine.findings.wording import human_bytes

NAME = "upload_heavy"
TOP_DESTINATIONS = 3


def run(ctx: FindingContext, opts: Options) -> list[Finding]:
    min_up = opts.integer("min_bytes_up")
    ratio_min = opts.number("min_ratio")
    f = ctx.flows
    internet_rows = np.flatnonzero(ctx.device_flows() & f.peer_internet)
    findings = []
    for view in ctx.devices.values():
        up, down = view.internet_bytes_up, view.internet_bytes_down
        if view.router or up < min_up or up < ratio_min * max(down, 1):
            continue
        rows = internet_rows[f.device[internet_rows] == view.id]
        ratio = up / max(down, 1)
        shown = f"{ratio:.0f}" if ratio >= 10 else f"{ratio:.1f}"
        where = ""
        evidence = Evidence.of()
        if rows.size:
            endpoint, spelling = ctx.endpoints(rows)
            sent = grouped_sum(f.bytes_up[rows], endpoint, len(spelling))
            ranked = np.argsort(-sent, kind="stable")[:TOP_DESTINATIONS].tolist()
            parts = [f"{spelling[i]} ({human_bytes(sent[i])})" for i in ranked if sent[i] > 0]
            if parts:
                where = ", mostly to " + ", ".join(parts)
            # the newest flows of the destinations that received the most, those first
            by_upload = rows[np.argsort(-f.bytes_up[rows], kind="stable")]
            serials: list[int] = []
            for row in by_upload[:MAX_REFERENCES].tolist():
                serials += ctx.recent_serials(np.array([row], dtype=np.int64))
                if len(serials) >= MAX_REFERENCES:
                    break
            _, addresses = ctx.remote_of(rows)
            evidence = Evidence.of(
                flows=serials,
                flow_count=ctx.flow_count(rows),
                dns_names=[spelling[i] for i in ranked if spelling[i] not in addresses],
                addresses=addresses,
            )
        severity = Severity.WARNING if up >= opts.integer("warning_bytes_up") else Severity.NOTICE
        findings.append(
            Finding(
                rule=NAME,
                kind="upload-heavy",
                severity=severity,
                title="Sends much more than it receives",
                explanation=(
                    f"{view.name} sent {human_bytes(up)} to the internet and received {human_bytes(down)} "
                    f"({shown} times more up than down){where}."
                ),
                device=ctx.device_ref(view.id),
                remote=None,
                size=up,
                first_ts=view.first_ts,
                last_ts=view.last_ts,
                evidence=evidence,
                details={"bytes_up": up, "bytes_down": down, "ratio": round(ratio, 2)},
            )
        )
    return findings


RULE = Rule(
    name=NAME,
    title="Upload-heavy device",
    summary="a device that sends much more to the internet than it receives",
    options=(
        ENABLED,
        Option("min_bytes_up", 50_000_000, "int", "bytes sent to the internet before it counts", 0),
        Option("min_ratio", 4.0, "float", "sent at least this many times what it received", 0),
        Option("warning_bytes_up", 2_000_000_000, "int", "from this many bytes sent on, a warning", 0),
    ),
    run=run,
)
