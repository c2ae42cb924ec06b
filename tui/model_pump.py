"""The loop that keeps the screens fed: ask the engine feed for a model, show it, ask again.

A thread worker gets each model from the feed (which snapshots and builds the rows in the engine
process, or in that worker with a thread feed), never the UI thread; the model arrives as a message and
the current screen diff-updates its widgets inside one batch update. The next model is asked for when
this one is shown, after a pause that grows with the time building took, so that building never takes
more than about a fifth of the engine's time.
"""

from __future__ import annotations

import time
from dataclasses import replace

from textual import work
from textual.app import App
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from engine.errors import HomescopeError
from tui.messages import DashboardUpdated, ModelFailed
from tui.model.dashboard import DashboardModel, ModelRequest
from tui.model.feed import EngineFeed

BUILD_SHARE = 5.0  # a model every 5x the time one takes to build (the engine's time goes to ingest)...
MAX_PERIOD = 0.45  # ...but at least about twice a second
FLAT_OUT_PERIOD = 1 / 3  # replaying flat out, the eye cannot follow more: leave the CPU to ingest
PAUSED_PERIOD = 1.0
FAILING_PERIOD = 2.0  # after a failure, try again now and then


class ModelPump(App[int]):
    """The model loop of `HomescopeApp`: `request` says what to build, `model` is the newest shown."""

    feed: EngineFeed

    def start_pump(self, refresh_hz: float) -> None:
        self.refresh_hz = min(max(refresh_hz, 1.0), 10.0)
        self.request = ModelRequest()
        self.model: DashboardModel | None = None
        self.models_shown = 0
        self._building = False
        self._again = False
        self._failing = False
        self._build_started = 0.0
        self._build_seconds = 0.0
        self._built_request = self.request
        self._next: Timer | None = None
        self._reported: set[str] = set()
        self.frozen = False  # live and follow: the screen keeps what it shows (the status bar goes on)
        self._frozen_request = self.request

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

    def update_request(self, *, soon: bool = True, **changes: object) -> None:
        """Change what the model is built for; `soon=False` waits for the next regular model (for changes
        that come with every cursor move, such as the selected device)."""
        self.set_request(replace(self.request, **changes), soon=soon)  # type: ignore[arg-type]

    def set_request(self, request: ModelRequest, *, soon: bool = True) -> None:
        if request != self.request:
            self.request = request
            if soon or (self._next is None and not self._building):  # no regular model coming: ask now
                self.request_model()

    def _model_done(self) -> None:
        """Schedule the next model: at the refresh rate, slower when building is slow (at most MAX_PERIOD)."""
        self._building = False
        if self._again and not self._failing:
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
        if self._failing:
            period = FAILING_PERIOD
        delay = max(0.02, self._build_started + period - time.monotonic())  # a zero timer is an error
        self._next = self.set_timer(delay, self.request_model)

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

    def set_frozen(self, frozen: bool) -> None:
        """Freeze the screen (live and follow): models keep coming for the status bar, the panes stay as
        they are until unfrozen, or until the user asks for something else (a filter, a device)."""
        self.frozen = frozen
        self._frozen_request = self.request
        if self.model is not None:
            self._show_status(self.model)
        self.request_model()

    def _show_status(self, model: DashboardModel) -> None:
        from tui.widgets.status_bar import StatusBar

        for bar in self.screen.query(StatusBar):
            bar.show(replace(model.status, frozen=self.frozen))

    def on_dashboard_updated(self, message: DashboardUpdated) -> None:
        if not self.screen_stack:  # the app is closing (or not built yet): nothing to show it on
            return
        if self.frozen and self._built_request == self._frozen_request:
            self._show_status(message.model)
            self.report_problems(message.model)
            self._model_done()
            return
        self._frozen_request = self._built_request
        before = self.model.status if self.model is not None else None
        self.model = message.model
        self._failing = False
        if before is None or before.finished != message.model.status.finished:
            self.refresh_bindings()  # pause and speed do nothing once the replay has ended
        show = getattr(self.screen, "show_model", None)
        if show is not None:
            with self.batch_update():
                show(message.model)
        self.models_shown += 1
        self.report_problems(message.model)
        self._model_done()

    def on_model_failed(self, message: ModelFailed) -> None:
        self._failing = True
        self.tell_once(message.message, title=message.title, severity="error", timeout=15)
        self._model_done()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "model" and event.state == WorkerState.ERROR:
            self._failing = True
            self.tell_once(
                f"{event.worker.error}. The dashboard may be out of date; this is a bug, please report it.",
                title="Could not read the analysis",
                severity="error",
                timeout=15,
            )
            self._model_done()

    def tell_once(self, message: str, *, title: str, severity: str, timeout: float) -> None:
        """A notification, unless the same one was shown before."""
        if message not in self._reported:
            self._reported.add(message)
            self.notify(message, title=title, severity=severity, timeout=timeout)  # type: ignore[arg-type]

    def report_problems(self, model: DashboardModel) -> None:
        """Each problem with the inputs, and an error that stopped reading, once."""
        for line in model.status.problems:
            self.tell_once(line, title="Capture problem", severity="warning", timeout=8)
        for line in model.status.notes:
            self.tell_once(line, title="History store", severity="information", timeout=8)
        if model.status.error is not None:
            title, message = model.status.error
            self.tell_once(message, title=title, severity="error", timeout=15)
