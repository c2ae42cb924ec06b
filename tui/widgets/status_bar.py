"""The status bar: source, mode, capture clock, speed, paused or running, progress, ingest rate, malformed
packets and drops."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from textual.app import RenderResult
from textual.content import Content
from textual.widget import Widget

from engine.report.formatting import human_count, human_duration
from tui.model.dashboard import StatusModel
from tui.model.formatting import bar_text, clock_text

SEPARATOR = ("  │  ", "$text-muted")
SOURCE_WIDTH = 40  # a longer folder (live, follow) keeps its end: "…/homescope/dumps"


def speed_text(speed: float | None) -> str:
    return "max" if speed is None else f"{speed:g}x"


def _state(status: StatusModel) -> tuple[str, str]:
    if status.error is not None:
        return f"✖ stopped: {status.error[0]}", "$text-error"
    if status.frozen:
        return "❄ frozen", "$text-warning"
    if status.finished:
        return "■ finished", "$text-success"
    if status.paused:
        return "⏸ paused", "$text-warning"
    if not status.running and not status.packets:
        return "… starting", "$text-muted"
    return "▶ running", "$text-success"


class StatusBar(Widget):
    """Two lines at the top of every screen."""

    DEFAULT_CSS = """
    StatusBar {
        text-wrap: nowrap;
        text-overflow: ellipsis;
        height: 2;
        width: 1fr;
        padding: 0 1;
    }
    """

    def __init__(
        self, *, tz: dt.tzinfo, stable: bool = False, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.tz = tz
        self.stable = stable  # hide what depends on wall time (ingest rate, time left): for screenshots
        self.status: StatusModel | None = None

    def show(self, status: StatusModel) -> None:
        if status != self.status:
            self.status = status
            self.refresh()

    def show_control(self, *, paused: bool, speed: float | None) -> None:
        """Reflect a key press at once, before the next model arrives."""
        if self.status is not None:
            self.show(replace(self.status, paused=paused, speed=speed))

    def render(self) -> RenderResult:
        s = self.status
        if s is None:
            return Content.styled("homescope: starting…", "$text-muted")
        state, state_style = _state(s)
        width = max(self.size.width - 2, 20)
        if s.mode != "replay":
            return self._render_watch(s, state, state_style, width)
        first = Content.assemble(
            (s.mode.upper(), "bold $text-accent"),
            " ",
            (s.source, "bold"),
            SEPARATOR,
            (clock_text(s.clock, self.tz, with_date=True), ""),
            SEPARATOR,
            ("speed ", "$text-muted"),
            (speed_text(s.speed), "bold"),
            SEPARATOR,
            (state, state_style),
        )
        bar_width = max(6, min(20, width // 5))
        share = s.share if s.share is not None else (1.0 if s.finished else 0.0)
        parts: list[str | tuple[str, str]] = [
            (bar_text(share, bar_width), "$text-accent"),
            f" {share * 100:3.0f}%",
            SEPARATOR,
            f"{human_count(s.packets)} packets",
        ]
        if not self.stable:
            if s.time_left is not None and not s.finished:
                parts += [SEPARATOR, f"{human_duration(s.time_left)} left"]
            if s.running and not s.paused:
                parts += [SEPARATOR, f"{human_count(round(s.ingest_rate))} pkt/s"]
        parts += [
            SEPARATOR,
            ("malformed ", "$text-muted"),
            (human_count(s.malformed), "$text-warning" if s.malformed else ""),
        ]
        if s.mode != "replay":
            parts += [
                SEPARATOR,
                ("drops ", "$text-muted"),
                ("-" if s.drops is None else human_count(s.drops), ""),
            ]
        second = Content.assemble(*parts)
        return Content("\n").join(
            [first.truncate(width, ellipsis=True), second.truncate(width, ellipsis=True)]
        )

    def _render_watch(self, s: StatusModel, state: str, state_style: str, width: int) -> RenderResult:
        """Live, follow and the history store: what is read and how it goes, no speed or progress bar."""
        source = s.source
        if s.mode in ("live", "follow") and len(source) > SOURCE_WIDTH:
            source = "…" + source[-(SOURCE_WIDTH - 1) :]
        first: list[str | tuple[str, str]] = [
            (s.mode.upper(), "bold $text-accent"),
            " ",
            (source, "bold"),
            SEPARATOR,
            (clock_text(s.clock, self.tz, with_date=True), ""),
            SEPARATOR,
            (state, state_style),
        ]
        if s.tool is not None:
            first += [SEPARATOR, ("tool ", "$text-muted"), (s.tool, "bold")]
        if s.where is not None:
            first += [SEPARATOR, (s.where, "")]
        second: list[str | tuple[str, str]] = [f"{human_count(s.packets)} packets"]
        if not self.stable and s.running and not s.finished:
            second += [SEPARATOR, f"{human_count(round(s.ingest_rate))} pkt/s"]
        if s.files_done is not None:
            second += [SEPARATOR, ("files done ", "$text-muted"), str(s.files_done)]
        second += [
            SEPARATOR,
            ("malformed ", "$text-muted"),
            (human_count(s.malformed), "$text-warning" if s.malformed else ""),
        ]
        if s.mode != "history":
            style = "$text-warning" if s.drops else ""
            if s.drop_text is not None:
                second += [SEPARATOR, (s.drop_text, style)]
            else:
                drops = "-" if s.drops is None else human_count(s.drops)
                second += [SEPARATOR, ("drops ", "$text-muted"), (drops, style)]
        if s.connection is not None:
            style = "$text-success" if s.connection.startswith("connected") else "$text-warning"
            second += [SEPARATOR, (s.connection, style)]
        return Content("\n").join(
            [
                Content.assemble(*first).truncate(width, ellipsis=True),
                Content.assemble(*second).truncate(width, ellipsis=True),
            ]
        )
