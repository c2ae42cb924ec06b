"""The packets of one flow, read again from the capture file with tshark in a worker: each packet's
layers and fields as a tree, and its payload as text and hex ("follow stream")."""

from __future__ import annotations

import datetime as dt

from textual import work
from textual.app import ComposeResult
from textual.widgets import Footer, Static, Tree

from tui.actions import bindings_for
from tui.model.investigation import FlowEndpoints
from tui.model.packet_layers import FlowPackets, PacketsUnavailable, hex_dump, payload_text, read_flow_packets
from tui.screens.investigation_screen import InvestigationScreen
from tui.widgets.status_bar import StatusBar

PAYLOAD_LINES = 64  # hex lines per packet


class PacketsScreen(InvestigationScreen):
    SCOPE = "packets"
    BINDINGS = bindings_for("packets")

    def __init__(
        self, flow: FlowEndpoints, paths: tuple[str, ...], *, live: bool, tz: dt.tzinfo, stable: bool = False
    ) -> None:
        super().__init__(tz=tz, stable=stable)
        self.flow = flow
        self.paths = paths
        self.live = live
        self.result: FlowPackets | None = None
        self.problem: str | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar(tz=self.tz, stable=self.stable)
        yield Static("Reading the packets with tshark…", id="packets-message")
        tree: Tree[None] = Tree(self._title(), id="packets", classes="pane")
        tree.show_root = False
        yield tree
        yield Footer(compact=True, show_command_palette=False)

    def _title(self) -> str:
        f = self.flow
        return f"{f.protocol} {f.client}:{f.client_port} -> {f.server}:{f.server_port} (flow #{f.serial})"

    def on_mount(self) -> None:
        tree = self.query_one("#packets", Tree)
        tree.border_title = self._title()
        tree.focus()
        self._read()
        super().on_mount()

    @work(thread=True, exclusive=True, group="packets", exit_on_error=False)
    def _read(self) -> None:
        try:
            result: FlowPackets | str = read_flow_packets(self.flow, self.paths, self.tz, live=self.live)
        except PacketsUnavailable as err:
            result = str(err)
        self.app.call_from_thread(self._show, result)

    def _show(self, result: FlowPackets | str) -> None:
        message = self.query_one("#packets-message", Static)
        if isinstance(result, str):
            self.problem = result
            message.update(result)
            message.add_class("-problem")
            return
        self.result = result
        more = f" (the first {len(result.packets)})" if result.truncated else ""
        message.update(f"{len(result.packets)} packets{more} · tshark filter: {result.display_filter}")
        tree = self.query_one("#packets", Tree)
        for packet in result.packets:
            node = tree.root.add(f"#{packet.number} {packet.time} {packet.summary}", expand=False)
            for layer in packet.layers:
                branch = node.add(layer.name.upper())
                for name, value in layer.fields:
                    branch.add_leaf(f"{name}: {value}")
            if packet.payload:
                text = node.add(f"payload as text ({len(packet.payload)} B)", expand=True)
                for line in payload_text(packet.payload).splitlines()[:PAYLOAD_LINES]:
                    text.add_leaf(line or " ")
                dump = node.add("payload as hex")
                for line in hex_dump(packet.payload)[:PAYLOAD_LINES]:
                    dump.add_leaf(line)
        if result.packets:
            tree.root.children[0].expand()
        tree.move_cursor(tree.root.children[0] if result.packets else None)
