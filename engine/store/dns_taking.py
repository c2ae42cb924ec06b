"""Taking the DNS log's new entries as they come, before the log lets them go.

The analysis's DNS log keeps only its newest entries (`LOG_LIMIT`), and an entry changes once after it is
logged: a query gets its response (rcode, answers, latency). So the recorder takes the entries added since
last time, plus those still waiting for their response, counted by `DnsSnapshot.total_entries`. Taking them
is a round trip to the payload inspector, which waits until the inspector has caught up; it is done as
rarely as the log's size allows, from the rate entries come at.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from engine.metadata.dns_log import LOG_LIMIT, DnsEntry, DnsSnapshot

DNS_ANSWER_WAIT = 30.0  # capture seconds a query's entry waits for its response before it is final
_RATE_GUESS = 3300.0  # entries per batch assumed until the capture shows its own rate (a tenth of a batch)

Fetch = Callable[[int], DnsSnapshot]  # the newest N entries of the log (and its counts)


class DnsTaker:
    def __init__(self, log_limit: int = LOG_LIMIT) -> None:
        self.limit = log_limit  # how many entries the analysis's log keeps (learnt smaller if it loses some)
        self.taken: list[tuple[int, list[DnsEntry]]] = []  # (sequence number of the first, entries)
        self.lost = 0  # entries the log let go before they could be taken
        self._from = 0  # sequence number of the first entry still to take (new, or waiting for an answer)
        self._total = 0  # entries ever logged, when last taken
        self._rate = _RATE_GUESS
        self._batches = 0  # batches since last taken

    def batch_done(self) -> bool:
        """Count a batch; True when entries must be taken now."""
        self._batches += 1
        return self._batches >= max(1, int(self.limit / 2 / max(self._rate, 1.0)))

    def wanted(self) -> int:
        """How many of the newest entries to ask for."""
        return self._total - self._from + int(self._rate * (self._batches + 1) * 1.5) + 256

    def take(self, fetch: Fetch, clock: float | None, snapshot: DnsSnapshot | None = None) -> None:
        """Take the entries from `snapshot` (asked for with `wanted()`) or from `fetch`."""
        wanted = self.wanted()
        dns = snapshot if snapshot is not None else fetch(wanted)
        if dns.total_entries - self._from > len(dns.entries) and len(dns.entries) >= wanted:
            dns = fetch(dns.total_entries - self._from)  # more arrived than guessed
        first = dns.total_entries - len(dns.entries)
        if first > self._from:  # the log let these go before they could be taken: it is smaller
            self.lost += first - self._from
            self.limit = min(self.limit, max(len(dns.entries), 2))
        start = max(first, self._from)
        entries = dns.entries[start - first :]
        self.taken.append((start, entries))
        if self._batches:
            self._rate = (dns.total_entries - self._total) / self._batches
        self._batches = 0
        self._total = dns.total_entries
        now = clock if clock is not None else -math.inf
        waiting = next(
            (
                i
                for i, e in enumerate(entries)
                if e.kind == "dns" and e.query_seen and e.rcode is None and now - e.ts < DNS_ANSWER_WAIT
            ),
            None,
        )
        self._from = start + waiting if waiting is not None else dns.total_entries

    def drain(self) -> tuple[list[tuple[int, list[DnsEntry]]], int]:
        """What was taken since the last drain, and how many entries were lost meanwhile."""
        taken, lost = self.taken, self.lost
        self.taken, self.lost = [], 0
        return taken, lost
