"""Where the payload inspector runs: in the analysis process, or in a child process of its own.

Reading packets in Python (DNS, TLS, HTTP, discovery protocols) is most of the per-packet Python work of a
full analysis. In its own process it runs beside the vectorised analysis on the other core, with the same
results: the rows it reads are chosen on the analysis side, from the packets alone. Batches travel through a
pipe (the analysis waits when the inspector falls behind); a snapshot is a round trip that comes back after
every batch sent before it.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys
import traceback
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, Protocol

from engine.errors import HomescopeError
from engine.metadata.payload_inspector import MetadataSnapshot, PayloadInspector
from engine.metadata.row_selection import InspectionBatch

SnapshotReply = tuple[MetadataSnapshot, dict[int, int]]


class InspectorError(HomescopeError):
    """The inspector process stopped: a bug. The message carries what it reported."""

    title = "Internal error"


class Inspector(Protocol):
    def submit(self, batch: InspectionBatch) -> None: ...

    def snapshot(self, dns_last: int | None, keep_serials: Iterable[int] | None) -> SnapshotReply: ...

    def names(self, serials: Iterable[int], keep_serials: Iterable[int] | None) -> dict[int, int]: ...

    def close(self) -> None: ...


def _reply(inspector: PayloadInspector, dns_last: int | None, keep: Iterable[int] | None) -> SnapshotReply:
    """The metadata and the server-name ids of the flows in `keep` (and forget the other flows' names)."""
    snap = inspector.snapshot(dns_last)
    if keep is None:
        return snap, dict(inspector.flow_names)
    wanted = set(keep)
    inspector.forget_flows(wanted)
    return snap, dict(inspector.flow_names)


def _names(inspector: PayloadInspector, serials: Iterable[int], keep: Iterable[int] | None) -> dict[int, int]:
    """The server-name ids of these flows (those that have one), after every batch sent before; then, with
    `keep`, forget the names of every other flow."""
    known = inspector.flow_names
    found = {s: known[s] for s in serials if s in known}
    if keep is not None:
        inspector.forget_flows(set(keep))
    return found


class LocalInspector:
    """The inspector in this process."""

    def __init__(self, *, dns_log_limit: int) -> None:
        self.inspector = PayloadInspector(dns_log_limit=dns_log_limit)

    def submit(self, batch: InspectionBatch) -> None:
        self.inspector.process(batch)

    def snapshot(self, dns_last: int | None, keep_serials: Iterable[int] | None) -> SnapshotReply:
        return _reply(self.inspector, dns_last, keep_serials)

    def names(self, serials: Iterable[int], keep_serials: Iterable[int] | None) -> dict[int, int]:
        return _names(self.inspector, serials, keep_serials)

    def close(self) -> None:
        return None


def _send(stream: IO[bytes], message: object) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(len(data).to_bytes(8, "little") + data)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError("the other side closed the pipe")
    size = int.from_bytes(head, "little")
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the other side closed the pipe mid-message")
    return pickle.loads(data)


def serve(requests: IO[bytes], replies: IO[bytes], dns_log_limit: int) -> None:
    """The child process: apply batches in order, answer snapshots, stop at the end of its input."""
    inspector = PayloadInspector(dns_log_limit=dns_log_limit)
    try:
        while True:
            try:
                message = _receive(requests)
            except EOFError:
                return
            if message[0] == "batch":
                inspector.process(message[1])
            elif message[0] == "snapshot":
                _send(replies, ("snapshot", _reply(inspector, message[1], message[2])))
            elif message[0] == "names":
                _send(replies, ("names", _names(inspector, message[1], message[2])))
            else:
                return
    except Exception:
        _send(replies, ("error", traceback.format_exc()))


class InspectorProcess:
    """The inspector in a child process (`python -m engine.metadata.worker`), fed through a pipe.

    A plain subprocess rather than multiprocessing: it never re-imports the caller's main module, and a
    full pipe makes the analysis wait for the inspector (back-pressure) without a feeder thread.
    """

    def __init__(self, *, dns_log_limit: int) -> None:
        root = str(Path(__file__).resolve().parents[2])  # where the engine package lives
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "engine.metadata.worker", str(dns_log_limit)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._to_child: IO[bytes] = self._process.stdin
        self._from_child: IO[bytes] = self._process.stdout
        self._finalizer = weakref.finalize(self, _stop, self._process)

    @property
    def pid(self) -> int:
        return self._process.pid

    def _failure(self, detail: str | None = None) -> InspectorError:
        if detail is None:
            self._process.wait(5)
            stderr = self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
            detail = (
                stderr.strip().splitlines()[-1] if stderr.strip() else f"exit code {self._process.returncode}"
            )
        return InspectorError(f"the packet inspector stopped: {detail}")

    def _put(self, message: tuple[Any, ...]) -> None:
        try:
            _send(self._to_child, message)
        except (BrokenPipeError, OSError):
            raise self._failure() from None

    def submit(self, batch: InspectionBatch) -> None:
        self._put(("batch", batch))

    def snapshot(self, dns_last: int | None, keep_serials: Iterable[int] | None) -> SnapshotReply:
        keep = None if keep_serials is None else list(keep_serials)
        self._put(("snapshot", dns_last, keep))
        try:
            kind, payload = _receive(self._from_child)
        except EOFError:
            raise self._failure() from None
        if kind == "error":
            raise self._failure(payload.strip().splitlines()[-1])
        reply: SnapshotReply = payload
        return reply

    def names(self, serials: Iterable[int], keep_serials: Iterable[int] | None) -> dict[int, int]:
        keep = None if keep_serials is None else list(keep_serials)
        self._put(("names", list(serials), keep))
        try:
            kind, payload = _receive(self._from_child)
        except EOFError:
            raise self._failure() from None
        if kind == "error":
            raise self._failure(payload.strip().splitlines()[-1])
        found: dict[int, int] = payload
        return found

    def close(self) -> None:
        self._finalizer()


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End the child: closing its input ends its loop; kill it if it does not go."""
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


if __name__ == "__main__":
    # A Ctrl-C in the terminal reaches the whole process group: the analysis decides when to stop (a
    # live capture still reads its last packets), and ends this child by closing its input.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve(sys.stdin.buffer, sys.stdout.buffer, int(sys.argv[1]))
