"""The filter line that `/` opens: text typed here filters the pane it was opened on."""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class FilterBar(Input):
    DEFAULT_CSS = """
    FilterBar {
        dock: bottom;
        display: none;
        margin-bottom: 1;
    }
    FilterBar.-open {
        display: block;
    }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", show=True)]  # noqa: RUF012

    class Applied(Message):
        def __init__(self, target: str, text: str) -> None:
            super().__init__()
            self.target = target
            self.text = text

    class Closed(Message):
        def __init__(self, target: str) -> None:
            super().__init__()
            self.target = target

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, compact=True)
        self.target = ""

    def open(self, target: str, title: str, current: str) -> None:
        self.target = target
        self.value = current
        self.placeholder = (
            f"filter {title} by name or address · enter applies · empty clears · escape cancels"
        )
        self.add_class("-open")
        self.focus()
        self.cursor_position = len(current)

    def close(self) -> None:
        self.remove_class("-open")
        self.post_message(self.Closed(self.target))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Applied(self.target, event.value.strip()))
        self.close()

    def action_cancel(self) -> None:
        self.close()
