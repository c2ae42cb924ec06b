"""Points and spans of time as people write them on the command line: `--since yesterday`, `--until
"2024-03-04 06:00"`, `--since 2h`, `--day 2024-03-04`, `--night` (last night's quiet hours).

Times without a zone are read in the configured time zone (Settings.tzinfo()).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, tzinfo

from engine.config import QuietHours

_AGO = re.compile(r"-?\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hours?|d|days?|w|weeks?)(\s+ago)?", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")

FORMS = (
    '"now", "today", "yesterday" (their midnight), "today 23:00", "yesterday 06:30", "23:00" (today), '
    '"2024-03-04", "2024-03-04 23:00", ISO 8601 such as "2024-03-04T23:00:00+01:00", '
    '"2h" or "2h ago" (s, m, h, d, w), "@1709510400" (epoch seconds)'
)


def parse_time(text: str, tz: tzinfo, now: datetime | None = None) -> float:
    """Epoch seconds of `text` (see FORMS). Raises ValueError naming the forms understood."""
    raw = text.strip()
    now = now.astimezone(tz) if now is not None else datetime.now(tz)
    low = raw.lower()
    try:
        if low.startswith("@"):
            return float(low[1:])
        if low == "now":
            return now.timestamp()
        if match := _AGO.fullmatch(low):
            return now.timestamp() - float(match[1]) * _UNIT_SECONDS[match[2][0]]
        words = low.split()
        if words and words[0] in ("today", "yesterday"):
            day = now.date() - timedelta(days=1 if words[0] == "yesterday" else 0)
            at = _clock(words[1]) if len(words) == 2 else time(0, 0) if len(words) == 1 else None
            if at is not None:
                return datetime.combine(day, at, tz).timestamp()
        elif (at := _clock(low)) is not None:
            return datetime.combine(now.date(), at, tz).timestamp()
        else:
            parsed = datetime.fromisoformat(raw.replace(" ", "T", 1) if len(raw) > 10 else raw)
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=tz)
            return parsed.timestamp()
    except ValueError:
        pass
    raise ValueError(f"cannot read {text!r} as a time; write one of {FORMS}")


def _clock(text: str) -> time | None:
    match = _CLOCK.fullmatch(text)
    if match is None:
        return None
    return time(int(match[1]), int(match[2]), int(match[3] or 0))


def day_span(text: str, tz: tzinfo, now: datetime | None = None) -> tuple[float, float]:
    """Midnight to midnight of a day: "2024-03-04", "today" or "yesterday"."""
    start = parse_time(text if text.strip().lower() in ("today", "yesterday") else text.strip()[:10], tz, now)
    day = datetime.fromtimestamp(start, tz).date()
    return _midnight(day, tz), _midnight(day + timedelta(days=1), tz)


def night_span(
    quiet: QuietHours, tz: tzinfo, day: str | None = None, now: datetime | None = None
) -> tuple[float, float]:
    """The quiet hours of the night that starts on `day` (default: the last night that has begun)."""
    now = now.astimezone(tz) if now is not None else datetime.now(tz)
    if day is not None:
        first = datetime.fromtimestamp(day_span(day, tz, now)[0], tz).date()
    else:
        first = now.date()
        if datetime.combine(first, quiet.start, tz) > now:
            first -= timedelta(days=1)
    start = datetime.combine(first, quiet.start, tz)
    end_day = first if quiet.end > quiet.start else first + timedelta(days=1)
    return start.timestamp(), datetime.combine(end_day, quiet.end, tz).timestamp()


def _midnight(day: date, tz: tzinfo) -> float:
    return datetime.combine(day, time(0, 0), tz).timestamp()
