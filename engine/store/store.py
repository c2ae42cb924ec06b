"""The history store: what homescope learnt, kept across restarts in an embedded DuckDB database.

`HistoryStore(path)` opens (creating or migrating) the database; `Recorder` writes an analysis into it as
it runs; `load` reads any time range back as an analysis the report, the views and the DataFrames take;
`positions`/`resume_offsets` tell readers where to go on; `prune`, `compact` and `export` keep it in shape.
DuckDB allows one process to write a database at a time: a second one gets `StoreBusyError`.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from engine import __version__
from engine.store import schema
from engine.store.columns import first_row, one
from engine.store.errors import StoreBusyError, StoreError, StoreVersionError
from engine.store.integrity import check
from engine.store.positions import FileIdentity, SourcePosition, same_file
from engine.store.retention import PruneResult, compact_copy, prune

if TYPE_CHECKING:
    from engine.store.loader import StoredAnalysis

DNS_LOAD_LIMIT = 50_000  # DNS log entries a loaded analysis holds (the newest of the range)


@dataclass(frozen=True, slots=True)
class Retention:
    """How much history to keep: capture data younger than `days`, and at most `max_bytes` of it (the
    oldest days go first). None: no limit."""

    days: float | None = None
    max_bytes: int | None = None

    @property
    def active(self) -> bool:
        return self.days is not None or self.max_bytes is not None


@dataclass(frozen=True, slots=True)
class RunInfo:
    run_id: int
    sensor: str
    mode: str
    depth: str
    started: float  # wall clock
    updated: float
    flushes: int
    clock: float | None  # packet clock at the last flush
    finished: bool


@dataclass(frozen=True, slots=True)
class StoreInfo:
    path: Path
    schema_version: int
    file_bytes: int
    used_bytes: int
    sensors: list[str]
    runs: list[RunInfo]
    first_ts: float | None  # capture time covered
    last_ts: float | None
    rows: dict[str, int]  # per table
    sources: int
    complete_sources: int


def default_sensor() -> str:
    return socket.gethostname() or "homescope"


class HistoryStore:
    """An open history store. Not thread-safe itself: each thread uses its own `cursor()`."""

    def __init__(
        self, path: str | Path | None = None, *, sensor: str | None = None, read_only: bool = False
    ) -> None:
        if path is None:
            from engine.config import load_settings

            path = load_settings().store_path
        self.path = Path(path).expanduser()
        self.sensor = sensor or default_sensor()
        self.read_only = read_only
        if read_only and not self.path.exists():
            raise StoreError(f"{self.path}: no history store here yet")
        if not read_only:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise StoreError(f"{self.path}: cannot create its folder ({err.strerror or err})") from None
        self._con = _connect(self.path, read_only)
        try:
            self.schema_version = _migrate(self._con, self.path, read_only)
        except BaseException:
            self._con.close()
            raise

    # ---- plumbing ---------------------------------------------------------------------------------------

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection to this store for one thread."""
        return self._con.cursor()

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def begin_run(self, *, mode: str, depth: str, cgnat_is_local: bool) -> int:
        """Start a run (one recording) and return its id."""
        con = self.cursor()
        run_id = int(one(con, "SELECT coalesce(max(run_id), 0) + 1 FROM runs")[0])
        now = time.time()
        con.execute(
            """INSERT INTO runs (sensor, run_id, started, updated, mode, depth, engine_version, flushes,
                                 clock, finished, dns_lost, cgnat_is_local)
               VALUES (?, ?, ?, ?, ?, ?, ?, 0, NULL, false, 0, ?)""",
            [self.sensor, run_id, now, now, mode, depth, __version__, cgnat_is_local],
        )
        return run_id

    # ---- positions ---------------------------------------------------------------------------------------

    def positions(self, sensor: str | None = None) -> dict[str, SourcePosition]:
        """Where reading of each capture file stopped (this store's sensor unless named)."""
        rows = (
            self.cursor()
            .execute(
                """SELECT path, device, inode, head_size, head_hash, end_offset, packets, bytes,
                          captured_bytes, first_ts, last_ts, format, size, complete, linktypes, problems,
                          run_id
                   FROM sources WHERE sensor = ?""",
                [sensor or self.sensor],
            )
            .fetchall()
        )
        out = {}
        for (path, dev, inode, head_size, head_hash, offset, packets, nbytes, captured, first, last, fmt,
             size, complete, linktypes, problems, run_id) in rows:  # fmt: skip
            identity = FileIdentity(int(dev), int(inode), int(head_size), head_hash) if head_hash else None
            out[path] = SourcePosition(
                path, identity, int(offset), int(packets), int(nbytes), int(captured), first, last, fmt,
                size, bool(complete), {int(k): v for k, v in json.loads(linktypes or "{}").items()},
                json.loads(problems or "[]"), run_id,
            )  # fmt: skip
        return out

    def resume_offsets(self, paths: Iterable[str]) -> dict[str, int]:
        """For each of `paths` analysed before (the same file, by its first bytes), the byte offset to go
        on from: for `CaptureSet(start_offsets=...)`. Files not known, or changed, start from the start."""
        saved = self.positions()
        out = {}
        for path in paths:
            pos = saved.get(path)
            if pos is not None and pos.end_offset and same_file(pos, path):
                out[path] = pos.end_offset
        return out

    def latest_position(self, folder: str | Path) -> SourcePosition | None:
        """The newest position among the files of `folder` (where following it goes on), or None."""
        inside = [
            p
            for p in self.positions().values()
            if Path(p.path).parent == Path(folder) and p.end_offset and p.last_ts is not None
        ]
        return max(inside, key=lambda p: (p.last_ts or 0.0, p.end_offset), default=None)

    def analysed_span(self, paths: Iterable[str]) -> tuple[float, float] | None:
        """The capture time the files cover, if every one of them was analysed to its end before (and is
        unchanged): they can be opened from the store instead of read again. Else None."""
        saved = self.positions()
        firsts: list[float] = []
        lasts: list[float] = []
        for path in paths:
            pos = saved.get(path)
            if pos is None or not pos.complete or not same_file(pos, path):
                return None
            try:
                if pos.size is not None and Path(path).stat().st_size != pos.size:
                    return None
            except OSError:
                return None
            if pos.first_ts is not None and pos.last_ts is not None:
                firsts.append(pos.first_ts)
                lasts.append(pos.last_ts)
        if not firsts:
            return None
        return min(firsts), max(lasts)

    # ---- reading -----------------------------------------------------------------------------------------

    def load(
        self,
        start: float | None = None,
        end: float | None = None,
        sensor: str | None = None,
        *,
        dns_last: int = DNS_LOAD_LIMIT,
        timeline_bins: dict[int, int] | None = None,
    ) -> StoredAnalysis:
        """The stored analysis of capture time [start, end) (default: everything), of one sensor or all
        (None). It holds the newest `dns_last` DNS log entries of the range, and timeline series of at
        most `timeline_bins[resolution]` bins (default engine.aggregate.timeline.LONG_RESOLUTIONS; per
        device at most RESOLUTIONS, as a live analysis keeps them)."""
        from engine.store.loader import load

        return load(self.cursor(), start, end, sensor, dns_last=dns_last, timeline_bins=timeline_bins)

    def sensors(self) -> list[str]:
        return [r[0] for r in self.cursor().execute("SELECT DISTINCT sensor FROM runs ORDER BY 1").fetchall()]

    def runs(self) -> list[RunInfo]:
        rows = (
            self.cursor()
            .execute(
                """SELECT run_id, sensor, mode, depth, started, updated, flushes, clock, finished
                   FROM runs ORDER BY run_id"""
            )
            .fetchall()
        )
        return [RunInfo(int(r[0]), r[1], r[2], r[3], r[4], r[5], int(r[6]), r[7], bool(r[8])) for r in rows]

    def info(self) -> StoreInfo:
        con = self.cursor()
        block_size, used_blocks = one(con, "SELECT block_size, used_blocks FROM pragma_database_size()")
        span = one(con, "SELECT min(first_ts), max(last_ts) FROM traffic_bins WHERE packets > 0")
        tables = (*schema.RUN_TABLES, "addresses", "devices")
        rows = {t: int(one(con, f"SELECT count(*) FROM {t}")[0]) for t in tables}
        src = one(con, "SELECT count(*), count(*) FILTER (WHERE complete) FROM sources")
        return StoreInfo(
            path=self.path,
            schema_version=self.schema_version,
            file_bytes=self.path.stat().st_size if self.path.exists() else 0,
            used_bytes=int(block_size) * int(used_blocks),
            sensors=self.sensors(),
            runs=self.runs(),
            first_ts=span[0],
            last_ts=span[1],
            rows=rows,
            sources=int(src[0]),
            complete_sources=int(src[1]),
        )

    def check(self) -> list[str]:
        """Problems found in the store: unreadable tables, rows that refer to missing addresses or devices,
        keys written twice. An empty list means the store is sound."""
        return check(self.cursor())

    # ---- maintenance -------------------------------------------------------------------------------------

    def prune(
        self, retention: Retention, *, sensor: str | None = None, now: float | None = None
    ) -> PruneResult:
        """Apply a retention policy now (by capture time, counted back from `now`)."""
        return prune(
            self.cursor(),
            self.path,
            retention_days=retention.days,
            max_bytes=retention.max_bytes,
            sensor=sensor,
            now=now,
        )

    def compact(self) -> int:
        """Rewrite the database into a fresh file, giving deleted space back to the file system; returns the
        new file size. Nothing may be recording into the store meanwhile."""
        if self.read_only:
            raise StoreError(f"{self.path}: opened read-only, cannot compact")
        fresh = compact_copy(self.cursor(), self.path)
        self._con.close()
        try:
            fresh.replace(self.path)
            wal = self.path.with_name(self.path.name + ".wal")
            if wal.exists():
                wal.unlink()
        finally:
            self._con = _connect(self.path, False)
        return self.path.stat().st_size

    def export(
        self,
        folder: str | Path,
        *,
        start: float | None = None,
        end: float | None = None,
        sensor: str | None = None,
    ) -> dict[str, int]:
        """Parquet datasets partitioned by sensor and day under `folder` (see engine.store.export)."""
        from engine.store.export import export

        return export(self.cursor(), folder, start=start, end=end, sensor=sensor)


