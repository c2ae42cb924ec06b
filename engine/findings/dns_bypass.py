"""DNS resolver bypass: devices that look names up somewhere other than the home resolver, in plain DNS to
another resolver, over DNS-over-TLS (port 853), or over DNS-over-HTTPS to a known DoH server.

The home resolvers are the `resolvers` option when set. Otherwise they are learnt: every resolver inside
the home network that devices ask (the router, a Pi-hole), or, when no device asks one inside, the
resolver(s) asked by the most devices (the ISP's resolver handed out by DHCP). Routers, and devices that
are themselves a home resolver (a Pi-hole forwarding upstream), are never reported. Resolvers in `allow`
(addresses or server names) are never a bypass.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from engine.classify.protocol_labels import Label
from engine.findings.context import FindingContext
from engine.findings.groups import Members, group_ids
from engine.findings.model import Evidence, Finding, FindingRemote, Severity
from engine.findings.options import ENABLED, Option, Options
from engine.findings.rule import Rule
from engine.findings.wording import plural
from engine.metadata.server_names import is_doh_server_name

NAME = "dns_bypass"
DNS_PORT = 53


@dataclass(slots=True)
class _Use:
    device: int
    server: str
    kind: str  # dns, dot, doh
    name: str | None = None
    queries: int = 0
    rows: list[int] | None = None
    first_ts: float | None = None
    last_ts: float | None = None


def home_resolvers(ctx: FindingContext, configured: tuple[str, ...]) -> set[str]:
    """The resolvers the home network means devices to use (see the module docstring)."""
    if configured:
        return {a.strip().lower() for a in configured}
    meta = ctx.snapshot.metadata
    if meta is None:
        return set()
    devices_of: dict[str, set[int]] = {}
    for use in meta.dns.resolvers:
        if use.queries and not ctx.is_router(use.device):
            devices_of.setdefault(use.server.lower(), set()).add(use.device)
    inside = {server for server in devices_of if not ctx.is_internet(server)}
    if inside:
        return inside
    if not devices_of:
        return set()
    most = max(len(d) for d in devices_of.values())
    return {server for server, d in devices_of.items() if len(d) == most}


def _forwarders(ctx: FindingContext, home: set[str]) -> set[int]:
    """Devices that are themselves a home resolver (they forward lookups upstream)."""
    return {
        view.id
        for view in ctx.devices.values()
        if any(a.lower() in home for a in view.addresses) or view.router
    }


def run(ctx: FindingContext, opts: Options) -> list[Finding]:
    home = home_resolvers(ctx, opts.strings("resolvers"))
    allowed = {a.strip().lower().rstrip(".") for a in opts.strings("allow")}
    skip_devices = _forwarders(ctx, home)
    uses: dict[tuple[int, str, str], _Use] = {}
    f = ctx.flows
    meta = ctx.snapshot.metadata

    def ok(device: int, server: str, name: str | None) -> bool:
        if device < 0 or device in skip_devices:
            return False
        if server.lower() in home or server.lower() in allowed:
            return False
        return not (name and name.lower().rstrip(".") in allowed)

    # plain DNS, from the DNS log's resolver statistics (complete even when flows were let go)
    if opts.flag("plain_dns") and meta is not None and home:
        for r in meta.dns.resolvers:
            if r.queries and ok(r.device, r.server, None):
                use = uses.setdefault((r.device, r.server, "dns"), _Use(r.device, r.server, "dns"))
                use.queries += r.queries
                use.first_ts = r.first_ts if use.first_ts is None else min(use.first_ts, r.first_ts)
                use.last_ts = r.last_ts if use.last_ts is None else max(use.last_ts, r.last_ts)
    local = ctx.device_flows() & f.outbound
    plain = local & (f.label == Label.DNS) & (f.server_port == DNS_PORT)
    dot = local & (f.label == Label.DNS_OVER_TLS)
    names = ctx.name_table
    doh_ids = np.array([i for i, n in enumerate(names) if is_doh_server_name(n)], dtype=np.int64)
    doh = local & ~dot & np.isin(f.server_name, doh_ids)
    for mask, kind, wanted in (
        (plain, "dns", True),
        (dot, "dot", opts.flag("dot")),
        (doh, "doh", opts.flag("doh")),
    ):
        rows = np.flatnonzero(mask)
        if not wanted or not rows.size:
            continue
        peers, inverse = np.unique(f.peer[rows], return_inverse=True)
        texts = [ctx.address(int(p)) for p in peers.tolist()]
        outside = np.array([t.lower() not in home and t.lower() not in allowed for t in texts], dtype=bool)
        rows = rows[outside[inverse.reshape(-1)]]
        if not rows.size:
            continue
        gid, first_row = group_ids(f.device[rows] + 1, f.peer[rows])
        groups = Members(gid, first_row.shape[0])
        for g in range(first_row.shape[0]):
            members = rows[groups[g]]
            device = int(f.device[members[0]])
            server = ctx.address(int(f.peer[members[0]]))
            name = next(
                (n for s in np.unique(f.server_name[members]).tolist() if (n := ctx.server_name(int(s)))),
                None,
            )
            if kind == "dns" and (device, server, "dns") not in uses:
                continue  # a resolver the home means devices to use
            if not ok(device, server, name):
                continue
            use = uses.setdefault((device, server, kind), _Use(device, server, kind))
            use.name = use.name or name
            use.rows = [*(use.rows or []), *members.tolist()]
    # DoH connections the inspector saw but whose flows are gone (or were not kept)
    if opts.flag("doh") and meta is not None:
        covered = {(k[0], k[1]) for k in uses if k[2] != "dns"}
        covered |= {(int(f.device[r]), ctx.address(int(f.peer[r]))) for r in np.flatnonzero(dot).tolist()}
        for d in meta.doh:
            device = d.device if isinstance(d.device, int) else -1
            if (device, d.server) not in covered and ok(device, d.server, d.name):
                use = uses.setdefault((device, d.server, "doh"), _Use(device, d.server, "doh", d.name))
                use.queries = max(use.queries, d.count)
    home_text = f"the home resolver ({', '.join(sorted(home))})" if home else "the home resolver"
    severity = opts.severity("severity")
    return [_finding(ctx, use, home_text, severity) for use in uses.values()]


def _dns_names(ctx: FindingContext, use: _Use) -> list[str]:
    """The names a device looked up at one resolver (plain DNS only), most asked first."""
    meta = ctx.snapshot.metadata
    if meta is None or use.kind != "dns":
        return [use.name] if use.name else []
    counts = Counter(
        e.name
        for e in meta.dns.entries
        if e.kind == "dns" and e.client_device == use.device and e.server == use.server
    )
    return [n for n, _ in counts.most_common()]


def _finding(ctx: FindingContext, use: _Use, home: str, severity: Severity) -> Finding:
    f = ctx.flows
    rows = np.array(use.rows or [], dtype=np.int64)
    ref = ctx.device_ref(use.device)
    who = ref.name if ref is not None else ctx.device_name(use.device)
    nbytes = int(f.bytes[rows].sum()) if rows.size else 0
    first = float(f.first_ts[rows].min()) if rows.size else use.first_ts
    last = float(f.last_ts[rows].max()) if rows.size else use.last_ts
    name = use.name or ctx.passive_name(use.server)
    server = f"{name} ({use.server})" if name else use.server
    flow_count = ctx.flow_count(rows) if rows.size else 0
    connections = flow_count or use.queries
    connections_text = plural(connections, "connection")
    if use.kind == "dns":
        count = use.queries or flow_count
        explanation = (
            f"{who} sent {plural(count, 'DNS lookup')} to {server} instead of {home}: "
            "they bypass any filtering at home, and travel unencrypted."
        )
        title, port = "Another DNS resolver", DNS_PORT
    elif use.kind == "dot":
        explanation = (
            f"{who} looks names up with encrypted DNS over TLS at {server}, port 853, instead of {home}, "
            f"in {connections_text}: home filtering does not see them."
        )
        title, port = "DNS over TLS", 853
    else:
        explanation = (
            f"{who} looks names up with DNS over HTTPS at {server}, instead of {home}, "
            f"in {connections_text}: hidden inside web traffic, home filtering does not "
            "see them."
        )
        title, port = "DNS over HTTPS", 443
    return Finding(
        rule=NAME,
        kind=use.kind,
        severity=severity,
        title=title,
        explanation=explanation,
        device=ref,
        remote=FindingRemote(use.server, name, port),
        size=nbytes,
        first_ts=first,
        last_ts=last,
        evidence=Evidence.of(
            flows=ctx.recent_serials(rows) if rows.size else [],
            flow_count=flow_count,
            dns_names=_dns_names(ctx, use),
            addresses=[use.server],
        ),
        details={
            "resolver": use.server,
            "transport": use.kind,
            "queries": use.queries,
            "connections": flow_count,
            "home_resolvers": home,
        },
    )


RULE = Rule(
    name=NAME,
    title="DNS resolver bypass",
    summary="devices that use another resolver than the home one, DNS over TLS or DNS over HTTPS",
    options=(
        ENABLED,
        Option("resolvers", (), "strings", "addresses of the home resolvers (empty: learn them)"),
        Option("allow", (), "strings", "resolver addresses or names that are never a bypass"),
        Option("plain_dns", True, "bool", "report plain DNS to another resolver"),
        Option("dot", True, "bool", "report DNS over TLS (port 853)"),
        Option("doh", True, "bool", "report DNS over HTTPS to known DoH servers"),
        Option("severity", "notice", "severity", "how serious a bypass is"),
    ),
    run=run,
)
