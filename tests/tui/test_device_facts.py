"""The device facts take more columns when they would not fit in the lines the screen gives them."""

from __future__ import annotations

from tui.widgets.device_facts import DeviceFacts


def facts(n: int) -> list[tuple[str, str]]:
    return [(f"Fact {i}", f"value {i}") for i in range(n)]


def test_one_column_while_the_facts_fit() -> None:
    widget = DeviceFacts()
    widget.show(facts(5))
    widget.set_max_lines(6)
    assert widget.columns_for(118) == 1


def test_more_columns_when_they_do_not_fit() -> None:
    widget = DeviceFacts()
    widget.show(facts(10))
    widget.set_max_lines(6)
    assert widget.columns_for(118) == 2  # 5 lines
    widget.set_max_lines(3)
    assert widget.columns_for(78) == 2  # as many as 80 columns hold: 5 lines, cut to 3 by the box
    assert widget.columns_for(118) == 3  # 4 lines
    assert widget.columns_for(30) == 1
