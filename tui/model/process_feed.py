"""The engine in a separate process: its own interpreter and GIL, so ingesting never competes with the UI.

The child runs a `ThreadFeed` and answers on two pipes: control messages (pause, speed, stop) that need no
answer, and requests (a model, the progress) that get one. Models come back pickled.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
import threading
from multiprocessing.connection import Connection, wait
from typing import Any

from engine.errors import HomescopeError
from engine.session import Progress
from tui.model.dashboard import DashboardModel, ModelRequest
from tui.model.export_request import ExportDone, ExportRequest
from tui.model.feed import WATCH_STOP_SECONDS, EngineConfig, ThreadFeed

_PROGRESS = "progress"


class EngineProcessError(HomescopeError):
    title = "The analysis stopped"


def _engine_main(config: EngineConfig, requests: Connection, control: Connection) -> None:
    """The engine process: a feed, and a loop answering the parent until it says stop or goes away."""
    try:
        feed = ThreadFeed(config)
    except HomescopeError as err:
        requests.send(("error", err.title, err.message))
        return
    feed.start()
    try:
        while True:
            for ready in wait([requests, control]):
                conn = requests if ready is requests else control
                message: Any = conn.recv()
                if conn is control:
                    kind, value = message
                    if kind == "stop":
                        return
                    if kind == "paused":
                        feed.set_paused(bool(value))
                    elif kind == "speed":
                        feed.set_speed(value)
                elif message == _PROGRESS:
                    requests.send(feed.session.progress())
                elif isinstance(message, ExportRequest):
                    requests.send(feed.export(message))
                else:
                    try:
                        requests.send(feed.model(message))
                    except HomescopeError as err:
                        requests.send(("error", err.title, err.message))
    except (EOFError, OSError, KeyboardInterrupt):
        return  # the TUI went away
    finally:
        feed.stop(timeout=0.5)


class ProcessFeed:
    """An `EngineFeed` whose session and model building run in a child process."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        context = multiprocessing.get_context("spawn")  # never fork a process that runs threads
        self._requests, self._child_requests = context.Pipe()
        self._child_control, self._control = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_engine_main,
            args=(config, self._child_requests, self._child_control),
            name="homescope-engine",
            daemon=True,
        )
        self._lock = threading.Lock()  # one request at a time on the request pipe
        self._paused = config.paused
        self._speed = config.speed
        self._stopped = False

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def speed(self) -> float | None:
        return self._speed

    def start(self) -> None:
        # Textual replaces sys.stderr with an object whose fileno() is not a real descriptor, which
        # multiprocessing would pass on to its helper process: start with the real streams in place.
        captured = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        try:
            self._process.start()
        finally:
            sys.stdout, sys.stderr = captured
        # the child has its own copies: closing ours lets a read fail (EOF) if the child dies
        self._child_requests.close()
        self._child_control.close()

    def stop(self, timeout: float = 1.0) -> None:
        if self._stopped or self._process.pid is None:
            return
        self._stopped = True
        if self.config.watch is not None:  # the capture tool's last packets and statistics
            timeout = max(timeout, WATCH_STOP_SECONDS + 1)
        with contextlib.suppress(OSError):  # already gone: nothing to stop
            self._control.send(("stop", None))
        self._process.join(timeout)
        if self._process.is_alive():
            self._process.terminate()  # it is past caring about a clean end
            self._process.join(0.5)

    def _send_control(self, kind: str, value: object) -> None:
        try:
            self._control.send((kind, value))
        except OSError as err:
            raise EngineProcessError(f"the engine process is gone ({err})") from None

    def set_paused(self, paused: bool) -> None:
        self._paused = paused
        self._send_control("paused", paused)

    def set_speed(self, speed: float | None) -> None:
        self._speed = speed
        self._send_control("speed", speed)

    def _ask(self, message: object) -> object:
        with self._lock:
            try:
                self._requests.send(message)
                answer = self._requests.recv()
            except (EOFError, OSError) as err:
                code = self._process.exitcode
                raise EngineProcessError(f"the engine process ended (exit code {code}): {err}") from None
        if isinstance(answer, tuple) and answer and answer[0] == "error":
            raise HomescopeError(answer[2], title=answer[1])
        return answer

    def progress(self) -> Progress:
        answer = self._ask(_PROGRESS)
        assert isinstance(answer, Progress)
        return answer

    def model(self, request: ModelRequest) -> DashboardModel:
        answer = self._ask(request)
        assert isinstance(answer, DashboardModel)
        return answer

    def export(self, request: ExportRequest) -> ExportDone:
        answer = self._ask(request)
        assert isinstance(answer, ExportDone)
        return answer
