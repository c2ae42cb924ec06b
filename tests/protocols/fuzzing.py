"""Shared pieces of the property tests: settings, mutations of real payloads, and the safety check."""

from __future__ import annotations

import time
from collections.abc import Callable

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from engine.protocols.errors import MalformedMessage

# No example database: the tests write nothing outside tmp
FUZZ = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
QUICK = settings(database=None)

Mutation = tuple[int, list[tuple[int, int]], int]

# A mutation: which seed, which bytes to overwrite with what, and where to cut the result
MUTATIONS = st.tuples(
    st.integers(0, 10**6),
    st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)), min_size=1, max_size=8),
    st.integers(0, 4000),
)


def mutated(seeds: list[bytes], mutation: Mutation) -> tuple[bytes, bytes]:
    """A seed with some bytes overwritten, and the same cut short."""
    pick, flips, cut = mutation
    data = bytearray(seeds[pick % len(seeds)])
    for position, value in flips:
        data[position % len(data)] = value
    return bytes(data), bytes(data[: cut % (len(data) + 1)])


def only_malformed(parse: Callable[[bytes], object], data: bytes, limit: float = 0.5) -> object | None:
    """Parse `data`: the result, or None when the parser raised MalformedMessage. Anything else fails,
    and so does a parse slower than `limit` seconds."""
    started = time.perf_counter()
    try:
        result = parse(data)
    except MalformedMessage as exc:
        assert exc.reason and exc.reason == exc.reason.lower() and " " not in exc.reason
        result = None
    assert time.perf_counter() - started < limit
    return result
