"""Messages between the engine feed and the screens."""

from __future__ import annotations

from textual.message import Message

from tui.model.dashboard import DashboardModel


class DashboardUpdated(Message):
    """A new dashboard model is ready. It carries the whole state, so a newer one replaces a queued one."""

    def __init__(self, model: DashboardModel) -> None:
        super().__init__()
        self.model = model

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DashboardUpdated)


class ModelFailed(Message):
    """Building a model failed; the message is for the user."""

    def __init__(self, title: str, message: str) -> None:
        super().__init__()
        self.title = title
        self.message = message
