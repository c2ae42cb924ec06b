"""Timelines: sparklines of the last minutes (all traffic, the selected device) over a chart of the
whole capture."""

from __future__ import annotations

import datetime as dt

from textual.app import ComposeResult, RenderResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Label, Sparkline

from tui.model.dashboard import TimelineModel
from tui.model.formatting import rate_text
from tui.widgets.traffic_chart import TrafficChart


class Caption(Widget):
    """A one-line text of fixed width. Unlike a Label, changing it repaints without a layout pass."""

    text: reactive[str] = reactive("")

    def __init__(self, text: str = "", *, classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self.set_reactive(Caption.text, text)

    def render(self) -> RenderResult:
        return self.text


class Timelines(Vertical, can_focus=True):
    DEFAULT_CSS = """
    Timelines .spark-row {
        height: 1;
    }
    Timelines .spark-label {
        width: 24;
        height: 1;
        color: $text-muted;
    }
    Timelines .spark-rate {
        width: 11;
        height: 1;
        text-align: right;
    }
    Timelines Sparkline {
        width: 1fr;
        margin: 0 1;
    }
    """

    def __init__(self, *, tz: dt.tzinfo, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.tz = tz
        self.model = TimelineModel()
        # made here: a model may arrive before compose
        self.total_spark = Sparkline([], id="total-spark")
        self.total_rate = Caption("-", classes="spark-rate")
        self.device_label = Caption("No device selected", classes="spark-label")
        self.device_spark = Sparkline([], id="device-spark")
        self.device_rate = Caption("-", classes="spark-rate")
        self.chart = TrafficChart(tz=tz, id="chart")

    def compose(self) -> ComposeResult:
        with Horizontal(classes="spark-row"):
            yield Label("All traffic (4 min)", classes="spark-label")
            yield self.total_spark
            yield self.total_rate
        with Horizontal(classes="spark-row"):
            yield self.device_label
            yield self.device_spark
            yield self.device_rate
        yield self.chart

    def on_mount(self) -> None:
        self.border_title = "Traffic"

    def show(self, model: TimelineModel) -> None:
        if model == self.model:
            return
        self.model = model
        self.total_spark.data = list(model.recent_total.values)
        self.total_rate.text = rate_text(model.total_rate)
        if model.selected_name is not None and model.recent_selected is not None:
            self.device_label.text = f"{model.selected_name[:17]} (2 h)"
            self.device_spark.data = list(model.recent_selected.values)
            self.device_rate.text = rate_text(model.selected_rate)
        else:
            self.device_label.text = "No device selected"
            self.device_spark.data = []
            self.device_rate.text = "-"
        lines = [("all", model.long_total)]
        if model.long_selected is not None and model.selected_name:
            lines.append((model.selected_name[:16], model.long_selected))
        self.chart.show(lines)
        span = len(model.long_total.values) * model.long_total.resolution
        res = {60: "per minute", 900: "per 15 min", 3600: "per hour"}.get(model.long_total.resolution, "")
        self.border_subtitle = f"{self.chart.unit} {res}, {span // 60:,} min" if span else ""
