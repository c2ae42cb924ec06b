"""Findings: what is odd about the devices of a home network, found by rules over an analysis snapshot.

    from engine.findings import evaluate
    for finding in evaluate(snapshot, settings):
        print(finding.severity, finding.explanation)

Each rule is one module (periodic, night_traffic, dns_bypass, plaintext, new_device, unusual_port,
upload_heavy, watchlist) with options in ``[findings.<rule>]``; docs/findings.md describes them all.
"""

from engine.findings.model import Evidence, Finding, FindingDevice, FindingRemote, Severity, sort_findings
from engine.findings.registry import RULES, evaluate, needs_geo, rule_options

__all__ = [
    "RULES",
    "Evidence",
    "Finding",
    "FindingDevice",
    "FindingRemote",
    "Severity",
    "evaluate",
    "needs_geo",
    "rule_options",
    "sort_findings",
]
