"""Quiet hours as absolute time windows, and how much of a span falls inside them.

Quiet hours are a daily window in local time (23:00-06:00 may run past midnight). For a span of packet
time they become one absolute window per local day, computed through the time zone, so a daylight-saving
change shortens or lengthens that night's window as the clock does. `QuietWindows.overlap` then tells,
for whole arrays of (start, end) spans, how many seconds of each fall in quiet hours: a cumulative
"quiet seconds before t" function evaluated with two `searchsorted`s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

import numpy as np
import numpy.typing as npt

from engine.config import QuietHours
from engine.decode.decoder import TS_MAX, TS_MIN

F64 = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]


def _at(day: date, clock: datetime, tz: tzinfo) -> float:
    return datetime(day.year, day.month, day.day, clock.hour, clock.minute, tzinfo=tz).timestamp()


@dataclass(frozen=True, slots=True)
class QuietWindows:
    """Disjoint, sorted absolute windows [starts[i], ends[i])."""

    starts: F64
    ends: F64

    @staticmethod
    def build(quiet: QuietHours, tz: tzinfo, first_ts: float, last_ts: float) -> QuietWindows:
        """The quiet windows that touch [first_ts, last_ts] in time zone `tz`."""
        if not (TS_MIN <= first_ts <= last_ts < TS_MAX):
            return QuietWindows(np.zeros(0), np.zeros(0))
        first_day = datetime.fromtimestamp(first_ts, UTC).astimezone(tz).date() - timedelta(days=1)
        last_day = datetime.fromtimestamp(last_ts, UTC).astimezone(tz).date() + timedelta(days=1)
        start_clock = datetime.combine(first_day, quiet.start)
        end_clock = datetime.combine(first_day, quiet.end)
        overnight = quiet.end <= quiet.start
        starts: list[float] = []
        ends: list[float] = []
        day = first_day
        while day <= last_day:
            begin = _at(day, start_clock, tz)
            finish = _at(day + timedelta(days=1) if overnight else day, end_clock, tz)
            if finish > begin and finish >= first_ts and begin <= last_ts:
                starts.append(begin)
                ends.append(finish)
            day += timedelta(days=1)
        return QuietWindows(np.array(starts, dtype=np.float64), np.array(ends, dtype=np.float64))

    def __len__(self) -> int:
        return int(self.starts.shape[0])

    def _quiet_before(self, t: F64) -> F64:
        """Seconds of quiet time before each t."""
        lengths = self.ends - self.starts
        before = np.concatenate([[0.0], np.cumsum(lengths)])
        k = np.searchsorted(self.starts, t, side="right") - 1
        inside = np.where(
            k >= 0, np.clip(t - self.starts[np.maximum(k, 0)], 0.0, lengths[np.maximum(k, 0)]), 0
        )
        result: F64 = np.where(k >= 0, before[np.maximum(k, 0)] + inside, 0.0)
        return result

    def overlap(self, start: F64, end: F64) -> F64:
        """Seconds of each span [start, end] that fall in quiet hours."""
        if not len(self):
            return np.zeros(np.shape(start), dtype=np.float64)
        s = np.asarray(start, dtype=np.float64)
        e = np.maximum(np.asarray(end, dtype=np.float64), s)
        result: F64 = self._quiet_before(e) - self._quiet_before(s)
        return result

    def contains(self, t: F64) -> Mask:
        """Per time: inside a quiet window."""
        if not len(self):
            return np.zeros(np.shape(t), dtype=bool)
        times = np.asarray(t, dtype=np.float64)
        k = np.searchsorted(self.starts, times, side="right") - 1
        result: Mask = (k >= 0) & (times < self.ends[np.maximum(k, 0)])
        return result
