"""Numbers in the words of findings: intervals, rates, shares."""

from __future__ import annotations

from engine.report.formatting import human_bytes, human_count, human_duration

__all__ = ["human_bytes", "human_count", "human_duration", "interval", "jitter", "plural", "times"]


def _trim(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def interval(seconds: float) -> str:
    """A repeat interval: "10 s", "2.5 s", "15 min", "1.5 h", "1 day"."""
    if seconds < 10:
        return f"{_trim(seconds)} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{_trim(seconds / 60)} min"
    if seconds < 2 * 86400:
        hours = seconds / 3600
        return "1 day" if 23.5 <= hours <= 24.5 else f"{_trim(hours)} h"
    return f"{_trim(seconds / 86400)} days"


def jitter(seconds: float) -> str:
    """How much an interval varies: "±0.4 s", "±12 s", "±3 min"."""
    if seconds < 0.05:
        return "±0.05 s or less"
    if seconds < 10:
        return f"±{_trim(seconds)} s"
    return f"±{interval(seconds)}"


def times(count: float, *, about: bool = False) -> str:
    """A count of repetitions: "8,640 times", "once"; `about` rounds to three significant digits (an
    estimate: 8,639.4 a day is "about 8,640")."""
    n = round(count)
    if about and n >= 1000:
        n = round(n, 2 - len(str(n)) + 1)
    return "once" if n == 1 else f"{human_count(n)} times"


def plural(count: int, noun: str) -> str:
    """ "1 connection", "2,048 connections"."""
    return f"{human_count(count)} {noun}" if count == 1 else f"{human_count(count)} {noun}s"
