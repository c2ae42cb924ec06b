"""A past time range from the history store, shown by the TUI as a finished replay.

The analysis is read from the store before the TUI starts (`tui.subcommands.history.load_stored`); the
feed builds the dashboard from that one snapshot: nothing runs, nothing to pause.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import replace

from engine.labels import Labels
from engine.session import Progress, SessionMode
from engine.store import StoredAnalysis
from tui.model.build import BuildContext, build_model
from tui.model.dashboard import DashboardModel, ModelRequest
from tui.model.export_request import ExportDone, ExportRequest, export_analysis
from tui.model.investigation_build import InvestigationState

STORE_MODE = "history"


def span_label(stored: StoredAnalysis, tz: dt.tzinfo) -> str:
    """The time range shown, as the status bar names the source."""

    def at(ts: float) -> str:
        return dt.datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M")

    start = stored.start if stored.start is not None else stored.snapshot.totals.first_ts
    end = stored.end if stored.end is not None else stored.snapshot.totals.last_ts
    sensors = f" ({', '.join(stored.sensors)})" if stored.sensors else ""
    if start is None or end is None:
        return f"store{sensors}"
    return f"store {at(start)} – {at(end)}{sensors}"


class StoredFeed:
    """An `EngineFeed` over an analysis read from the history store."""

    def __init__(
        self,
        stored: StoredAnalysis,
        *,
        tz: dt.tzinfo,
        labels: Labels | None = None,
        investigation: InvestigationState | None = None,
    ) -> None:
        self.stored = stored
        self.context = BuildContext(
            paths=(span_label(stored, tz),), tz=tz, labels=labels, investigation=investigation
        )
        self._serial = 0
        self._lock = threading.Lock()

    @property
    def paused(self) -> bool:
        return False

    @property
    def speed(self) -> float | None:
        return None

    def start(self) -> None:
        pass

    def stop(self, timeout: float = 1.0) -> None:
        pass

    def set_paused(self, paused: bool) -> None:
        pass

    def set_speed(self, speed: float | None) -> None:
        pass

    def progress(self) -> Progress:
        snapshot = self.stored.snapshot
        return Progress(
            mode=SessionMode.REPLAY,
            running=False,
            paused=False,
            finished=True,
            speed=None,
            packets=snapshot.totals.packets,
            bytes_read=sum(s.bytes_read for s in self.stored.sources),
            total_size=None,
            capture_clock=snapshot.clock if snapshot.clock is not None else snapshot.totals.last_ts,
            ingest_rate=0.0,
            drops=None,
            error=None,
        )

    def export(self, request: ExportRequest) -> ExportDone:
        return export_analysis(request, self.stored.snapshot, list(self.stored.sources), self.context)

    def model(self, request: ModelRequest) -> DashboardModel:
        with self._lock:
            self._serial += 1
            serial = self._serial
        model = build_model(
            self.stored.snapshot, self.progress(), self.stored.sources, request, self.context, serial
        )
        return replace(model, status=replace(model.status, mode=STORE_MODE, problems=()))
