"""The one error protocol parsers raise: a message that cannot be parsed, with a short reason."""

from __future__ import annotations


class MalformedMessage(ValueError):
    """A payload that claims to be a protocol message but is damaged. `reason` is a short stable key."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
