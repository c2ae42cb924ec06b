"""A one-line list of the panes that share one place on a small terminal, the visible one highlighted."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import RenderResult
from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget


class PaneTabs(Widget):
    DEFAULT_CSS = """
    PaneTabs {
        height: 1;
        padding: 0 1;
    }
    """

    active: reactive[str] = reactive("")

    def __init__(self, panes: Sequence[tuple[str, str]], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.panes = tuple(panes)  # (pane id, title)

    def render(self) -> RenderResult:
        parts: list[str | tuple[str, str]] = []
        for pane_id, title in self.panes:
            if parts:
                parts.append(("  ", ""))
            if pane_id == self.active:
                parts.append((f" {title} ", "bold reverse $text-accent"))
            else:
                parts.append((f" {title} ", "$text-muted"))
        parts.append(("   tab switches", "$text-muted italic"))
        return Content.assemble(*parts)
