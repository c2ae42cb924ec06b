"""Options of the finding rules: each rule declares its options with a default, a type and a description;
`Settings.findings[<rule>]` (the ``[findings.<rule>]`` tables of the configuration) overrides them.

Unknown rules, unknown options and values of the wrong type are `ConfigError`s that name the rule and the
option, like every other configuration error.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from engine.errors import ConfigError
from engine.findings.model import Severity

OptionType = Literal["bool", "int", "float", "str", "severity", "strings", "ints"]
_EXPECTED = {
    "bool": "true or false",
    "int": "a whole number",
    "float": "a number",
    "str": "a string",
    "severity": 'one of "info", "notice", "warning"',
    "strings": 'a list of strings, such as ["a", "b"]',
    "ints": "a list of whole numbers, such as [502, 20000]",
}


@dataclass(frozen=True, slots=True)
class Option:
    """One option of a rule. `minimum` bounds numbers (inclusive)."""

    name: str
    default: object
    type: OptionType
    help: str
    minimum: float | None = None


ENABLED = Option("enabled", True, "bool", "run this rule")


class _BadValueError(Exception):
    pass


def _parse(option: Option, value: object) -> object:
    kind = option.type
    if kind == "bool":
        if isinstance(value, bool):
            return value
        raise _BadValueError
    if kind in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _BadValueError
        if kind == "int" and not (isinstance(value, int) or float(value).is_integer()):
            raise _BadValueError
        number = int(value) if kind == "int" else float(value)
        if option.minimum is not None and number < option.minimum:
            raise _BadValueError
        return number
    if kind == "str":
        if isinstance(value, str):
            return value
        raise _BadValueError
    if kind == "severity":
        if isinstance(value, str):
            try:
                return Severity.parse(value)
            except ValueError:
                raise _BadValueError from None
        raise _BadValueError
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise _BadValueError
    if kind == "strings":
        if all(isinstance(v, str) for v in value):
            return tuple(str(v) for v in value)
        raise _BadValueError
    numbers = [v for v in value if isinstance(v, int) and not isinstance(v, bool)]
    if len(numbers) == len(value):
        return tuple(numbers)
    raise _BadValueError


def _expected(option: Option) -> str:
    text = _EXPECTED[option.type]
    if option.minimum is not None:
        text += f" of at least {option.minimum:g}"
    return text


class Options:
    """The resolved options of one rule, with typed getters."""

    def __init__(self, rule: str, values: Mapping[str, object]) -> None:
        self.rule = rule
        self._values = dict(values)

    def _get(self, name: str) -> object:
        try:
            return self._values[name]
        except KeyError:
            raise AssertionError(f"rule {self.rule} has no option {name!r}") from None

    def flag(self, name: str) -> bool:
        value = self._get(name)
        assert isinstance(value, bool)
        return value

    def integer(self, name: str) -> int:
        value = self._get(name)
        assert isinstance(value, int) and not isinstance(value, bool)
        return value

    def number(self, name: str) -> float:
        value = self._get(name)
        assert isinstance(value, int | float) and not isinstance(value, bool)
        return float(value)

    def text(self, name: str) -> str:
        value = self._get(name)
        assert isinstance(value, str)
        return value

    def severity(self, name: str) -> Severity:
        value = self._get(name)
        assert isinstance(value, Severity)
        return value

    def strings(self, name: str) -> tuple[str, ...]:
        value = self._get(name)
        assert isinstance(value, tuple)
        return tuple(str(v) for v in value)

    def ints(self, name: str) -> tuple[int, ...]:
        value = self._get(name)
        assert isinstance(value, tuple)
        return tuple(int(v) for v in value)

    def as_dict(self) -> dict[str, object]:
        return {k: (str(v) if isinstance(v, Severity) else v) for k, v in self._values.items()}


def resolve_options(rule: str, options: Sequence[Option], given: Mapping[str, object] | None) -> Options:
    """The rule's options: defaults, overridden by `given` (a ``[findings.<rule>]`` table). Raises
    ConfigError for an unknown option or a value of the wrong type."""
    known = {o.name: o for o in options}
    values: dict[str, object] = {}
    for option in options:
        values[option.name] = _parse(option, option.default)
    for name, value in (given or {}).items():
        found = known.get(name)
        if found is None:
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"findings.{rule}: unknown option {name!r}{hint}; known: {', '.join(sorted(known))}"
            )
        try:
            values[name] = _parse(found, value)
        except _BadValueError:
            raise ConfigError(f"findings.{rule}.{name}: expected {_expected(found)}, got {value!r}") from None
    return Options(rule, values)
