"""Top remotes: the internet addresses the home talks to most, by best known name, with organisation and
country when an offline lookup knows them."""

from __future__ import annotations

from typing import Any

from tui.actions import bindings_for
from tui.model.dashboard import REMOTE_COLUMNS, TableModel
from tui.widgets.keyed_table import KeyedTable


class RemotesTable(KeyedTable):
    BINDINGS = bindings_for("remotes")

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(REMOTE_COLUMNS, id=id, classes=classes)
        self.filter_text = ""
        self.fixed_columns = 1

    def show(self, model: TableModel) -> None:
        self.sync(model.rows)
        what = f"Top remotes · {self.filter_text!r}" if self.filter_text else "Top remotes"
        self.border_title = (
            f"{what} ({model.matched:,})"
            if model.matched == model.total
            else (f"{what} ({model.matched:,} of {model.total:,})")
        )
        self.border_subtitle = f"showing {len(model.rows)}" if len(model.rows) < model.matched else ""

    def action_open_remote(self) -> None:
        key = self.cursor_key
        if key is not None:
            app: Any = self.app
            app.open_remote(key)
