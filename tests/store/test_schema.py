"""The store's schema is versioned: a new store is created at the current version, an older one is migrated
on open, a newer one is refused with a clear message, as is a database that is not a store or one another
process is writing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from engine.store import HistoryStore, StoreBusyError, StoreError, StoreVersionError, schema
from tests.conftest import REPO


def _version(path: Path) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
        return int(rows[0][0])
    finally:
        con.close()


def test_a_new_store_has_the_current_schema(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "folder" / "h.db"
    with HistoryStore(path, sensor="pi") as store:
        assert store.schema_version == schema.SCHEMA_VERSION
        assert store.check() == []
        assert store.sensor == "pi"
    assert _version(path) == schema.SCHEMA_VERSION


def test_the_default_store_is_the_configured_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOMESCOPE_STORE_PATH", str(tmp_path / "configured.db"))
    with HistoryStore() as store:
        assert store.path == tmp_path / "configured.db"
        assert store.sensor  # this host's name


def test_an_older_store_is_migrated_on_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "h.db"
    HistoryStore(path, sensor="pi").close()

    def add_notes(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("CREATE TABLE notes (run_id INTEGER, text VARCHAR)")
        con.execute("ALTER TABLE runs ADD COLUMN note VARCHAR")

    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, add_notes))
    with HistoryStore(path, sensor="pi") as store:
        assert store.schema_version == 2
        tables = {r[0] for r in store.cursor().execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert "notes" in tables
    assert _version(path) == 2
    # and read-only access refuses a store that would need migrating
    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, add_notes, add_notes))
    with pytest.raises(StoreError, match="needs an upgrade"):
        HistoryStore(path, read_only=True)


def test_a_newer_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    HistoryStore(path, sensor="pi").close()
    con = duckdb.connect(str(path))
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(StoreVersionError, match=r"newer homescope .*schema 99"):
        HistoryStore(path)


def test_a_database_that_is_not_a_store(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE things (x INTEGER)")
    con.close()
    with pytest.raises(StoreError, match="not a homescope history store"):
        HistoryStore(path)
    text = tmp_path / "notes.txt"
    text.write_text("hello\n" * 1000)
    with pytest.raises(StoreError, match="cannot open the history store"):
        HistoryStore(text)


def test_a_store_another_process_writes_is_busy(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from engine.store import HistoryStore; s = HistoryStore(sys.argv[1]); "
         "print('open', flush=True); time.sleep(60)", str(path)],
        stdout=subprocess.PIPE, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(StoreBusyError, match="another homescope process"):
            HistoryStore(path)
    finally:
        holder.kill()
        holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()
    HistoryStore(path).close()  # free again
