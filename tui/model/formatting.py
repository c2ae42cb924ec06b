"""Text for cells: times in the chosen time zone, rates, sparklines and bars made of block characters."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from engine.report.formatting import human_bytes, human_rate

SPARK_CHARS = "▁▂▃▄▅▆▇█"
BAR_EIGHTHS = " ▏▎▍▌▋▊▉█"
DASH = "-"


def clock_text(ts: float | None, tz: dt.tzinfo, *, with_date: bool = False) -> str:
    """A packet time as HH:MM:SS (or with its date), in `tz`; a dash when unknown."""
    if ts is None:
        return DASH
    try:
        when = dt.datetime.fromtimestamp(ts, tz=tz)
    except (OverflowError, OSError, ValueError):
        return DASH
    return when.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


def bytes_text(n: float) -> str:
    return human_bytes(n) if n else DASH


def rate_text(bytes_per_second: float | None) -> str:
    """Bits per second, the unit people know from their internet plan."""
    if not bytes_per_second:
        return DASH
    return human_rate(bytes_per_second)


def sparkline_text(values: Sequence[float], *, scale: float | None = None) -> str:
    """One block character per value, scaled to the largest (or `scale`); a blank for nothing at all."""
    top = scale if scale is not None else max(values, default=0)
    if top <= 0:
        return " " * len(values)
    last = len(SPARK_CHARS) - 1
    return "".join(" " if v <= 0 else SPARK_CHARS[min(last, round(v / top * last))] for v in values)


def bar_text(fraction: float, width: int) -> str:
    """A horizontal bar `width` cells wide, filled to `fraction` with eighth-cell precision."""
    if width <= 0:
        return ""
    eighths = round(max(0.0, min(fraction, 1.0)) * width * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + (BAR_EIGHTHS[part] if part else "")
    return text.ljust(width)


def share_text(fraction: float) -> str:
    if fraction <= 0:
        return DASH
    if fraction < 0.001:
        return "<0.1%"
    return f"{fraction * 100:.1f}%" if fraction < 0.1 else f"{fraction * 100:.0f}%"


def latency_text(seconds: float | None) -> str:
    if seconds is None:
        return DASH
    ms = seconds * 1000
    return f"{ms:.1f}" if ms < 10 else f"{ms:.0f}"


def count_text(n: int) -> str:
    return f"{n:,}" if n else DASH
