"""The `homescope` subcommands besides `report`: one module each.

Each module has `register(subparsers)`, which adds its parser (importing nothing heavy, so `homescope
--help` stays quick), and `run(args)`, which does the work and returns an exit code, reporting every error
as one message (never a traceback). `live` and `follow` also have `open_session(args)` for the TUI.
"""

from tui.subcommands import export, findings, follow, history, live, lookup

SUBCOMMANDS = (live, follow, history, findings, export, lookup)

__all__ = ["SUBCOMMANDS", "export", "findings", "follow", "history", "live", "lookup"]
