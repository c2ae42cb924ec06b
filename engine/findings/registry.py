"""The finding rules, and `evaluate`: every enabled rule over one snapshot, findings sorted."""

from __future__ import annotations

from collections.abc import Mapping

from engine.analysis import AnalysisSnapshot
from engine.config import Settings
from engine.errors import ConfigError
from engine.findings import (
    dns_bypass,
    new_device,
    night_traffic,
    periodic,
    plaintext,
    unusual_port,
    upload_heavy,
    watchlist,
)
from engine.findings.context import FindingContext
from engine.findings.model import Finding, sort_findings
from engine.findings.options import Options, resolve_options
from engine.findings.rule import Rule
from engine.labels import Labels

RULES: Mapping[str, Rule] = {
    rule.name: rule
    for rule in (
        periodic.RULE,
        night_traffic.RULE,
        dns_bypass.RULE,
        plaintext.RULE,
        new_device.RULE,
        unusual_port.RULE,
        upload_heavy.RULE,
        watchlist.RULE,
    )
}


def rule_options(settings: Settings) -> dict[str, Options]:
    """Every rule's options from `settings.findings`. Raises ConfigError for an unknown rule or option, or
    a value of the wrong type."""
    for name in settings.findings:
        if name not in RULES:
            raise ConfigError(f"findings: unknown rule {name!r}; known rules: {', '.join(RULES)}")
    return {
        name: resolve_options(name, rule.options, settings.findings.get(name)) for name, rule in RULES.items()
    }


def needs_geo(settings: Settings) -> bool:
    """Whether an enabled rule would use the offline geo database (so callers load it only then)."""
    options = rule_options(settings)
    return any(options[n].flag("enabled") and rule.needs_geo(options[n]) for n, rule in RULES.items())


def evaluate(
    snapshot: AnalysisSnapshot,
    settings: Settings,
    *,
    geo: object = None,
    labels: Labels | None = None,
    rules: Mapping[str, Rule] | None = None,
) -> list[Finding]:
    """Run every enabled rule over `snapshot`; findings sorted by severity, then bytes involved.

    A pure function of its arguments: it reads the snapshot, never the network or the disk. `geo` is an
    offline geo database (engine.enrich.geo.GeoDatabase, or anything with its `lookup_many`) for the
    watchlist's organisations and countries; `labels` gives devices the user's names. Raises ConfigError
    for invalid ``[findings]`` settings. A traffic-only snapshot has no findings.
    """
    if snapshot.flows is None:
        return []
    options = rule_options(settings)
    ctx = FindingContext(snapshot, settings, geo=geo, labels=labels)
    found: list[Finding] = []
    for name, rule in (rules or RULES).items():
        opts = options.get(name) or resolve_options(name, rule.options, settings.findings.get(name))
        if opts.flag("enabled"):
            found.extend(rule.run(ctx, opts))
    return sort_findings(found)
