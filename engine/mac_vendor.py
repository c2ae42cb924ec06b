"""What a MAC address says about its device: the vendor that registered its OUI, and its flag bits.

Vendors come from netaddr's bundled IEEE MA-L registry, which works offline (netaddr 1.3 ships data of
2024-05, so newer OUIs are unknown). netaddr is imported on the first lookup, not at start-up, and answers are
cached per OUI (the first lookup loads an index, about 0.1 s; later ones take some 33 µs).

Two bits of the first octet matter before any lookup: 0x01 marks a group (multicast or broadcast) address,
0x02 a locally administered one. Phones and laptops use locally administered, randomised unicast MACs for
privacy; those belong to no vendor, and `MacInfo.randomised` says so.

MACs are accepted as the engine's integers (48 bits in a uint64) or as text in the usual spellings:
aa:bb:cc:dd:ee:ff, AA-BB-CC-DD-EE-FF, aabb.ccdd.eeff, aabbccddeeff (case-insensitive).
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
Bool = npt.NDArray[np.bool_]
# a MAC as text, or as the engine's integer (a numpy scalar straight from a column does too)
MacLike: TypeAlias = int | np.integer[Any] | str

BROADCAST_MAC = 0xFFFF_FFFF_FFFF
_GROUP_BIT = 0x01
_LOCAL_BIT = 0x02
_MAC_MAX = (1 << 48) - 1

_SEPARATED = re.compile(r"[0-9a-f]{1,2}(?P<sep>[:-])(?:[0-9a-f]{1,2}(?P=sep)){4}[0-9a-f]{1,2}")
_DOTTED = re.compile(r"[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}")
_BARE = re.compile(r"[0-9a-f]{12}")


def parse_mac(mac: MacLike) -> int:
    """A MAC as a 48-bit integer. Raises ValueError for text in no known spelling or an out-of-range int."""
    if not isinstance(mac, str):
        value = operator.index(mac)
        if not 0 <= value <= _MAC_MAX:
            raise ValueError(f"{value:#x} is not a 48-bit MAC address")
        return value
    text = mac.strip().lower()
    if _SEPARATED.fullmatch(text):
        value = 0
        for octet in re.split("[:-]", text):
            value = (value << 8) | int(octet, 16)
        return value
    if _DOTTED.fullmatch(text) or _BARE.fullmatch(text):
        return int(text.replace(".", ""), 16)
    raise ValueError(f"{mac!r} is not a MAC address (expected e.g. aa:bb:cc:dd:ee:ff)")


def format_mac(mac: MacLike) -> str:
    """The canonical spelling, aa:bb:cc:dd:ee:ff."""
    value = parse_mac(mac)
    return ":".join(f"{(value >> shift) & 0xFF:02x}" for shift in range(40, -8, -8))


def is_locally_administered(mac: MacLike) -> bool:
    """Bit 0x02 of the first octet: not assigned by a vendor (randomised "private" MACs, VMs, containers)."""
    return bool((parse_mac(mac) >> 40) & _LOCAL_BIT)


def is_multicast_mac(mac: MacLike) -> bool:
    """Bit 0x01 of the first octet: a group address (multicast, and broadcast too)."""
    return bool((parse_mac(mac) >> 40) & _GROUP_BIT)


def locally_administered_mask(macs: npt.ArrayLike) -> Bool:
    """`is_locally_administered` over a column of 48-bit MACs."""
    first_octet = np.asarray(macs, dtype=np.uint64) >> np.uint64(40)
    flags: Bool = (first_octet & np.uint64(_LOCAL_BIT)) != 0
    return flags


def multicast_mask(macs: npt.ArrayLike) -> Bool:
    """`is_multicast_mac` over a column of 48-bit MACs."""
    first_octet = np.asarray(macs, dtype=np.uint64) >> np.uint64(40)
    flags: Bool = (first_octet & np.uint64(_GROUP_BIT)) != 0
    return flags


def vendor_of(mac: MacLike) -> str | None:
    """The organisation that registered the MAC's OUI, or None.

    None also for addresses that no vendor assigned, whatever their first three octets: locally administered
    and group addresses, and the all-zero MAC (an ARP request's "unknown"), which would otherwise read as
    Xerox.
    """
    value = parse_mac(mac)
    first_octet = value >> 40
    if value == 0 or first_octet & (_GROUP_BIT | _LOCAL_BIT):
        return None
    return _vendor_of_oui(value >> 24)


@lru_cache(maxsize=8192)
def _vendor_of_oui(oui: int) -> str | None:
    # imported here: loading netaddr and its registry index costs start-up time most runs never need
    from netaddr import OUI, NotRegisteredError

    try:
        org = OUI(oui).registration(0).org
    except NotRegisteredError:
        return None  # the registry's way of saying "unknown", not a failure
    name = " ".join(str(org).split())
    return name or None


@dataclass(frozen=True, slots=True)
class MacInfo:
    """What a MAC says about its device."""

    vendor: str | None
    locally_administered: bool
    multicast: bool
    broadcast: bool

    @property
    def randomised(self) -> bool:
        """A locally administered unicast MAC: almost always a phone's or laptop's private address."""
        return self.locally_administered and not self.multicast


def describe_mac(mac: MacLike) -> MacInfo:
    """Vendor and flags of one MAC."""
    value = parse_mac(mac)
    return MacInfo(
        vendor=vendor_of(value),
        locally_administered=is_locally_administered(value),
        multicast=is_multicast_mac(value),
        broadcast=value == BROADCAST_MAC,
    )
