"""`python -m tui` runs the homescope command."""

from tui.cli import run

run()
