"""Human-readable numbers, sizes, times and durations, shared by the text report and the TUI."""

from __future__ import annotations

import datetime as dt

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB")


def human_bytes(n: float) -> str:
    """Decimal units, three significant digits: 999 B, 1.23 kB, 45.6 MB."""
    value = float(n)
    for unit in _UNITS:
        if abs(value) < 1000 or unit == _UNITS[-1]:
            if unit == "B":
                return f"{int(value)} B"
            return f"{value:.3g} {unit}" if abs(value) < 100 else f"{value:.0f} {unit}"
        value /= 1000
    return f"{value:.0f} PB"


def human_count(n: int) -> str:
    return f"{n:,}"


def human_rate(bytes_per_second: float) -> str:
    return f"{human_bytes(bytes_per_second * 8).replace('B', 'b')}/s"


def human_duration(seconds: float) -> str:
    s = round(seconds)
    if s < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{s} s"
    minutes, s = divmod(s, 60)
    if minutes < 60:
        return f"{minutes} min {s:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def local_time(ts: float | None, *, with_date: bool = True) -> str:
    """A timestamp in the machine's local time zone, or a dash."""
    if ts is None:
        return "-"
    try:
        when = dt.datetime.fromtimestamp(ts, tz=dt.UTC).astimezone()
    except (OverflowError, OSError, ValueError):
        return f"{ts:.0f} (out of range)"
    return when.strftime("%Y-%m-%d %H:%M:%S %z" if with_date else "%H:%M:%S")
