"""The scope of an IP address: private, link-local, multicast scope, documentation, ...

One table of special-purpose prefixes (IANA's IPv4 and IPv6 special-purpose registries, RFC 1918, RFC 6598,
RFC 4291 multicast scopes) drives two independent implementations:

- `classify` works on whole numpy columns in the engine's representation (two uint64 halves of a 128-bit
  address, IPv4 stored IPv4-mapped). At import the table is flattened into sorted disjoint intervals, longest
  prefix winning, so a lookup is one `searchsorted` over the high halves plus one over the low halves of the
  few high values that need them (::/64 holding every IPv4 address, 64:ff9b::/64, 2001:1::/64).
- `classify_text` matches one address against the same table with `ipaddress`, longest prefix first.
  The tests check that the two always agree.

Neither `ipaddress` nor netaddr is used for the classification itself: both call link-scope multicast such as
ff02::fb "global", and netaddr 1.x has no notion of private addresses.

Choices worth knowing:
- The transition mechanisms (6to4 2002::/16 and its relay anycast 192.88.99.0/24, Teredo 2001::/32, NAT64
  64:ff9b::/96 and the local-use 64:ff9b:1::/48) are SHARED_TRANSITION, classified by the wrapper rather than
  the IPv4 address inside: the packet goes to a relay or translator. Such traffic leaves the home, so
  `HomeNetwork.is_internet` counts it as internet.
- IPv6 multicast is classified by its scope nibble whatever its flags (ff02::, ff12::, ff32:: alike):
  reserved (0), interface-local (1) and link-local (2) are MULTICAST_LINK; realm (3), admin (4), site (5),
  organisation (8) and the unassigned scopes between them are MULTICAST_SITE_ORG; global (E) and the
  reserved F are MULTICAST_GLOBAL. IPv4: 224.0.0.0/24 is link-local, 239/8 administratively scoped.
- Unicast IPv6 outside 2000::/3 (nothing else is allocated by IANA) and the IETF protocol-assignment blocks
  (192.0.0.0/24, 2001::/23) are RESERVED, except the few globally reachable anycast addresses in them.
- A subnet's broadcast address is only known with the home prefixes: pass `home=` to get BROADCAST for them.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Iterable
from enum import IntEnum
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from engine.home_network import HomeNetwork

__all__ = [
    "MASK64",
    "MULTICAST_SCOPES",
    "RULES",
    "U8",
    "U64",
    "V4_MAPPED",
    "AddressScope",
    "Bool",
    "IPNetwork",
    "S",
    "address_halves",
    "as_128",
    "classify",
    "classify_text",
    "half_columns",
]

U8 = npt.NDArray[np.uint8]
U64 = npt.NDArray[np.uint64]
Bool = npt.NDArray[np.bool_]
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MASK64 = (1 << 64) - 1  # selects the low half of a 128-bit address
_SPACE_END = 1 << 128
V4_MAPPED = 0xFFFF << 32  # ::ffff:0:0, the prefix under which the engine stores IPv4 addresses


class AddressScope(IntEnum):
    """The scope of an IP address. Values are stored in uint8 columns: never renumber."""

    UNSPECIFIED = 0  # 0.0.0.0, ::
    LOOPBACK = 1  # 127/8, ::1
    PRIVATE = 2  # RFC 1918: 10/8, 172.16/12, 192.168/16
    CGNAT = 3  # RFC 6598 shared address space 100.64/10
    LINK_LOCAL = 4  # 169.254/16, fe80::/10
    ULA = 5  # IPv6 unique local fc00::/7
    MULTICAST_LINK = 6  # 224.0.0/24, ff02:: and the other link- or interface-local scopes
    MULTICAST_SITE_ORG = 7  # 239/8, ff05::, ff08:: and the other bounded scopes
    MULTICAST_GLOBAL = 8
    BROADCAST = 9  # 255.255.255.255, and subnet broadcasts of the home prefixes
    DOCUMENTATION = 10  # 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32, 3fff::/20
    BENCHMARK = 11  # 198.18/15, 2001:2::/48
    RESERVED = 12  # 0/8, 240/4, 192.0.0/24, 2001::/23, IPv6 outside 2000::/3
    SHARED_TRANSITION = 13  # 6to4, Teredo, NAT64
    GLOBAL = 14


S = AddressScope
MULTICAST_SCOPES = frozenset({S.MULTICAST_LINK, S.MULTICAST_SITE_ORG, S.MULTICAST_GLOBAL})


def _ipv6_multicast_rules() -> list[tuple[str, AddressScope]]:
    rules: list[tuple[str, AddressScope]] = [("ff00::/8", S.MULTICAST_GLOBAL)]
    for flags in range(16):
        for scope in range(0xE):
            kind = S.MULTICAST_LINK if scope <= 2 else S.MULTICAST_SITE_ORG
            rules.append((f"ff{flags:x}{scope:x}::/16", kind))
    return rules


# (prefix, scope): the longest matching prefix decides. IPv4 prefixes apply to IPv4-mapped addresses.
RULES: tuple[tuple[str, AddressScope], ...] = (
    # IPv4
    ("0.0.0.0/0", S.GLOBAL),
    ("0.0.0.0/8", S.RESERVED),  # "this network": only ever a source during start-up
    ("0.0.0.0/32", S.UNSPECIFIED),
    ("10.0.0.0/8", S.PRIVATE),
    ("100.64.0.0/10", S.CGNAT),
    ("127.0.0.0/8", S.LOOPBACK),
    ("169.254.0.0/16", S.LINK_LOCAL),
    ("172.16.0.0/12", S.PRIVATE),
    ("192.0.0.0/24", S.RESERVED),  # IETF protocol assignments: DS-Lite, NAT64 discovery, ...
    ("192.0.0.9/32", S.GLOBAL),  # PCP anycast: globally reachable
    ("192.0.0.10/32", S.GLOBAL),  # TURN anycast: globally reachable
    ("192.0.2.0/24", S.DOCUMENTATION),
    ("192.88.99.0/24", S.SHARED_TRANSITION),  # 6to4 relay anycast (deprecated by RFC 7526)
    ("192.168.0.0/16", S.PRIVATE),
    ("198.18.0.0/15", S.BENCHMARK),
    ("198.51.100.0/24", S.DOCUMENTATION),
    ("203.0.113.0/24", S.DOCUMENTATION),
    ("224.0.0.0/4", S.MULTICAST_GLOBAL),
    ("224.0.0.0/24", S.MULTICAST_LINK),  # local network control: mDNS, LLMNR, IGMP, VRRP, ...
    ("239.0.0.0/8", S.MULTICAST_SITE_ORG),  # administratively scoped, SSDP 239.255.255.250 included
    ("240.0.0.0/4", S.RESERVED),
    ("255.255.255.255/32", S.BROADCAST),
    # IPv6
    ("::/0", S.RESERVED),  # only 2000::/3 is allocated for global unicast
    ("::/128", S.UNSPECIFIED),
    ("::1/128", S.LOOPBACK),
    ("64:ff9b::/96", S.SHARED_TRANSITION),  # NAT64 well-known prefix
    ("64:ff9b:1::/48", S.SHARED_TRANSITION),  # NAT64 local-use prefix
    ("2000::/3", S.GLOBAL),
    ("2001::/23", S.RESERVED),  # IETF protocol assignments
    ("2001::/32", S.SHARED_TRANSITION),  # Teredo
    ("2001:1::1/128", S.GLOBAL),  # PCP anycast
    ("2001:1::2/128", S.GLOBAL),  # TURN anycast
    ("2001:1::3/128", S.GLOBAL),  # DNS-SD service registration anycast
    ("2001:2::/48", S.BENCHMARK),
    ("2001:3::/32", S.GLOBAL),  # AMT
    ("2001:4:112::/48", S.GLOBAL),  # AS112
    ("2001:20::/28", S.GLOBAL),  # ORCHIDv2
    ("2001:30::/28", S.GLOBAL),  # drone remote ID
    ("2001:db8::/32", S.DOCUMENTATION),
    ("2002::/16", S.SHARED_TRANSITION),  # 6to4
    ("3fff::/20", S.DOCUMENTATION),
    ("fc00::/7", S.ULA),
    ("fe80::/10", S.LINK_LOCAL),
    *_ipv6_multicast_rules(),
)


def as_128(network: IPNetwork) -> ipaddress.IPv6Network:
    """A network in the 128-bit space of the engine: IPv4 networks become IPv4-mapped."""
    if isinstance(network, ipaddress.IPv4Network):
        return ipaddress.IPv6Network((V4_MAPPED | int(network.network_address), 96 + network.prefixlen))
    return network


_NETWORKS: tuple[tuple[ipaddress.IPv6Network, AddressScope], ...] = tuple(
    (as_128(ipaddress.ip_network(text)), scope) for text, scope in RULES
)


# ---- the vectorised form: the rule table flattened into interval tables ------------------------------------


def _flatten(rules: Iterable[tuple[ipaddress.IPv6Network, AddressScope]]) -> tuple[list[int], list[int]]:
    """Disjoint intervals [starts[i], starts[i+1]) covering the 128-bit space, longest prefix winning."""
    starts = [0]
    scopes = [int(S.RESERVED)]
    # painting shorter prefixes first lets every longer prefix overwrite the ones that contain it
    for net, scope in sorted(rules, key=lambda rule: rule[0].prefixlen):
        first = int(net.network_address)
        end = first + net.num_addresses
        for point in (first, end):
            if point < _SPACE_END:
                i = bisect.bisect_right(starts, point) - 1
                if starts[i] != point:
                    starts.insert(i + 1, point)
                    scopes.insert(i + 1, scopes[i])
        lo_i = bisect.bisect_left(starts, first)
        hi_i = bisect.bisect_left(starts, end)
        scopes[lo_i:hi_i] = [int(scope)] * (hi_i - lo_i)
    merged_starts, merged_scopes = [starts[0]], [scopes[0]]
    for start, painted in zip(starts[1:], scopes[1:], strict=True):
        if painted != merged_scopes[-1]:
            merged_starts.append(start)
            merged_scopes.append(painted)
    return merged_starts, merged_scopes


_REFINE = 255  # marks a high half whose low half decides


def _two_level(starts: list[int], scopes: list[int]) -> tuple[U64, U8, dict[int, tuple[U64, U8]]]:
    """Split 128-bit intervals into a table on the high half and, for the few high values that contain an
    interval boundary, a table on the low half."""

    def scope_at(point: int) -> int:
        return scopes[bisect.bisect_right(starts, point) - 1]

    refine = sorted({s >> 64 for s in starts if s & MASK64})
    hi_points = sorted({s >> 64 for s in starts} | set(refine) | {h + 1 for h in refine if h < MASK64})
    hi_starts: list[int] = []
    hi_scopes: list[int] = []
    for h in hi_points:
        scope = _REFINE if h in refine else scope_at(h << 64)
        # merging is safe for refined entries too: only adjacent refined values can meet, each has a low table
        if hi_scopes and scope == hi_scopes[-1]:
            continue
        hi_starts.append(h)
        hi_scopes.append(scope)
    low_tables: dict[int, tuple[U64, U8]] = {}
    for h in refine:
        lo_starts = [0] + [s & MASK64 for s in starts if s >> 64 == h and s & MASK64]
        lo_scopes = [scope_at((h << 64) | lo) for lo in lo_starts]
        low_tables[h] = (np.array(lo_starts, dtype=np.uint64), np.array(lo_scopes, dtype=np.uint8))
    return np.array(hi_starts, dtype=np.uint64), np.array(hi_scopes, dtype=np.uint8), low_tables


_HI_STARTS, _HI_SCOPES, _LOW_TABLES = _two_level(*_flatten(_NETWORKS))


def half_columns(hi: npt.ArrayLike, lo: npt.ArrayLike) -> tuple[U64, U64]:
    """Address halves as uint64 arrays; raises ValueError when the two differ in shape."""
    h = np.asarray(hi, dtype=np.uint64)
    lw = np.asarray(lo, dtype=np.uint64)
    if h.shape != lw.shape:
        raise ValueError(f"high and low halves differ in shape: {h.shape} and {lw.shape}")
    return h, lw


def classify(hi: npt.ArrayLike, lo: npt.ArrayLike, *, home: HomeNetwork | None = None) -> U8:
    """The `AddressScope` of every address given as uint64 (high, low) halves, as a uint8 array.

    With `home`, the broadcast addresses of its IPv4 prefixes are BROADCAST as well.
    """
    h, lw = half_columns(hi, lo)
    h_flat, lo_flat = h.reshape(-1), lw.reshape(-1)
    out = _HI_SCOPES[np.searchsorted(_HI_STARTS, h_flat, side="right") - 1]
    for high, (lo_starts, lo_scopes) in _LOW_TABLES.items():
        rows = np.flatnonzero(h_flat == np.uint64(high))
        if rows.size:
            out[rows] = lo_scopes[np.searchsorted(lo_starts, lo_flat[rows], side="right") - 1]
    if home is not None:
        out[home.subnet_broadcast_mask(h_flat, lo_flat)] = S.BROADCAST
    return out.reshape(h.shape)


# ---- the text form -----------------------------------------------------------------------------------------


def address_halves(addr: str) -> tuple[int, int]:
    """The engine's (high, low) halves of an address in text (IPv4 becomes IPv4-mapped; a zone is ignored).

    Raises ValueError for text that is not an IP address.
    """
    ip = ipaddress.ip_address(addr)
    value = V4_MAPPED | int(ip) if ip.version == 4 else int(ip)
    return value >> 64, value & MASK64


def classify_text(addr: str, *, home: HomeNetwork | None = None) -> AddressScope:
    """The scope of one address in text ("192.168.1.10", "ff02::fb", "fe80::1%wlan0", "::ffff:10.0.0.1").

    Raises ValueError for text that is not an IP address.
    """
    hi, lo = address_halves(addr)
    ip = ipaddress.IPv6Address((hi << 64) | lo)
    best: tuple[int, AddressScope] | None = None
    for net, scope in _NETWORKS:
        if ip in net and (best is None or net.prefixlen > best[0]):
            best = (net.prefixlen, scope)
    if home is not None and home.is_subnet_broadcast(hi, lo):
        return S.BROADCAST
    if best is None:  # the table covers ::/0, so this is a defect of the table
        raise AssertionError(f"no rule matches {addr}")
    return best[1]
