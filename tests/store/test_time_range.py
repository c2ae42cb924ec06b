"""Times as people write them on the command line."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from engine.config import QuietHours
from engine.store.time_range import day_span, night_span, parse_time

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2024, 3, 5, 10, 30, tzinfo=BERLIN)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    return datetime(year, month, day, hour, minute, second, tzinfo=BERLIN).timestamp()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW.timestamp()),
        ("today", at(2024, 3, 5)),
        ("yesterday", at(2024, 3, 4)),
        ("yesterday 23:00", at(2024, 3, 4, 23)),
        ("today 06:30", at(2024, 3, 5, 6, 30)),
        ("23:00", at(2024, 3, 5, 23)),
        ("2024-03-01", at(2024, 3, 1)),
        ("2024-03-01 22:15", at(2024, 3, 1, 22, 15)),
        ("2024-03-01T22:15:30", at(2024, 3, 1, 22, 15, 30)),
        ("2024-03-01T22:15:00+00:00", datetime(2024, 3, 1, 22, 15, tzinfo=ZoneInfo("UTC")).timestamp()),
        ("2h", NOW.timestamp() - 7200),
        ("30m ago", NOW.timestamp() - 1800),
        ("-7d", NOW.timestamp() - 7 * 86400),
        ("@1709510400", 1709510400.0),
    ],
)
def test_forms(text: str, expected: float) -> None:
    assert parse_time(text, BERLIN, NOW) == expected


def test_nonsense_names_the_forms() -> None:
    with pytest.raises(ValueError, match="yesterday"):
        parse_time("last tuesday-ish", BERLIN, NOW)


def test_a_day_and_a_night() -> None:
    assert day_span("2024-03-01", BERLIN, NOW) == (at(2024, 3, 1), at(2024, 3, 2))
    assert day_span("yesterday", BERLIN, NOW) == (at(2024, 3, 4), at(2024, 3, 5))
    quiet = QuietHours(time(23, 0), time(6, 0))
    assert night_span(quiet, BERLIN, now=NOW) == (at(2024, 3, 4, 23), at(2024, 3, 5, 6))
    late = datetime(2024, 3, 5, 23, 30, tzinfo=BERLIN)
    assert night_span(quiet, BERLIN, now=late) == (at(2024, 3, 5, 23), at(2024, 3, 6, 6))
    assert night_span(quiet, BERLIN, "2024-03-01", now=NOW) == (at(2024, 3, 1, 23), at(2024, 3, 2, 6))
    # a day across a daylight saving change is 23 hours long
    spring = day_span("2024-03-31", BERLIN, NOW)
    assert spring[1] - spring[0] == 23 * 3600
