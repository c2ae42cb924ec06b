"""Device table rows: the engine's device views with their current rate and recent activity, filtered,
sorted by the chosen column and capped."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np

from engine.aggregate.timeline import TimelineSnapshot
from engine.views.devices import DeviceView
from tui.model.dashboard import ACTIVITY_MINUTES, DEVICE_COLUMNS, ModelRequest, TableModel, TableRow
from tui.model.formatting import DASH, bytes_text, clock_text, rate_text, sparkline_text

DEVICE_ROWS = 100  # rows kept in the table, the first in the chosen order (a filter finds the others)
NEW_WINDOW = 600.0  # a device that joined mid-capture is "new" for this long (packet time)
JOINED_AFTER = 120.0  # ... if it was first seen at least this long after the capture began
MINUTE = 60
_NUMERIC = {c.key for c in DEVICE_COLUMNS if c.numeric}


def device_minutes(timeline: TimelineSnapshot | None, device: int) -> np.ndarray | None:
    """Bytes up plus down per minute for one device, oldest first (None before any traffic)."""
    if timeline is None or MINUTE not in timeline.device_bytes_up:
        return None
    up = timeline.device_bytes_up[MINUTE].get(device)
    down = timeline.device_bytes_down[MINUTE].get(device)
    if up is None or down is None or not up.values.size:
        return None
    return up.values + down.values


def minute_start(timeline: TimelineSnapshot | None) -> float | None:
    """Start time of the newest one-minute bin."""
    if timeline is None or MINUTE not in timeline.device_bytes_up:
        return None
    for series in timeline.device_bytes_up[MINUTE].values():
        if series.values.size:
            return series.start + MINUTE * (series.values.size - 1)
    return None


def recent_rate(values: np.ndarray | None, newest_start: float | None, clock: float | None) -> float:
    """Bytes per second over the previous full minute and the part of the current one seen so far."""
    if values is None or not values.size or newest_start is None or clock is None:
        return 0.0
    elapsed = min(max(clock - newest_start, 0.0), MINUTE)
    window = elapsed + (MINUTE if values.size > 1 else 0)
    total = float(values[-1]) + (float(values[-2]) if values.size > 1 else 0.0)
    return total / window if window > 0 else 0.0


def _matches(view: DeviceView, needle: str) -> bool:
    fields = (view.name, view.label, view.hostname, view.vendor, view.mac, view.key, *view.addresses)
    return any(needle in f.lower() for f in fields if f)


def _addresses(view: DeviceView) -> str:
    shown = list(view.ipv4[:2]) + list(view.ipv6[:1])
    more = len(view.addresses) - len(shown)
    text = ", ".join(shown) or DASH
    return f"{text} +{more}" if more > 0 else text


def _sort_value(key: str, view: DeviceView, rate: float) -> float | str:
    values: dict[str, float | str] = {
        "name": view.name.lower(),
        "down": view.bytes_down,
        "up": view.bytes_up,
        "rate": rate,
        "activity": rate,
        "last": view.last_ts or 0.0,
        "vendor": (view.vendor or "~").lower(),
        "mac": view.mac or "~",
        "addresses": view.addresses[0] if view.addresses else "~",
    }
    return values[key]


def device_table(
    views: Sequence[DeviceView],
    timeline: TimelineSnapshot | None,
    clock: float | None,
    capture_start: float | None,
    request: ModelRequest,
    tz: dt.tzinfo,
) -> TableModel:
    needle = request.device_filter.strip().lower()
    chosen = [v for v in views if _matches(v, needle)] if needle else list(views)
    newest_start = minute_start(timeline)
    rates = {}
    minutes = {}
    for v in chosen:
        per_minute = device_minutes(timeline, v.id)
        minutes[v.id] = per_minute
        rates[v.id] = recent_rate(per_minute, newest_start, clock)
    sort_key = request.device_sort if request.device_sort in {c.key for c in DEVICE_COLUMNS} else "down"
    largest_first = sort_key in _NUMERIC
    descending = largest_first != request.device_sort_reverse
    # ties in the key's order, so the order never depends on the engine's (sorts are stable, also reversed)
    chosen.sort(key=lambda v: v.key)
    chosen.sort(key=lambda v: _sort_value(sort_key, v, rates[v.id]), reverse=descending)
    rows = []
    for v in chosen[:DEVICE_ROWS]:
        per_minute = minutes[v.id]
        recent = per_minute[-ACTIVITY_MINUTES:].tolist() if per_minute is not None else []
        recent = [0] * (ACTIVITY_MINUTES - len(recent)) + recent
        flags = set()
        if v.router:
            flags.add("router")
        if (
            clock is not None
            and capture_start is not None
            and v.first_ts is not None
            and v.first_ts - capture_start >= JOINED_AFTER
            and clock - v.first_ts <= NEW_WINDOW
        ):
            flags.add("new")
        rows.append(
            TableRow(
                key=v.key,
                cells=(
                    v.name,
                    bytes_text(v.bytes_down),
                    bytes_text(v.bytes_up),
                    rate_text(rates[v.id]),
                    sparkline_text(recent),
                    clock_text(v.last_ts, tz),
                    v.vendor or ("private MAC" if v.randomized_mac else DASH),
                    v.mac or DASH,
                    _addresses(v),
                ),
                flags=frozenset(flags),
            )
        )
    return TableModel(rows=tuple(rows), matched=len(chosen), total=len(views))
