"""A folder of capture files on another machine, read through one SSH connection (a `FolderAccess`).

The connection runs `remote_shell.folder_script` on the Pi. It greets with `HOMESCOPE-FOLDER 1 USER GROUP`
(or `FAIL KIND USER GROUP` when the folder is missing, not a folder or not readable), then answers one
request per line:

    LIST            -> F SIZE MTIME INODE DEV MODE NAME ... END   (every entry but hidden ones)
    STAT NAME       -> F SIZE MTIME INODE DEV MODE NAME | NOFILE
    OPEN NAME       -> OPENED SIZE MTIME INODE DEV MODE | NOFILE | DENIED   (one open file at a time)
    READ N          -> DATA K, K bytes, END SIZE   (K <= N: what the open file holds past what was read)
    PEEK N NAME     -> DATA K, K bytes, END SIZE   (the first bytes of a file, for its first packet time)
    CLOSE           -> CLOSED

A DATA block always has exactly K bytes (the script pads a file that shrank while it was sent, and the
SIZE after it tells the reader to drop such a block), so the stream never loses its framing. Nothing is
copied ahead: only the bytes the follower asks for cross the network, as it asks for them.

When the connection ends, every request raises a RemoteError saying why (from ssh's words); the
follower (`RemoteDumpFollower`) reconnects and resumes.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import threading
from collections import deque
from collections.abc import Callable
from typing import IO, BinaryIO, cast

from engine.capture.byte_stream import ByteStream
from engine.capture.folder_access import FileInfo
from engine.capture.records import SourceStatus
from engine.capture.remote_shell import folder_script
from engine.capture.source import open_capture_stream
from engine.capture.ssh_failure import ssh_failure, ssh_missing, ssh_words
from engine.capture.ssh_target import SshSettings, SshTarget, sh_command, ssh_argv
from engine.errors import CaptureError, RemoteDisconnected, RemoteError

GREETING = b"HOMESCOPE-FOLDER 1 "
PEEK_BYTES = 256 << 10  # enough for the first packet of a file, to order files whose names hold no time
_MAX_JUNK_LINES = 200  # lines a login script may print before the greeting
_S_IFMT, _S_IFREG = 0o170000, 0o100000
_STDERR_LINES = 50


class RemoteFolder:
    """The dump folder `target.path` on `target`, read over SSH (see the module docstring)."""

    def __init__(
        self,
        target: SshTarget,
        settings: SshSettings | None = None,
        *,
        on_connect: Callable[[], None] | None = None,
    ) -> None:
        self.target = target
        self.settings = settings or SshSettings()
        self.directory = target.describe()
        self.on_connect = on_connect
        self.remote_user: str | None = None
        self.remote_group: str | None = None
        self.connections = 0  # successful connections so far
        self._proc: subprocess.Popen[bytes] | None = None
        self._stdin: IO[bytes] | None = None
        self._stdout: IO[bytes] | None = None
        self._stderr: deque[str] = deque(maxlen=_STDERR_LINES)
        self._stderr_thread: threading.Thread | None = None
        self._lock = threading.RLock()
        self._sizes: dict[str, int] = {}
        self._generation = 0  # counts connections: a file opened on an earlier one is not read on this one
        self._open: _RemoteFile | None = None

    # ---- the connection ----------------------------------------------------------------------------

    def command(self) -> list[str]:
        """The ssh command line this folder runs."""
        return ssh_argv(self.target, self.settings, sh_command(folder_script(self.target.path)))

    @property
    def connected(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def check(self) -> None:
        """Connect (unless connected) and check the folder; raises RemoteError."""
        with self._lock:
            if self._proc is None:
                self._connect()

    def _connect(self) -> None:
        try:
            proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # a Ctrl-C in the terminal reaches homescope, not ssh
            )
        except FileNotFoundError:
            raise ssh_missing(self.settings.program) from None
        self._proc = proc
        self._stdin, self._stdout = proc.stdin, proc.stdout
        self._stderr.clear()
        self._generation += 1
        self._open = None
        thread = threading.Thread(
            target=self._drain_stderr, args=(proc,), name="homescope-ssh-stderr", daemon=True
        )
        thread.start()
        self._stderr_thread = thread
        for _ in range(_MAX_JUNK_LINES):
            line = self._readline(connecting=True)
            if line.startswith(GREETING):
                parts = line[len(GREETING) :].decode("utf-8", "replace").split()
                self.remote_user = parts[0] if parts else None
                self.remote_group = parts[1] if len(parts) > 1 and parts[1] != "-" else None
                self.connections += 1
                if self.on_connect is not None:
                    self.on_connect()
                return
            if line.startswith(b"FAIL "):
                parts = line.decode("utf-8", "replace").split()
                user = parts[2] if len(parts) > 2 else None
                group = parts[3] if len(parts) > 3 and parts[3] != "-" else None
                self.close()
                raise self._folder_error(parts[1] if len(parts) > 1 else "missing", user, group)
        self.close()
        raise RemoteError(
            f"the remote end of {self.target.display} did not answer as expected: its login scripts print "
            "too much for a command run over ssh",
            title="Unexpected answer",
            kind="protocol",
        )

    def close(self) -> None:
        """End the connection (the remote script ends when its stdin closes)."""
        with self._lock:
            proc = self._proc
            self._proc = None
            self._open = None
        if proc is None:
            return
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=2)
        if proc.stderr is not None:
            with contextlib.suppress(OSError):
                proc.stderr.close()

    def kill(self) -> None:
        """End the connection at once, from any thread: a request waiting on it fails."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()

    @property
    def pid(self) -> int | None:
        """The ssh process's id while connected."""
        return self._proc.pid if self._proc is not None else None

    def stderr_text(self) -> str:
        return "\n".join(self._stderr)

    def _drain_stderr(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        for raw in iter(proc.stderr.readline, b""):
            self._stderr.append(raw.decode("utf-8", "replace").rstrip())

    def _lost(self, *, connecting: bool) -> RemoteError:
        """The error for a connection that ended: why, from ssh's words and exit status."""
        proc = self._proc
        code: int | None = None
        if proc is not None:
            try:
                code = proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait(timeout=5)
            if self._stderr_thread is not None:
                self._stderr_thread.join(timeout=2)
        text = self.stderr_text()
        self.close()
        error = ssh_failure(text, code, self.target, connected=not connecting)
        if error is not None:
            return error
        said = ssh_words(text)
        detail = f": {said}" if said else ""
        if connecting:
            return RemoteError(
                f"the command on {self.target.display} ended before it started (exit status {code}){detail}; "
                f"check that `ssh {self.target.display} true` works and that the account's shell is a POSIX "
                "shell",
                title="Remote command failed",
                kind="protocol",
            )
        return RemoteDisconnected(
            f"the connection to {self.target.display} ended (exit status {code}){detail}"
        )

    # ---- framing -----------------------------------------------------------------------------------

    def _send(self, line: str) -> None:
        stdin = self._stdin
        if self._proc is None or stdin is None:
            raise RemoteDisconnected(f"not connected to {self.target.display}")
        try:
            stdin.write(line.encode("utf-8", "surrogateescape") + b"\n")
            stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            raise self._lost(connecting=False) from None

    def _readline(self, *, connecting: bool = False) -> bytes:
        stdout = self._stdout
        if stdout is None:
            raise RemoteDisconnected(f"not connected to {self.target.display}")
        try:
            line = stdout.readline()
        except (OSError, ValueError):
            line = b""
        if not line.endswith(b"\n"):
            raise self._lost(connecting=connecting)
        return line[:-1]

    def _read_exact(self, n: int) -> bytes:
        stdout = self._stdout
        assert stdout is not None
        try:
            data = stdout.read(n) if n else b""
        except (OSError, ValueError):
            data = b""
        if len(data) < n:
            raise self._lost(connecting=False)
        return data

    def _request(self, line: str) -> bytes:
        self.check()
        self._send(line)
        return self._readline()

    def _data(self, reply: bytes) -> tuple[bytes, int]:
        """The bytes of a DATA reply and the SIZE after it."""
        try:
            n = int(reply.split()[1])
        except (IndexError, ValueError):
            raise self._protocol(reply) from None
        data = self._read_exact(n)
        end = self._readline()
        if not end.startswith(b"END "):
            raise self._protocol(end)
        return data, int(end.split()[1])

    def _protocol(self, reply: bytes) -> RemoteError:
        self.close()
        return RemoteDisconnected(
            f"unexpected answer from {self.target.display} ({reply[:60]!r}): the connection is started again"
        )

    # ---- FolderAccess ------------------------------------------------------------------------------

    def scan(self) -> list[FileInfo]:
        with self._lock:
            reply = self._request("LIST")
            out: list[FileInfo] = []
            while reply != b"END":
                if reply.startswith(b"FAIL "):
                    raise self._gone(reply.decode("utf-8", "replace").split()[1])
                info = _parse_info(reply)
                if info is None:
                    raise self._protocol(reply)
                out.append(info)
                reply = self._readline()
        self._sizes = {i.name: i.size for i in out}
        return out

    def names(self) -> list[str]:
        return [info.name for info in self.scan()]

    def stat(self, name: str) -> FileInfo:
        with self._lock:
            reply = self._request(f"STAT {name}")
        if reply == b"NOFILE":
            self._sizes.pop(name, None)
            raise FileNotFoundError(name)
        info = _parse_info(reply)
        if info is None:
            raise self._protocol(reply)
        self._sizes[name] = info.size
        return info

    def known_size(self, name: str) -> int | None:
        return self._sizes.get(name)

    def open(self, name: str) -> tuple[BinaryIO, FileInfo]:
        with self._lock:
            reply = self._request(f"OPEN {name}")
            if reply == b"NOFILE":
                raise FileNotFoundError(name)
            if reply == b"DENIED":
                raise self._denied(name)
            if not reply.startswith(b"OPENED "):
                raise self._protocol(reply)
            encoded = name.encode("utf-8", "surrogateescape")
            info = _parse_info(b"F " + reply.removeprefix(b"OPENED ") + b" " + encoded)
            if info is None:
                raise self._protocol(reply)
            handle = _RemoteFile(self, name, self._generation)
            self._open = handle
        return cast(BinaryIO, handle), info

    def first_timestamp(self, name: str) -> float | None:
        with self._lock:
            reply = self._request(f"PEEK {PEEK_BYTES} {name}")
            if reply in (b"NOFILE", b"DENIED"):
                return None
            if not reply.startswith(b"DATA "):
                raise self._protocol(reply)
            data, _size = self._data(reply)
        return _first_timestamp_of(data, self.path_of(name))

    def path_of(self, name: str) -> str:
        return self.target.describe(f"{self.target.path.rstrip('/')}/{name}")

    def read_open(self, handle: _RemoteFile, n: int) -> bytes:
        """Up to `n` bytes of the open file past what was read of it (b"" at its end for now)."""
        with self._lock:
            if handle.generation != self._generation or self._open is not handle:
                raise RemoteDisconnected(f"the connection to {self.target.display} was started again")
            reply = self._request(f"READ {n}")
            if not reply.startswith(b"DATA "):
                raise self._protocol(reply)
            data, size = self._data(reply)
        self._sizes[handle.name] = size
        if size < handle.position + len(data):
            return b""  # the file shrank while it was sent: the follower sees it truncated
        handle.position += len(data)
        return data

    def close_open(self, handle: _RemoteFile) -> None:
        with self._lock:
            if handle is not self._open or handle.generation != self._generation or not self.connected:
                return
            self._open = None
            with contextlib.suppress(RemoteError):
                self._request("CLOSE")

    # ---- messages ----------------------------------------------------------------------------------

    def _who(self, user: str | None = None) -> str:
        return user or self.remote_user or self.target.user or "your account"

    def _access_hint(self, user: str | None, group: str | None) -> str:
        who = self._who(user)
        group = group or self.remote_group or "homescope"
        return (
            f"on the Pi, add {who} to the group that owns it (`sudo usermod -aG {group} {who}`; on a Pi set "
            "up with pi-setup, list the account in HS_VIEWERS and run install.sh again), then connect again"
        )

    def _folder_error(self, kind: str, user: str | None, group: str | None) -> RemoteError:
        where = self.target.describe()
        if kind == "missing":
            return RemoteError(
                f"{where}: no such folder on {self.target.host} (the Pi's capture service writes to "
                "/var/lib/homescope/dumps)",
                title="No such folder",
                kind="missing",
            )
        if kind == "not-a-directory":
            return RemoteError(
                f"{where}: not a folder: `homescope follow` follows a folder of rotating capture files "
                f"(a single file can be replayed: `homescope replay {where}`)",
                title="Not a folder",
                kind="not-a-directory",
            )
        what = "the folder above it" if kind == "parent-permission" else "the folder"
        return RemoteError(
            f"{where}: permission denied: {self._who(user)} may not read {what}; "
            f"{self._access_hint(user, group)}",
            title="Permission denied",
            kind="permission",
        )

    def _gone(self, kind: str) -> RemoteError:
        if kind == "permission":
            return RemoteError(
                f"{self.target.describe()}: permission denied (it was readable before); "
                f"{self._access_hint(None, None)}",
                title="Permission denied",
                kind="permission",
            )
        return RemoteError(
            f"{self.target.describe()}: the folder was removed while being followed",
            title="No such folder",
            kind="missing",
        )

    def _denied(self, name: str) -> CaptureError:
        path = self.path_of(name)
        return CaptureError(
            f"{path}: permission denied: {self._who()} may list the folder but not read its files; "
            f"{self._access_hint(None, None)}",
            path=path,
            kind="permission",
        )


class _RemoteFile(io.RawIOBase):
    """The file open on the remote end, read as the follower asks."""

    def __init__(self, folder: RemoteFolder, name: str, generation: int) -> None:
        super().__init__()
        self.folder = folder
        self.name = name
        self.generation = generation
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.folder.read_open(self, len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            with contextlib.suppress(Exception):
                self.folder.close_open(self)
        super().close()


def _parse_info(line: bytes) -> FileInfo | None:
    """An `F SIZE MTIME INODE DEV MODE NAME` line."""
    parts = line.split(b" ", 6)
    if len(parts) != 7 or parts[0] != b"F":
        return None
    try:
        size, mtime, ino, dev = (int(p) for p in parts[1:5])
        mode = int(parts[5], 16)
    except ValueError:
        return None
    return FileInfo(
        name=parts[6].decode("utf-8", "surrogateescape"),
        size=size,
        mtime=float(mtime),
        ino=ino,
        dev=dev,
        regular=mode & _S_IFMT == _S_IFREG,
    )


def _first_timestamp_of(data: bytes, name: str) -> float | None:
    """The first packet's time in the first bytes of a capture file."""
    status = SourceStatus(path=name)
    try:
        stream = ByteStream(io.BytesIO(data), name=name, is_stream=False, size=len(data))
        capture = open_capture_stream(stream, status)
    except CaptureError:
        return None
    for _batch in capture.batches(chunk_size=64 << 10):
        if status.first_ts is not None:
            return status.first_ts
    return None
