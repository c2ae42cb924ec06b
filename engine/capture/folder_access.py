"""How the dump follower reaches a folder of capture files: on this machine, or on another one over SSH.

`DumpFollower` decides what to read, in which order and when a file is finished; a `FolderAccess` only
answers its questions: which files are there (name, size, inode, modification time), the state of one
of them, and the bytes of an opened file from where its reading got to. `LocalFolder` answers them with
system calls; `engine.capture.remote_folder.RemoteFolder` with a small shell script on the other end of
an SSH connection. Failures to look at the folder are CaptureErrors whose message says how to get access.
"""

from __future__ import annotations

import contextlib
import grp
import os
import stat
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from engine.capture.source import first_timestamp
from engine.errors import CaptureError


@dataclass(frozen=True, slots=True)
class FileInfo:
    """What the follower needs to know of a file in the folder."""

    name: str
    size: int
    mtime: float  # seconds since the epoch
    ino: int
    dev: int
    regular: bool = True


class FolderAccess(Protocol):
    """A folder of capture files, wherever it is (see the module docstring)."""

    directory: str  # the folder as the user named it, for messages

    def check(self) -> None:
        """Raise CaptureError (missing, not a folder, permission) unless the folder can be read."""

    def scan(self) -> list[FileInfo]:
        """Every entry of the folder but hidden ones, with its state now; files that vanish while being
        listed are left out. Raises CaptureError when the folder went away or may not be read."""

    def names(self) -> list[str]:
        """The names in the folder now (hidden ones too); raises CaptureError like `scan`."""

    def stat(self, name: str) -> FileInfo:
        """The state of one file now; raises FileNotFoundError when it is gone."""

    def known_size(self, name: str) -> int | None:
        """The size of a file as last seen, without waiting on anything (for a status bar)."""

    def open(self, name: str) -> tuple[BinaryIO, FileInfo]:
        """The file opened for reading from its start, and its state when opened. `read(n)` on it returns
        what is there (b"" at the end of what is written so far) and may be called again later for more.
        Raises FileNotFoundError when it is gone, CaptureError when it may not be read."""

    def first_timestamp(self, name: str) -> float | None:
        """The time of the file's first packet, or None (no packet yet, not a capture)."""

    def path_of(self, name: str) -> str:
        """How to name a file of the folder in messages and statuses."""


class LocalFolder:
    """A folder on this machine."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def check(self) -> None:
        d = self.directory
        try:
            st = os.stat(d)
        except FileNotFoundError:
            raise CaptureError(f"{d}: no such folder", path=d, kind="missing") from None
        except PermissionError:
            raise CaptureError(
                f"{d}: permission denied (cannot look at the folder); {group_hint(d)}",
                path=d,
                kind="permission",
            ) from None
        if not stat.S_ISDIR(st.st_mode):
            raise CaptureError(
                f"{d}: not a folder: `homescope follow` follows a folder of rotating capture files "
                f"(read a single file with `homescope report {d}`)",
                path=d,
                kind="not-a-directory",
            )
        if not os.access(d, os.R_OK | os.X_OK):
            raise CaptureError(
                f"{d}: permission denied: this account may not read the folder; {group_hint(d)}",
                path=d,
                kind="permission",
            )

    def names(self) -> list[str]:
        try:
            return os.listdir(self.directory)
        except FileNotFoundError:
            raise CaptureError(
                f"{self.directory}: the folder was removed while being followed",
                path=self.directory,
                kind="missing",
            ) from None
        except PermissionError:
            raise CaptureError(
                f"{self.directory}: permission denied; {group_hint(self.directory)}",
                path=self.directory,
                kind="permission",
            ) from None

    def scan(self) -> list[FileInfo]:
        out: list[FileInfo] = []
        for name in self.names():
            if name.startswith("."):
                continue
            with contextlib.suppress(OSError):
                out.append(self.stat(name))
        return out

    def stat(self, name: str) -> FileInfo:
        return _info(name, os.stat(self.path_of(name)))

    def known_size(self, name: str) -> int | None:
        try:
            return os.stat(self.path_of(name)).st_size
        except OSError:
            return None

    def open(self, name: str) -> tuple[BinaryIO, FileInfo]:
        path = self.path_of(name)
        try:
            raw = open(path, "rb", buffering=0)  # noqa: SIM115 - owned by the caller
        except PermissionError:
            raise CaptureError(
                f"{path}: permission denied: this account may list the folder but not read its files; "
                f"{group_hint(path)}",
                path=path,
                kind="permission",
            ) from None
        try:
            return raw, _info(name, os.fstat(raw.fileno()))
        except BaseException:
            raw.close()
            raise

    def first_timestamp(self, name: str) -> float | None:
        return first_timestamp(self.path_of(name))

    def path_of(self, name: str) -> str:
        return os.path.join(self.directory, name)


def _info(name: str, st: os.stat_result) -> FileInfo:
    return FileInfo(
        name=name,
        size=st.st_size,
        mtime=st.st_mtime,
        ino=st.st_ino,
        dev=st.st_dev,
        regular=stat.S_ISREG(st.st_mode),
    )


def group_hint(path: str) -> str:
    """How to get read access: join the group that owns the path (the capture service's group)."""
    try:
        group = grp.getgrgid(os.stat(path).st_gid).gr_name
    except (OSError, KeyError):
        group = "homescope"
    return (
        f"add your account to the group that owns it (`sudo usermod -aG {group} $USER`, "
        "then log out and in again)"
    )
