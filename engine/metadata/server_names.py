"""Server names clients ask for: TLS ClientHello SNI, QUIC Initial SNI, gQUIC SNI, HTTP Host.

Names get small ids (flows store the id in a column); per name, how often and by which devices it was
asked for. DNS-over-HTTPS servers are recognised by name, to tell which devices bypass the home resolver.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

MAX_DEVICES_PER_NAME = 64
MAX_DETAILS = 8

# Public DNS-over-HTTPS endpoints (by the server name clients ask for).
DOH_SERVER_NAMES = frozenset(
    {
        "dns.google",
        "dns.google.com",
        "8888.google",
        "cloudflare-dns.com",
        "mozilla.cloudflare-dns.com",
        "chrome.cloudflare-dns.com",
        "1dot1dot1dot1.cloudflare-dns.com",
        "one.one.one.one",
        "security.cloudflare-dns.com",
        "family.cloudflare-dns.com",
        "dns.quad9.net",
        "dns9.quad9.net",
        "dns10.quad9.net",
        "dns11.quad9.net",
        "doh.opendns.com",
        "doh.familyshield.opendns.com",
        "dns.nextdns.io",
        "doh.cleanbrowsing.org",
        "dns.adguard.com",
        "dns.adguard-dns.com",
        "unfiltered.adguard-dns.com",
        "doh.mullvad.net",
        "dns.mullvad.net",
        "doh.dns.sb",
        "dns.controld.com",
        "freedns.controld.com",
        "doh.libredns.gr",
        "dns.switch.ch",
        "doh.applied-privacy.net",
        "dns0.eu",
        "doh.ffmuc.net",
        "dns.alidns.com",
        "doh.pub",
        "doh.360.cn",
    }
)


def is_doh_server_name(name: str) -> bool:
    name = name.lower().rstrip(".")
    return name in DOH_SERVER_NAMES or name.endswith(".dns.nextdns.io")


@dataclass(slots=True)
class ServerNameStats:
    """One name asked for through one mechanism (tls-sni, quic-sni, gquic-sni, http-host)."""

    name: str
    source: str
    count: int = 0
    devices: set[int] = field(default_factory=set)
    servers: dict[str, None] = field(default_factory=dict)
    details: dict[str, None] = field(default_factory=dict)  # ALPN, TLS/QUIC version, user agent
    first_ts: float = 0.0
    last_ts: float = 0.0

    def copy(self) -> ServerNameStats:
        return replace(
            self, devices=set(self.devices), servers=dict(self.servers), details=dict(self.details)
        )


class ServerNames:
    def __init__(self) -> None:
        self.names: list[str] = []  # by id
        self._ids: dict[str, int] = {}
        self._stats: dict[tuple[str, str], ServerNameStats] = {}

    def name_id(self, name: str) -> int:
        found = self._ids.get(name)
        if found is None:
            found = self._ids[name] = len(self.names)
            self.names.append(name)
        return found

    def seen(
        self, name: str, source: str, *, device: int, server: str, ts: float, details: tuple[str, ...] = ()
    ) -> int:
        """Count one request for `name`; returns the name's id (for the flow's column)."""
        key = (name.lower(), source)
        st = self._stats.get(key)
        if st is None:
            st = self._stats[key] = ServerNameStats(name, source, first_ts=ts, last_ts=ts)
        st.count += 1
        if device >= 0 and len(st.devices) < MAX_DEVICES_PER_NAME:
            st.devices.add(device)
        if len(st.servers) < MAX_DEVICES_PER_NAME:
            st.servers[server] = None
        for d in details:
            if d and len(st.details) < MAX_DETAILS:
                st.details[d] = None
        st.first_ts = min(st.first_ts, ts)
        st.last_ts = max(st.last_ts, ts)
        return self.name_id(name)

    def snapshot(self) -> list[ServerNameStats]:
        return [s.copy() for s in self._stats.values()]
