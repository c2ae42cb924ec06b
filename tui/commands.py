"""The command palette's homescope commands, generated from the action table (`tui.actions`)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from textual.app import App
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.widget import Widget

from tui.actions import ACTIONS, UserAction, key_label


class ActionCommands(Provider):
    """Every action that applies where the palette was opened, under its help text."""

    def _target(self, action: UserAction) -> App[Any] | Widget | None:
        from tui.screens.dashboard import DashboardScreen
        from tui.screens.device import DeviceScreen
        from tui.widgets.device_table import DeviceTable

        screen = self.screen
        if action.scope == "app":
            return self.app
        if action.scope == "dashboard":
            return screen if isinstance(screen, DashboardScreen) else None
        if action.scope == "device":
            return screen if isinstance(screen, DeviceScreen) else None
        if action.scope == "remotes":
            from tui.widgets.remotes_table import RemotesTable

            return screen.query(RemotesTable).first() if isinstance(screen, DashboardScreen) else None
        if action.scope != "devices":  # the investigation screens say which scope they are
            return screen if getattr(screen, "SCOPE", None) == action.scope else None
        return screen.query(DeviceTable).first() if isinstance(screen, DashboardScreen) else None

    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        commands: list[tuple[str, str, Callable[[], object]]] = []
        for action in ACTIONS:
            target = self._target(action) if action.palette else None
            if target is None or target.check_action(action.action, ()) is False:
                continue
            title = f"{action.description} ({key_label(action)})"
            commands.append((title, action.help, partial(target.run_action, action.action)))
        return commands

    async def discover(self) -> Hits:
        for title, help_text, run in self._commands():
            yield DiscoveryHit(title, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, run in self._commands():
            score = max(matcher.match(title), matcher.match(help_text) * 0.8)
            if score > 0:
                yield Hit(score, matcher.highlight(title), run, help=help_text)
