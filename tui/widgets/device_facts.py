"""Who a device is: vendor, MAC, addresses, announced names, when it was seen and how much it sent.

The facts take as many columns as the width allows when they would not fit in the lines the screen gives
them (`max_lines`): on a small terminal the hour-of-day and resolver lines stay visible instead of being
cut off at the bottom.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from textual.app import RenderResult
from textual.content import Content
from textual.geometry import Size
from textual.widget import Widget

LABEL_WIDTH = 10
COLUMN_WIDTH = 38  # the narrowest column worth having: two fit side by side in 80 columns
COLUMN_GAP = 2


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
        self.max_lines = 6  # set by the screen: how many lines it can spare

    def show(self, facts: Sequence[tuple[str, str]]) -> None:
        facts = tuple(facts)
        if facts != self.facts:
            height_changed = len(facts) != len(self.facts)
            self.facts = facts
            self.refresh(layout=height_changed)

    def set_max_lines(self, lines: int) -> None:
        if lines != self.max_lines:
            self.max_lines = max(1, lines)
            self.refresh(layout=True)

    def columns_for(self, width: int) -> int:
        """One column while the facts fit in `max_lines`, else as many as fit across (and are needed)."""
        count = len(self.facts)
        most = max(1, (width + COLUMN_GAP) // (COLUMN_WIDTH + COLUMN_GAP))
        for columns in range(1, most + 1):
            if math.ceil(count / columns) <= self.max_lines:
                return columns
        return most

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if not self.facts:
            return 1
        return math.ceil(len(self.facts) / self.columns_for(width))

    def render(self) -> RenderResult:
        if not self.facts:
            return Content.styled("Waiting for this device's data…", "$text-muted")
        width = max(self.size.width, 20)
        columns = self.columns_for(width)
        rows = math.ceil(len(self.facts) / columns)
        cell = (width - COLUMN_GAP * (columns - 1)) // columns
        cells = [
            Content.assemble((what[:LABEL_WIDTH].ljust(LABEL_WIDTH + 1), "$text-muted"), value).truncate(
                cell, ellipsis=True
            )
            for what, value in self.facts
        ]
        lines = []
        for row in range(rows):
            parts = [cells[i] for i in range(row, len(cells), rows)]  # column by column, as one reads
            line = Content("")
            for i, part in enumerate(parts):
                pad = cell - part.cell_length if i < len(parts) - 1 else 0
                line = line + part + Content(" " * (pad + (COLUMN_GAP if i < len(parts) - 1 else 0)))
            lines.append(line)
        return Content("\n").join(lines)
