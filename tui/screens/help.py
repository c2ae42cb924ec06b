"""The help screen: every key, generated from the action table, and what the panes show."""

from __future__ import annotations

import textwrap

from textual.app import ComposeResult, RenderResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widget import Widget

from tui.actions import ACTIONS, key_label

SCOPE_TITLES = {
    "app": "Everywhere",
    "dashboard": "Dashboard",
    "devices": "Device table",
    "device": "Device screen",
    "remotes": "Top remotes",
    "findings": "Findings",
    "finding": "One finding",
    "remote": "Remote screen",
    "flows": "Flows",
    "packets": "Packets",
    "countries": "Countries",
}
PANES_TEXT = (
    ("Devices", "every device seen: name, traffic down and up, current rate, activity in the last minutes"),
    ("Protocols", "bytes and packets per protocol; how much is encrypted, and IPv4 against IPv6"),
    ("Traffic", "all traffic and the selected device, recently and over the whole capture"),
    ("DNS log", "the newest lookups; move up to stop following, f to follow again"),
    ("Remotes", "the internet addresses the home talks to most, by the best name seen for them"),
)
KEY_WIDTH = 16


def _entry(name: str, text: str, width: int) -> list[Content]:
    """A name and its text, the text wrapped under itself."""
    wrapped = textwrap.wrap(text, max(20, width - KEY_WIDTH - 2)) or [""]
    first = Content.assemble((f"  {name:<{KEY_WIDTH}}", "bold"), wrapped[0])
    return [first, *(Content(" " * (KEY_WIDTH + 2) + more) for more in wrapped[1:])]


def help_text(width: int = 80) -> Content:
    lines: list[Content] = []
    for scope, title in SCOPE_TITLES.items():
        lines.append(Content.styled(title, "bold $text-accent"))
        for action in ACTIONS:
            if action.scope == scope:
                lines += _entry(key_label(action), action.help, width)
        lines.append(Content(""))
    lines.append(Content.styled("Panes", "bold $text-accent"))
    for name, text in PANES_TEXT:
        lines += _entry(name, text, width)
    lines.append(Content(""))
    lines.append(
        Content.styled("ctrl+p opens the command palette: the same actions, by name.", "$text-muted")
    )
    return Content("\n").join(lines)


class HelpText(Widget):
    DEFAULT_CSS = """
    HelpText {
        height: auto;
    }
    """

    def render(self) -> RenderResult:
        return help_text(self.size.width)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [  # noqa: RUF012
        Binding("escape,question_mark,q", "dismiss_help", "Close", show=True),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield HelpText(id="help-text")

    def on_mount(self) -> None:
        body = self.query_one("#help-body")
        body.border_title = "homescope keys"
        body.border_subtitle = "escape closes"
        body.focus()

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
