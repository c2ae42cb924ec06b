"""The device table: one row per device, sortable by any column, new devices highlighted."""

from __future__ import annotations

from typing import Any

from rich.style import Style
from textual.message import Message

from tui.actions import bindings_for
from tui.model.dashboard import DEVICE_COLUMNS, TableModel, TableRow
from tui.widgets.keyed_table import KeyedTable

_COLUMN_NAMES = {c.key: c.label for c in DEVICE_COLUMNS}


class DeviceTable(KeyedTable):
    """Devices, in the order the model sorted them; `s` and `S` choose that order."""

    BINDINGS = bindings_for("devices")
    COMPONENT_CLASSES = KeyedTable.COMPONENT_CLASSES | {"device-table--new", "device-table--router"}
    DEFAULT_CSS = """
    DeviceTable > .device-table--new {
        text-style: bold;
        color: $text-success;
    }
    DeviceTable > .device-table--router {
        color: $text-muted;
    }
    """

    class SortChanged(Message):
        def __init__(self, column: str, reverse: bool) -> None:
            super().__init__()
            self.column = column
            self.reverse = reverse

    class DeviceChosen(Message):
        """The user asked for a device's details."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(DEVICE_COLUMNS, id=id, classes=classes)
        self.sort_column = "down"
        self.sort_reverse = False
        self.fixed_columns = 1

    def row_style(self, row: TableRow) -> Style | None:
        if "new" in row.flags:
            return self.component_style("device-table--new")
        if "router" in row.flags:
            return self.component_style("device-table--router")
        return None

    def show(self, model: TableModel) -> None:
        self.sync(model.rows)
        shown = f"{model.matched}" if model.matched == model.total else f"{model.matched} of {model.total}"
        arrow = "↑" if self.sort_reverse else "↓"
        self.border_title = f"Devices ({shown})"
        self.border_subtitle = f"by {_COLUMN_NAMES[self.sort_column]} {arrow}"

    def sort_label(self) -> str:
        return _COLUMN_NAMES[self.sort_column]

    def action_sort_next(self) -> None:
        keys = [c.key for c in DEVICE_COLUMNS]
        self.sort_column = keys[(keys.index(self.sort_column) + 1) % len(keys)]
        self.sort_reverse = False
        self.post_message(self.SortChanged(self.sort_column, self.sort_reverse))

    def action_sort_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self.post_message(self.SortChanged(self.sort_column, self.sort_reverse))

    def action_label_device(self) -> None:
        key = self.cursor_key
        if key is not None:
            app: Any = self.app
            app.label_device(key)

    def action_open_device(self) -> None:
        key = self.cursor_key
        if key is not None:
            self.post_message(self.DeviceChosen(key))

    def on_data_table_header_selected(self, event: KeyedTable.HeaderSelected) -> None:
        """A click on a column header sorts by it (a second click reverses)."""
        column = event.column_key.value or "down"
        if column == self.sort_column:
            self.action_sort_reverse()
        else:
            self.sort_column, self.sort_reverse = column, False
            self.post_message(self.SortChanged(column, False))
