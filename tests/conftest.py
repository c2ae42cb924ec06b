"""Shared test fixtures: where captures live, and isolation from the user's own folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"


def _shared_pcaps() -> Path:
    """`shared/fixtures/pcaps` beside the repository, or beside a folder above it (a git worktree);
    HOMESCOPE_TEST_SHARED_PCAPS overrides."""
    override = os.environ.get("HOMESCOPE_TEST_SHARED_PCAPS")
    if override:
        return Path(override)
    for folder in (REPO, *REPO.parents):
        candidate = folder.parent / "shared" / "fixtures" / "pcaps"
        if candidate.is_dir():
            return candidate
    return REPO.parent / "shared" / "fixtures" / "pcaps"


SHARED_PCAPS = _shared_pcaps()


def fixture_path(name: str) -> Path:
    """A capture from `fixtures/`, or from `../shared/fixtures/pcaps` (skipping the test when absent)."""
    local = FIXTURES / name
    if local.exists():
        return local
    shared = SHARED_PCAPS / name
    if shared.exists():
        return shared
    pytest.skip(f"{name} is not redistributable and ../shared/fixtures/pcaps is not present")


def all_fixture_names() -> list[str]:
    """Every capture the tests may use: the bundled ones and, when present, the shared ones."""
    names = {p.name for p in FIXTURES.glob("*") if p.is_file() and p.suffix != ".md"}
    if SHARED_PCAPS.exists():
        names |= {p.name for p in SHARED_PCAPS.glob("*") if p.is_file() and p.suffix != ".md"}
    return sorted(names)


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read or write the user's own configuration, data or cache folders."""
    home = tmp_path_factory.mktemp("home")
    for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"), ("XDG_CACHE_HOME", "cache")):
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.setenv("HOME", str(home))
    for var in list(os.environ):
        if var.startswith("HOMESCOPE_") and not var.startswith("HOMESCOPE_TEST_"):
            monkeypatch.delenv(var)


@pytest.fixture(autouse=True, scope="session")
def _golden_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Golden files of shared-only captures are made on demand here (see tests/golden/tshark_facts.py)."""
    os.environ.setdefault("HOMESCOPE_TEST_GOLDEN_CACHE", str(tmp_path_factory.mktemp("golden")))
