"""The systemd units: `systemd-analyze verify` says nothing about them, the capture service stays
hardened, and what they run is what install.sh installs."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.pi_setup.conftest import PI_SETUP, bash

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd_analyze = pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")
UNITS = ["homescope-capture.service", "homescope-retention.service", "homescope-retention.timer"]
SYSTEM_UNITS = Path("/usr/lib/systemd/system")

# Overall exposure of `systemd-analyze security` (0-100 scale, shown divided by 10); measured with
# systemd 252. Lower them when hardening improves; a change that raises the exposure fails.
CAPTURE_EXPOSURE_MAX = 21
RETENTION_EXPOSURE_MAX = 8


def unit_text(name: str) -> str:
    return (PI_SETUP / "systemd" / name).read_text()


def unit_values(name: str, section: str, key: str) -> list[str]:
    """Every value of KEY in SECTION (units may repeat keys, which configparser cannot represent)."""
    values, current = [], None
    for raw in unit_text(name).splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
        elif current == section and "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            if k.strip() == key:
                values.append(v.strip())
    return values


def installed_tree(tmp_path: Path) -> Path:
    """A filesystem root holding the units as install.sh installs them (with their drop-ins), the
    scripts they run at the paths they name, and the host's own unit directory for the targets."""
    root = tmp_path / "root"
    unit_dir = root / "etc/systemd/system"
    unit_dir.mkdir(parents=True)
    if SYSTEM_UNITS.is_dir():
        shutil.copytree(SYSTEM_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    for name in UNITS:
        shutil.copy(PI_SETUP / "systemd" / name, unit_dir / name)
    result = bash("HS_DUMP_DIR=/var/lib/homescope/dumps\nrender_dump_dir_dropin\necho ---\nlibexec_files")
    assert result.returncode == 0, result.stderr
    dropin, files = result.stdout.split("---\n")
    for name in ("homescope-capture.service", "homescope-retention.service"):
        (unit_dir / f"{name}.d").mkdir()
        (unit_dir / f"{name}.d/10-dump-dir.conf").write_text(dropin)
    for line in files.splitlines():
        src, dest, mode = line.split()
        target = root / "usr/local/lib/homescope" / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PI_SETUP / src, target)
        target.chmod(int(mode, 8))
    return root


def verify(root: Path, *units: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", f"--root={root}", *units],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@needs_systemd_analyze
def test_systemd_analyze_verify_says_nothing(tmp_path: Path) -> None:
    result = verify(installed_tree(tmp_path), *UNITS)
    # It exits 0 even for unknown keys, so any output at all is a failure.
    assert result.returncode == 0 and result.stdout == "" and result.stderr == "", (
        result.stdout + result.stderr
    )


@needs_systemd_analyze
def test_verify_would_catch_a_misspelt_key(tmp_path: Path) -> None:
    """The check above can fail: a typo in a hardening key is reported (though the exit status is 0)."""
    root = installed_tree(tmp_path)
    unit = root / "etc/systemd/system/homescope-capture.service"
    unit.write_text(unit.read_text().replace("AmbientCapabilities=", "AmbientCapabilites="))
    result = verify(root, "homescope-capture.service")
    assert "Unknown key 'AmbientCapabilites'" in result.stdout + result.stderr


@needs_systemd_analyze
def test_verify_would_catch_a_missing_program(tmp_path: Path) -> None:
    root = installed_tree(tmp_path)
    (root / "usr/local/lib/homescope/bin/homescope-capture").unlink()
    result = verify(root, "homescope-capture.service")
    assert "homescope-capture" in result.stdout + result.stderr


def security(root: Path, unit: str, threshold: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SYSTEMD_ANALYZE, "security", "--offline=true", f"--root={root}", f"--threshold={threshold}", unit],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@needs_systemd_analyze
@pytest.mark.parametrize(
    ("unit", "limit"),
    [
        ("homescope-capture.service", CAPTURE_EXPOSURE_MAX),
        ("homescope-retention.service", RETENTION_EXPOSURE_MAX),
    ],
)
def test_hardening_does_not_regress(tmp_path: Path, unit: str, limit: int) -> None:
    root = installed_tree(tmp_path)
    result = security(root, unit, limit)
    exposure = re.search(r"Overall exposure level for \S+: (\d+\.\d)", result.stdout)
    assert exposure, result.stdout + result.stderr
    assert result.returncode == 0, f"exposure {exposure.group(1)} is above {limit / 10}:\n{result.stdout}"


@needs_systemd_analyze
def test_security_threshold_would_catch_a_weakened_unit(tmp_path: Path) -> None:
    root = installed_tree(tmp_path)
    unit = root / "etc/systemd/system/homescope-capture.service"
    unit.write_text(unit.read_text().replace("ProtectSystem=strict", "ProtectSystem=no"))
    assert security(root, "homescope-capture.service", CAPTURE_EXPOSURE_MAX).returncode != 0


def test_capture_unit_runs_the_installed_capture_command() -> None:
    result = bash('printf "%s\\n" "$(libexec_files)"; echo "${CAPTURE_ENV#"$HS_ROOT"}"')
    installed = {line.split()[1] for line in result.stdout.splitlines()[:-1]}
    env_path = result.stdout.splitlines()[-1]
    assert env_path == "/etc/homescope/capture.env"
    assert unit_values("homescope-capture.service", "Service", "ExecStart") == [
        "/usr/local/lib/homescope/bin/homescope-capture /etc/homescope/capture.env"
    ]
    assert unit_values("homescope-retention.service", "Service", "ExecStart") == [
        "/usr/local/lib/homescope/bin/homescope-retention /etc/homescope/capture.env"
    ]
    assert {"bin/homescope-capture", "bin/homescope-retention", "lib/envfile.sh"} <= installed


def test_capture_unit_hardening() -> None:
    service = lambda key: unit_values("homescope-capture.service", "Service", key)  # noqa: E731
    assert service("User") == ["homescope"]
    assert service("NoNewPrivileges") == ["yes"]
    caps = set(service("AmbientCapabilities")[0].split())
    assert caps == {"CAP_NET_RAW", "CAP_NET_ADMIN"}
    assert set(service("CapabilityBoundingSet")[0].split()) == caps
    assert service("PrivateNetwork") == [], "PrivateNetwork would hide the interface to capture"
    assert service("Restart") == ["always"]
    assert service("ProtectSystem") == ["strict"]
    assert service("ReadWritePaths") == ["/var/lib/homescope/dumps"]


def test_retention_timer_is_daily_and_catches_up() -> None:
    parser = configparser.ConfigParser()
    parser.read_string(unit_text("homescope-retention.timer"))
    assert parser["Timer"]["OnCalendar"] == "daily"
    assert parser["Timer"]["Persistent"] == "true"
    assert parser["Install"]["WantedBy"] == "timers.target"
