"""Reading and checking the config file, and sizing the capture ring against the disk."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.pi_setup.conftest import GOOD_CONFIG, PI_SETUP, bash, write_config


def check(config: Path, *validate_args: str):
    """load_config + validate_config in bash; returns the finished process."""
    args = " ".join(validate_args)
    return bash(
        f"load_config {shlex.quote(str(config))}\n"
        f"validate_config {args} || {{ print_config_errors cfg; exit 2; }}"
    )


def config_with(tmp_path: Path, **changes: str) -> Path:
    settings = {**GOOD_CONFIG, **changes}
    return write_config(tmp_path / "test.conf", {k: v for k, v in settings.items() if v is not None})


def errors_of(result) -> list[str]:
    return [line[4:] for line in result.stderr.splitlines() if line.startswith("  - ")]


def test_good_config_passes(tmp_path: Path) -> None:
    result = check(config_with(tmp_path))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"HS_SSID": ""}, "HS_SSID: missing"),
        ({"HS_SSID": "x" * 33}, "HS_SSID: must be at most 32 bytes long; it has 33"),
        ({"HS_SSID": "é" * 17}, "HS_SSID: must be at most 32 bytes long; it has 34"),
        ({"HS_PSK": ""}, "HS_PSK: missing"),
        ({"HS_PSK": "short"}, "HS_PSK: must be 8 to 63 characters long (or 64 hex digits); it has 5"),
        ({"HS_PSK": "p" * 64}, "HS_PSK: must be 8 to 63 characters long (or 64 hex digits); it has 64"),
        ({"HS_PSK": "pässwörter"}, "HS_PSK: may only contain printable ASCII characters"),
        ({"HS_MODE": "nat"}, "HS_MODE: must be 'routed' or 'bridged', not 'nat'"),
        ({"HS_COUNTRY": "gb"}, "HS_COUNTRY: must be your two-letter country code in capitals"),
        ({"HS_COUNTRY": ""}, "HS_COUNTRY: must be your two-letter country code in capitals"),
        ({"HS_BAND": "ac"}, "HS_BAND: must be 'bg' (2.4 GHz) or 'a' (5 GHz), not 'ac'"),
        ({"HS_CHANNEL": "14"}, "HS_CHANNEL: must be 1 to 13 for HS_BAND=bg"),
        ({"HS_BAND": "a", "HS_CHANNEL": "6"}, "HS_CHANNEL: must be one of 36 40 44 48"),
        ({"HS_IPV6": "auto"}, "HS_IPV6: must be 'disabled' or 'shared', not 'auto'"),
        ({"HS_WIFI_IFACE": "wlan 0"}, "HS_WIFI_IFACE: 'wlan 0' is not an interface name"),
        ({"HS_UPLINK_IFACE": "wlan0"}, "HS_UPLINK_IFACE: must differ from HS_WIFI_IFACE"),
        ({"HS_SNAPLEN": "10"}, "HS_SNAPLEN: must be 64 to 262144 bytes, or 0 for whole packets, not '10'"),
        (
            {"HS_SNAPLEN": "262145"},
            "HS_SNAPLEN: must be 64 to 262144 bytes, or 0 for whole packets, not '262145'",
        ),
        ({"HS_SNAPLEN": "big"}, "HS_SNAPLEN: must be 64 to 262144 bytes, or 0 for whole packets, not 'big'"),
        ({"HS_ROTATE_S": "5"}, "HS_ROTATE_S: must be between 60 and 2592000, not 5"),
        ({"HS_FILES": "1"}, "HS_FILES: must be between 2 and 100000, not 1"),
        ({"HS_FILESIZE_KB": "1e6"}, "HS_FILESIZE_KB: must be a whole number, not '1e6'"),
        ({"HS_RETENTION_DAYS": "0"}, "HS_RETENTION_DAYS: must be between 1 and 3650, not 0"),
        ({"HS_MIN_FREE_PCT": "95"}, "HS_MIN_FREE_PCT: must be between 0 and 90, not 95"),
        ({"HS_DUMP_DIR": "dumps"}, "HS_DUMP_DIR: must be an absolute path"),
        ({"HS_DUMP_DIR": "/home/pi/dumps"}, "HS_DUMP_DIR: the capture service cannot see home folders"),
        ({"HS_DUMP_DIR": "/tmp/dumps"}, "HS_DUMP_DIR: '/tmp/dumps' is a system or temporary folder"),
        ({"HS_VENV": "venv"}, "HS_VENV: must be an absolute path"),
        ({"HS_VIEWERS": "alice Bob"}, "HS_VIEWERS: 'Bob' is not a user name"),
    ],
)
def test_each_mistake_is_named(tmp_path: Path, changes: dict[str, str], message: str) -> None:
    result = check(config_with(tmp_path, **changes))
    assert result.returncode == 2
    assert any(error.startswith(message) for error in errors_of(result)), result.stderr


def test_filter_with_double_quote_is_refused(tmp_path: Path) -> None:
    (tmp_path / "test.conf").write_text(
        "HS_SSID=home\nHS_PSK=12345678\nHS_COUNTRY=GB\nHS_FILTER='not host \"x\"'\n"
    )
    result = check(tmp_path / "test.conf")
    assert result.returncode == 2
    assert any(error.startswith("HS_FILTER: must not contain") for error in errors_of(result))


def test_every_mistake_is_reported_at_once(tmp_path: Path) -> None:
    result = check(config_with(tmp_path, HS_SSID="", HS_PSK="short", HS_MODE="nat", HS_SNAPLEN="1"))
    assert [e.split(":")[0] for e in errors_of(result)] == ["HS_MODE", "HS_SSID", "HS_PSK", "HS_SNAPLEN"]


def test_accepted_edge_values(tmp_path: Path) -> None:
    config = config_with(
        tmp_path,
        HS_PSK="0123456789abcdef" * 4,
        HS_SSID="x" * 32,
        HS_SNAPLEN="0",
        HS_BAND="a",
        HS_CHANNEL="44",
        HS_MODE="bridged",
        HS_IPV6="shared",
    )
    result = check(config)
    assert result.returncode == 0, result.stderr


def test_capture_only_needs_no_wifi_settings(tmp_path: Path) -> None:
    config = write_config(tmp_path / "test.conf", {"HS_CAPTURE_IFACE": "wlan1"})
    assert check(config).returncode == 2
    assert check(config, "--no-ap").returncode == 0


def test_values_are_read_literally(tmp_path: Path) -> None:
    (tmp_path / "test.conf").write_text(
        "# comment\n\n"
        "HS_SSID='Our \"Home\" $HOME'  # trailing comment\n"
        'HS_PSK="it\'s a secret"\n'
        "HS_COUNTRY=DE\n"
        "  HS_FILTER='not (host 10.42.0.1 and tcp port 22)'\r\n"
    )
    result = bash(
        f'load_config {tmp_path}/test.conf\nprintf \'%s|\' "$HS_SSID" "$HS_PSK" "$HS_COUNTRY" "$HS_FILTER"'
    )
    assert result.stdout == 'Our "Home" $HOME|it\'s a secret|DE|not (host 10.42.0.1 and tcp port 22)|'


def test_environment_does_not_leak_into_the_config(tmp_path: Path) -> None:
    config = config_with(tmp_path)
    result = bash(f'HS_SNAPLEN=9999 HS_FILTER=evil\nload_config {config}\necho "$HS_SNAPLEN|$HS_FILTER"')
    assert result.stdout.strip() == "128|"


def test_defaults(tmp_path: Path) -> None:
    result = bash(
        f"load_config {config_with(tmp_path)}\n"
        'printf "%s\\n" "$HS_CAPTURE_IFACE" "$HS_CHANNEL" "$HS_SNAPLEN" "$HS_DUMP_DIR" "$HS_HOMESCOPE_SPEC"'
    )
    assert result.stdout.splitlines() == [
        "wlan0",
        "6",
        "128",
        "/var/lib/homescope/dumps",
        str(PI_SETUP.parent),
    ]


def test_the_sudo_user_may_read_the_dumps_by_default(tmp_path: Path) -> None:
    from tests.pi_setup.conftest import clean_env

    result = bash(
        f'load_config {config_with(tmp_path)}\necho "$HS_VIEWERS"', env=clean_env(SUDO_USER="alice")
    )
    assert result.stdout.strip() == "alice"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("HS_SSID=two words", "line 1: cannot read this line"),
        ("HS_SSID=$(reboot)", "line 1: cannot read this line"),
        ("HS_SSID='unclosed", "line 1: cannot read this line"),
        ("export HS_SSID=x", "line 1: cannot read this line"),
        ("HS_SSDI=home", "line 1: unknown setting HS_SSDI (a typo?"),
    ],
)
def test_unreadable_lines_are_named(tmp_path: Path, line: str, problem: str) -> None:
    (tmp_path / "test.conf").write_text(line + "\n")
    result = bash(f"load_config {tmp_path}/test.conf")
    assert result.returncode == 2
    assert problem in result.stderr


def test_the_example_documents_every_setting() -> None:
    example = (PI_SETUP / "homescope-pi.conf.example").read_text()
    assigned = re.findall(r"^(HS_[A-Z0-9_]+)=", example, flags=re.M)
    result = bash('printf "%s\\n" "${CONFIG_KEYS[@]}"')
    assert sorted(assigned) == sorted(result.stdout.split())


def test_the_example_is_valid_once_password_and_country_are_set(tmp_path: Path) -> None:
    example = (PI_SETUP / "homescope-pi.conf.example").read_text()
    example = example.replace("HS_PSK=\n", "HS_PSK='a good passphrase'\n").replace(
        "HS_COUNTRY=\n", "HS_COUNTRY=FR\n"
    )
    (tmp_path / "mine.conf").write_text(example)
    result = check(tmp_path / "mine.conf")
    assert result.returncode == 0, result.stderr


# --- ring sizing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ring_kb", "available_kb", "fits"),
    [
        (700, 1000, True),
        (701, 1000, False),
        (0, 0, True),
        (10_737_418, 15_339_169, True),
        (10_737_418, 15_339_168, False),
    ],
)
def test_ring_may_take_at_most_70_percent_of_the_free_space(
    ring_kb: int, available_kb: int, fits: bool
) -> None:
    result = bash(f"ring_fits_disk {ring_kb} {available_kb}")
    assert (result.returncode == 0) is fits


def test_ring_size_is_files_times_filesize(tmp_path: Path) -> None:
    result = bash(f"load_config {config_with(tmp_path)}\nring_size_kb")
    assert result.stdout.strip() == str(168 * 65536)


def test_ring_that_does_not_fit_is_explained(tmp_path: Path) -> None:
    result = bash(f"load_config {config_with(tmp_path)}\nring_fit_problem 11010048 1048576 /mnt/ssd")
    assert result.stdout.startswith(
        "the capture ring can grow to 10752 MiB (HS_FILES=168 x HS_FILESIZE_KB=65536) "
        "but only 1024 MiB is free "
        "for /mnt/ssd, and the ring may take at most 70% of it (717 MiB)."
    )


def test_existing_dumps_count_as_room_for_the_ring(tmp_path: Path) -> None:
    (tmp_path / "hs_00001_20250101000000.pcapng").write_bytes(b"\0" * 8192)
    (tmp_path / "hs_00002_20250101010000.pcapng").write_bytes(b"\0" * 8192)
    (tmp_path / "notes.txt").write_bytes(b"\0" * 8192)
    result = bash(f"dumps_size_kb {tmp_path}; dumps_size_kb {tmp_path}/missing")
    assert result.stdout.split() == ["16", "0"]


def test_free_space_is_measured_on_the_nearest_existing_folder(tmp_path: Path) -> None:
    result = bash(f"nearest_existing_dir {tmp_path}/a/b/c; disk_available_kb {tmp_path}/a/b/c")
    nearest, available = result.stdout.split()
    assert nearest == str(tmp_path)
    assert int(available) > 0
