"""homescope's settings: one typed, frozen `Settings` object read from a TOML file.

Where each setting comes from, strongest first:

1. command-line overrides, given to `load_settings` as a mapping of dotted keys
   (``{"lookups.allow_online": True, "home_prefixes": ["192.168.1.0/24"]}``);
2. environment variables: `HOMESCOPE_CONFIG` names the file, and those in `ENVIRONMENT` set single keys;
3. the TOML file: the `path` argument, else `$HOMESCOPE_CONFIG`, else ``<user config dir>/config.toml``;
4. defaults.

A file named explicitly must exist; the default one may be missing. Empty environment variables count as
unset. Relative paths in the file are relative to the file's folder; elsewhere, to the working directory.
Unless set, `store_path` and `lookups.cache_dir` live in `data_dir`, whatever it is set to.

Default folders come from platformdirs when settings are loaded, never at import, and nothing is created:
whoever writes a file creates its folder. Unknown keys and wrong types raise `ConfigError` naming the file (or
variable, or override), the key and what was expected. `docs/config.example.toml` documents every key.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, tzinfo
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.errors import ConfigError
from engine.home_network import check_home_prefix
from engine.scope_table import IPNetwork

APP_NAME = "homescope"
ENV_CONFIG = "HOMESCOPE_CONFIG"
# environment variable -> the setting it sets
ENVIRONMENT: Mapping[str, str] = MappingProxyType(
    {
        "HOMESCOPE_DATA_DIR": "data_dir",
        "HOMESCOPE_STORE_PATH": "store_path",
        "HOMESCOPE_LABELS_FILE": "labels_file",
        "HOMESCOPE_CACHE_DIR": "lookups.cache_dir",
        "HOMESCOPE_HOME_PREFIXES": "home_prefixes",  # comma-separated
        "HOMESCOPE_TIMEZONE": "timezone",
    }
)
_LIST_VARIABLES = frozenset({"HOMESCOPE_HOME_PREFIXES"})
_T = TypeVar("_T")


# ---- the settings ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily window, such as 23:00-06:00, that may run past midnight. `end` is not part of it."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True, slots=True)
class LookupSettings:
    """Name and ownership lookups. Online ones (RDAP, reverse DNS) send addresses out: off by default."""

    allow_online: bool
    timeout_s: float
    cache_dir: Path


@dataclass(frozen=True, slots=True)
class UiSettings:
    refresh_hz: float  # how often the TUI reads a snapshot


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """How much history the store keeps: capture data older than `retention_days` goes, then the oldest
    days while the store holds more than `max_bytes`. None: no limit."""

    retention_days: float | None
    max_bytes: int | None


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting, resolved. `source` is the file read, or None when there was none."""

    home_prefixes: tuple[IPNetwork, ...]
    cgnat_is_local: bool
    labels_file: Path
    quiet_hours: QuietHours
    timezone: str  # an IANA name, or "local"
    data_dir: Path
    store_path: Path
    lookups: LookupSettings
    findings: Mapping[str, Mapping[str, object]]  # per-rule tables, read-only; the rules validate them
    ui: UiSettings
    store: StoreSettings
    source: Path | None

    def tzinfo(self) -> tzinfo:
        """The time zone quiet hours and day boundaries are read in."""
        if self.timezone == "local":
            local = datetime.now().astimezone().tzinfo
            if local is None:  # astimezone() always sets one; this keeps the type honest
                raise AssertionError("the local time zone is unknown")
            return local
        return ZoneInfo(self.timezone)


DEFAULT_QUIET_HOURS = QuietHours(time(23, 0), time(6, 0))
DEFAULT_TIMEOUT_S = 5.0
DEFAULT_REFRESH_HZ = 4.0


def default_config_path() -> Path:
    """``<user config dir>/config.toml`` (on Linux ~/.config/homescope/config.toml). Not created."""
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME)) / "config.toml"


def default_data_dir() -> Path:
    """The user data folder (on Linux ~/.local/share/homescope). Not created."""
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME))


# ---- reading values ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Origin:
    """Where values come from, for messages, and what relative paths are relative to."""

    name: str
    base_dir: Path


