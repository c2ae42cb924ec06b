"""Export from the monitor: the whole analysis as it stands, written by the feed that holds it.

The analysis lives where the feed runs (a separate process by default), so the TUI sends an
`ExportRequest` and gets an `ExportDone` back: both are small and picklable. The tables and files are
those of `homescope export` (engine.export), with the same `--anonymise` key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from engine.analysis import AnalysisSnapshot
    from engine.capture.records import SourceStatus
    from tui.model.build import BuildContext

ExportFormat = Literal["csv", "json", "parquet"]


@dataclass(frozen=True, slots=True)
class ExportRequest:
    folder: str
    fmt: ExportFormat = "csv"
    anonymise: bool = False


@dataclass(frozen=True, slots=True)
class ExportDone:
    folder: str
    tables: tuple[tuple[str, int], ...]  # (table, rows)
    anonymised_key: str | None  # the pseudonym key's id when anonymised
    error: str | None = None  # what went wrong, instead of files

    def describe(self) -> str:
        if self.error is not None:
            return f"Export failed: {self.error}"
        rows = sum(n for _, n in self.tables)
        anon = f", anonymised (key {self.anonymised_key})" if self.anonymised_key else ""
        return f"Wrote {len(self.tables)} tables ({rows:,} rows) and manifest.json to {self.folder}{anon}"


def export_analysis(
    request: ExportRequest,
    snapshot: AnalysisSnapshot,
    statuses: list[SourceStatus],
    context: BuildContext,
) -> ExportDone:
    """Write every table of an analysis snapshot; errors come back as text."""
    from engine.anonymise import Anonymiser, load_or_create_key
    from engine.config import load_settings
    from engine.dataframes import AnalysisResult
    from engine.enrich.geo import shared_geo
    from engine.errors import HomescopeError
    from engine.export import TABLES, export_tables
    from engine.findings import evaluate, needs_geo

    folder = Path(request.folder).expanduser()
    try:
        state = context.investigation
        settings = state.settings if state is not None else load_settings(None)
        anonymiser = None
        if request.anonymise:
            key = load_or_create_key(settings.data_dir)
            anonymiser = Anonymiser(key, home=snapshot.home)
        result = AnalysisResult(snapshot, statuses, context.labels)
        findings = []
        if snapshot.flows is not None:
            geo = shared_geo() if needs_geo(settings) else None
            findings = evaluate(snapshot, settings, geo=geo, labels=context.labels)
        written = export_tables(
            result,
            folder,
            fmt=request.fmt,
            tables=TABLES,
            findings=findings,
            anonymiser=anonymiser,
            sources=[s.path for s in statuses],
        )
    except HomescopeError as err:
        return ExportDone(str(folder), (), None, error=err.message)
    except OSError as err:
        return ExportDone(str(folder), (), None, error=f"{folder}: {err.strerror or err}")
    return ExportDone(
        str(written.folder),
        tuple(written.rows.items()),
        anonymiser.key_id if anonymiser is not None else None,
    )
