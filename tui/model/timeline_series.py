"""Series for the sparklines and the chart: the last minutes second by second, and the whole capture
(or the last days of it) at a resolution that keeps the chart to a few hundred points."""

from __future__ import annotations

from engine.aggregate.timeline import TimelineSeries, TimelineSnapshot
from tui.model.dashboard import Series, TimelineModel

RECENT_SECONDS = 240  # one-second bins behind the total sparkline
RECENT_MINUTES = 120  # one-minute bins behind the selected device's sparkline
LONG_POINTS = 360  # the chart's longest series
RATE_SECONDS = 5  # the status rate averages this many seconds of packet time
LONG_RESOLUTIONS = (60, 900, 3600)
# what a snapshot must copy (newest bins per resolution): per-device series exist for every device
TIMELINE_BINS = {1: RECENT_SECONDS, 60: LONG_POINTS, 900: 96, 3600: 168}


def long_resolution(span: float) -> int:
    """The finest resolution that shows `span` seconds in at most LONG_POINTS bins (or the coarsest)."""
    for res in LONG_RESOLUTIONS:
        if span / res <= LONG_POINTS and res in TIMELINE_BINS and span / res <= TIMELINE_BINS[res]:
            return res
    return LONG_RESOLUTIONS[-1]


def as_series(
    series: TimelineSeries | None, *, since: float | None = None, last: int | None = None
) -> Series:
    """Bytes per second per bin, without the bins that end before `since`, the newest `last` of them."""
    if series is None:
        return Series(60, 0.0)
    values = series.values
    start = series.start
    res = series.resolution
    if since is not None and values.size:
        skip = max(0, min(int((since - start) // res), values.size - 1))
        values = values[skip:]
        start += skip * res
    if last is not None and values.size > last:
        start += (values.size - last) * res
        values = values[-last:]
    return Series(res, start, tuple(float(v) / res for v in values.tolist()))


def _sum(a: TimelineSeries | None, b: TimelineSeries | None) -> TimelineSeries | None:
    if a is None or b is None:
        return a or b
    return TimelineSeries(a.resolution, a.start, a.values + b.values)


def device_series(
    timeline: TimelineSnapshot | None, device: int, res: int, *, since: float | None = None
) -> tuple[Series, Series]:
    """(down, up) bytes per second of one device."""
    if timeline is None or res not in timeline.device_bytes_up:
        return Series(res, 0.0), Series(res, 0.0)
    up = timeline.device_bytes_up[res].get(device)
    down = timeline.device_bytes_down[res].get(device)
    return as_series(down, since=since), as_series(up, since=since)


def recent_rate(series: Series, seconds: int = RATE_SECONDS) -> float:
    values = series.values[-seconds:]
    return sum(values) / len(values) if values else 0.0


def timeline_model(
    timeline: TimelineSnapshot | None,
    capture_start: float | None,
    clock: float | None,
    selected: tuple[str, str, int] | None,  # (key, name, device id)
) -> TimelineModel:
    if timeline is None:
        return TimelineModel()
    span = (clock - capture_start) if clock is not None and capture_start is not None else 0.0
    res = long_resolution(span)
    recent = as_series(timeline.total_bytes.get(1), since=capture_start, last=RECENT_SECONDS)
    long_total = as_series(timeline.total_bytes.get(res), since=capture_start, last=LONG_POINTS)
    if selected is None:
        return TimelineModel(recent_total=recent, long_total=long_total, total_rate=recent_rate(recent))
    key, name, device = selected
    minutes = _sum(
        timeline.device_bytes_up.get(60, {}).get(device), timeline.device_bytes_down.get(60, {}).get(device)
    )
    recent_selected = as_series(minutes, since=capture_start, last=RECENT_MINUTES)
    down, up = device_series(timeline, device, res, since=capture_start)
    both = Series(res, down.start, tuple(d + u for d, u in zip(down.values, up.values, strict=False)))
    return TimelineModel(
        recent_total=recent,
        long_total=long_total,
        total_rate=recent_rate(recent),
        selected_key=key,
        selected_name=name,
        recent_selected=recent_selected,
        long_selected=both,
        selected_rate=None,
    )
