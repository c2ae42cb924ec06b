"""`python -m tui` runs the homescope command."""

from tui.cli import run

if __name__ == "__main__":  # not when an engine process re-imports this module
    run()
