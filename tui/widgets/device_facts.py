"""Who a device is: vendor, MAC, addresses, announced names, when it was seen and how much it sent."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import RenderResult
from textual.content import Content
from textual.widget import Widget

LABEL_WIDTH = 10


class DeviceFacts(Widget):
    DEFAULT_CSS = """
    DeviceFacts {
        text-wrap: nowrap;
        text-overflow: ellipsis;
        height: auto;
        max-height: 8;
        padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.facts: tuple[tuple[str, str], ...] = ()

    def show(self, facts: Sequence[tuple[str, str]]) -> None:
        facts = tuple(facts)
        if facts != self.facts:
            height_changed = len(facts) != len(self.facts)
            self.facts = facts
            self.refresh(layout=height_changed)

    def render(self) -> RenderResult:
        if not self.facts:
            return Content.styled("Waiting for this device's data…", "$text-muted")
        width = max(self.size.width, 20)
        lines = [
            Content.assemble((what[:LABEL_WIDTH].ljust(LABEL_WIDTH + 1), "$text-muted"), value).truncate(
                width, ellipsis=True
            )
            for what, value in self.facts
        ]
        return Content("\n").join(lines)
