"""The app's investigation actions: the findings, flows and countries screens, a remote, the packets of
a flow, labelling a device, exporting the analysis, and the online lookup (the one thing that sends an
address out)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from textual import work
from textual.notifications import SeverityLevel

from engine.errors import HomescopeError
from engine.session import SessionMode
from tui.model.export_request import ExportRequest
from tui.model.investigation import FlowEndpoints
from tui.screens.export_dialog import ExportDialog
from tui.screens.findings import FindingsScreen
from tui.screens.flows import CountriesScreen, FlowsScreen
from tui.screens.label_dialog import TextDialog
from tui.screens.packets import PacketsScreen
from tui.screens.remote import RemoteScreen

if TYPE_CHECKING:
    from tui.app import HomescopeApp


def _default_online_lookup(address: str) -> object:
    """RDAP/whois and reverse DNS, with the configured deadline and cache (asked for: allowed)."""
    from engine.config import load_settings
    from engine.enrich.online import OnlineLookups

    return OnlineLookups.from_settings(load_settings()).lookup(address, allow=True)


class InvestigationActions:
    """Mixed into HomescopeApp. `online_lookup` is the seam tests replace (they never go online)."""

    online_lookup: Callable[[str], object] = staticmethod(_default_online_lookup)

    @property
    def _app(self) -> HomescopeApp:
        return cast("HomescopeApp", self)

    def _push_once(self, kind: type[Any], make: Callable[[], Any]) -> None:
        app = self._app
        if not isinstance(app.screen, kind):
            app.push_screen(make())

    def action_findings(self) -> None:
        app = self._app
        self._push_once(FindingsScreen, lambda: FindingsScreen(tz=app.tz, stable=app.stable))

    def action_flows(self) -> None:
        app = self._app
        self._push_once(FlowsScreen, lambda: FlowsScreen(tz=app.tz, stable=app.stable))

    def action_countries(self) -> None:
        app = self._app
        self._push_once(CountriesScreen, lambda: CountriesScreen(tz=app.tz, stable=app.stable))

    def open_remote(self, address: str) -> None:
        app = self._app
        app.push_screen(RemoteScreen(address, tz=app.tz, stable=app.stable))

    def open_packets(self, flow: FlowEndpoints) -> None:
        app = self._app
        config = getattr(app.feed, "config", None)
        paths = tuple(config.paths) if config is not None else ()
        live = config is not None and config.mode == SessionMode.LIVE
        app.push_screen(PacketsScreen(flow, paths, live=live, tz=app.tz, stable=app.stable))

    # ---- export --------------------------------------------------------------------------------------

    def action_export(self) -> None:
        """Ask where and how, then have the feed write every table of the analysis as it stands."""
        app = self._app
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        folder = str(Path.cwd() / f"homescope-export-{stamp}")

        def done(request: ExportRequest | None) -> None:
            if request is not None:
                app.notify(f"Exporting to {request.folder} ...", timeout=3)
                self._export(request)

        app.push_screen(ExportDialog(folder), done)

    @work(thread=True, exclusive=True, group="export", exit_on_error=False)
    def _export(self, request: ExportRequest) -> None:
        app = self._app
        try:
            result = app.feed.export(request)
        except HomescopeError as err:
            app.call_from_thread(app.notify, err.message, title=err.title, severity="error", timeout=8)
            return
        severity: SeverityLevel = "error" if result.error else "information"
        app.call_from_thread(app.notify, result.describe(), title="Export", severity=severity, timeout=8)

    # ---- labels --------------------------------------------------------------------------------------

    def labels_file(self) -> Path | None:
        config = getattr(self._app.feed, "config", None)
        name = getattr(config, "labels_file", None)
        return Path(name) if name else None

    def label_device(self, key: str, current: str = "") -> None:
        """Ask for a label for the device `key` and write it to the labels file of the run."""
        app = self._app
        path = self.labels_file()
        if path is None:
            app.notify("No labels file is configured for this run.", title="Cannot label", severity="error")
            return

        def done(text: str | None) -> None:
            if text is None:
                return
            from engine.labels import remove_label, set_label

            try:
                if text:
                    set_label(path, key, text)
                else:
                    remove_label(path, key)
            except HomescopeError as err:
                app.notify(err.message, title=err.title, severity="error", timeout=8)
                return
            app.notify(f"{key} is now {text!r}" if text else f"label of {key} removed", timeout=3)
            app.update_request(labels_version=app.request.labels_version + 1)

        app.push_screen(
            TextDialog(
                f"Label {key}", f"A name for this device (saved in {path}); empty removes it", current
            ),
            done,
        )
