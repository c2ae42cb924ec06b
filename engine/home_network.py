"""The home network: its prefixes, configured and learnt, what they make of addresses (home, local,
internet), and which way a packet crosses the home's edge.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from engine.scope_table import (
    MASK64,
    MULTICAST_SCOPES,
    U8,
    U64,
    V4_MAPPED,
    Bool,
    IPNetwork,
    S,
    as_128,
    classify,
    classify_text,
    half_columns,
)

__all__ = ["HomeNetwork", "HomePrefix", "TrafficClass", "check_home_prefix", "traffic_class"]

_MIN_PREFIXLEN = {4: 8, 6: 32}
_HOME_SCOPES_REFUSED = frozenset({S.UNSPECIFIED, S.LOOPBACK, S.LINK_LOCAL, S.BROADCAST, *MULTICAST_SCOPES})
_LOCAL_SCOPES = np.array(sorted({S.PRIVATE, S.ULA, S.LINK_LOCAL, S.LOOPBACK}), dtype=np.uint8)
_INTERNET_SCOPES = np.array(sorted({S.GLOBAL, S.SHARED_TRANSITION}), dtype=np.uint8)


def check_home_prefix(prefix: str | IPNetwork) -> IPNetwork:
    """Parse and vet a home prefix ("192.168.1.0/24", "192.168.1.1/255.255.255.0", "2001:db8:1::/64").

    Host bits are dropped, so a router address with its mask gives its subnet. Raises ValueError when the
    text is not a prefix, is broader than /8 (IPv4) or /32 (IPv6), or is not unicast space a home can hold
    (loopback, link-local, multicast): a forged router advertisement must not make the internet "home".
    """
    net = ipaddress.ip_network(prefix, strict=False) if isinstance(prefix, str) else prefix
    if net.prefixlen < _MIN_PREFIXLEN[net.version]:
        raise ValueError(f"{net} is too broad for a home network (at most /{_MIN_PREFIXLEN[net.version]})")
    for edge in (net.network_address, net.broadcast_address):
        scope = classify_text(str(edge))
        if scope in _HOME_SCOPES_REFUSED:
            raise ValueError(
                f"{net} cannot be a home network: it holds {scope.name.lower().replace('_', ' ')} addresses"
            )
    return net


@dataclass(frozen=True, slots=True)
class HomePrefix:
    """A home prefix and where it came from: "config", or what taught it ("dhcp 192.168.1.1", "ra")."""

    network: IPNetwork
    source: str


@dataclass(frozen=True, slots=True)
class _PrefixMasks:
    net_hi: int
    net_lo: int
    mask_hi: int
    mask_lo: int
    broadcast_lo: int | None  # IPv4 subnet broadcast as an IPv4-mapped low half

    @classmethod
    def of(cls, network: IPNetwork) -> _PrefixMasks:
        net = as_128(network)
        mask = int(net.netmask)
        base = int(net.network_address)
        broadcast = None
        if isinstance(network, ipaddress.IPv4Network) and network.prefixlen <= 30:
            broadcast = V4_MAPPED | int(network.broadcast_address)
        return cls(base >> 64, base & MASK64, mask >> 64, mask & MASK64, broadcast)

    def contains(self, hi: U64, lo: U64) -> Bool:
        inside: Bool = (hi & np.uint64(self.mask_hi)) == np.uint64(self.net_hi)
        inside &= (lo & np.uint64(self.mask_lo)) == np.uint64(self.net_lo)
        return inside


class HomeNetwork:
    """The prefixes of the home network, configured and learnt, and what they make of addresses.

    Learning adds prefixes (DHCP subnet mask with the router address, IPv6 router advertisements); nothing is
    ever unlearnt during a run. Readers see either the old or the new prefix list, never a partial one.
    """

    def __init__(self, prefixes: Iterable[str | IPNetwork] = (), *, cgnat_is_local: bool = False) -> None:
        self.cgnat_is_local = cgnat_is_local
        self.version = 0  # grows with every learnt prefix: cached classifications compare it
        self._prefixes: tuple[HomePrefix, ...] = ()
        self._masks: tuple[_PrefixMasks, ...] = ()
        for prefix in prefixes:
            self.learn_prefix(prefix, "config")

    @property
    def prefixes(self) -> tuple[HomePrefix, ...]:
        return self._prefixes

    def learn_prefix(self, prefix: str | IPNetwork, source: str) -> bool:
        """Add a home prefix; True if it is new, False if a known prefix already covers it.

        Raises ValueError when the prefix is malformed or implausible (see `check_home_prefix`).
        """
        net = check_home_prefix(prefix)
        for known in self._prefixes:
            if known.network.version == net.version and net.subnet_of(known.network):  # type: ignore[arg-type]
                return False
        self._prefixes = (*self._prefixes, HomePrefix(net, source))
        self._masks = (*self._masks, _PrefixMasks.of(net))
        self.version += 1
        return True

    # the vectorised questions

    def is_home(self, hi: npt.ArrayLike, lo: npt.ArrayLike) -> Bool:
        """Which addresses fall in a home prefix."""
        h, lw = half_columns(hi, lo)
        out = np.zeros(h.shape, dtype=np.bool_)
        for masks in self._masks:
            out |= masks.contains(h, lw)
        return out

    def is_local(self, hi: npt.ArrayLike, lo: npt.ArrayLike) -> Bool:
        """Home, private, unique local, link-local or loopback; CGNAT only when configured local."""
        h, lw = half_columns(hi, lo)
        return self._local(h, lw, classify(h, lw))

    def is_internet(self, hi: npt.ArrayLike, lo: npt.ArrayLike) -> Bool:
        """Reached through the router: global unicast and the transition prefixes (6to4, Teredo, NAT64),
        plus CGNAT unless it is configured local (an ISP's carrier NAT sits beyond the home router), never
        a home prefix."""
        h, lw = half_columns(hi, lo)
        return self._internet(h, lw, classify(h, lw))

    def internet_with_scope(self, hi: U64, lo: U64, scope: U8) -> Bool:
        """`is_internet` for addresses whose scope (from `classify`) is already known."""
        return self._internet(hi, lo, scope)

    def local_with_scope(self, hi: U64, lo: U64, scope: U8) -> Bool:
        """`is_local` for addresses whose scope (from `classify`) is already known."""
        return self._local(hi, lo, scope)

    def subnet_broadcast_mask(self, hi: npt.ArrayLike, lo: npt.ArrayLike) -> Bool:
        """Which addresses are the broadcast address of a home IPv4 prefix (/30 or broader)."""
        h, lw = half_columns(hi, lo)
        out = np.zeros(h.shape, dtype=np.bool_)
        for masks in self._masks:
            if masks.broadcast_lo is not None:
                out |= (h == np.uint64(0)) & (lw == np.uint64(masks.broadcast_lo))
        return out

    def is_subnet_broadcast(self, hi: int, lo: int) -> bool:
        """Whether one address is the broadcast address of a home IPv4 prefix."""
        return hi == 0 and any(m.broadcast_lo == lo for m in self._masks)

    def _local(self, hi: U64, lo: U64, scope: U8) -> Bool:
        local = self.is_home(hi, lo) | np.isin(scope, _LOCAL_SCOPES)
        if self.cgnat_is_local:
            local |= scope == S.CGNAT
        return local

    def _internet(self, hi: U64, lo: U64, scope: U8) -> Bool:
        internet = np.isin(scope, _INTERNET_SCOPES)
        if not self.cgnat_is_local:
            internet |= scope == S.CGNAT
        outside: Bool = internet & ~self.is_home(hi, lo)
        return outside


# ---- direction of traffic ----------------------------------------------------------------------------------


class TrafficClass(IntEnum):
    """Which way a packet crosses the home's edge. Stored in uint8 columns: never renumber."""

    LAN_TO_INTERNET = 0
    INTERNET_TO_LAN = 1
    LAN_TO_LAN = 2
    MULTICAST_BROADCAST = 3  # the destination is a group: multicast, limited or subnet broadcast
    OTHER = 4  # anything else: bogons, documentation addresses, transit between two outside hosts, non-IP


def traffic_class(
    src_hi: npt.ArrayLike,
    src_lo: npt.ArrayLike,
    dst_hi: npt.ArrayLike,
    dst_lo: npt.ArrayLike,
    home: HomeNetwork,
) -> U8:
    """The `TrafficClass` of every packet given its source and destination halves, as a uint8 array."""
    sh, sl = half_columns(src_hi, src_lo)
    dh, dl = half_columns(dst_hi, dst_lo)
    if sh.shape != dh.shape:
        raise ValueError(f"source and destination columns differ in shape: {sh.shape} and {dh.shape}")
    src_scope = classify(sh, sl)
    dst_scope = classify(dh, dl, home=home)
    src_local = home._local(sh, sl, src_scope)
    dst_local = home._local(dh, dl, dst_scope)
    src_internet = home._internet(sh, sl, src_scope)
    dst_internet = home._internet(dh, dl, dst_scope)
    out = np.full(sh.shape, TrafficClass.OTHER, dtype=np.uint8)
    out[src_local & dst_local] = TrafficClass.LAN_TO_LAN
    out[src_internet & dst_local] = TrafficClass.INTERNET_TO_LAN
    out[src_local & dst_internet] = TrafficClass.LAN_TO_INTERNET
    # a group destination decides on its own: multicast from the internet is still multicast on the LAN
    group = np.isin(dst_scope, np.array(sorted({*MULTICAST_SCOPES, S.BROADCAST}), dtype=np.uint8))
    out[group] = TrafficClass.MULTICAST_BROADCAST
    return out
