"""A finding rule: its name (the ``[findings.<name>]`` table), what it looks for, its options and the
function that runs it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine.findings.context import FindingContext
from engine.findings.model import Finding
from engine.findings.options import Option, Options


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    title: str
    summary: str  # one line: what the rule looks for
    options: tuple[Option, ...]
    run: Callable[[FindingContext, Options], list[Finding]]
    needs_geo: Callable[[Options], bool] = lambda options: False
