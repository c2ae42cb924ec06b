"""One device's protocols as bars of bytes."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult, RenderResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widget import Widget

from engine.report.formatting import human_bytes
from tui.model.formatting import bar_text, share_text

NAME_WIDTH = 13


class ProtocolList(Widget):
    DEFAULT_CSS = """
    ProtocolList {
        text-wrap: nowrap;
        text-overflow: ellipsis;
        height: auto;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.rows: tuple[tuple[str, int], ...] = ()

    def render(self) -> RenderResult:
        if not self.rows:
            return Content.styled("No traffic yet", "$text-muted")
        total = sum(n for _, n in self.rows) or 1
        top = max(n for _, n in self.rows) or 1
        bar = max(4, self.size.width - NAME_WIDTH - 16)
        return Content("\n").join(
            Content.assemble(
                name[: NAME_WIDTH - 1].ljust(NAME_WIDTH),
                (bar_text(n / top, bar), "$text-primary"),
                f" {human_bytes(n):>7} {share_text(n / total):>5}",
            )
            for name, n in self.rows
        )


class DeviceProtocols(VerticalScroll):
    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.lines = ProtocolList()  # made here: a model may arrive before compose

    def compose(self) -> ComposeResult:
        yield self.lines

    def on_mount(self) -> None:
        self.border_title = "Protocols"

    def show(self, rows: Sequence[tuple[str, int]]) -> None:
        lines = self.lines
        rows = tuple(rows)
        if rows != lines.rows:
            height_changed = len(rows) != len(lines.rows)
            lines.rows = rows
            lines.refresh(layout=height_changed)
