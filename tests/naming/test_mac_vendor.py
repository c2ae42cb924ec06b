"""MAC vendors from netaddr's offline registry, and the flag bits of the first octet."""

from __future__ import annotations

import numpy as np
import pytest

from engine import mac_vendor
from engine.mac_vendor import (
    MacInfo,
    describe_mac,
    format_mac,
    is_locally_administered,
    is_multicast_mac,
    locally_administered_mask,
    multicast_mask,
    parse_mac,
    vendor_of,
)


@pytest.mark.parametrize(
    ("mac", "vendor"),
    [
        ("b8:27:eb:12:34:56", "Raspberry Pi Foundation"),
        ("dc:a6:32:00:00:01", "Raspberry Pi Trading Ltd"),
        ("D8-3A-DD-AB-CD-EF", "Raspberry Pi Trading Ltd"),
        ("2ccf.6700.0001", "Raspberry Pi (Trading) Ltd"),  # the 2023 OUI
        (0xB827EB000001, "Raspberry Pi Foundation"),
        (np.uint64(0xDCA632000001), "Raspberry Pi Trading Ltd"),  # straight from a decoded column
    ],
)
def test_raspberry_pi_vendors(mac: int | str, vendor: str) -> None:
    assert vendor_of(mac) == vendor


def test_unknown_oui_has_no_vendor() -> None:
    # 00:00:00 is Xerox's, so take an OUI known to be unassigned in the 2024-05 registry
    assert vendor_of("fc:ff:ff:00:00:01") is None
    assert describe_mac("fc:ff:ff:00:00:01") == MacInfo(None, False, False, False)


def test_locally_administered_mac() -> None:
    # a phone's private address: the same first octets as a Pi's, with bit 0x02 set
    mac = "ba:27:eb:12:34:56"
    assert is_locally_administered(mac) is True
    assert is_multicast_mac(mac) is False
    assert vendor_of(mac) is None
    info = describe_mac(mac)
    assert info == MacInfo(vendor=None, locally_administered=True, multicast=False, broadcast=False)
    assert info.randomised is True
    assert is_locally_administered("b8:27:eb:12:34:56") is False


def test_broadcast_and_multicast() -> None:
    broadcast = describe_mac("ff:ff:ff:ff:ff:ff")
    assert broadcast == MacInfo(vendor=None, locally_administered=True, multicast=True, broadcast=True)
    assert broadcast.randomised is False  # a group address is no device
    mdns = describe_mac("01:00:5e:00:00:fb")  # IPv4 multicast: the multicast bit on IANA's OUI
    assert mdns == MacInfo(vendor=None, locally_administered=False, multicast=True, broadcast=False)
    ipv6_multicast = describe_mac("33:33:00:00:00:fb")
    assert ipv6_multicast == MacInfo(vendor=None, locally_administered=True, multicast=True, broadcast=False)


def test_all_zero_mac_is_not_xerox() -> None:
    assert vendor_of(0) is None
    assert vendor_of("00:00:00:00:00:01") == "XEROX CORPORATION"


def test_lookups_are_cached_per_oui() -> None:
    mac_vendor._vendor_of_oui.cache_clear()
    vendor_of("b8:27:eb:00:00:01")
    vendor_of("b8:27:eb:00:00:02")
    vendor_of("dc:a6:32:00:00:01")
    info = mac_vendor._vendor_of_oui.cache_info()
    assert (info.hits, info.misses) == (1, 2)


@pytest.mark.parametrize(
    "spelling",
    ["aa:bb:cc:dd:ee:0f", "AA-BB-CC-DD-EE-0F", "aabb.ccdd.ee0f", "AABBCCDDEE0F", " aa:bb:cc:dd:ee:f "],
)
def test_spellings(spelling: str) -> None:
    assert parse_mac(spelling) == 0xAABBCCDDEE0F
    assert format_mac(spelling) == "aa:bb:cc:dd:ee:0f"


@pytest.mark.parametrize(
    "bad",
    ["aa:bb:cc:dd:ee", "aa:bb-cc:dd:ee:ff", "aa:bb:cc:dd:ee:fg", "aabb.ccdd", "", "vacuum.lan", 1 << 48, -1],
)
def test_bad_macs(bad: int | str) -> None:
    with pytest.raises(ValueError):
        parse_mac(bad)


def test_vectorised_flags_match_the_scalar_ones() -> None:
    macs = [0xB827EB123456, 0xBA27EB123456, 0x01005E0000FB, 0x333300000001, 0xFFFFFFFFFFFF, 0x000000000000]
    column = np.array(macs, dtype=np.uint64)
    assert locally_administered_mask(column).tolist() == [False, True, False, True, True, False]
    assert multicast_mask(column).tolist() == [False, False, True, True, True, False]
    assert locally_administered_mask(column).tolist() == [is_locally_administered(m) for m in macs]
    assert multicast_mask(column).tolist() == [is_multicast_mac(m) for m in macs]
