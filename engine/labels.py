"""User labels for devices ("Vacuum robot"), kept in a small TOML file, and which device a label names.

The file (default ``<config dir>/labels.toml``, see `engine.config`) holds one ``[labels]`` table; each key is
a MAC address, an IP address or a host name, each value the label::

    # Devices at home
    [labels]
    "b8:27:eb:12:34:56" = "Pi access point"
    "192.168.1.20" = "NAS"              # fixed DHCP lease
    "vacuum.lan" = "Vacuum robot"

Keys are quoted (a host name with dots must be: unquoted, TOML reads the dots as nested tables). MACs may be
spelt aa:bb:cc:dd:ee:ff, AA-BB-CC-DD-EE-FF, aabb.ccdd.eeff or aabbccddeeff, and match whatever their case;
host names match exactly but case-insensitively, a trailing dot aside. Keys that name the same thing twice
(AA:BB:... and aa-bb-...) are an error. Twelve hex digits, or three dot-separated groups of four, are read as
a MAC, not as a host name.

A device that matches more than one entry gets the label of its MAC first (IP addresses change), then of its
IP addresses, then of its host names, in the order the caller gives them.

`set_label` and `remove_label` edit the file in place, keeping every other line (comments included), and
write it atomically (a temporary file renamed over the old one). They edit one entry per line, so they refuse,
with a ConfigError and without touching the file, a file they cannot edit safely: a multi-line value, content
outside the ``[labels]`` table. A comment at the end of an entry that is replaced goes with it.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import stat
import tempfile
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

from engine.errors import ConfigError
from engine.mac_vendor import MacLike, format_mac

TABLE = "labels"
NEW_FILE_HEADER = (
    "# homescope device labels: a MAC address, an IP address or a host name, and its label.\n"
    "# A MAC wins over an IP address, an IP address over a host name.\n"
)
_HEADER_LINE = re.compile(r"\s*\[\s*labels\s*\]\s*(#.*)?")
_HOSTNAME_PART = re.compile(r"[^\W_](?:[\w-]*[^\W_])?")  # letters and digits, with - and _ inside
_DIGITS_AND_DOTS = re.compile(r"[\d.]+")


class LabelKind(StrEnum):
    MAC = "mac"
    IP = "ip"
    HOSTNAME = "hostname"


class LabelMatch(NamedTuple):
    label: str
    matched: str  # the entry's key, normalised: "aa:bb:cc:dd:ee:ff", "192.168.1.20", "vacuum.lan"


# ---- keys --------------------------------------------------------------------------------------------------


def _normal_ip(text: str) -> str:
    ip = ipaddress.ip_address(text)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # the engine shows IPv4-mapped addresses as IPv4
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Address(int(ip)))  # without a zone such as %wlan0
    return str(ip)


def _normal_hostname(text: str) -> str:
    return text.strip().rstrip(".").lower()


def _is_hostname(name: str) -> bool:
    if not name or len(name) > 253 or _DIGITS_AND_DOTS.fullmatch(name):
        return False  # all digits and dots: a mistyped IPv4 address, not a name
    return all(len(part) <= 63 and _HOSTNAME_PART.fullmatch(part) for part in name.split("."))


def normalise_key(key: str) -> tuple[LabelKind, str]:
    """What a label key names, in its normal spelling. Raises ValueError for anything else."""
    text = key.strip()
    try:
        return LabelKind.MAC, format_mac(text)
    except ValueError:
        pass  # not a MAC: an IP address or a host name, perhaps
    try:
        return LabelKind.IP, _normal_ip(text)
    except ValueError:
        pass  # not an IP address either
    name = _normal_hostname(text)
    if _is_hostname(name):
        return LabelKind.HOSTNAME, name
    raise ValueError(f"{key!r} is neither a MAC address, an IP address nor a host name")


def _check_label(label: object) -> str:
    if not isinstance(label, str):
        raise ValueError("expected a label (a string)")
    text = label.strip()
    if not text:
        raise ValueError("the label is empty")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise ValueError("the label holds control characters (line breaks, tabs, ...)")
    return text


# ---- reading -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Labels:
    """Labels by normalised key, one mapping per kind of key. `source` is the file read, if any."""

    by_mac: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    by_ip: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    by_hostname: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    source: Path | None = None

    @classmethod
    def load(cls, path: Path) -> Labels:
        """Read a labels file; a missing file means no labels. Raises ConfigError for an invalid one."""
        text = _read_text(path)
        if text is None:
            return cls(source=path)
        return cls.from_entries(_table_of(path, text), origin=str(path), source=path)

    @classmethod
    def from_entries(
        cls, entries: Mapping[str, object], *, origin: str, source: Path | None = None
    ) -> Labels:
        """Labels from {key: label}; `origin` names them in errors. Raises ConfigError."""
        kinds: dict[LabelKind, dict[str, str]] = {kind: {} for kind in LabelKind}
        spelt: dict[tuple[LabelKind, str], str] = {}
        for key, label in entries.items():
            try:
                kind, normal = normalise_key(key)
                text = _check_label(label)
            except ValueError as err:
                hint = ""
                if isinstance(label, Mapping):
                    hint = f' (quote keys that contain dots: "{key}.…" = "label")'
                raise ConfigError(f"{origin}: [labels] {key!r}: {err}{hint}") from None
            if (kind, normal) in spelt:
                raise ConfigError(
                    f"{origin}: [labels] {spelt[kind, normal]!r} and {key!r} "
                    f"name the same {kind.value} {normal}"
                )
            spelt[kind, normal] = key
            kinds[kind][normal] = text
        return cls(
            by_mac=MappingProxyType(kinds[LabelKind.MAC]),
            by_ip=MappingProxyType(kinds[LabelKind.IP]),
            by_hostname=MappingProxyType(kinds[LabelKind.HOSTNAME]),
            source=source,
        )

    def __len__(self) -> int:
        return len(self.by_mac) + len(self.by_ip) + len(self.by_hostname)

    def entries(self) -> dict[tuple[LabelKind, str], str]:
        """Every label by (kind, normalised key)."""
        result = {(LabelKind.MAC, key): label for key, label in self.by_mac.items()}
        result |= {(LabelKind.IP, key): label for key, label in self.by_ip.items()}
        result |= {(LabelKind.HOSTNAME, key): label for key, label in self.by_hostname.items()}
        return result

    def label_for(
        self, mac: MacLike | None, ips: Iterable[str] = (), hostnames: Iterable[str] = ()
    ) -> LabelMatch | None:
        """The label of a device, and the key it matched: by MAC, else IP address, else host name.

        Raises ValueError for a MAC or IP address that cannot be parsed (host names are taken as they are).
        """
        if mac is not None and self.by_mac:
            key = format_mac(mac)
            if key in self.by_mac:
                return LabelMatch(self.by_mac[key], key)
        if self.by_ip:
            for ip in ips:
                key = _normal_ip(ip)
                if key in self.by_ip:
                    return LabelMatch(self.by_ip[key], key)
        if self.by_hostname:
            for name in hostnames:
                key = _normal_hostname(name)
                if key in self.by_hostname:
                    return LabelMatch(self.by_hostname[key], key)
        return None


def _read_text(path: Path) -> str | None:
    try:
        # bytes, then decode: reading as text would turn CRLF line ends into LF, and editing would change them
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot be read: {err.strerror or err}") from None


def _table_of(path: Path, text: str) -> Mapping[str, object]:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    other = sorted(key for key in document if key != TABLE)
    if other:
        raise ConfigError(f"{path}: unknown key {other[0]!r}: a labels file holds only a [labels] table")
    table = document.get(TABLE, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: 'labels' must be a table ([labels]), not a value")
    return table


# ---- editing -----------------------------------------------------------------------------------------------


def _toml_string(text: str) -> str:
    # JSON string escapes are a subset of TOML basic-string escapes; the round trip below checks the result
    return json.dumps(text, ensure_ascii=False)


@dataclass(slots=True)
class _EditableFile:
    """A labels file as lines, with where its [labels] header and each entry are."""

    path: Path
    lines: list[str]
    newline: str
    header: int | None  # line index of [labels]
    entries: dict[tuple[LabelKind, str], int]  # normalised key -> line index
    labels: Labels  # what the file says now

    @classmethod
    def read(cls, path: Path) -> _EditableFile:
        text = _read_text(path)
        if text is None:
            return cls(path, [], "\n", None, {}, Labels())
        labels = Labels.from_entries(_table_of(path, text), origin=str(path))  # refuses an invalid file
        # split on line feeds only: str.splitlines would also split at characters TOML keeps inside a line
        lines = re.findall(r"[^\n]*\n|[^\n]+", text)
        newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
        header: int | None = None
        entries: dict[tuple[LabelKind, str], int] = {}
        for i, line in enumerate(lines):
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if header is None and _HEADER_LINE.fullmatch(stripped):
                header = i
                continue
            key = _entry_key(line) if header is not None else None
            if key is None:
                raise ConfigError(
                    f'{path}: line {i + 1} cannot be edited safely: keep one quoted key = "label" per line '
                    "in a single [labels] table, or edit the file by hand",
                    title="Labels file not changed",
                )
            entries[normalise_key(key)] = i
        return cls(path, lines, newline, header, entries, labels)

    def append(self, line: str) -> None:
        if self.lines and not self.lines[-1].endswith("\n"):
            self.lines[-1] += self.newline  # the old last line had no line break
        self.lines.append(line)

    def write(self, expected: Mapping[tuple[LabelKind, str], str]) -> None:
        text = "".join(self.lines)
        # the edit must mean exactly the intended change, or the file is left as it was
        after = Labels.from_entries(_table_of(self.path, text), origin=str(self.path))
        if after.entries() != dict(expected):
            raise ConfigError(
                f"{self.path}: the edited file would not read back as intended; it was not changed",
                title="Labels file not changed",
            )
        _write_atomically(self.path, text)


def _entry_key(line: str) -> str | None:
    """The key of a one-line `key = "label"` entry, or None when the line is anything else."""
    try:
        parsed = tomllib.loads(line)
    except tomllib.TOMLDecodeError:
        return None  # e.g. the first line of a multi-line string: not an entry this module can edit
    if len(parsed) == 1:
        ((key, value),) = parsed.items()
        if isinstance(value, str):
            return key
    return None


def _write_atomically(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # a new file is private (0600, what mkstemp gives); an existing one keeps its mode
        mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else None
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            if mode is not None:
                tmp.chmod(mode)
            tmp.replace(path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as err:
        raise ConfigError(
            f"{path}: cannot be written: {err.strerror or err}", title="Labels not saved"
        ) from None


def _target(path: Path) -> Path:
    # writing through a symbolic link keeps the link (dotfile managers use them)
    return path.resolve() if path.is_symlink() else path


def set_label(path: Path, key: str, label: str) -> str:
    """Give the device named by `key` the label `label` in the labels file at `path`, creating the file if
    needed; returns the key as written (normalised). Raises ConfigError for an invalid key or label, or a
    file that cannot be edited safely."""
    try:
        kind, normal = normalise_key(key)
        text = _check_label(label)
    except ValueError as err:
        raise ConfigError(str(err), title="Invalid label") from None
    path = _target(path)
    edit = _EditableFile.read(path)
    expected = edit.labels.entries() | {(kind, normal): text}
    entry = f"{_toml_string(normal)} = {_toml_string(text)}{edit.newline}"
    at = edit.entries.get((kind, normal))
    if at is not None:
        edit.lines[at] = entry
    else:
        if edit.header is None:
            if not edit.lines:
                edit.lines.append(NEW_FILE_HEADER)
            edit.append(f"[{TABLE}]{edit.newline}")
            edit.header = len(edit.lines) - 1
        after = max(edit.entries.values(), default=edit.header)
        if after + 1 == len(edit.lines):
            edit.append(entry)
        else:
            edit.lines.insert(after + 1, entry)
    edit.write(expected)
    return normal


def remove_label(path: Path, key: str) -> bool:
    """Remove the label of the device named by `key`; False when it had none (or there is no file).
    Raises ConfigError for an invalid key or a file that cannot be edited safely."""
    try:
        kind, normal = normalise_key(key)
    except ValueError as err:
        raise ConfigError(str(err), title="Invalid label") from None
    path = _target(path)
    edit = _EditableFile.read(path)
    at = edit.entries.get((kind, normal))
    if at is None:
        return False
    expected = edit.labels.entries()
    del expected[kind, normal]
    del edit.lines[at]
    edit.write(expected)
    return True
