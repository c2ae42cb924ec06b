"""The engine is headless: no module under engine/ imports the TUI, textual or rich, directly or not.

Checked twice: by importing every engine module in a fresh interpreter and looking at sys.modules, and by
the import-linter contract of pyproject.toml.
"""

from __future__ import annotations

import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

FORBIDDEN = ("textual", "rich", "tui")


def engine_modules() -> list[str]:
    names = ["engine"]
    for info in pkgutil.walk_packages([str(REPO / "engine")], prefix="engine."):
        names.append(info.name)
    return sorted(names)


def test_engine_modules_are_found() -> None:
    modules = engine_modules()
    assert "engine.capture.pcapng" in modules
    assert "engine.decode.decoder" in modules
    assert "engine.report.document" in modules
    expected = {
        ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        for p in (REPO / "engine").rglob("*.py")
    }
    assert set(modules) == expected


def test_importing_every_engine_module_loads_no_ui_package() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for name in {engine_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(json.dumps(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_check_would_notice_a_ui_import() -> None:
    # the same probe on the TUI package itself does find it in sys.modules
    code = "import sys, tui.cli\nprint(sorted(m for m in sys.modules if m.split('.')[0] == 'tui'))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        timeout=60,
        check=True,
    )
    assert "'tui.cli'" in result.stdout


def _lint_imports() -> Path:
    tool = Path(sys.executable).parent / "lint-imports"
    if not tool.exists():
        pytest.skip(f"lint-imports (import-linter) is not installed next to {sys.executable}")
    return tool


def test_import_linter_contract_is_kept() -> None:
    result = subprocess.run(
        [str(_lint_imports()), "--config", str(REPO / "pyproject.toml")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "The engine is headless: it never imports the TUI, textual or rich KEPT" in output
    assert re.search(r"Contracts: [1-9]\d* kept, 0 broken\.", output), output
