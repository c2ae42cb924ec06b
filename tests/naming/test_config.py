"""Settings: defaults, the TOML file, the environment and command-line overrides, and their errors."""

from __future__ import annotations

import ipaddress
import tomllib
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from engine.config import (
    DEFAULT_QUIET_HOURS,
    ENVIRONMENT,
    QuietHours,
    default_config_path,
    load_settings,
)
from engine.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "config.example.toml"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    s = load_settings()
    assert s.source is None
    assert s.home_prefixes == ()
    assert s.cgnat_is_local is False
    assert s.labels_file == tmp_path / "cfg" / "homescope" / "labels.toml"
    assert s.quiet_hours == QuietHours(time(23, 0), time(6, 0))
    assert s.timezone == "local"
    assert s.data_dir == tmp_path / "data" / "homescope"
    assert s.store_path == tmp_path / "data" / "homescope" / "homescope.db"
    assert s.lookups.allow_online is False
    assert s.lookups.timeout_s == 5.0
    assert s.lookups.cache_dir == tmp_path / "data" / "homescope" / "cache"
    assert dict(s.findings) == {}
    assert s.ui.refresh_hz == 4.0
    # resolving defaults creates nothing
    assert not (tmp_path / "cfg").exists()
    assert not (tmp_path / "data").exists()


