"""`python -m tui` runs the homescope command."""

from tui.cli import run

# guarded: a child process started with "spawn" imports this module under another name
if __name__ == "__main__":
    run()
