"""A dump follower (local or remote) running in a thread, collecting what it hands out: for the tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from engine.capture.records import RecordBatch
from tests.live.writers import numbers_in, wait_for


class Follower(Protocol):
    def batches(self) -> Iterator[RecordBatch]: ...
    def stop(self) -> None: ...


@dataclass
class Following:
    follower: Follower
    batches: list[RecordBatch] = field(default_factory=list)
    error: BaseException | None = None
    thread: threading.Thread | None = None

    @property
    def numbers(self) -> list[int]:
        return numbers_in(list(self.batches))

    def count(self) -> int:
        return sum(len(b) for b in list(self.batches))

    def wait_count(self, n: int, timeout: float = 30) -> None:
        wait_for(lambda: self.count() >= n or self.error is not None, timeout, f"{n} packets")
        if self.error is not None:
            raise self.error

    def stop(self) -> None:
        self.follower.stop()
        assert self.thread is not None
        self.thread.join(10)
        assert not self.thread.is_alive(), "the follower did not stop"
        if self.error is not None:
            raise self.error


def run_in_thread(follower: Follower) -> Following:
    """Start reading `follower`'s batches on a daemon thread."""
    following = Following(follower)

    def target() -> None:
        try:
            for batch in follower.batches():
                following.batches.append(batch)
        except BaseException as err:
            following.error = err

    following.thread = threading.Thread(target=target, daemon=True)
    following.thread.start()
    return following
