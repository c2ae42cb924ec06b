"""The export dialog: a folder, a format and whether to anonymise, for the whole analysis as it stands."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, RadioButton, RadioSet, Static

from tui.model.export_request import ExportFormat, ExportRequest

FORMATS: tuple[ExportFormat, ...] = ("csv", "json", "parquet")


class ExportDialog(ModalScreen[ExportRequest | None]):
    """Enter in the folder field exports; Escape cancels. Tab reaches the format and the anonymise box."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", show=True)]  # noqa: RUF012

    def __init__(self, folder: str) -> None:
        super().__init__()
        self.folder = folder

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog-body"):
            yield Static("Folder to write devices, flows, dns, ... and manifest.json into:")
            yield Input(self.folder, id="export-folder")
            with Horizontal(id="export-options"):
                with RadioSet(id="export-format"):
                    for i, fmt in enumerate(FORMATS):
                        yield RadioButton(fmt.upper(), value=i == 0, id=f"format-{fmt}")
                yield Checkbox("Anonymise (MACs, IPs, local names)", id="export-anonymise")

    def on_mount(self) -> None:
        body = self.query_one("#dialog-body")
        body.border_title = "Export the analysis"
        body.border_subtitle = "enter exports · tab moves · escape cancels"
        self.query_one("#export-folder", Input).focus()

    def request(self) -> ExportRequest | None:
        folder = self.query_one("#export-folder", Input).value.strip()
        if not folder:
            return None
        pressed = self.query_one("#export-format", RadioSet).pressed_index
        fmt = FORMATS[pressed] if 0 <= pressed < len(FORMATS) else "csv"
        return ExportRequest(folder, fmt, self.query_one("#export-anonymise", Checkbox).value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(self.request())

    def action_cancel(self) -> None:
        self.dismiss(None)
