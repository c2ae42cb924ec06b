"""Shared steps of the history store tests: recording captures into a store, and what a plain analysis of
the same captures says, to compare with."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from engine.aggregate.timeline import RESOLUTIONS
from engine.analysis import Analysis, AnalysisSnapshot, note_undecoded
from engine.capture.records import SourceStatus
from engine.capture.source import CaptureSet
from engine.report import build_report
from engine.store import HistoryStore, Recorder


def live(
    paths: Sequence[Path | str],
    inspector: Literal["local", "process"] = "local",
    chunk_size: int | None = None,
) -> tuple[AnalysisSnapshot, list[SourceStatus]]:
    """A plain analysis, batch for batch as `record` reads (the engine's results depend on where batches
    end, e.g. when a home prefix is learnt)."""
    capture = CaptureSet([str(p) for p in paths])
    analysis = Analysis(inspector=inspector)
    try:
        for batch in capture.batches(chunk_size):
            analysis.ingest_batch(batch)
        note_undecoded(capture.statuses)
        analysis.finish()
        return analysis.snapshot(), capture.statuses
    finally:
        analysis.close()


def record(
    store: HistoryStore,
    paths: Sequence[Path | str],
    *,
    interval: float = 5.0,
    chunk_size: int | None = None,
    inspector: Literal["local", "process"] = "local",
    depth: Literal["traffic", "full"] = "full",
    background: bool = True,
    finals: list[tuple[AnalysisSnapshot, list[SourceStatus]]] | None = None,
) -> Recorder:
    """Record the captures (resuming where the store says) through a Recorder, as a session would; the
    analysis's own last snapshot goes to `finals`."""
    capture = CaptureSet([str(p) for p in paths])
    capture.start_offsets = store.resume_offsets(capture.paths)
    analysis = Analysis(inspector=inspector, depth=depth)
    recorder = Recorder(store, analysis, interval=interval, background=background)
    try:
        source = recorder.wrap(lambda: capture.batches(chunk_size), capture.paths, capture.statuses)
        batches = source()
        for batch in batches:
            analysis.ingest_batch(batch)
        note_undecoded(capture.statuses)
        analysis.finish()
        recorder.close()
        if finals is not None:
            finals.append((analysis.snapshot(), capture.statuses))
    finally:
        analysis.close()
    return recorder


def report_text(snapshot: AnalysisSnapshot, sources: list[SourceStatus]) -> str:
    doc: dict[str, Any] = build_report(snapshot, sources)
    doc.pop("generator")
    return json.dumps(doc, sort_keys=True, indent=1)


def stored_report(store: HistoryStore, **load: Any) -> str:
    stored = store.load(timeline_bins=RESOLUTIONS, **load)
    return report_text(stored.snapshot, stored.sources)
