"""The status bar's facts: what is read, how far, how fast, and what went wrong."""

from __future__ import annotations

import os
from collections.abc import Sequence

from engine.capture.records import SourceStatus
from engine.session import Progress
from tui.model.dashboard import StatusModel


def source_label(paths: Sequence[str]) -> str:
    if not paths:
        return "-"
    first = "stdin" if paths[0] == "-" else os.path.basename(paths[0]) or paths[0]
    return f"{first} +{len(paths) - 1}" if len(paths) > 1 else first


def problem_lines(statuses: Sequence[SourceStatus]) -> tuple[str, ...]:
    lines = []
    for st in statuses:
        for p in st.problems:
            where = f" (at byte {p.offset:,})" if p.offset is not None else ""
            text = p.message if os.path.basename(st.path) in p.message else f"{st.path}: {p.message}"
            lines.append(f"{text}{where}")
    return tuple(lines)


def status_model(
    progress: Progress, statuses: Sequence[SourceStatus], paths: Sequence[str], malformed: int
) -> StatusModel:
    error = (progress.error.title, progress.error.message) if progress.error is not None else None
    return StatusModel(
        source=source_label(paths),
        mode=str(progress.mode),
        clock=progress.capture_clock,
        speed=progress.speed,
        paused=progress.paused,
        running=progress.running,
        finished=progress.finished,
        packets=progress.packets,
        share=progress.share,
        time_left=progress.time_left,
        ingest_rate=progress.ingest_rate,
        malformed=malformed,
        drops=progress.drops,
        error=error,
        problems=problem_lines(statuses),
    )
