"""Every pi-setup shell script passes shellcheck with no finding at all, sourced files followed (-x)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.pi_setup.conftest import PI_SETUP

SHELLCHECK = shutil.which("shellcheck")
needs_shellcheck = pytest.mark.skipif(
    SHELLCHECK is None, reason="shellcheck is not installed (apt-get install shellcheck)"
)


def shell_scripts() -> list[Path]:
    """Files ending in .sh, and executables whose first line names bash or sh."""
    found = []
    for path in sorted(PI_SETUP.rglob("*")):
        if not path.is_file():
            continue
        first = path.read_bytes()[:64].split(b"\n", 1)[0]
        if path.suffix == ".sh" or (first.startswith(b"#!") and (b"bash" in first or first.endswith(b"/sh"))):
            found.append(path)
    return found


def test_the_scripts_are_all_found() -> None:
    names = {str(p.relative_to(PI_SETUP)) for p in shell_scripts()}
    assert {
        "install.sh",
        "uninstall.sh",
        "status.sh",
        "bin/homescope-capture",
        "bin/homescope-retention",
        "lib/common.sh",
        "lib/config.sh",
        "lib/ap.sh",
        "lib/capture.sh",
        "lib/envfile.sh",
        "lib/system.sh",
    } <= names


@needs_shellcheck
@pytest.mark.parametrize("script", shell_scripts(), ids=lambda p: str(p.relative_to(PI_SETUP)))
def test_shellcheck_finds_nothing(script: Path) -> None:
    result = subprocess.run(
        [SHELLCHECK, "-x", "--severity=style", str(script.relative_to(PI_SETUP))],
        cwd=PI_SETUP,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


@needs_shellcheck
def test_shellcheck_would_report_a_finding(tmp_path: Path) -> None:
    """The check above can fail: an unquoted variable is a finding."""
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/bin/bash\nrm -rf $1/tmp\n")
    result = subprocess.run(
        [SHELLCHECK, "-x", str(bad)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0 and "SC2086" in result.stdout


@pytest.mark.parametrize(
    "script",
    [p for p in shell_scripts() if p.parent.name != "lib"],
    ids=lambda p: str(p.relative_to(PI_SETUP)),
)
def test_scripts_run_in_strict_mode(script: Path) -> None:
    assert "set -euo pipefail" in script.read_text()
