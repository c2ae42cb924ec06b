"""capture.env rendering, the capture command built from it, and the retention clean-up."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from pathlib import Path

import pytest

from tests.pi_setup.conftest import GOOD_CONFIG, PI_SETUP, bash, clean_env, write_config

CAPTURE = PI_SETUP / "bin/homescope-capture"
RETENTION = PI_SETUP / "bin/homescope-retention"


def render_env(tmp_path: Path, **changes: str) -> Path:
    """capture.env as install.sh writes it, from the good config plus changes."""
    config = write_config(tmp_path / "test.conf", {**GOOD_CONFIG, **changes})
    result = bash(f"load_config {config}\nrender_capture_env")
    assert result.returncode == 0, result.stderr
    env_file = tmp_path / "capture.env"
    env_file.write_text(result.stdout)
    return env_file


def capture_argv(env_file: Path) -> list[str]:
    result = subprocess.run(
        [str(CAPTURE), "--print", str(env_file)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return shlex.split(result.stdout)


def test_env_file_rendering(tmp_path: Path) -> None:
    env_file = render_env(tmp_path, HS_FILTER="not (host 10.42.0.1 and tcp port 22)", HS_SNAPLEN="256")
    lines = [line for line in env_file.read_text().splitlines() if not line.startswith("#")]
    assert lines == [
        'HS_CAPTURE_IFACE="wlan0"',
        'HS_SNAPLEN="256"',
        'HS_DUMP_DIR="/var/lib/homescope/dumps"',
        'HS_ROTATE_S="3600"',
        'HS_FILES="168"',
        'HS_FILESIZE_KB="65536"',
        'HS_FILTER="not (host 10.42.0.1 and tcp port 22)"',
        'HS_RETENTION_DAYS="7"',
        'HS_MIN_FREE_PCT="15"',
    ]


def test_env_file_never_holds_the_wifi_password(tmp_path: Path) -> None:
    assert GOOD_CONFIG["HS_PSK"] not in render_env(tmp_path).read_text()


def test_env_file_reads_back_unchanged(tmp_path: Path) -> None:
    flt = "not (ether host 12:34:56:78:9a:bc) and not port 53 || udp[8:2] = 0x1234 & 'x'"
    env_file = render_env(tmp_path, HS_FILTER=flt.replace("'", ""))
    result = bash(f'read_env_file {env_file} "${{CAPTURE_ENV_KEYS[@]}}"\nprintf "%s" "$HS_FILTER"')
    assert result.stdout == flt.replace("'", "")


def test_capture_command(tmp_path: Path) -> None:
    env_file = render_env(tmp_path, HS_FILTER="not (host 10.42.0.1 and tcp port 22)")
    assert capture_argv(env_file) == [
        "/usr/bin/dumpcap",
        "-q",
        "-g",
        "-i",
        "wlan0",
        "-s",
        "128",
        "-b",
        "interval:3600",
        "-b",
        "files:168",
        "-b",
        "filesize:65536",
        "-f",
        "not (host 10.42.0.1 and tcp port 22)",  # one argument
        "-w",
        "/var/lib/homescope/dumps/hs.pcapng",
    ]


def test_capture_command_without_filter(tmp_path: Path) -> None:
    argv = capture_argv(render_env(tmp_path, HS_CAPTURE_IFACE="eth1", HS_SNAPLEN="0"))
    assert "-f" not in argv
    assert argv[3:7] == ["-i", "eth1", "-s", "0"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('HS_CAPTURE_IFACE="wlan0"\n', "does not set HS_SNAPLEN"),
        ("HS_CAPTURE_IFACE=wlan0\n", "cannot read this line"),
        ('HS_CAPTURE_IFACE="$(reboot)"\n', "cannot read this line"),
    ],
)
def test_capture_refuses_a_bad_env_file(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "capture.env").write_text(content)
    result = subprocess.run(
        [str(CAPTURE), str(tmp_path / "capture.env")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert message in result.stderr


def test_capture_refuses_a_non_numeric_setting(tmp_path: Path) -> None:
    env_file = render_env(tmp_path)
    env_file.write_text(env_file.read_text().replace('HS_FILES="168"', 'HS_FILES="many"'))
    result = subprocess.run([str(CAPTURE), str(env_file)], capture_output=True, text=True, check=False)
    assert result.returncode == 2 and "HS_FILES must be a whole number" in result.stderr


def test_capture_needs_the_dump_folder(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(CAPTURE), str(render_env(tmp_path))], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2 and "dump folder /var/lib/homescope/dumps does not exist" in result.stderr


# --- retention -----------------------------------------------------------------------------------------

DAY = 86400


def make_dumps(folder: Path, ages_days: list[float], size: int = 1024) -> list[Path]:
    """Capture files of the given ages, oldest first, with ring-style names."""
    now = time.time()
    paths = []
    for n, age in enumerate(ages_days, start=1):
        path = folder / f"hs_{n:05d}_20250101{n:06d}.pcapng"
        path.write_bytes(b"\0" * size)
        os.utime(path, (now - age * DAY, now - age * DAY))
        paths.append(path)
    return paths


def retention_env(
    tmp_path: Path,
    dumps: Path,
    *,
    days: int = 7,
    min_free: int = 0,
    files: int = 100,
    filesize_kb: int = 1024,
) -> Path:
    env_file = tmp_path / "capture.env"
    env_file.write_text(
        f'HS_DUMP_DIR="{dumps}"\nHS_RETENTION_DAYS="{days}"\nHS_MIN_FREE_PCT="{min_free}"\n'
        f'HS_FILES="{files}"\nHS_FILESIZE_KB="{filesize_kb}"\n'
    )
    return env_file


def run_retention(env_file: Path, *args: str, env: dict[str, str] | None = None):
    return subprocess.run(
        [str(RETENTION), *args, str(env_file)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env=env or clean_env(),
    )


@pytest.fixture
def dumps(tmp_path: Path) -> Path:
    folder = tmp_path / "dumps"
    folder.mkdir()
    return folder


def deletions(output: str, verb: str = "deleted") -> int:
    return sum(1 for line in output.splitlines() if line.startswith(f"{verb} /"))


def remaining(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_files_older_than_the_retention_go(tmp_path: Path, dumps: Path) -> None:
    paths = make_dumps(dumps, [10, 8, 6, 1, 0])
    (dumps / "notes.txt").write_text("mine")
    os.utime(dumps / "notes.txt", (0, 0))
    result = run_retention(retention_env(tmp_path, dumps, days=7))
    assert result.returncode == 0, result.stderr
    assert remaining(dumps) == sorted(["notes.txt", *(p.name for p in paths[2:])])
    assert "deleted 2 of 5 capture files" in result.stdout


def test_the_newest_file_stays_however_old(tmp_path: Path, dumps: Path) -> None:
    paths = make_dumps(dumps, [30, 20])
    run_retention(retention_env(tmp_path, dumps, days=7))
    assert remaining(dumps) == [paths[1].name]


def test_dumps_beyond_the_ring_size_go_oldest_first(tmp_path: Path, dumps: Path) -> None:
    # ring of 3 x 1 MiB; five files of 1 MiB left by earlier runs
    paths = make_dumps(dumps, [0.5, 0.4, 0.3, 0.2, 0.1], size=1024 * 1024)
    result = run_retention(retention_env(tmp_path, dumps, files=3, filesize_kb=1024))
    assert remaining(dumps) == [p.name for p in paths[2:]]
    assert "exceed the ring size of 3 MiB" in result.stdout


def test_oldest_files_go_while_the_disk_is_too_full(tmp_path: Path, dumps: Path) -> None:
    """A pretend df: a 100 KiB disk of which the dumps are the only use."""
    shims = tmp_path / "shims"
    shims.mkdir()
    (shims / "df").write_text(
        "#!/bin/sh\n"
        f'used=$(du -sk "{dumps}" | cut -f1)\n'
        'echo "Filesystem 1024-blocks Used Available Capacity Mounted on"\n'
        'echo "/dev/fake 100 $used $((100 - used)) 0% /"\n'
    )
    (shims / "df").chmod(0o755)
    paths = make_dumps(dumps, [0.5, 0.4, 0.3, 0.2, 0.1], size=16 * 1024)  # 80 KiB: 20% free
    env = clean_env(PATH=f"{shims}:{os.environ['PATH']}")
    dry = run_retention(retention_env(tmp_path, dumps, min_free=45), "--dry-run", env=env)
    assert remaining(dumps) == [p.name for p in paths], "a dry run deletes nothing"
    result = run_retention(retention_env(tmp_path, dumps, min_free=45), env=env)
    # 80 KiB of files + 4 KiB of folder: 16% free; one file less 32%, two files less 48% >= 45%
    assert remaining(dumps) == [p.name for p in paths[2:]], result.stdout + result.stderr
    assert result.stdout.count("less than 45% of the disk is free") == 2
    assert deletions(dry.stdout, "would delete") == 2


def test_retention_dry_run_changes_nothing(tmp_path: Path, dumps: Path) -> None:
    paths = make_dumps(dumps, [10, 9, 0])
    result = run_retention(retention_env(tmp_path, dumps), "--dry-run")
    assert remaining(dumps) == [p.name for p in paths]
    assert deletions(result.stdout, "would delete") == 2


def test_retention_of_an_empty_folder(tmp_path: Path, dumps: Path) -> None:
    result = run_retention(retention_env(tmp_path, dumps))
    assert result.returncode == 0 and "deleted 0 of 0 capture files" in result.stdout


def test_retention_needs_its_settings(tmp_path: Path, dumps: Path) -> None:
    env_file = tmp_path / "capture.env"
    env_file.write_text(f'HS_DUMP_DIR="{dumps}"\n')
    result = run_retention(env_file)
    assert result.returncode == 2 and "HS_RETENTION_DAYS must be a whole number" in result.stderr
