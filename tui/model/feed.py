"""The engine behind the TUI: a capture session and the model builder, driven from the UI.

`ThreadFeed` runs the session's ingest thread in the TUI's process; `tui.model.process_feed.ProcessFeed`
runs the same feed in a separate process (its own interpreter and GIL) and ships the models back pickled.
Both are used the same way: `model(request)` blocks, so the UI calls it from a worker thread.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from engine.address_scope import HomeNetwork
from engine.analysis import Analysis
from engine.capture.source import CaptureSet
from engine.capture.ssh_target import SshSettings
from engine.config import load_settings
from engine.labels import Labels
from engine.metadata.dns_log import LOG_LIMIT
from engine.session import CaptureSession, Progress, SessionMode
from tui.model.build import BuildContext, build_model, snapshot_options
from tui.model.dashboard import DashboardModel, ModelRequest
from tui.model.export_request import ExportDone, ExportRequest, export_analysis
from tui.model.geo import GeoLookup
from tui.model.investigation_build import InvestigationState
from tui.model.sources import WatchSpec, watch_status


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Everything needed to start a session, in a form that can be sent to another process."""

    paths: tuple[str, ...]
    mode: SessionMode = SessionMode.REPLAY
    speed: float | None = None  # None: as fast as possible
    paused: bool = False
    home_prefixes: tuple[str, ...] = ()
    cgnat_is_local: bool = False
    labels_file: str | None = None
    timezone: str = "local"  # "local" or an IANA name
    watch: WatchSpec | None = None  # a live capture or a followed folder instead of `paths`
    config_file: str | None = None  # the configuration file (None: the default one), for findings and export
    ssh: SshSettings | None = None  # how to run ssh for capture files on another machine (USER@HOST:/path)

    def tzinfo(self) -> dt.tzinfo:
        if self.timezone == "local":
            return dt.datetime.now().astimezone().tzinfo or dt.UTC
        return ZoneInfo(self.timezone)

    def labels(self) -> Labels | None:
        """The device labels; raises ConfigError for an invalid labels file."""
        return Labels.load(Path(self.labels_file)) if self.labels_file else None

    def context(self, geo: GeoLookup | None = None) -> BuildContext:
        paths = (self.watch.label,) if self.watch is not None else self.paths
        labels = self.labels()
        settings = load_settings(Path(self.config_file) if self.config_file else None)
        investigation = InvestigationState(self.labels_file, labels, self.timezone, settings)
        return BuildContext(
            paths=paths, tz=self.tzinfo(), labels=labels, geo=geo, investigation=investigation
        )

    def session(self) -> CaptureSession:
        home = HomeNetwork(self.home_prefixes, cgnat_is_local=self.cgnat_is_local)
        if self.watch is not None:
            # runs until stopped: keep memory flat, as the headless live and follow do
            analysis = Analysis(
                home=home,
                closed_flow_limit=1000,
                closed_flow_retention="largest",
                dns_log_limit=LOG_LIMIT if self.watch.records else 1000,
            )
            try:
                return self.watch.open(analysis)
            except BaseException:
                analysis.close()
                raise
        return CaptureSession(
            CaptureSet(list(self.paths), ssh=self.ssh),
            mode=self.mode,
            speed=self.speed,
            analysis=Analysis(home=home),
        )


WATCH_STOP_SECONDS = 5.0


class EngineFeed(Protocol):
    """What the TUI drives: start, stop, pause, speed, and a model on request."""

    @property
    def paused(self) -> bool: ...
    @property
    def speed(self) -> float | None: ...
    def start(self) -> None: ...
    def stop(self, timeout: float = 1.0) -> None: ...
    def set_paused(self, paused: bool) -> None: ...
    def set_speed(self, speed: float | None) -> None: ...
    def progress(self) -> Progress: ...
    def model(self, request: ModelRequest) -> DashboardModel: ...
    def export(self, request: ExportRequest) -> ExportDone: ...


class ThreadFeed:
    """The session ingests on its own thread in this process; models are built by the caller's thread."""

    def __init__(self, config: EngineConfig, geo: GeoLookup | None = None) -> None:
        self.config = config
        self.context = config.context(geo)
        self.session = config.session()
        self.notes: list[str] = []  # worth telling: the history store could not be opened, or resumed
        self.recording = None
        if config.watch is not None:
            try:
                self.recording = config.watch.recording(self.session, self.notes)  # type: ignore[arg-type]
            except BaseException:
                self.session.stop(timeout=0.5)
                self.session.analysis.close()
                raise
        self._serial = 0
        self._lock = threading.Lock()

    @property
    def paused(self) -> bool:
        return self.session.paused

    @property
    def speed(self) -> float | None:
        return self.session.speed

    def start(self) -> None:
        if self.config.paused:
            self.session.set_paused(True)
        self.session.start()

    def stop(self, timeout: float = 1.0) -> None:
        if self.config.watch is not None:
            # a capture tool writes its last packets and statistics when asked to stop: give it time
            timeout = max(timeout, WATCH_STOP_SECONDS)
        self.session.stop(timeout)
        close = getattr(getattr(self.session, "source", None), "close", None)
        if close is not None:
            close()
        if self.recording is not None:  # the last flush, once the session stopped
            recording, self.recording = self.recording, None
            recording.close()

    def set_paused(self, paused: bool) -> None:
        self.session.set_paused(paused)

    def set_speed(self, speed: float | None) -> None:
        self.session.set_speed(speed)

    def progress(self) -> Progress:
        return self.session.progress()

    def export(self, request: ExportRequest) -> ExportDone:
        return export_analysis(request, self.session.snapshot(), list(self.session.statuses), self.context)

    def model(self, request: ModelRequest) -> DashboardModel:
        with self._lock:
            self._serial += 1
            serial = self._serial
        # progress first: once it says finished, the snapshot taken after it holds everything
        progress = self.session.progress()
        snapshot = self.session.snapshot(**snapshot_options(request))
        model = build_model(snapshot, progress, self.session.statuses, request, self.context, serial)
        if self.config.watch is None:
            return model
        w = watch_status(self.session)  # type: ignore[arg-type]
        status = replace(
            model.status,
            source=self.config.watch.label,
            tool=w.tool,
            drop_text=w.drops,
            where=w.where,
            files_done=w.files_done,
            connection=w.connection,
            notes=tuple(self.notes),
        )
        return replace(model, status=status)