class _InvalidValueError(Exception):
    """A value of the wrong type or form; `expected` completes "expected ..."."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a table"
    return f"a {type(value).__name__}"


def _boolean(value: object, origin: _Origin) -> bool:
    if isinstance(value, bool):
        return value
    raise _InvalidValueError("true or false")


def _positive_number(limit: float, unit: str) -> Callable[[object, _Origin], float]:
    def parse(value: object, origin: _Origin) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= limit:
            return float(value)
        raise _InvalidValueError(f"a number of {unit} above 0 and at most {limit:g}")

    return parse


_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)", re.IGNORECASE)


def _byte_size(value: object, origin: _Origin) -> int:
    """A size in bytes: a number, or a string such as "500 MB" or "2 GiB"."""
    expected = 'a size above 0: a number of bytes, or a string such as "500 MB" or "2 GiB"'
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and (match := _SIZE.fullmatch(value.strip())):
        unit = match[2].lower()
        base = 1024 if unit.endswith("ib") or unit.endswith("i") else 1000
        power = "bkmgt".index(unit[0]) if unit and unit[0] != "b" else 0
        size = int(float(match[1]) * base**power)
        if size > 0:
            return size
    raise _InvalidValueError(expected)


def _path(value: object, origin: _Origin) -> Path:
    if isinstance(value, str | os.PathLike) and str(value):
        path = Path(value).expanduser()
        return path if path.is_absolute() else origin.base_dir / path
    raise _InvalidValueError("a path (a non-empty string)")


def _home_prefixes(value: object, origin: _Origin) -> tuple[IPNetwork, ...]:
    expected = 'a list of prefixes such as ["192.168.1.0/24", "2001:db8:1::/64"]'
    if not isinstance(value, list | tuple):
        raise _InvalidValueError(expected)
    prefixes: list[IPNetwork] = []
    for item in value:
        if not isinstance(item, str):
            raise _InvalidValueError(f"{expected}, not {_describe(item)} in it")
        try:
            prefixes.append(check_home_prefix(item))
        except ValueError as err:
            raise _InvalidValueError(f"{expected}; {item!r}: {err}") from err
    return tuple(prefixes)


_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


def _clock_time(value: object, origin: _Origin) -> time:
    if isinstance(value, time) and value.tzinfo is None:
        return value.replace(second=0, microsecond=0)
    if isinstance(value, str) and (match := _CLOCK.fullmatch(value.strip())):
        return time(int(match[1]), int(match[2]))
    raise _InvalidValueError('a time of day as "HH:MM", such as "23:00"')


def _timezone(value: object, origin: _Origin) -> str:
    expected = 'an IANA time zone name such as "Europe/Berlin", or "local"'
    if not isinstance(value, str) or not value.strip():
        raise _InvalidValueError(expected)
    name = value.strip()
    if name == "local":
        return name
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise _InvalidValueError(f"{expected} (no time zone {name!r} is known here)") from err
    return name


def _frozen(value: object) -> object:
    """TOML values made read-only: tables become mapping proxies, arrays tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({key: _frozen(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_frozen(item) for item in value)
    return value


def _findings(value: object, origin: _Origin) -> dict[str, Mapping[str, object]]:
    if not isinstance(value, Mapping):
        raise _InvalidValueError("a table of per-rule tables, such as [findings.night_traffic]")
    rules: dict[str, Mapping[str, object]] = {}
    for rule, table in value.items():
        if not isinstance(table, Mapping):
            raise _InvalidValueError(f"a table for every rule, but {rule!r} is {_describe(table)}")
        rules[str(rule)] = dict(table)
    return rules


_FIELDS: Mapping[str, Callable[[object, _Origin], object]] = MappingProxyType(
    {
        "home_prefixes": _home_prefixes,
        "cgnat_is_local": _boolean,
        "labels_file": _path,
        "quiet_hours.start": _clock_time,
        "quiet_hours.end": _clock_time,
        "timezone": _timezone,
        "data_dir": _path,
        "store_path": _path,
        "lookups.allow_online": _boolean,
        "lookups.timeout_s": _positive_number(120, "seconds"),
        "lookups.cache_dir": _path,
        "findings": _findings,
        "ui.refresh_hz": _positive_number(60, "refreshes a second"),
        "store.retention_days": _positive_number(36500, "days"),
        "store.max_bytes": _byte_size,
    }
)
_SECTIONS = frozenset(key.split(".")[0] for key in _FIELDS if "." in key)


def _unknown_key(origin: _Origin, key: str) -> ConfigError:
    known = sorted({*_FIELDS, *_SECTIONS})
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"{origin.name}: unknown key {key!r}{hint}")


def _parse_value(origin: _Origin, key: str, value: object) -> object:
    try:
        return _FIELDS[key](value, origin)
    except _InvalidValueError as err:
        raise ConfigError(
            f"{origin.name}: {key!r}: expected {err.expected}, got {_describe(value)}"
        ) from None


def _parse_table(origin: _Origin, table: Mapping[str, object]) -> dict[str, object]:
    """Settings from one TOML-shaped table, as {dotted key: typed value}."""
    parsed: dict[str, object] = {}
    for key, value in table.items():
        if key in _SECTIONS:
            if not isinstance(value, Mapping):
                raise ConfigError(f"{origin.name}: {key!r}: expected a table, got {_describe(value)}")
            for sub, sub_value in value.items():
                dotted = f"{key}.{sub}"
                if dotted not in _FIELDS:
                    raise _unknown_key(origin, dotted)
                parsed[dotted] = _parse_value(origin, dotted, sub_value)
        elif key in _FIELDS:
            parsed[key] = _parse_value(origin, key, value)
        else:
            raise _unknown_key(origin, key)
    return parsed


# ---- the layers --------------------------------------------------------------------------------------------


def _env(name: str) -> str | None:
    value = os.environ.get(name, "")
    return value or None


def _config_file(path: Path | None) -> tuple[Path, bool]:
    """The file to read and whether it was named explicitly (then it must exist)."""
    if path is not None:
        return path.expanduser(), True
    named = _env(ENV_CONFIG)
    if named is not None:
        return Path(named).expanduser(), True
    return default_config_path(), False


def _read_file(path: Path, explicit: bool) -> dict[str, object] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"{path}: no such configuration file") from None
        return None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a configuration file") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot be read: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None


