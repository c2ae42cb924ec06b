"""The DNS log: follows the newest lookups until the user moves up, then counts how many are waiting."""

from __future__ import annotations

from rich.style import Style

from tui.model.dashboard import DNS_COLUMNS, DnsModel, TableRow
from tui.widgets.keyed_table import KeyedTable


class DnsLog(KeyedTable):
    """Newest lookups at the bottom. Moving the cursor up stops following; `f` or End follows again."""

    COMPONENT_CLASSES = KeyedTable.COMPONENT_CLASSES | {"dns-log--failed"}
    DEFAULT_CSS = """
    DnsLog > .dns-log--failed {
        color: $text-error;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(DNS_COLUMNS, id=id, classes=classes)
        self.following = True
        self.model = DnsModel()
        self.filter_text = ""

    def row_style(self, row: TableRow) -> Style | None:
        if "failed" in row.flags:
            return self.component_style("dns-log--failed")
        return None

    def cell_style(self, row: TableRow, index: int) -> Style | None:
        return self.row_style(row) if index in (2, 4) else None

    @property
    def newest_shown(self) -> int:
        return max((int(key) for key in self._shown), default=-1)

    @property
    def waiting(self) -> int:
        """Entries in the model newer than the newest on screen."""
        newest = self.newest_shown
        return sum(1 for row in self.model.rows if int(row.key) > newest)

    def show(self, model: DnsModel) -> None:
        self.model = model
        if self.following:
            self.sync(model.rows, reorder=False)
            self._to_newest()
        self._titles()

    def follow(self) -> None:
        self.following = True
        self.sync(self.model.rows, reorder=False)
        self._to_newest()
        self._titles()

    def _to_newest(self) -> None:
        if self.row_count:
            # scrolls once the new rows are measured (DataTable defers that to idle time)
            self.move_cursor(row=self.row_count - 1, animate=False, scroll=True)

    def _titles(self) -> None:
        what = f"DNS log · {self.filter_text!r}" if self.filter_text else "DNS log"
        total = (
            f"{self.model.matched:,} of {self.model.total:,}" if self.filter_text else f"{self.model.total:,}"
        )
        self.border_title = f"{what} ({total})"
        if self.following:
            self.border_subtitle = "following"
        else:
            waiting = self.waiting
            self.border_subtitle = f"{waiting:,} new below · f follows" if waiting else "paused · f follows"

    # Following stops and resumes on what the user does, not on cursor events (which also come from
    # following itself, a tick later).
    def _after_move(self) -> None:
        at_end = self.cursor_row >= self.row_count - 1
        if at_end and not self.following:
            self.follow()
        elif not at_end and self.following:
            self.following = False
            self._titles()

    def action_cursor_up(self) -> None:
        super().action_cursor_up()
        self._after_move()

    def action_cursor_down(self) -> None:
        super().action_cursor_down()
        self._after_move()

    def action_page_up(self) -> None:
        super().action_page_up()
        self._after_move()

    def action_page_down(self) -> None:
        super().action_page_down()
        self._after_move()

    def action_scroll_top(self) -> None:
        super().action_scroll_top()
        self._after_move()

    def action_scroll_bottom(self) -> None:
        super().action_scroll_bottom()
        self.follow()

    def action_scroll_end(self) -> None:
        self.follow()

    def on_mouse_scroll_up(self) -> None:
        if self.following:
            self.following = False
            self._titles()
