"""A capture file on another machine, streamed over SSH for replay: `open_remote_capture("pi@host:/path")`.

The file is sent as it is (`cat` on the remote end: a `.gz` stays compressed on the wire and is
decompressed here, recognised by its content like a local file) and read with the engine's stream reader
as it arrives: nothing is copied to disk first. Before the first byte the remote end says the file's size
(for the progress share) or what is wrong with it (missing, a folder, not readable), and ssh's own failures
are told apart from those. A connection lost part-way ends the capture like a file cut short: every
complete packet is kept and the problem names the cause.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
from collections import deque
from typing import BinaryIO, cast

from engine.capture.byte_stream import ByteStream
from engine.capture.records import Problem, SourceStatus
from engine.capture.remote_shell import MARK, file_script
from engine.capture.source import CaptureFile, open_capture_stream
from engine.capture.ssh_failure import ssh_failure, ssh_missing, ssh_words
from engine.capture.ssh_target import (
    SshSettings,
    SshTarget,
    is_remote_spec,
    parse_remote,
    sh_command,
    ssh_argv,
)
from engine.errors import ExitCode, RemoteError

__all__ = ["is_remote_spec", "open_remote_capture", "remote_capture_command"]


def remote_capture_command(spec: str | SshTarget, ssh: SshSettings | None = None) -> list[str]:
    """The ssh command line that sends the file."""
    target = spec if isinstance(spec, SshTarget) else parse_remote(spec, exit_code=ExitCode.NO_INPUT)
    return ssh_argv(target, ssh or SshSettings(), sh_command(file_script(target.path)))


def open_remote_capture(
    spec: str | SshTarget,
    *,
    ssh: SshSettings | None = None,
    source_index: int = 0,
    status: SourceStatus | None = None,
) -> CaptureFile:
    """Open `user@host:/path/file.pcapng[.gz]` (or `ssh://user@host:port/path`) for reading: a CaptureFile
    whose `batches()` yields record batches as the bytes arrive. Closing it (or reading it to the end)
    ends the connection. Raises RemoteError (exit code 3) when the file or the host cannot be reached."""
    settings = ssh or SshSettings()
    target = spec if isinstance(spec, SshTarget) else parse_remote(spec, exit_code=ExitCode.NO_INPUT)
    name = target.describe()
    status = status if status is not None else SourceStatus(path=name)
    try:
        proc = subprocess.Popen(
            remote_capture_command(target, settings),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            bufsize=0,
        )
    except FileNotFoundError:
        raise ssh_missing(settings.program) from None
    try:
        channel = _Channel(proc, target)
        status.size = channel.handshake()
        stream = _SshStream(channel, name=name)
    except BaseException:
        _end(proc)
        raise
    return open_capture_stream(stream, status, source_index)


class _Channel:
    """The ssh process sending the file: its stdout is the file, its stderr says how it went."""

    def __init__(self, proc: subprocess.Popen[bytes], target: SshTarget) -> None:
        self.proc = proc
        self.target = target
        self.stderr: deque[str] = deque(maxlen=50)
        self._thread: threading.Thread | None = None

    def handshake(self) -> int | None:
        """Read stderr up to the remote end's `size N` line; raise RemoteError when it says an error or
        the connection fails first."""
        assert self.proc.stderr is not None
        for raw in iter(self.proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip()
            self.stderr.append(line)
            if line.startswith(f"{MARK} size "):
                self._thread = threading.Thread(target=self._drain, name="homescope-ssh-stderr", daemon=True)
                self._thread.start()
                with contextlib.suppress(ValueError):
                    return int(line.split()[2])
                return None
            if line.startswith(f"{MARK} error "):
                parts = line.split()
                raise self._file_error(parts[2], parts[3] if len(parts) > 3 else None, _part(parts, 4))
        code = self.proc.wait()
        raise self.failure(code)

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for raw in iter(self.proc.stderr.readline, b""):
            self.stderr.append(raw.decode("utf-8", "replace").rstrip())

    def failure(self, code: int | None) -> RemoteError:
        text = "\n".join(self.stderr)
        error = ssh_failure(text, code, self.target)
        if error is not None:
            return error
        said = ssh_words(text)
        return RemoteError(
            f"the command on {self.target.display} failed (exit status {code})"
            + (f": {said}" if said else ""),
            title="Remote command failed",
            kind="protocol",
        )

    def ended(self) -> Problem | None:
        """After the last byte: None when the file was sent whole, else the problem that cut it short."""
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _end(self.proc)
            code = self.proc.returncode
        if self._thread is not None:
            self._thread.join(timeout=2)
        if code == 0:
            return None
        error = ssh_failure("\n".join(self.stderr), code, self.target, connected=True) or self.failure(code)
        return Problem("truncated", f"the transfer from {self.target.display} ended early: {error.message}")

    def _file_error(self, kind: str, user: str | None, group: str | None) -> RemoteError:
        where = self.target.describe()
        host = self.target.host
        if kind == "missing":
            return RemoteError(f"{where}: no such file on {host}", title="No such file", kind="missing")
        if kind == "is-a-directory":
            return RemoteError(
                f"{where}: is a folder on {host}; give a capture file (or follow the folder: "
                f"`homescope follow {where}`)",
                title="Not a file",
                kind="not-a-file",
            )
        who = user or "your account"
        return RemoteError(
            f"{where}: permission denied: {who} may not read it; on the Pi, add {who} to its group "
            f"(`sudo usermod -aG {group or 'homescope'} {who}`), then connect again",
            title="Permission denied",
            kind="permission",
        )


class _SshStream(ByteStream):
    """The file's bytes as ssh delivers them."""

    def __init__(self, channel: _Channel, *, name: str) -> None:
        self.channel = channel
        self.raw_bytes = 0
        self._ended = False
        stdout = channel.proc.stdout
        assert stdout is not None
        super().__init__(cast(BinaryIO, stdout), name=name, is_stream=True, size=None)

    def _read_raw_once(self, n: int) -> bytes:
        if self._ended:
            return b""
        assert self._fd is not None
        data = os.read(self._fd, n)
        if data:
            self.raw_bytes += len(data)
            return data
        self._ended = True
        problem = self.channel.ended()
        if problem is not None and self.damage is None:
            problem.offset = self.position
            self.damage = problem
        return b""

    @property
    def raw_position(self) -> int:
        return self.raw_bytes

    def close(self) -> None:
        super().close()
        _end(self.channel.proc)


def _end(proc: subprocess.Popen[bytes]) -> None:
    """Make sure the ssh process is gone and its pipes closed."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


def _part(parts: list[str], i: int) -> str | None:
    return parts[i] if len(parts) > i and parts[i] != "-" else None
