"""A small dialog asking for one line of text: a device's label."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class TextDialog(ModalScreen[str | None]):
    """Enter answers the text (empty clears), Escape answers None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", show=True)]  # noqa: RUF012

    def __init__(self, title: str, prompt: str, value: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.prompt = prompt
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog-body"):
            yield Static(self.prompt, id="dialog-prompt")
            yield Input(self.value, id="dialog-input")

    def on_mount(self) -> None:
        body = self.query_one("#dialog-body")
        body.border_title = self.title_text
        body.border_subtitle = "enter saves · escape cancels"
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
