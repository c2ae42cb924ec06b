"""Watchlist: contacts with organisations, countries or domains the user listed.

- `domains`: a name or any name under it ("example.com" matches "api.example.com"), compared with the
  server names devices asked for and every name seen for the address (DNS answers);
- `organisations`: compared, ignoring case, with the AS organisation name of the address in the offline
  geo data ("TENCENT" matches "Shenzhen Tencent Computer Systems" only if written as a part of it);
- `countries`: ISO 3166 two-letter codes ("CN", "RU") of the address in the offline geo data.

Organisations and countries need the offline geo data (`evaluate(..., geo=...)`): without it only domains
are checked. One finding per device and watchlist entry, listing the addresses involved.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.findings.context import FindingContext
from engine.findings.groups import Members, group_ids, grouped_max, grouped_min, grouped_sum
from engine.findings.model import Evidence, Finding
from engine.findings.options import ENABLED, Option, Options
from engine.findings.rule import Rule
from engine.findings.wording import human_bytes

NAME = "watchlist"


def _domain_match(name: str, domains: list[str]) -> list[str]:
    name = name.lower().rstrip(".")
    return [d for d in domains if name == d or name.endswith("." + d)]


def run(ctx: FindingContext, opts: Options) -> list[Finding]:
    domains = [d.lower().strip().strip(".") for d in opts.strings("domains") if d.strip()]
    organisations = [o.strip() for o in opts.strings("organisations") if o.strip()]
    countries = {c.strip().upper() for c in opts.strings("countries") if c.strip()}
    if not (domains or organisations or countries):
        return []
    f = ctx.flows
    rows = np.flatnonzero(ctx.device_flows() & f.peer_internet)
    if not rows.size:
        return []
    peers = np.unique(f.peer[rows])
    addresses = {int(p): ctx.address(int(p)) for p in peers.tolist()}
    geo: dict[str, Any] = {}
    if ctx.geo is not None and (organisations or countries):
        geo = ctx.geo.lookup_many(addresses.values())
    # entry -> (matching peer ids, matching server-name ids), with a description for the explanation
    matches: dict[str, tuple[set[int], set[int], str]] = {}

    def add(entry: str, what: str, peer: int | None = None, name_id: int | None = None) -> None:
        peers_of, names_of, _ = matches.setdefault(entry, (set(), set(), what))
        if peer is not None:
            peers_of.add(peer)
        if name_id is not None:
            names_of.add(name_id)

    for peer, address in addresses.items():
        if domains:
            for name in ctx.dns_names_of(address):
                for d in _domain_match(name, domains):
                    add(f"domain {d}", f"names under {d}", peer=peer)
        result = geo.get(address)
        info = getattr(result, "info", None)
        if info is None:
            continue
        org = (info.organisation or "").lower()
        for wanted in organisations:
            if wanted.lower() in org:
                add(
                    f"organisation {wanted}",
                    f"{info.organisation} (an organisation on your watchlist)",
                    peer=peer,
                )
        if info.country_code and info.country_code.upper() in countries:
            country: str = info.country_name or info.country_code
            add(f"country {info.country_code.upper()}", f"{country} (a country on your watchlist)", peer=peer)
    if domains:
        for name_id in np.unique(f.server_name[rows]).tolist():
            asked = ctx.server_name(int(name_id))
            for d in _domain_match(asked or "", domains):
                add(f"domain {d}", f"names under {d}", name_id=int(name_id))
    findings = []
    severity = opts.severity("severity")
    for entry, (peer_ids, name_ids, what) in matches.items():
        hit = rows[
            np.isin(f.peer[rows], np.array(sorted(peer_ids), dtype=np.int64))
            | np.isin(f.server_name[rows], np.array(sorted(name_ids), dtype=np.int64))
        ]
        if not hit.size:
            continue
        gid, first_row = group_ids(f.device[hit])
        n = first_row.shape[0]
        nbytes = grouped_sum(f.bytes[hit], gid, n)
        first = grouped_min(f.first_ts[hit], gid, n)
        last = grouped_max(f.last_ts[hit], gid, n)
        groups = Members(gid, n)
        for g in range(n):
            members = hit[groups[g]]
            device = int(f.device[members[0]])
            ref = ctx.device_ref(device)
            who = ref.name if ref is not None else ctx.device_name(device)
            endpoint, spelling = ctx.endpoints(members)
            per_dest = np.bincount(endpoint, weights=f.bytes[members], minlength=len(spelling))
            ranked = [spelling[i] for i in np.argsort(-per_dest, kind="stable").tolist()]
            remote, involved = ctx.remote_of(members, ranked[0] if len(ranked) == 1 else None)
            shown = ", ".join(ranked[:3]) + (f" and {len(ranked) - 3} more" if len(ranked) > 3 else "")
            findings.append(
                Finding(
                    rule=NAME,
                    kind="watchlist",
                    severity=severity,
                    title=f"Watchlist: {entry}",
                    explanation=(f"{who} exchanged {human_bytes(nbytes[g])} with {shown}: {what}."),
                    device=ref,
                    remote=remote,
                    size=int(nbytes[g]),
                    first_ts=float(first[g]),
                    last_ts=float(last[g]),
                    evidence=Evidence.of(
                        flows=ctx.recent_serials(members),
                        flow_count=ctx.flow_count(members),
                        dns_names=[r for r in ranked if r not in involved],
                        addresses=involved,
                    ),
                    details={"entry": entry, "destinations": len(ranked)},
                    subject=entry.lower(),
                )
            )
    return findings


RULE = Rule(
    name=NAME,
    title="Watchlist",
    summary="contacts with organisations (AS names), countries or domains you listed",
    options=(
        ENABLED,
        Option("organisations", (), "strings", "AS organisation names, or parts of them (offline geo data)"),
        Option("countries", (), "strings", 'ISO country codes such as "CN" (offline geo data)'),
        Option("domains", (), "strings", "domains: the name and every name under it"),
        Option("severity", "notice", "severity", "how serious a watchlist contact is"),
    ),
    run=run,
    needs_geo=lambda options: bool(options.strings("organisations") or options.strings("countries")),
)