def test_importing_creates_no_folder(tmp_path: Path) -> None:
    import subprocess
    import sys

    env = {
        "XDG_CONFIG_HOME": str(tmp_path / "c"),
        "XDG_DATA_HOME": str(tmp_path / "d"),
        "HOME": str(tmp_path),
    }
    subprocess.run(
        [sys.executable, "-c", "import engine.config, engine.labels"],
        check=True,
        cwd=REPO,
        env={**env, "PYTHONPATH": str(REPO)},
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_the_documented_example_holds_every_default() -> None:
    from_example = load_settings(EXAMPLE)
    defaults = load_settings()
    assert defaults.source is None
    assert from_example.source == EXAMPLE
    for name in ("home_prefixes", "cgnat_is_local", "labels_file", "quiet_hours", "timezone", "data_dir"):
        assert getattr(from_example, name) == getattr(defaults, name), name
    assert from_example.store_path == defaults.store_path
    assert from_example.lookups == defaults.lookups
    assert dict(from_example.findings) == dict(defaults.findings)
    assert from_example.ui == defaults.ui


def test_the_example_names_every_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    # commented-out keys count: they are documented with their default
    uncommented = "\n".join(line.lstrip("# ") for line in text.splitlines())
    for key in (
        "home_prefixes",
        "cgnat_is_local",
        "labels_file",
        "timezone",
        "data_dir",
        "store_path",
        "[quiet_hours]",
        "start",
        "end",
        "[lookups]",
        "allow_online",
        "timeout_s",
        "cache_dir",
        "[findings]",
        "[ui]",
        "refresh_hz",
    ):
        assert f"\n{key}" in f"\n{uncommented}", key
    for variable in ENVIRONMENT:
        assert variable in text
    tomllib.loads(text)


def test_a_full_file(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "conf" / "homescope.toml",
        """
home_prefixes = ["192.168.1.1/24", "2001:db8:1::/64"]
cgnat_is_local = true
labels_file = "my-labels.toml"
timezone = "Europe/Berlin"
data_dir = "/var/lib/homescope"

[quiet_hours]
start = "22:30"
end = 07:15:00

[lookups]
allow_online = true
timeout_s = 3

[findings.night_traffic]
enabled = false
min_bytes = 10_000
ignore = ["printer"]

[ui]
refresh_hz = 2.5
""",
    )
    s = load_settings(path)
    assert s.source == path
    assert s.home_prefixes == (
        ipaddress.ip_network("192.168.1.0/24"),
        ipaddress.ip_network("2001:db8:1::/64"),
    )
    assert s.cgnat_is_local is True
    assert s.labels_file == (tmp_path / "conf").resolve() / "my-labels.toml"  # relative to the file
    assert s.timezone == "Europe/Berlin"
    assert s.tzinfo() == ZoneInfo("Europe/Berlin")
    assert s.data_dir == Path("/var/lib/homescope")
    assert s.store_path == Path("/var/lib/homescope/homescope.db")  # follows data_dir
    assert s.lookups.cache_dir == Path("/var/lib/homescope/cache")
    assert s.quiet_hours == QuietHours(time(22, 30), time(7, 15))
    assert str(s.quiet_hours) == "22:30-07:15"
    assert s.lookups.allow_online is True
    assert s.lookups.timeout_s == 3.0
    assert s.findings["night_traffic"]["enabled"] is False
    assert s.findings["night_traffic"]["min_bytes"] == 10_000
    assert s.findings["night_traffic"]["ignore"] == ("printer",)
    assert s.ui.refresh_hz == 2.5
    with pytest.raises(TypeError):
        s.findings["night_traffic"]["enabled"] = True  # type: ignore[index]


def test_precedence_overrides_environment_file_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(
        tmp_path / "c.toml",
        """
timezone = "Europe/Berlin"
data_dir = "/from/file"
store_path = "/from/file/store.db"
home_prefixes = ["10.0.0.0/8"]
[lookups]
timeout_s = 9
[findings.dns_bypass]
enabled = true
severity = "high"
""",
    )
    monkeypatch.setenv("HOMESCOPE_CONFIG", str(path))
    monkeypatch.setenv("HOMESCOPE_DATA_DIR", "/from/env")
    monkeypatch.setenv("HOMESCOPE_HOME_PREFIXES", "192.168.1.0/24, fd00:1::/64")
    monkeypatch.setenv("HOMESCOPE_TIMEZONE", "")  # empty: unset
    monkeypatch.setenv("HOMESCOPE_STORE_PATH", "/from/env/store.db")
    s = load_settings(
        overrides={
            "store_path": tmp_path / "cli.db",
            "lookups.allow_online": True,
            "findings.dns_bypass.severity": "low",
        }
    )
    assert s.source == path
    assert s.timezone == "Europe/Berlin"  # file
    assert s.data_dir == Path("/from/env")  # environment over file
    assert s.lookups.cache_dir == Path("/from/env/cache")  # derived from the winning data_dir
    assert s.store_path == tmp_path / "cli.db"  # override over environment and file
    assert s.home_prefixes == (ipaddress.ip_network("192.168.1.0/24"), ipaddress.ip_network("fd00:1::/64"))
    assert s.lookups.timeout_s == 9.0  # file
    assert s.lookups.allow_online is True  # override
    assert dict(s.findings["dns_bypass"]) == {"enabled": True, "severity": "low"}  # merged per option


def test_path_argument_beats_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chosen = _write(tmp_path / "a.toml", 'timezone = "UTC"\n')
    monkeypatch.setenv("HOMESCOPE_CONFIG", str(_write(tmp_path / "b.toml", 'timezone = "Asia/Tokyo"\n')))
    assert load_settings(chosen).timezone == "UTC"
    assert load_settings().timezone == "Asia/Tokyo"


def test_default_file_is_read_when_present() -> None:
    _write(default_config_path(), "cgnat_is_local = true\n")
    s = load_settings()
    assert s.source == default_config_path()
    assert s.cgnat_is_local is True


def test_quiet_hours_across_midnight() -> None:
    assert DEFAULT_QUIET_HOURS.contains(time(23, 0)) is True
    assert DEFAULT_QUIET_HOURS.contains(time(2, 30)) is True
    assert DEFAULT_QUIET_HOURS.contains(time(5, 59)) is True
    assert DEFAULT_QUIET_HOURS.contains(time(6, 0)) is False
    assert DEFAULT_QUIET_HOURS.contains(time(12, 0)) is False
    assert DEFAULT_QUIET_HOURS.contains(time(22, 59)) is False
    daytime = QuietHours(time(9, 0), time(17, 0))
    assert daytime.contains(time(9, 0)) is True
    assert daytime.contains(time(17, 0)) is False
    assert daytime.contains(time(3, 0)) is False


# ---- errors ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("colour = 1\n", ["unknown key 'colour'"]),
        ("cgnat_is_locall = true\n", ["unknown key 'cgnat_is_locall'", "did you mean 'cgnat_is_local'"]),
        ("[lookups]\nallow_onlin = true\n", ["unknown key 'lookups.allow_onlin'", "'lookups.allow_online'"]),
        ("cgnat_is_local = 1\n", ["'cgnat_is_local'", "expected true or false", "got the number 1"]),
        ('cgnat_is_local = "yes"\n', ["expected true or false", "got the string 'yes'"]),
        ('home_prefixes = "192.168.1.0/24"\n', ["'home_prefixes'", "expected a list of prefixes"]),
        ('home_prefixes = ["192.168.1.0/33"]\n', ["'home_prefixes'", "'192.168.1.0/33'"]),
        ('home_prefixes = ["0.0.0.0/0"]\n', ["'home_prefixes'", "too broad"]),
        ("home_prefixes = [24]\n", ["not the number 24 in it"]),
        ('[quiet_hours]\nstart = "25:00"\n', ["'quiet_hours.start'", 'expected a time of day as "HH:MM"']),
        ('[quiet_hours]\nstart = "07:00"\nend = "07:00"\n', ["'quiet_hours'", "both 07:00"]),
        ("quiet_hours = 5\n", ["'quiet_hours'", "expected a table", "got the number 5"]),
        ('timezone = "Mars/Olympus"\n', ["'timezone'", "no time zone 'Mars/Olympus'"]),
        ("[lookups]\ntimeout_s = 0\n", ["'lookups.timeout_s'", "above 0 and at most 120"]),
        ("[lookups]\ntimeout_s = true\n", ["'lookups.timeout_s'", "got the boolean true"]),
        ('[lookups]\ntimeout_s = "5"\n', ["'lookups.timeout_s'", "got the string '5'"]),
        ("[ui]\nrefresh_hz = 1000\n", ["'ui.refresh_hz'", "at most 60"]),
        ('data_dir = ""\n', ["'data_dir'", "expected a path"]),
        ("findings = 3\n", ["'findings'", "a table of per-rule tables"]),
        ("[findings]\nnight_traffic = true\n", ["'findings'", "'night_traffic' is the boolean true"]),
        ("cgnat_is_local = \n", ["not valid TOML", "line 1"]),
    ],
)
def test_invalid_files_name_file_key_and_expectation(tmp_path: Path, text: str, fragments: list[str]) -> None:
    path = _write(tmp_path / "bad.toml", text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    for fragment in fragments:
        assert fragment in message


def test_explicit_file_must_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_settings(tmp_path / "missing.toml")
    monkeypatch.setenv("HOMESCOPE_CONFIG", str(tmp_path / "also-missing.toml"))
    with pytest.raises(ConfigError, match=r"also-missing\.toml: no such configuration file"):
        load_settings()


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder"):
        load_settings(tmp_path)
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes('timezone = "Europe/Z\xfcrich"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(latin1)


def test_environment_errors_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOMESCOPE_HOME_PREFIXES", "192.168.1.0/24,nonsense")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith("environment variable HOMESCOPE_HOME_PREFIXES: 'home_prefixes'")
    assert "'nonsense'" in str(caught.value)


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"ui.refresh": 3}, "command-line setting: unknown key 'ui.refresh'"),
        (
            {"lookups.allow_online": "yes"},
            "command-line setting: 'lookups.allow_online': expected true or false",
        ),
        ({"cgnat_is_local": True, "cgnat_is_local.x": 1}, "set both as a value and as a table"),
    ],
)
def test_override_errors(overrides: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(overrides=overrides)
    assert fragment in str(caught.value)
    assert caught.value.title == "Invalid configuration"


def test_relative_paths_outside_the_file_are_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOMESCOPE_LABELS_FILE", "labels/mine.toml")
    s = load_settings(overrides={"data_dir": "~/hs"})
    assert s.labels_file == tmp_path / "labels" / "mine.toml"
    assert s.data_dir == Path.home() / "hs"
