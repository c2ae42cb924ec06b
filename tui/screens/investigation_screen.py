"""What the investigation screens share: the status bar and footer, the model handed on by the app, the
part of the request they own (set when shown, so the one on top decides), and Escape to go back."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, ClassVar, cast

from textual.screen import Screen

from tui.model.dashboard import DashboardModel
from tui.model.investigation import InvestigationModel
from tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from tui.app import HomescopeApp


class InvestigationScreen(Screen[None]):
    SCOPE: ClassVar[str] = ""  # its scope in tui.actions (the command palette finds its actions by it)

    def __init__(self, *, tz: dt.tzinfo, stable: bool = False) -> None:
        super().__init__()
        self.tz = tz
        self.stable = stable

    @property
    def homescope(self) -> HomescopeApp:
        return cast("HomescopeApp", self.app)

    def request_changes(self) -> dict[str, object]:
        """The request fields this screen needs while it is shown."""
        return {}

    def release_changes(self) -> dict[str, object]:
        """The request fields to reset when it is closed."""
        return {}

    def on_mount(self) -> None:
        if self.request_changes():
            self.homescope.update_request(**self.request_changes())
        model = self.homescope.model
        if model is not None:
            self.show_model(model)

    def on_screen_resume(self) -> None:
        if self.request_changes():
            self.homescope.update_request(**self.request_changes())
        model = self.homescope.model
        if model is not None:
            self.show_model(model)

    def show_model(self, model: DashboardModel) -> None:
        for bar in self.query(StatusBar):
            bar.show(model.status)
        if model.investigation is not None:
            self.show_investigation(model.investigation)

    def show_investigation(self, model: InvestigationModel) -> None:
        """Update the widgets (inside the app's batch update)."""

    def action_back(self) -> None:
        if self.release_changes():
            self.homescope.update_request(soon=False, **self.release_changes())
        self.app.pop_screen()