def _environment_layer() -> dict[str, object]:
    parsed: dict[str, object] = {}
    for name, key in ENVIRONMENT.items():
        raw = _env(name)
        if raw is None:
            continue
        value: object = (
            [part.strip() for part in raw.split(",") if part.strip()] if name in _LIST_VARIABLES else raw
        )
        parsed[key] = _parse_value(_Origin(f"environment variable {name}", Path.cwd()), key, value)
    return parsed


def _override_layer(overrides: Mapping[str, object]) -> dict[str, object]:
    origin = _Origin("command-line setting", Path.cwd())
    nested: dict[str, object] = {}
    for key, value in overrides.items():
        *parents, leaf = key.split(".")
        table = nested
        for part in parents:
            child = table.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{origin.name}: {key!r} is set both as a value and as a table")
            table = child
        table[leaf] = dict(value) if isinstance(value, Mapping) else value
    return _parse_table(origin, nested)


def load_settings(path: Path | None = None, overrides: Mapping[str, object] | None = None) -> Settings:
    """Read the settings (see the module docstring for where each comes from). Raises ConfigError."""
    file_path, explicit = _config_file(path)
    raw = _read_file(file_path, explicit)
    layers: list[dict[str, object]] = []
    if raw is not None:
        layers.append(_parse_table(_Origin(str(file_path), file_path.parent.resolve()), raw))
    layers.append(_environment_layer())
    if overrides:
        layers.append(_override_layer(overrides))

    merged: dict[str, object] = {}
    findings: dict[str, dict[str, object]] = {}
    for layer in layers:
        for key, value in layer.items():
            if key == "findings" and isinstance(value, dict):
                # a stronger layer changes single options of a rule, not the whole rule
                for rule, options in value.items():
                    findings.setdefault(rule, {}).update(options)
            else:
                merged[key] = value
    return _settings(merged, findings, file_path if raw is not None else None)


def default_settings() -> Settings:
    """The built-in defaults, without reading any file or environment variable."""
    return _settings({}, {}, None)


def _settings(merged: Mapping[str, object], findings: Mapping[str, object], source: Path | None) -> Settings:
    def get(key: str, default: object) -> object:
        return merged.get(key, default)

    data_dir = _as(Path, get("data_dir", None) or default_data_dir())
    quiet = QuietHours(
        _as(time, get("quiet_hours.start", DEFAULT_QUIET_HOURS.start)),
        _as(time, get("quiet_hours.end", DEFAULT_QUIET_HOURS.end)),
    )
    if quiet.start == quiet.end:
        where = source if source is not None else "settings"
        raise ConfigError(
            f"{where}: 'quiet_hours': start and end are both {quiet.start:%H:%M}: expected a window"
        )
    return Settings(
        home_prefixes=_as(tuple, get("home_prefixes", ())),
        cgnat_is_local=_as(bool, get("cgnat_is_local", False)),
        labels_file=_as(Path, get("labels_file", None) or default_config_path().parent / "labels.toml"),
        quiet_hours=quiet,
        timezone=_as(str, get("timezone", "local")),
        data_dir=data_dir,
        store_path=_as(Path, get("store_path", None) or data_dir / "homescope.db"),
        lookups=LookupSettings(
            allow_online=_as(bool, get("lookups.allow_online", False)),
            timeout_s=_as(float, get("lookups.timeout_s", DEFAULT_TIMEOUT_S)),
            cache_dir=_as(Path, get("lookups.cache_dir", None) or data_dir / "cache"),
        ),
        findings=_as(MappingProxyType, _frozen(findings)),
        ui=UiSettings(refresh_hz=_as(float, get("ui.refresh_hz", DEFAULT_REFRESH_HZ))),
        store=StoreSettings(
            retention_days=_optional(float, get("store.retention_days", None)),
            max_bytes=_optional(int, get("store.max_bytes", None)),
        ),
        source=source,
    )


def _optional(kind: type[_T], value: object) -> _T | None:
    return None if value is None else _as(kind, value)


def _as(kind: type[_T], value: object) -> _T:
    """The parsers above guarantee each key's type; this states it for the type checker."""
    if not isinstance(value, kind):
        raise AssertionError(f"expected {kind.__name__}, got {type(value).__name__}")
    return value
