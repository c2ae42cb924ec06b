"""Turning untrusted protocol bytes into text that is safe to show in a terminal.

Devices put anything into names and text fields: Latin-1, broken UTF-8, NULs, even terminal escape
sequences. Everything the parsers hand out as text goes through `safe_text`, so the TUI can print it as is.
"""

from __future__ import annotations

# C0 controls, DEL and C1 controls would move the cursor or start escape sequences in a terminal: show them
# as `\xNN` instead. Built once; `str.translate` then does the work in C.
_CONTROL_ESCAPES: dict[int, str] = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}


def safe_text(data: bytes) -> str:
    """`data` as text: UTF-8 where valid, `\\xNN` for undecodable bytes and for control characters."""
    # backslashreplace keeps every undecodable byte visible (and the original recoverable by eye) instead
    # of collapsing them all into U+FFFD
    text = data.decode("ascii") if data.isascii() else data.decode("utf-8", "backslashreplace")
    if text.isprintable():
        return text
    return text.translate(_CONTROL_ESCAPES)
