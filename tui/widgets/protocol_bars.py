"""The protocol breakdown: bytes and packets per protocol as bars, the encrypted/plaintext share and the
IPv4/IPv6 share."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult, RenderResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widget import Widget

from engine.report.formatting import human_bytes, human_count
from tui.model.dashboard import ProtocolModel
from tui.model.formatting import bar_text, share_text

PROTECTION_STYLES = {"encrypted": "$text-success", "plaintext": "$text-warning", "unknown": "$text-muted"}
VERSION_STYLES = {"IPv4": "$text-primary", "IPv6": "$text-accent", "not IP": "$text-muted"}
NAME_WIDTH = 13


def stacked_bar(parts: Sequence[tuple[str, int]], styles: dict[str, str], width: int) -> Content:
    """One bar split into coloured parts, followed by a legend with each part's share, in `width` cells."""
    total = sum(n for _, n in parts) or 1
    legend: list[str | tuple[str, str]] = []
    for name, n in parts:
        if n:
            legend += ["  ", (f"{name} {share_text(n / total)}", styles.get(name, ""))]
    legend_width = sum(len(p if isinstance(p, str) else p[0]) for p in legend)
    width, full_width = max(6, min(24, width - legend_width)), width
    pieces: list[tuple[str, str]] = []
    used = 0
    for i, (name, n) in enumerate(parts):
        cells = width - used if i == len(parts) - 1 and n else round(n / total * width)
        cells = max(0, min(cells, width - used))
        pieces.append(("█" * cells, styles.get(name, "")))
        used += cells
    if used < width:
        pieces.append(("░" * (width - used), "$text-muted"))
    return Content.assemble(*pieces, *legend).truncate(full_width, ellipsis=True)


def protocol_lines(model: ProtocolModel, width: int) -> Content:
    if not model.rows:
        return Content.styled("No traffic yet", "$text-muted")
    width = max(width, 30)
    with_packets = width >= 60  # a narrow pane shows bytes only
    numbers = 1 + 7 + 1 + 5 + (2 + 1 + 7 if with_packets else 0)
    bars = max(4, width - NAME_WIDTH - numbers)
    bytes_bar = bars * 3 // 5 if with_packets else bars
    packets_bar = bars - bytes_bar
    lines = [
        stacked_bar(model.protection, PROTECTION_STYLES, width),
        stacked_bar(model.ip_versions, VERSION_STYLES, width),
        Content.assemble(
            (" " * NAME_WIDTH, ""),
            ("bytes".ljust(bytes_bar + 1 + 7 + 1 + 5), "$text-muted"),
            ("   packets" if with_packets else "", "$text-muted"),
        ),
    ]
    top_bytes = max(r.bytes for r in model.rows) or 1
    top_packets = max(r.packets for r in model.rows) or 1
    for r in model.rows:
        style = PROTECTION_STYLES.get(r.protection, "")
        parts: list[str | tuple[str, str]] = [
            (r.name[: NAME_WIDTH - 1].ljust(NAME_WIDTH), style),
            (bar_text(r.bytes / top_bytes, bytes_bar), "$text-primary"),
            f" {human_bytes(r.bytes):>7} {share_text(r.share):>5}",
        ]
        if with_packets:
            parts += ["  ", (bar_text(r.packets / top_packets, packets_bar - 1), "$text-secondary")]
            parts += [f" {human_count(r.packets):>7}"]
        lines.append(Content.assemble(*parts))
    return Content("\n").join(lines)


class ProtocolLines(Widget):
    DEFAULT_CSS = """
    ProtocolLines {
        height: auto;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.model = ProtocolModel()

    def render(self) -> RenderResult:
        return protocol_lines(self.model, self.size.width)


class ProtocolBars(VerticalScroll):
    """A focusable, scrollable pane of protocol bars."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.lines = ProtocolLines()  # made here: a model may arrive before compose

    def compose(self) -> ComposeResult:
        yield self.lines

    def on_mount(self) -> None:
        self.border_title = "Protocols"

    def show(self, model: ProtocolModel) -> None:
        lines = self.lines
        if model != lines.model:
            height_changed = len(model.rows) != len(lines.model.rows)
            lines.model = model
            lines.refresh(layout=height_changed)
        self.border_subtitle = f"{len(model.rows)} protocols"
