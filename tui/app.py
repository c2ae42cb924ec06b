"""The homescope TUI: screens over an engine feed, refreshed a few times a second.

A timer asks for a model; a thread worker gets it from the feed, which takes the snapshot and builds the
rows in the engine process (or in that worker, with a thread feed), never on the UI thread; the model
arrives as a message and the screen diff-updates its widgets inside one batch update. The next
model is asked for when this one is shown, after a pause that grows with the time building took, so
that building models never takes more than about a fifth of the engine's time.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import replace
from pathlib import PurePath
from typing import Any, ClassVar

from textual import work
from textual.app import App
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from engine.errors import HomescopeError
from engine.session import SPEEDS
from tui.actions import bindings_for
from tui.commands import ActionCommands
from tui.messages import DashboardUpdated, ModelFailed
from tui.model.dashboard import DashboardModel, ModelRequest
from tui.model.feed import EngineFeed
from tui.screens.dashboard import DashboardScreen
from tui.screens.device import DeviceScreen
from tui.screens.help import HelpScreen
from tui.widgets.status_bar import StatusBar, speed_text

BUILD_SHARE = 5.0  # a model every 5x the time one takes to build (the engine's time goes to ingest)...
MAX_PERIOD = 0.45  # ...but at least about twice a second
FLAT_OUT_PERIOD = 1 / 3  # replaying flat out, the eye cannot follow more: leave the CPU to ingest
PAUSED_PERIOD = 1.0


class HomescopeApp(App[int]):
    TITLE = "homescope"
    CSS_PATH: ClassVar[list[str | PurePath]] = [
        "styles/app.tcss",
        "styles/dashboard.tcss",
        "styles/device.tcss",
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
        self.refresh_hz = min(max(refresh_hz, 1.0), 10.0)
        self.stable = stable
        self.request = ModelRequest()
        self.model: DashboardModel | None = None
        self.models_shown = 0
        self._building = False
        self._again = False
        self._build_started = 0.0
        self._build_seconds = 0.0
        self._built_request = self.request
        self._next: Timer | None = None
        self._reported: set[str] = set()

    def get_default_screen(self) -> Screen[Any]:
        return DashboardScreen(tz=self.tz, stable=self.stable)

    def on_mount(self) -> None:
        self.feed.start()
        self.request_model()

    # ---- models ---------------------------------------------------------------------------------------

    def request_model(self) -> None:
        """Ask for a fresh model, unless one is being built (then one more follows it)."""
        if self._building:
            self._again = True
            return
        if self._next is not None:
            self._next.stop()
            self._next = None
        self._building = True
        self._build_started = time.monotonic()
        self._built_request = self.request
        self._build_model(self.request)

    def _model_done(self) -> None:
        """Schedule the next model: at the refresh rate, slower when building is slow (at most MAX_PERIOD)."""
        self._building = False
        if self._again:
            self._again = False
            self.request_model()
            return
        status = self.model.status if self.model is not None else None
        if status is not None and status.finished and self._built_request == self.request:
            return  # nothing changes any more until the user asks for something else
        period = max(1 / self.refresh_hz, BUILD_SHARE * self._build_seconds)
        if status is not None and status.running and status.speed is None:
            period = max(period, FLAT_OUT_PERIOD)
        period = min(period, MAX_PERIOD)
        if status is not None and status.paused:
            period = PAUSED_PERIOD
        delay = max(0.02, self._build_started + period - time.monotonic())  # a zero timer is an error
        self._next = self.set_timer(delay, self.request_model)

    def update_request(self, *, soon: bool = True, **changes: object) -> None:
        """Change what the model is built for; `soon=False` waits for the next regular model (for changes
        that come with every cursor move, such as the selected device)."""
        self.set_request(replace(self.request, **changes), soon=soon)  # type: ignore[arg-type]

    def set_request(self, request: ModelRequest, *, soon: bool = True) -> None:
        if request != self.request:
            self.request = request
            if soon or (self._next is None and not self._building):  # no regular model coming: ask now
                self.request_model()

    @work(thread=True, exclusive=True, group="model", exit_on_error=False)
    def _build_model(self, request: ModelRequest) -> None:
        started = time.monotonic()
        try:
            model = self.feed.model(request)
        except HomescopeError as err:
            self.post_message(ModelFailed(err.title, err.message))
            return
        self._build_seconds = time.monotonic() - started
        self.post_message(DashboardUpdated(model))

    def on_dashboard_updated(self, message: DashboardUpdated) -> None:
        before = self.model.status if self.model is not None else None
        self.model = message.model
        if before is None or before.finished != message.model.status.finished:
            self.refresh_bindings()  # pause and speed do nothing once the replay has ended
        screen = self.screen
        show = getattr(screen, "show_model", None)
        if show is not None:
            with self.batch_update():
                show(message.model)
        self.models_shown += 1
        self._report(message.model)
        self._model_done()

    def on_model_failed(self, message: ModelFailed) -> None:
        self.notify(message.message, title=message.title, severity="error", timeout=10)
        self._model_done()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "model" and event.state == WorkerState.ERROR:
            self._model_done()
            self.notify(
                f"{event.worker.error}. The dashboard may be out of date; this is a bug, please report it.",
                title="Could not read the analysis",
                severity="error",
                timeout=10,
            )

    def _report(self, model: DashboardModel) -> None:
        """Tell the user once about each problem with the inputs and about an error that stopped reading."""
        status = model.status
        for line in status.problems:
            if line not in self._reported:
                self._reported.add(line)
                self.notify(line, title="Capture problem", severity="warning", timeout=8)
        if status.error is not None and status.error[1] not in self._reported:
            self._reported.add(status.error[1])
            self.notify(status.error[1], title=status.error[0], severity="error", timeout=15)

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

    def action_toggle_pause(self) -> None:
        self.feed.set_paused(not self.feed.paused)
        self._show_control()
        self.request_model()

    def _step_speed(self, step: int) -> None:
        index = SPEEDS.index(self.feed.speed) if self.feed.speed in SPEEDS else len(SPEEDS) - 1
        speed = SPEEDS[min(max(index + step, 0), len(SPEEDS) - 1)]
        if speed != self.feed.speed:
            self.feed.set_speed(speed)
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
