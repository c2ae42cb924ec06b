"""The homescope TUI: the app, its screens and keys, over an engine feed (see `tui.model_pump` for how the
screens are kept up to date)."""

from __future__ import annotations

import datetime as dt
from pathlib import PurePath
from typing import Any, ClassVar

from textual.app import App
from textual.screen import Screen

from engine.errors import HomescopeError
from engine.session import SPEEDS
from tui.actions import bindings_for
from tui.commands import ActionCommands
from tui.investigation_actions import InvestigationActions
from tui.model.feed import EngineFeed
from tui.model_pump import ModelPump
from tui.screens.dashboard import DashboardScreen
from tui.screens.device import DeviceScreen
from tui.screens.help import HelpScreen
from tui.widgets.status_bar import StatusBar, speed_text


class HomescopeApp(InvestigationActions, ModelPump):
    TITLE = "homescope"
    CSS_PATH: ClassVar[list[str | PurePath]] = [
        "styles/app.tcss",
        "styles/dashboard.tcss",
        "styles/device.tcss",
        "styles/investigation.tcss",
    ]
    BINDINGS = bindings_for("app")
    COMMANDS: ClassVar[set[Any]] = App.COMMANDS | {ActionCommands}
    ALLOW_IN_MAXIMIZED_VIEW = "StatusBar, Footer"

    def __init__(
        self, feed: EngineFeed, *, tz: dt.tzinfo, refresh_hz: float = 4.0, stable: bool = False
    ) -> None:
        """`stable` hides what depends on wall time (ingest rate, time left), for screenshots and tests."""
        super().__init__()
        self.feed = feed
        self.tz = tz
        self.stable = stable
        self.start_pump(refresh_hz)

    def get_default_screen(self) -> Screen[Any]:
        return DashboardScreen(tz=self.tz, stable=self.stable)

    def on_mount(self) -> None:
        self.feed.start()
        self.request_model()

    # ---- actions --------------------------------------------------------------------------------------

    def open_device(self, key: str) -> None:
        self.push_screen(DeviceScreen(key, tz=self.tz, stable=self.stable))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("toggle_pause", "faster", "slower"):
            finished = self.model is not None and self.model.status.finished
            return None if finished else True
        return True

    def _show_control(self) -> None:
        for bar in self.screen.query(StatusBar):
            bar.show_control(paused=self.feed.paused, speed=self.feed.speed)
        self.refresh_bindings()

    @property
    def watching(self) -> bool:
        """A live capture or a followed folder: packets come as they arrive, not at a replay speed."""
        if self.model is not None:
            return self.model.status.mode in ("live", "follow")
        config = getattr(self.feed, "config", None)
        return str(getattr(config, "mode", "replay")) in ("live", "follow")

    def action_toggle_pause(self) -> None:
        if self.watching:  # the capture cannot wait: only the screen stops changing
            self.set_frozen(not self.frozen)
            what = "screen frozen: the capture goes on (space to unfreeze)" if self.frozen else "unfrozen"
            self.notify(what, timeout=2)
            return
        try:
            self.feed.set_paused(not self.feed.paused)
        except HomescopeError as err:
            self.tell_once(err.message, title=err.title, severity="error", timeout=15)
            return
        self._show_control()
        self.request_model()

    def _step_speed(self, step: int) -> None:
        if self.watching:
            self.notify("speed applies to replays: live and follow show packets as they arrive", timeout=3)
            return
        index = SPEEDS.index(self.feed.speed) if self.feed.speed in SPEEDS else len(SPEEDS) - 1
        speed = SPEEDS[min(max(index + step, 0), len(SPEEDS) - 1)]
        if speed != self.feed.speed:
            try:
                self.feed.set_speed(speed)
            except HomescopeError as err:
                self.tell_once(err.message, title=err.title, severity="error", timeout=15)
                return
            self._show_control()
        self.notify(f"replay speed {speed_text(speed)}", timeout=1.5)

    def action_faster(self) -> None:
        self._step_speed(+1)

    def action_slower(self) -> None:
        self._step_speed(-1)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        self.feed.stop(timeout=0.1)  # the ingest thread (or process) stops after its current batch
        self.exit(0)
