"""Names for remote addresses, learnt passively: DNS answers devices received, TLS and QUIC server names,
HTTP Host. Each name keeps its sources, so a user can see why homescope calls 52.223.201.182
"video-edge-….ttvnw.net" without anything being sent anywhere."""

from __future__ import annotations

from dataclasses import dataclass, field

# Per address, at most this many names are kept (a CDN address serves many names).
MAX_NAMES_PER_ADDRESS = 24
# Which source speaks most directly for what a device wanted from an address.
SOURCE_RANK = {"tls-sni": 0, "quic-sni": 0, "gquic-sni": 0, "http-host": 1, "dns": 2, "dns-cname": 3}


@dataclass(slots=True)
class NameSeen:
    name: str
    sources: set[str] = field(default_factory=set)
    count: int = 0
    first_ts: float = 0.0
    last_ts: float = 0.0

    def copy(self) -> NameSeen:
        return NameSeen(self.name, set(self.sources), self.count, self.first_ts, self.last_ts)


class RemoteNames:
    def __init__(self) -> None:
        self._by_address: dict[str, dict[str, NameSeen]] = {}

    def add(self, address: str, name: str, source: str, ts: float) -> None:
        name = name.rstrip(".")
        if not name:
            return
        names = self._by_address.setdefault(address, {})
        key = name.lower()
        seen = names.get(key)
        if seen is None:
            if len(names) >= MAX_NAMES_PER_ADDRESS:
                # make room: forget the name seen least recently
                del names[min(names, key=lambda k: names[k].last_ts)]
            seen = names[key] = NameSeen(name, first_ts=ts, last_ts=ts)
        seen.sources.add(source)
        seen.count += 1
        seen.first_ts = min(seen.first_ts, ts)
        seen.last_ts = max(seen.last_ts, ts)

    def names(self, address: str) -> list[NameSeen]:
        """Names of an address (in text form), best first (see `best`)."""
        found = self._by_address.get(address)
        if not found:
            return []
        return sorted(found.values(), key=_rank)

    def best(self, address: str) -> str | None:
        """The name that best says what the address is: a server name a client asked for, else a DNS
        name; among equals, the most often seen, then the most recent."""
        ranked = self.names(address)
        return ranked[0].name if ranked else None

    def snapshot(self) -> dict[str, list[NameSeen]]:
        return {
            a: [n.copy() for n in sorted(names.values(), key=_rank)] for a, names in self._by_address.items()
        }


def _rank(seen: NameSeen) -> tuple[int, int, float]:
    rank = min((SOURCE_RANK.get(s, 9) for s in seen.sources), default=9)
    return (rank, -seen.count, -seen.last_ts)
