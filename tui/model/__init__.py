"""What the TUI shows, as plain immutable data built off the UI thread from engine snapshots.

Nothing here imports textual or rich: the same code builds the model in a UI worker thread or in a separate
engine process, and the model crosses a process boundary by pickling.
"""
