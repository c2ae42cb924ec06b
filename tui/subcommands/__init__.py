"""Headless investigation subcommands of `homescope`: `findings`, `export` and `lookup`.

Each module has `register(subparsers)`, which adds its parser (importing nothing heavy), and `run(args)`,
which does the work and returns an exit code, reporting every error as one message (never a traceback).
"""

from tui.subcommands import export, findings, lookup

SUBCOMMANDS = (findings, export, lookup)

__all__ = ["SUBCOMMANDS", "export", "findings", "lookup"]
