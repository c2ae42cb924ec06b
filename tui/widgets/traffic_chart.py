"""A plotext chart of traffic over a longer window, with clock times on the axis."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence

from textual_plotext import PlotextPlot

from tui.model.dashboard import Series
from tui.model.formatting import clock_text

REDRAW_SECONDS = 1.0
_UNITS = ((1e9, "Gb/s"), (1e6, "Mb/s"), (1e3, "kb/s"), (1.0, "b/s"))


def rate_unit(top_bits: float) -> tuple[float, str]:
    """The divisor and name of the unit that keeps the largest rate readable."""
    for divisor, name in _UNITS:
        if top_bits >= divisor:
            return divisor, name
    return 1.0, "b/s"


class TrafficChart(PlotextPlot):
    """Lines of bits per second over time; `show` redraws only when the data changed."""

    DEFAULT_CSS = """
    TrafficChart {
        height: 1fr;
        min-height: 5;
    }
    """

    def __init__(self, *, tz: dt.tzinfo, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.tz = tz
        self._lines: tuple[tuple[str, Series], ...] = ()
        self._pending: tuple[tuple[str, Series], ...] | None = None
        self._drawn_at = float("-inf")
        self.unit = "b/s"

    def show(self, lines: Sequence[tuple[str, Series]]) -> None:
        """Plot `lines` (label, series); at most once a second, as plotting costs the UI thread."""
        lines = tuple((label, s) for label, s in lines if s.values)
        if lines == self._lines:
            self._pending = None
            return
        now = time.monotonic()
        if now - self._drawn_at < REDRAW_SECONDS:
            if self._pending is None:
                self.set_timer(REDRAW_SECONDS - (now - self._drawn_at), self._draw_pending)
            self._pending = lines
            return
        self._draw(lines)

    def _draw_pending(self) -> None:
        if self._pending is not None:
            self._draw(self._pending)

    def _draw(self, lines: tuple[tuple[str, Series], ...]) -> None:
        self._pending = None
        self._drawn_at = time.monotonic()
        self._lines = lines
        plt = self.plt
        plt.clear_data()
        if not lines:
            plt.title("no traffic yet")
            self.refresh()
            return
        plt.title("")
        top = max(max(s.values) for _, s in lines) * 8
        divisor, unit = rate_unit(top)
        first = lines[0][1]
        for label, s in lines:
            offset = round((s.start - first.start) / first.resolution)
            xs = [offset + i for i in range(len(s.values))]
            plt.plot(xs, [v * 8 / divisor for v in s.values], label=label, marker="braille")
        count = max(len(s.values) for _, s in lines)
        ticks = max(2, min(6, count))
        step = max(1, (count - 1) // (ticks - 1)) if count > 1 else 1
        positions = [float(p) for p in range(0, count, step)]
        plt.xticks(
            positions, [clock_text(first.start + p * first.resolution, self.tz)[:5] for p in positions]
        )
        self.unit = unit
        self.refresh()
