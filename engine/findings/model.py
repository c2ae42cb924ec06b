"""What a finding is: a kind, a severity, the device and remote involved, a one-line explanation, and the
evidence behind it as references the TUI can jump to (flow serials, DNS names, time bins)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from types import MappingProxyType
from typing import Any

# Evidence lists keep at most this many references; the counts say how many there were in all.
MAX_REFERENCES = 50


class Severity(IntEnum):
    """How much a finding deserves attention. Ordered: a warning outranks a notice, a notice an info."""

    INFO = 1  # worth knowing, often harmless (a device checks in every minute)
    NOTICE = 2  # worth a look (a device bypasses the home resolver)
    WARNING = 3  # likely a problem (credentials in plaintext, an industrial protocol to the internet)

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        """ "info", "notice" or "warning" (any case). Raises ValueError."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"{text!r} is not a severity (info, notice or warning)") from None


SEVERITY_NAMES = tuple(str(s) for s in Severity)


@dataclass(frozen=True, slots=True)
class FindingDevice:
    """The device a finding is about: its key (MAC, or IP address without one) and its display name."""

    key: str
    name: str


@dataclass(frozen=True, slots=True)
class FindingRemote:
    """The other side: an address (None when a finding covers several) and its best name."""

    address: str | None
    name: str | None
    port: int | None = None

    @property
    def label(self) -> str:
        """How to call it in a sentence: the name, else the address."""
        return self.name or self.address or "?"


@dataclass(frozen=True, slots=True)
class Evidence:
    """References behind a finding. Lists are capped at MAX_REFERENCES; the counts are complete.

    - `flows`: serial numbers of flows (FlowView.serial, the flows table), most relevant first;
    - `dns_names`: DNS or server names involved (the DNS log and server-name tables are keyed by name);
    - `bins`: start times (epoch seconds, UTC) of timeline bins `bin_seconds` wide where it happened.
    """

    flows: tuple[int, ...] = ()
    flow_count: int = 0
    dns_names: tuple[str, ...] = ()
    bins: tuple[float, ...] = ()
    bin_seconds: int = 0
    addresses: tuple[str, ...] = ()  # remote addresses involved (when a finding covers several)

    @staticmethod
    def of(
        *,
        flows: Iterable[int] = (),
        flow_count: int | None = None,
        dns_names: Iterable[str] = (),
        bins: Iterable[float] = (),
        bin_seconds: int = 0,
        addresses: Iterable[str] = (),
    ) -> Evidence:
        serials = list(flows)
        names = list(dict.fromkeys(n for n in dns_names if n))
        return Evidence(
            flows=tuple(serials[:MAX_REFERENCES]),
            flow_count=len(serials) if flow_count is None else flow_count,
            dns_names=tuple(names[:MAX_REFERENCES]),
            bins=tuple(sorted(set(bins))[:MAX_REFERENCES]),
            bin_seconds=bin_seconds,
            addresses=tuple(list(dict.fromkeys(addresses))[:MAX_REFERENCES]),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "flows": list(self.flows),
            "flow_count": self.flow_count,
            "dns_names": list(self.dns_names),
            "bins": list(self.bins),
            "bin_seconds": self.bin_seconds,
            "addresses": list(self.addresses),
        }


@dataclass(frozen=True, slots=True)
class Finding:
    """Something odd about a device, found by one rule.

    `size` is the number of bytes involved: findings are sorted by severity, then size. `details` holds
    the rule's own numbers (interval, jitter, ratio...) as JSON-ready values. `key` identifies the finding
    across evaluations (the same device, rule and remote give the same key), for the TUI to update rows.
    """

    rule: str
    kind: str
    severity: Severity
    title: str  # a few words: "Beaconing", "Night-time traffic"
    explanation: str  # one sentence a non-expert understands
    device: FindingDevice | None
    remote: FindingRemote | None
    size: int
    first_ts: float | None
    last_ts: float | None
    evidence: Evidence
    details: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    subject: str = ""  # what, besides device and remote, tells findings of one rule apart (a port, a label)

    @property
    def key(self) -> str:
        device = self.device.key if self.device is not None else "-"
        remote = (self.remote.address or self.remote.name or "-") if self.remote is not None else "-"
        return f"{self.rule}/{self.kind}/{device}/{remote}/{self.subject}"

    def as_dict(self) -> dict[str, Any]:
        """The finding as JSON-ready data (see docs/findings.md)."""
        return {
            "key": self.key,
            "rule": self.rule,
            "kind": self.kind,
            "severity": str(self.severity),
            "title": self.title,
            "explanation": self.explanation,
            "device": None if self.device is None else {"key": self.device.key, "name": self.device.name},
            "remote": None
            if self.remote is None
            else {"address": self.remote.address, "name": self.remote.name, "port": self.remote.port},
            "size": self.size,
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "evidence": self.evidence.as_dict(),
            "details": dict(self.details),
        }


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first, then the most bytes, then by key (a stable order for equal ones)."""
    return sorted(findings, key=lambda f: (-int(f.severity), -f.size, f.key))
