"""Typed errors of the engine and the process exit codes they map to.

Every problem the user can cause (a missing file, a damaged capture, a missing capture tool) is raised as a
`HomescopeError` subclass with a short `title` and a message written for a person. The command line and the
TUI show those; they never show a traceback.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of the `homescope` command, documented in the README."""

    OK = 0
    INTERNAL_ERROR = 1  # a bug: the message asks the user to report it
    USAGE = 2  # bad command-line arguments
    NO_INPUT = 3  # nothing could be read: missing, unreadable or unsupported inputs
    PARTIAL = 4  # a result was produced, but part of the input was damaged, truncated or not decodable
    CAPTURE_FAILED = 5  # live capture could not start or stopped (permission, interface, tool missing)
    INTERRUPTED = 130  # stopped with Ctrl-C


class HomescopeError(Exception):
    """Base of every error the user may see. `title` is a few words; `str(err)` is the full message."""

    title = "Error"
    exit_code = ExitCode.INTERNAL_ERROR

    def __init__(self, message: str, *, title: str | None = None) -> None:
        super().__init__(message)
        if title is not None:
            self.title = title

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.title


class CaptureError(HomescopeError):
    """A capture input cannot be opened or read at all (missing, directory, permission, format)."""

    title = "Cannot read capture"
    exit_code = ExitCode.NO_INPUT

    def __init__(self, message: str, *, path: str | None = None, kind: str = "unreadable") -> None:
        super().__init__(message)
        self.path = path
        self.kind = kind


class ConfigError(HomescopeError):
    """The configuration or labels file is invalid."""

    title = "Invalid configuration"
    exit_code = ExitCode.USAGE


class UsageError(HomescopeError):
    """Options that do not make sense together, or an option given a value that does not (a time, a size)."""

    title = "Usage"
    exit_code = ExitCode.USAGE


class ExportError(HomescopeError):
    """The export could not be written (the --out folder, the disk, missing Parquet support)."""

    title = "Export failed"
    exit_code = ExitCode.USAGE


class LiveCaptureError(HomescopeError):
    """Live capture could not start or died: permission, interface or capture tool missing."""

    title = "Live capture failed"
    exit_code = ExitCode.CAPTURE_FAILED


class RemoteError(HomescopeError):
    """A remote source over SSH failed: the connection (name, route, refusal, timeout, keys) or what the
    remote end said (a missing folder or capture tool, no permission). `kind` names the cause for code;
    `retryable` says whether trying again later may work (a refused or lost connection may, a rejected
    key will not). The exit code is that of the command using the source: 5 for live, 3 for follow."""

    title = "Remote source failed"
    exit_code = ExitCode.NO_INPUT

    def __init__(
        self,
        message: str,
        *,
        title: str | None = None,
        kind: str = "ssh",
        retryable: bool = False,
        exit_code: ExitCode | None = None,
    ) -> None:
        super().__init__(message, title=title)
        self.kind = kind
        self.retryable = retryable
        if exit_code is not None:
            self.exit_code = exit_code


class RemoteDisconnected(RemoteError):
    """The SSH connection of a remote source ended while it was being read (the follower reconnects)."""

    title = "Connection lost"

    def __init__(self, message: str, *, title: str | None = None, exit_code: ExitCode | None = None) -> None:
        super().__init__(message, title=title, kind="disconnected", retryable=True, exit_code=exit_code)