def _connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as err:
        text = str(err)
        if "lock" in text.lower():
            raise StoreBusyError(
                f"{path}: another homescope process is recording into this history store (DuckDB lets one "
                "process write at a time). Stop it, or run this command with --no-store."
            ) from None
        raise StoreError(f"{path}: cannot open the history store: {text}") from None
    except duckdb.Error as err:
        raise StoreError(f"{path}: cannot open the history store: {err}") from None


def _migrate(con: duckdb.DuckDBPyConnection, path: Path, read_only: bool) -> int:
    """Bring the database to the current schema; returns its version."""
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if "meta" in tables:
        found = first_row(con, "SELECT value FROM meta WHERE key = 'schema_version'")
        version = int(found[0]) if found is not None else 0
    elif tables:
        raise StoreError(f"{path}: a DuckDB database, but not a homescope history store")
    else:
        version = 0
    target = len(schema.MIGRATIONS)
    if version > target:
        raise StoreVersionError(
            f"{path}: written by a newer homescope (store schema {version}; this homescope knows up to "
            f"{target}). Upgrade homescope, or choose another store with --store."
        )
    if version < target and read_only:
        raise StoreError(
            f"{path}: the store has schema {version} and needs an upgrade to {target}; "
            "open it once without read-only access"
        )
    while version < target:
        con.begin()
        try:
            schema.MIGRATIONS[version](con)
            version += 1
            con.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?), ('updated_by', ?)",
                [str(version), __version__],
            )
            if version == 1:
                con.execute("INSERT OR REPLACE INTO meta VALUES ('created', ?)", [str(time.time())])
            con.commit()
        except BaseException:
            con.rollback()
            raise
    return version
