"""Helpers for the pi-setup tests: running the bash libraries and scripts against a pretend Pi."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.pi_setup.fake_system import FRESH_PI, install_shims

REPO = Path(__file__).resolve().parents[2]
PI_SETUP = REPO / "pi-setup"
LIB_ORDER = ["common.sh", "envfile.sh", "config.sh", "system.sh", "ap.sh", "capture.sh"]

# A configuration that passes validation; tests change one thing at a time.
GOOD_CONFIG = {
    "HS_MODE": "routed",
    "HS_SSID": "Home Net (monitored)",
    "HS_PSK": "correct horse battery",
    "HS_COUNTRY": "GB",
}


def write_config(path: Path, settings: dict[str, str]) -> Path:
    """A config file with each value single-quoted, as a user would write it."""
    path.write_text("".join(f"{key}='{value}'\n" for key, value in settings.items()))
    return path


def bash(script: str, env: dict[str, str] | None = None, cwd: Path = PI_SETUP, timeout: float = 60):
    """Run a bash snippet with all pi-setup libraries sourced (strict mode on, as in the scripts)."""
    sources = "".join(f"source lib/{name}\n" for name in LIB_ORDER)
    full = f"set -euo pipefail\nPI_SETUP_DIR={shlex.quote(str(PI_SETUP))}\n{sources}{script}\n"
    return subprocess.run(
        ["bash", "-c", full],
        cwd=cwd,
        env=env if env is not None else clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without HS_* settings or sudo traces that would leak into the scripts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HS_", "SUDO_", "SSH_"))}
    env.update(extra)
    return env


@dataclass
class FakePi:
    """A pretend Raspberry Pi: stand-in system commands first on PATH, their state, and a file tree."""

    dir: Path
    shims: Path
    root: Path  # HS_ROOT: where the installer writes /etc, /usr/local, ...

    def env(self, **extra: str) -> dict[str, str]:
        settings = {
            "PATH": f"{self.shims}:{os.environ['PATH']}",
            "HS_ROOT": str(self.root),
            "HS_SERVICE_USER": current_user(),
        }
        return clean_env(**{**settings, **extra})

    @property
    def state(self) -> dict:
        return json.loads((self.dir / "state.json").read_text())

    def set_state(self, **changes: object) -> None:
        state = self.state
        state.update(changes)
        (self.dir / "state.json").write_text(json.dumps(state))

    def calls(self) -> list[dict]:
        lines = (self.dir / "calls.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines]

    def changing_calls(self) -> list[dict]:
        return [c for c in self.calls() if c["changed"]]

    def forget_calls(self) -> None:
        (self.dir / "calls.jsonl").write_text("")

    def run(self, script: str, *args: str, timeout: float = 120, **extra_env: str):
        return subprocess.run(
            ["bash", str(PI_SETUP / script), *args],
            env=self.env(**extra_env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def current_user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


@pytest.fixture
def fake_pi(tmp_path: Path) -> FakePi:
    state_dir = tmp_path / "fake"
    shims = install_shims(state_dir, json.loads(json.dumps(FRESH_PI)))
    root = tmp_path / "root"
    root.mkdir()
    return FakePi(dir=state_dir, shims=shims, root=root)


@pytest.fixture
def pi_config(tmp_path: Path, fake_pi: FakePi) -> Path:
    """A good config whose dump folder and virtual environment live in the pretend Pi's tree."""
    settings = dict(GOOD_CONFIG)
    settings["HS_DUMP_DIR"] = str(fake_pi.root / "var/lib/homescope/dumps")
    settings["HS_VENV"] = str(fake_pi.root / "opt/homescope/venv")
    settings["HS_HOMESCOPE_SPEC"] = "homescope==0.1.0"
    # a ring that fits any test machine's disk
    settings["HS_FILES"] = "4"
    settings["HS_FILESIZE_KB"] = "1024"
    return write_config(tmp_path / "homescope-pi.conf", settings)
