"""Exporting an analysis: its tables (devices, flows, dns, remotes, protocols, timeline, device_timeline,
findings) as CSV, JSON or Parquet files, optionally anonymised (engine/anonymise.py), with a manifest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from engine import __version__
from engine.anonymise import Anonymiser, anonymise_table
from engine.errors import ConfigError, ExportError
from engine.findings.model import Finding

if TYPE_CHECKING:
    import pandas as pd

    from engine.dataframes import AnalysisResult

SCHEMA = "homescope.export/1"
TABLES = ("devices", "flows", "dns", "remotes", "protocols", "timeline", "device_timeline", "findings")
FORMATS = ("csv", "json", "parquet")
Format = Literal["csv", "json", "parquet"]


# ---- tables -----------------------------------------------------------------------------------------------

COLUMNS: dict[str, tuple[str, ...]] = {
    "findings": (
        "severity", "rule", "kind", "title", "explanation", "device_key", "device_name", "remote_address",
        "remote_name", "remote_port", "size", "first_ts", "last_ts", "flows", "flow_count", "dns_names",
        "addresses", "bins", "bin_seconds", "details", "key",
    ),
    "device_timeline": ("time", "device", "bytes_up", "bytes_down"),
    "timeline": ("time", "bytes", "packets"),
}  # fmt: skip


def findings_frame(findings: Sequence[Finding]) -> pd.DataFrame:
    """Findings as a table (one row per finding; evidence lists in cells, details as JSON text)."""
    import pandas as pd

    from engine.dataframes import _times

    rows = []
    for f in findings:
        rows.append(
            {
                "severity": str(f.severity),
                "rule": f.rule,
                "kind": f.kind,
                "title": f.title,
                "explanation": f.explanation,
                "device_key": f.device.key if f.device else None,
                "device_name": f.device.name if f.device else None,
                "remote_address": f.remote.address if f.remote else None,
                "remote_name": f.remote.name if f.remote else None,
                "remote_port": f.remote.port if f.remote else None,
                "size": f.size,
                "first_ts": f.first_ts,
                "last_ts": f.last_ts,
                "flows": list(f.evidence.flows),
                "flow_count": f.evidence.flow_count,
                "dns_names": list(f.evidence.dns_names),
                "addresses": list(f.evidence.addresses),
                "bins": list(f.evidence.bins),
                "bin_seconds": f.evidence.bin_seconds,
                "details": json.dumps(dict(f.details), sort_keys=True, default=str),
                "key": f.key,
            }
        )
    frame = pd.DataFrame(rows, columns=list(COLUMNS["findings"]))
    if len(frame):
        frame["first_ts"] = _times(frame["first_ts"].astype(float))
        frame["last_ts"] = _times(frame["last_ts"].astype(float))
        frame["remote_port"] = frame["remote_port"].astype("Int64")
    return frame


def table(result: AnalysisResult, name: str, *, findings: Sequence[Finding] = ()) -> pd.DataFrame:
    """One table of an analysis as a DataFrame (timelines with their time as a column)."""
    import pandas as pd

    if name == "findings":
        return findings_frame(findings)
    if name == "timeline":
        if result.snapshot.timeline is None:
            return pd.DataFrame(columns=list(COLUMNS["timeline"]))
        return result.timeline_at(60).reset_index()
    if name == "device_timeline":
        if result.snapshot.timeline is None:
            return pd.DataFrame(columns=list(COLUMNS["device_timeline"]))
        return result.device_timeline(60)[list(COLUMNS["device_timeline"])]
    if name not in TABLES:
        raise ConfigError(f"no table {name!r}; choose from {', '.join(TABLES)}")
    frame: pd.DataFrame = getattr(result, name)
    return frame.copy()


# ---- writing ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExportResult:
    folder: Path
    files: dict[str, Path]  # table -> file
    rows: dict[str, int]
    manifest: Path


def _for_text_formats(frame: pd.DataFrame) -> pd.DataFrame:
    """Lists in cells as JSON text (CSV has no lists)."""
    frame = frame.copy()
    for column in frame.columns:
        values = frame[column]
        if values.dtype == object and any(isinstance(v, list | tuple) for v in values):
            frame[column] = [json.dumps(list(v)) if isinstance(v, list | tuple) else v for v in values]
    return frame


def _write(frame: pd.DataFrame, path: Path, fmt: Format) -> None:
    if fmt == "csv":
        _for_text_formats(frame).to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
    elif fmt == "json":
        frame.to_json(path, orient="records", date_format="iso", date_unit="us", indent=1, force_ascii=False)
    else:
        try:
            frame.to_parquet(path, index=False, engine="pyarrow")
        except ImportError:
            raise ExportError("Parquet needs the pyarrow package (pip install pyarrow)") from None


def export_tables(
    result: AnalysisResult,
    folder: Path,
    *,
    fmt: Format = "csv",
    tables: Iterable[str] = TABLES,
    findings: Sequence[Finding] = (),
    anonymiser: Anonymiser | None = None,
    sources: Sequence[str] = (),
) -> ExportResult:
    """Write the chosen tables into `folder` (created if missing) as `<table>.<fmt>`, plus manifest.json.
    Raises ExportError (or ConfigError for an unknown table or format)."""
    chosen = list(dict.fromkeys(tables))
    unknown = [t for t in chosen if t not in TABLES]
    if unknown:
        raise ConfigError(f"no table {unknown[0]!r}; choose from {', '.join(TABLES)}")
    if fmt not in FORMATS:
        raise ConfigError(f"no export format {fmt!r}; choose from {', '.join(FORMATS)}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ExportError(f"{folder}: cannot create the folder: {err.strerror or err}") from None
    if anonymiser is not None and "devices" not in chosen:
        anonymiser.learn_devices(result.devices)  # device names appear in other tables too
    frames = {name: table(result, name, findings=findings) for name in chosen}
    if anonymiser is not None:
        # devices first: their names are then known wherever they appear in the other tables
        for name in sorted(frames, key=lambda n: n != "devices"):
            frames[name] = anonymise_table(name, frames[name], anonymiser)
    files: dict[str, Path] = {}
    for name in chosen:
        path = folder / f"{name}.{fmt}"
        try:
            _write(frames[name], path, fmt)
        except OSError as err:
            raise ExportError(f"{path}: cannot write: {err.strerror or err}") from None
        files[name] = path
    manifest = {
        "schema": SCHEMA,
        "generator": {"name": "homescope", "version": __version__},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "format": fmt,
        "anonymised": anonymiser is not None,
        "names": anonymiser.names if anonymiser is not None else None,
        "key_id": anonymiser.key_id if anonymiser is not None else None,
        "sources": [Path(s).name if anonymiser is not None else s for s in sources],
        "tables": {
            name: {"file": files[name].name, "rows": len(frames[name]), "columns": list(frames[name].columns)}
            for name in chosen
        },
    }
    manifest_path = folder / "manifest.json"
    try:
        manifest_path.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    except OSError as err:
        raise ExportError(f"{manifest_path}: cannot write: {err.strerror or err}") from None
    return ExportResult(folder, files, {n: len(frames[n]) for n in chosen}, manifest_path)
