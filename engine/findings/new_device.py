"""New device: a device first seen more than `grace_s` after the analysis started.

Devices present from the start are the household's; one that appears later joined while homescope was
watching (a guest's phone, a new gadget, or a neighbour on the Wi-Fi). The rule reads only the snapshot, so
it needs no file of its own: devices listed in `known` (MAC addresses, IP addresses or host names, in any
usual spelling) are never reported, and devices that carry a user label count as known. Routers, and
devices that sent fewer than `min_packets` packets (a stray or damaged frame), are not reported. A phone
with a private (randomised) MAC address may be a known phone under a new address: the explanation says so.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

import numpy as np

from engine.findings.context import FindingContext, is_plausible
from engine.findings.model import Evidence, Finding
from engine.findings.options import ENABLED, Option, Options
from engine.findings.rule import Rule
from engine.findings.wording import human_bytes, human_duration
from engine.mac_vendor import format_mac
from engine.views.devices import DeviceView

NAME = "new_device"
FIRST_FLOWS = 20
PRIVATE_MAC_NOTE = (
    " It uses a private (randomised) MAC address: it may be a known phone or laptop under a new one."
)


def _normal(key: str) -> str:
    text = key.strip().lower().rstrip(".")
    try:
        return format_mac(text)
    except ValueError:
        pass
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text


def _is_known(view: DeviceView, known: set[str]) -> bool:
    if view.label:
        return True
    keys = {view.key, *((view.mac and [view.mac]) or []), *view.addresses, *(n for n, _s, _d in view.names)}
    return any(_normal(k) in known for k in keys)


def run(ctx: FindingContext, opts: Options) -> list[Finding]:
    start = ctx.start_ts
    if start is None:
        return []
    grace = opts.number("grace_s")
    known = {_normal(k) for k in opts.strings("known")}
    min_packets = opts.integer("min_packets")
    tz = ctx.settings.tzinfo()
    f = ctx.flows
    meta = ctx.snapshot.metadata
    findings = []
    for view in ctx.devices.values():
        first_seen = view.first_ts
        if view.router or first_seen is None or not is_plausible(first_seen) or first_seen <= start + grace:
            continue
        if view.packets_up < min_packets or _is_known(view, known):
            continue
        when = datetime.fromtimestamp(first_seen, UTC).astimezone(tz)
        about = [f"vendor {view.vendor}" if view.vendor else None, f"MAC {view.mac}" if view.mac else None]
        if view.hostname and view.hostname != view.name:
            about.append(f"calls itself {view.hostname}")
        if view.addresses:
            about.append(f"address {view.addresses[0]}")
        described = "; ".join(a for a in about if a)
        note = ""
        if view.randomized_mac:
            note = PRIVATE_MAC_NOTE
        explanation = (
            f"A new device joined at {when:%Y-%m-%d %H:%M}, {human_duration(first_seen - start)} after "
            f"watching started: {view.name} ({described}). It has exchanged {human_bytes(view.bytes_total)} "
            f"so far.{note}"
        )
        rows = np.flatnonzero(f.device == view.id)
        names: list[str] = []
        if meta is not None:
            names = [e.name for e in meta.dns.entries if e.client_device == view.id and e.kind == "dns"]
        findings.append(
            Finding(
                rule=NAME,
                kind="new-device",
                severity=opts.severity("severity"),
                title="New device",
                explanation=explanation,
                device=ctx.device_ref(view.id),
                remote=None,
                size=view.bytes_total,
                first_ts=first_seen,
                last_ts=view.last_ts,
                evidence=Evidence.of(
                    flows=ctx.first_serials(rows, FIRST_FLOWS),
                    flow_count=ctx.flow_count(rows),
                    dns_names=names,
                    bins=[float(int(first_seen // 60) * 60)],
                    bin_seconds=60,
                ),
                details={
                    "first_seen": first_seen,
                    "after_start_s": round(first_seen - start, 1),
                    "vendor": view.vendor,
                    "randomized_mac": view.randomized_mac,
                    "hostname": view.hostname,
                },
            )
        )
    return findings


RULE = Rule(
    name=NAME,
    title="New device",
    summary="a device first seen after the analysis started, beyond a grace period",
    options=(
        ENABLED,
        Option(
            "grace_s", 600.0, "float", "devices first seen within this long after the start are not new", 0
        ),
        Option("known", (), "strings", "MACs, IP addresses or host names of devices never to report"),
        Option("min_packets", 5, "int", "packets a device must have sent to count", 0),
        Option("severity", "notice", "severity", "how serious a new device is"),
    ),
    run=run,
)
