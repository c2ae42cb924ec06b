"""Every user action in one table: key bindings, the footer, the help screen and the command palette are
all generated from it, so they cannot drift apart.

`scope` says where an action lives: "app" (works everywhere), "dashboard" (the main screen), "device"
(the device screen), or "devices" (the device table, when it has focus); "remotes" (the top-remotes pane) and
the investigation screens: "findings", "finding", "remote", "flows", "packets" and "countries".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from textual.binding import Binding, BindingType

Scope = Literal[
    "app",
    "dashboard",
    "device",
    "devices",
    "remotes",
    "findings",
    "finding",
    "remote",
    "flows",
    "packets",
    "countries",
]


@dataclass(frozen=True, slots=True)
class UserAction:
    id: str  # stable: users may rebind by it
    keys: str  # Textual key names, comma-separated
    action: str  # the action method, without "action_"
    description: str  # a word or two, for the footer
    help: str  # a sentence, for the help screen and the palette
    scope: Scope
    show: bool = True  # in the footer
    key_display: str | None = None
    palette: bool = True  # listed in the command palette
    priority: bool = False


# fmt: off
ACTIONS: tuple[UserAction, ...] = (
    # everywhere
    UserAction(
        id="help", keys="question_mark", action="help", description="Help", key_display="?",
        help="Show every key and what it does", scope="app",
    ),
    UserAction(
        id="pause", keys="space", action="toggle_pause", description="Pause", key_display="space",
        help="Pause or resume the replay clock; live and following: freeze or unfreeze the screen",
        scope="app",
    ),
    UserAction(
        id="faster", keys="plus,equals_sign", action="faster", description="Speed", key_display="+/-",
        help="Replay faster: 1x, 10x, 60x, 600x, then as fast as possible", scope="app",
    ),
    UserAction(
        id="slower", keys="minus", action="slower", description="Slower", key_display="-",
        help="Replay slower", scope="app", show=False,
    ),
    UserAction(
        id="findings", keys="F", action="findings", description="Findings",
        help="Show the findings (beaconing, night traffic, DNS bypass, plaintext, ...), most severe first",
        scope="app",
    ),
    UserAction(id="quit", keys="q", action="quit", description="Quit", help="Quit homescope", scope="app"),
    # the dashboard
    UserAction(
        id="next-pane", keys="tab", action="next_pane", description="Pane", key_display="tab",
        help="Move to the next pane", scope="dashboard",
    ),
    UserAction(
        id="previous-pane", keys="shift+tab", action="previous_pane", description="Previous pane",
        help="Move to the previous pane", scope="dashboard", show=False,
    ),
    UserAction(
        id="filter", keys="slash", action="filter", description="Filter", key_display="/",
        help="Filter the focused pane (devices, DNS log or remotes) by name or address", scope="dashboard",
    ),
    UserAction(
        id="clear-filter", keys="escape", action="clear_filter", description="Clear filter",
        help="Clear every filter, or leave a zoomed pane", scope="dashboard", show=False,
    ),
    UserAction(
        id="follow", keys="f", action="follow_dns", description="Follow DNS",
        help="Show the DNS log and follow its newest lookups", scope="dashboard", show=False,
    ),
    UserAction(
        id="zoom", keys="z", action="zoom", description="Zoom",
        help="Show the focused pane on the whole screen, or go back", scope="dashboard", show=False,
    ),
    # the device table
    UserAction(
        id="open-device", keys="enter", action="open_device", description="Open", key_display="enter",
        help="Open the selected device: its timeline, remotes, DNS names and protocols", scope="devices",
    ),
    UserAction(
        id="sort", keys="s", action="sort_next", description="Sort",
        help="Sort the devices by the next column", scope="devices", show=False,
    ),
    UserAction(
        id="sort-reverse", keys="S", action="sort_reverse", description="Reverse sort",
        help="Reverse the order of the devices", scope="devices", show=False,
    ),
    # the device screen
    UserAction(
        id="back", keys="escape", action="back", description="Back",
        help="Back to the dashboard", scope="device",
    ),
    UserAction(
        id="device-next-pane", keys="tab", action="next_pane", description="Pane", key_display="tab",
        help="Move to the next table", scope="device",
    ),
    # the investigation: findings, remotes, flows and packets, countries, labels
    UserAction(
        id="flows", keys="o", action="flows", description="Flows", show=False,
        help="List the flows, filter them and look at their packets", scope="app",
    ),
    UserAction(
        id="countries", keys="c", action="countries", description="Countries", show=False,
        help="Rank the countries of all remotes by bytes, with their remotes and devices", scope="app",
    ),
    UserAction(
        id="export", keys="e", action="export", description="Export", show=False,
        help="Write the whole analysis as it stands (every table) to CSV, JSON or Parquet, optionally "
        "anonymised", scope="app",
    ),
    UserAction(
        id="open-remote", keys="enter", action="open_remote", description="Open", key_display="enter",
        help="Open the selected remote: its names, organisation, devices, timeline and flows",
        scope="remotes", show=False,
    ),
    UserAction(
        id="label-device", keys="l", action="label_device", description="Label", show=False,
        help="Give the selected device a name of your own (written to the labels file)", scope="devices",
    ),
    UserAction(
        id="device-label", keys="l", action="label_device", description="Label", show=False,
        help="Give this device a name of your own (written to the labels file)", scope="device",
    ),
    UserAction(
        id="device-open-remote", keys="r", action="open_remote", description="Remote", show=False,
        help="Open the remote selected in the remotes table", scope="device",
    ),
    UserAction(
        id="findings-open", keys="enter", action="open_finding", description="Evidence", key_display="enter",
        help="Show the evidence of the selected finding: flows, DNS names, time bins", scope="findings",
    ),
    UserAction(
        id="findings-back", keys="escape", action="back", description="Back",
        help="Back to the previous screen", scope="findings",
    ),
    UserAction(
        id="finding-device", keys="d", action="open_device", description="Device",
        help="Open the device of this finding", scope="finding",
    ),
    UserAction(
        id="finding-remote", keys="r", action="open_remote", description="Remote",
        help="Open the remote of this finding (or of the selected flow)", scope="finding",
    ),
    UserAction(
        id="finding-packets", keys="enter", action="packets", description="Packets", key_display="enter",
        help="Show the packets of the selected evidence flow (reads the capture file with tshark)",
        scope="finding",
    ),
    UserAction(
        id="finding-back", keys="escape", action="back", description="Back",
        help="Back to the findings", scope="finding",
    ),
    UserAction(
        id="remote-whois", keys="w", action="whois", description="Whois (sends address)",
        help="Whois/RDAP + reverse DNS (sends this address to the internet; answers are cached)",
        scope="remote",
    ),
    UserAction(
        id="remote-packets", keys="enter", action="open_row", description="Open", key_display="enter",
        help="Open the selected device, or the packets of the selected flow", scope="remote",
    ),
    UserAction(
        id="remote-next-pane", keys="tab", action="next_pane", description="Pane", key_display="tab",
        help="Move between the devices and the flows of this remote", scope="remote",
    ),
    UserAction(
        id="remote-back", keys="escape", action="back", description="Back",
        help="Back to the previous screen", scope="remote",
    ),
    UserAction(
        id="flows-filter", keys="slash", action="filter", description="Filter", key_display="/",
        help="Filter the flows by device, remote, name, address or protocol", scope="flows",
    ),
    UserAction(
        id="flows-packets", keys="enter", action="packets", description="Packets", key_display="enter",
        help="Show the packets of the selected flow (reads the capture file with tshark)", scope="flows",
    ),
    UserAction(
        id="flows-remote", keys="r", action="open_remote", description="Remote",
        help="Open the remote of the selected flow", scope="flows",
    ),
    UserAction(
        id="flows-back", keys="escape", action="back", description="Back",
        help="Clear the filter, or go back to the previous screen", scope="flows",
    ),
    UserAction(
        id="packets-back", keys="escape", action="back", description="Back",
        help="Back to the flows", scope="packets",
    ),
    UserAction(
        id="countries-back", keys="escape", action="back", description="Back",
        help="Back to the previous screen", scope="countries",
    ),
)
# fmt: on


def actions_for(scope: Scope) -> tuple[UserAction, ...]:
    return tuple(a for a in ACTIONS if a.scope == scope)


def bindings_for(scope: Scope) -> list[BindingType]:
    """The `BINDINGS` of the app, a screen or a widget."""
    return [
        Binding(
            a.keys,
            a.action,
            a.description,
            show=a.show,
            key_display=a.key_display,
            priority=a.priority,
            tooltip=a.help,
            id=a.id,
        )
        for a in actions_for(scope)
    ]


def key_label(action: UserAction) -> str:
    """How the help screen writes the keys."""
    names = {"question_mark": "?", "slash": "/", "plus": "+", "equals_sign": "=", "minus": "-"}
    return " / ".join(names.get(k, k) for k in action.keys.split(","))
