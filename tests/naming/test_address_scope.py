"""Address scopes, home prefixes and traffic direction: the vectorised and text forms against a table."""

from __future__ import annotations

import ipaddress

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.address_scope import (
    AddressScope,
    HomeNetwork,
    TrafficClass,
    address_halves,
    check_home_prefix,
    classify,
    classify_text,
    traffic_class,
)
from engine.decode.packets import ip_to_str

S = AddressScope

# (address, expected scope): the edges of every range, and a little beyond them
TABLE: list[tuple[str, AddressScope]] = [
    # IPv4 unspecified, "this network", loopback
    ("0.0.0.0", S.UNSPECIFIED),
    ("0.0.0.1", S.RESERVED),
    ("0.255.255.255", S.RESERVED),
    ("1.0.0.0", S.GLOBAL),
    ("127.0.0.1", S.LOOPBACK),
    ("127.255.255.255", S.LOOPBACK),
    # RFC 1918 and neighbours
    ("9.255.255.255", S.GLOBAL),
    ("10.0.0.0", S.PRIVATE),
    ("10.255.255.255", S.PRIVATE),
    ("11.0.0.0", S.GLOBAL),
    ("172.15.255.255", S.GLOBAL),
    ("172.16.0.0", S.PRIVATE),
    ("172.31.255.255", S.PRIVATE),
    ("172.32.0.0", S.GLOBAL),
    ("192.167.255.255", S.GLOBAL),
    ("192.168.0.0", S.PRIVATE),
    ("192.168.1.10", S.PRIVATE),
    ("192.168.255.255", S.PRIVATE),
    ("192.169.0.0", S.GLOBAL),
    # CGNAT
    ("100.63.255.255", S.GLOBAL),
    ("100.64.0.0", S.CGNAT),
    ("100.127.255.255", S.CGNAT),
    ("100.128.0.0", S.GLOBAL),
    # link-local
    ("169.253.255.255", S.GLOBAL),
    ("169.254.0.0", S.LINK_LOCAL),
    ("169.254.169.254", S.LINK_LOCAL),
    ("169.254.255.255", S.LINK_LOCAL),
    ("169.255.0.0", S.GLOBAL),
    # IETF protocol assignments, documentation, benchmarking, 6to4 relay
    ("192.0.0.0", S.RESERVED),
    ("192.0.0.8", S.RESERVED),
    ("192.0.0.9", S.GLOBAL),
    ("192.0.0.10", S.GLOBAL),
    ("192.0.0.11", S.RESERVED),
    ("192.0.0.255", S.RESERVED),
    ("192.0.1.0", S.GLOBAL),
    ("192.0.2.0", S.DOCUMENTATION),
    ("192.0.2.255", S.DOCUMENTATION),
    ("192.0.3.0", S.GLOBAL),
    ("192.88.99.1", S.SHARED_TRANSITION),
    ("198.17.255.255", S.GLOBAL),
    ("198.18.0.0", S.BENCHMARK),
    ("198.19.255.255", S.BENCHMARK),
    ("198.20.0.0", S.GLOBAL),
    ("198.51.100.7", S.DOCUMENTATION),
    ("203.0.113.255", S.DOCUMENTATION),
    ("203.0.114.0", S.GLOBAL),
    ("8.8.8.8", S.GLOBAL),
    ("223.255.255.255", S.GLOBAL),
    # multicast
    ("224.0.0.0", S.MULTICAST_LINK),
    ("224.0.0.251", S.MULTICAST_LINK),  # mDNS
    ("224.0.0.252", S.MULTICAST_LINK),  # LLMNR
    ("224.0.0.255", S.MULTICAST_LINK),
    ("224.0.1.1", S.MULTICAST_GLOBAL),  # NTP
    ("232.1.2.3", S.MULTICAST_GLOBAL),
    ("238.255.255.255", S.MULTICAST_GLOBAL),
    ("239.0.0.0", S.MULTICAST_SITE_ORG),
    ("239.255.255.250", S.MULTICAST_SITE_ORG),  # SSDP
    ("239.255.255.255", S.MULTICAST_SITE_ORG),
    # class E and the limited broadcast
    ("240.0.0.0", S.RESERVED),
    ("255.255.255.254", S.RESERVED),
    ("255.255.255.255", S.BROADCAST),
    # IPv6 special addresses
    ("::", S.UNSPECIFIED),
    ("::1", S.LOOPBACK),
    ("::2", S.RESERVED),
    ("::ffff:192.168.1.1", S.PRIVATE),  # IPv4-mapped is IPv4
    ("::ffff:8.8.8.8", S.GLOBAL),
    ("::8.8.8.8", S.RESERVED),  # deprecated IPv4-compatible
    ("100::1", S.RESERVED),  # discard-only
    ("1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", S.RESERVED),
    # NAT64
    ("64:ff9b::", S.SHARED_TRANSITION),
    ("64:ff9b::8.8.8.8", S.SHARED_TRANSITION),
    ("64:ff9b::1:0:0", S.RESERVED),  # just past the /96
    ("64:ff9b:1::1", S.SHARED_TRANSITION),
    # global unicast and its special blocks
    ("2000::", S.GLOBAL),
    ("2001::", S.SHARED_TRANSITION),  # Teredo
    ("2001:0:ffff:ffff:ffff:ffff:ffff:ffff", S.SHARED_TRANSITION),
    ("2001:1::1", S.GLOBAL),  # PCP anycast
    ("2001:1::3", S.GLOBAL),
    ("2001:1::4", S.RESERVED),
    ("2001:2::1", S.BENCHMARK),
    ("2001:3::1", S.GLOBAL),  # AMT
    ("2001:1ff:ffff:ffff::", S.RESERVED),
    ("2001:200::", S.GLOBAL),
    ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", S.GLOBAL),
    ("2001:db8::", S.DOCUMENTATION),
    ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", S.DOCUMENTATION),
    ("2001:db9::", S.GLOBAL),
    ("2001:4860:4860::8888", S.GLOBAL),
    ("2002::", S.SHARED_TRANSITION),  # 6to4
    ("2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", S.SHARED_TRANSITION),
    ("2003::", S.GLOBAL),
    ("2a00:1450:4001:80b::200e", S.GLOBAL),
    ("3fff::1", S.DOCUMENTATION),
    ("3fff:fff::", S.DOCUMENTATION),
    ("3fff:1000::", S.GLOBAL),
    ("3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", S.GLOBAL),
    ("4000::", S.RESERVED),
    # ULA, link-local, deprecated site-local
    ("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", S.RESERVED),
    ("fc00::", S.ULA),
    ("fd12:3456:789a::1", S.ULA),
    ("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", S.ULA),
    ("fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", S.RESERVED),
    ("fe80::", S.LINK_LOCAL),
    ("fe80::1%wlan0", S.LINK_LOCAL),
    ("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", S.LINK_LOCAL),
    ("fec0::1", S.RESERVED),
    # IPv6 multicast by scope, whatever the flags
    ("ff00::", S.MULTICAST_LINK),  # reserved scope 0
    ("ff01::1", S.MULTICAST_LINK),  # interface-local
    ("ff02::1", S.MULTICAST_LINK),
    ("ff02::fb", S.MULTICAST_LINK),  # mDNS
    ("ff02::1:ff00:1", S.MULTICAST_LINK),  # solicited-node
    ("ff12::8000:1", S.MULTICAST_LINK),  # transient, link scope
    ("ff32:ff:fd00::1", S.MULTICAST_LINK),  # prefix-based, link scope
    ("ff03::1", S.MULTICAST_SITE_ORG),  # realm-local
    ("ff04::1", S.MULTICAST_SITE_ORG),  # admin-local
    ("ff05::1:3", S.MULTICAST_SITE_ORG),  # DHCPv6 servers, site-local
    ("ff05::c", S.MULTICAST_SITE_ORG),  # SSDP site-local
    ("ff08::1", S.MULTICAST_SITE_ORG),  # organisation-local
    ("ff0d::1", S.MULTICAST_SITE_ORG),
    ("ff0e::101", S.MULTICAST_GLOBAL),  # NTP, global
    ("ff3e::8000:1", S.MULTICAST_GLOBAL),
    ("ff0f::1", S.MULTICAST_GLOBAL),  # reserved scope F
    ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", S.MULTICAST_GLOBAL),
]


def _columns(addresses: list[str]) -> tuple[np.ndarray, np.ndarray]:
    halves = [address_halves(a) for a in addresses]
    return (
        np.array([h for h, _ in halves], dtype=np.uint64),
        np.array([lo for _, lo in halves], dtype=np.uint64),
    )


def test_table_is_large_enough_and_covers_every_scope() -> None:
    assert len(TABLE) >= 40
    assert {scope for _, scope in TABLE} == set(AddressScope)


@pytest.mark.parametrize(("address", "expected"), TABLE, ids=[a for a, _ in TABLE])
def test_classify_text(address: str, expected: AddressScope) -> None:
    assert classify_text(address) is expected


def test_classify_column_matches_the_table_row_by_row() -> None:
    hi, lo = _columns([a for a, _ in TABLE])
    got = classify(hi, lo)
    assert got.dtype == np.uint8
    assert [AddressScope(v) for v in got] == [scope for _, scope in TABLE]


def test_classify_keeps_the_shape_and_takes_empty_columns() -> None:
    hi, lo = _columns(["8.8.8.8", "10.0.0.1", "ff02::fb", "::1"])
    assert classify(hi.reshape(2, 2), lo.reshape(2, 2)).tolist() == [
        [S.GLOBAL, S.PRIVATE],
        [S.MULTICAST_LINK, S.LOOPBACK],
    ]
    assert classify(np.empty(0, np.uint64), np.empty(0, np.uint64)).shape == (0,)
    with pytest.raises(ValueError, match="differ in shape"):
        classify(hi, lo[:2])


def test_address_halves_use_the_engine_representation() -> None:
    assert address_halves("192.168.1.2") == (0, 0x0000FFFFC0A80102)
    assert address_halves("::ffff:192.168.1.2") == (0, 0x0000FFFFC0A80102)
    assert address_halves("2001:db8::1") == (0x20010DB800000000, 1)
    hi, lo = address_halves("fe80::1%wlan0")
    assert ip_to_str(hi, lo) == "fe80::1"
    with pytest.raises(ValueError):
        address_halves("192.168.1.300")


ipv4_text = st.integers(0, 2**32 - 1).map(lambda v: str(ipaddress.IPv4Address(v)))
ipv6_text = st.integers(0, 2**128 - 1).map(lambda v: str(ipaddress.IPv6Address(v)))


# random addresses rarely land in small blocks: also draw near every rule's edges
def _as_int(text: str) -> int:
    ip = ipaddress.ip_address(text.split("%", maxsplit=1)[0])
    return (0xFFFF << 32) | int(ip) if ip.version == 4 else int(ip)


_EDGES = sorted({_as_int(a) for a, _ in TABLE})
near_edge = st.tuples(st.sampled_from(_EDGES), st.integers(-3, 3)).map(
    lambda t: str(ipaddress.IPv6Address(min(max(t[0] + t[1], 0), 2**128 - 1)))
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(ipv4_text, ipv6_text, near_edge), min_size=1, max_size=20))
def test_classify_agrees_with_classify_text(addresses: list[str]) -> None:
    hi, lo = _columns(addresses)
    assert [AddressScope(v) for v in classify(hi, lo)] == [classify_text(a) for a in addresses]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(ipv4_text, ipv6_text, near_edge), min_size=1, max_size=10))
def test_subnet_broadcasts_agree_between_the_two_forms(addresses: list[str]) -> None:
    home = HomeNetwork(["192.168.1.0/24", "10.0.0.0/8", "2001:db8:1::/64"])
    addresses = [*addresses, "192.168.1.255", "10.255.255.255"]
    hi, lo = _columns(addresses)
    got = [AddressScope(v) for v in classify(hi, lo, home=home)]
    assert got == [classify_text(a, home=home) for a in addresses]
    assert got[-2:] == [S.BROADCAST, S.BROADCAST]


# ---- the home network --------------------------------------------------------------------------------------


def test_subnet_broadcast_needs_a_home_prefix() -> None:
    assert classify_text("192.168.1.255") is S.PRIVATE
    home = HomeNetwork(["192.168.1.0/24", "192.0.2.0/31"])
    assert classify_text("192.168.1.255", home=home) is S.BROADCAST
    assert classify_text("192.168.1.254", home=home) is S.PRIVATE
    assert classify_text("192.168.2.255", home=home) is S.PRIVATE
    assert classify_text("192.0.2.1", home=home) is S.DOCUMENTATION  # a /31 has no broadcast address


def test_home_local_internet() -> None:
    home = HomeNetwork(["192.168.1.0/24", "2001:db8:1::/64", "203.0.113.0/24"])
    rows = {
        # address: (is_home, is_local, is_internet)
        "192.168.1.20": (True, True, False),
        "192.168.2.20": (False, True, False),  # private, but not a home prefix
        "203.0.113.5": (True, True, False),  # a configured prefix counts whatever its scope
        "2001:db8:1::abcd": (True, True, False),
        "2001:db8:2::1": (False, False, False),  # documentation, not home
        "fd00::1": (False, True, False),
        "fe80::1": (False, True, False),
        "127.0.0.1": (False, True, False),
        "::1": (False, True, False),
        "169.254.1.1": (False, True, False),
        "100.64.1.1": (False, False, True),  # CGNAT lies beyond the router unless configured
        "8.8.8.8": (False, False, True),
        "2a00:1450::1": (False, False, True),
        "64:ff9b::8.8.8.8": (False, False, True),
        "2002:c000:204::1": (False, False, True),
        "224.0.0.251": (False, False, False),
        "ff02::fb": (False, False, False),
        "255.255.255.255": (False, False, False),
        "0.0.0.0": (False, False, False),
        "198.18.0.1": (False, False, False),
        "240.0.0.1": (False, False, False),
    }
    hi, lo = _columns(list(rows))
    expected = np.array(list(rows.values()))
    assert home.is_home(hi, lo).tolist() == expected[:, 0].tolist()
    assert home.is_local(hi, lo).tolist() == expected[:, 1].tolist()
    assert home.is_internet(hi, lo).tolist() == expected[:, 2].tolist()


def test_cgnat_is_local_only_when_configured() -> None:
    hi, lo = _columns(["100.64.0.1", "100.127.255.255"])
    assert HomeNetwork().is_local(hi, lo).tolist() == [False, False]
    assert HomeNetwork().is_internet(hi, lo).tolist() == [True, True]
    local = HomeNetwork(cgnat_is_local=True)
    assert local.is_local(hi, lo).tolist() == [True, True]
    assert local.is_internet(hi, lo).tolist() == [False, False]


def test_learn_prefix_from_dhcp_and_router_advertisement() -> None:
    home = HomeNetwork()
    hi, lo = _columns(["192.168.178.30", "2a02:8070:1:2::5", "2a02:8070:1:3::5"])
    assert home.is_home(hi, lo).tolist() == [False, False, False]
    assert home.is_internet(hi, lo).tolist() == [False, True, True]
    # DHCP: the router's address with the subnet mask
    assert home.learn_prefix("192.168.178.1/255.255.255.0", "dhcp 192.168.178.1") is True
    # router advertisement prefix information
    assert home.learn_prefix(ipaddress.ip_network("2a02:8070:1:2::/64"), "ra") is True
    assert home.learn_prefix("192.168.178.0/25", "dhcp") is False  # already covered
    assert home.learn_prefix("2a02:8070:1:2::/64", "ra") is False
    assert [(str(p.network), p.source) for p in home.prefixes] == [
        ("192.168.178.0/24", "dhcp 192.168.178.1"),
        ("2a02:8070:1:2::/64", "ra"),
    ]
    assert home.is_home(hi, lo).tolist() == [True, True, False]
    assert home.is_internet(hi, lo).tolist() == [False, False, True]


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("0.0.0.0/0", "too broad"),
        ("10.0.0.0/7", "too broad"),
        ("2000::/3", "too broad"),
        ("224.0.0.0/24", "multicast link"),
        ("ff02::/64", "multicast link"),
        ("127.0.0.0/8", "loopback"),
        ("fe80::/64", "link local"),
        ("169.254.0.0/16", "link local"),
        ("not a prefix", "does not appear to be"),
    ],
)
def test_implausible_home_prefixes_are_refused(prefix: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_home_prefix(prefix)
    with pytest.raises(ValueError, match=message):
        HomeNetwork().learn_prefix(prefix, "ra")


# ---- traffic direction -------------------------------------------------------------------------------------


def test_traffic_class() -> None:
    home = HomeNetwork(["192.168.1.0/24", "2a02:8070:1:2::/64"])
    flows = [
        ("192.168.1.20", "8.8.8.8", TrafficClass.LAN_TO_INTERNET),
        ("2a02:8070:1:2::20", "2a00:1450::1", TrafficClass.LAN_TO_INTERNET),
        ("fe80::1", "2a00:1450::1", TrafficClass.LAN_TO_INTERNET),
        ("192.168.1.20", "64:ff9b::8.8.8.8", TrafficClass.LAN_TO_INTERNET),
        ("192.168.1.20", "100.64.0.1", TrafficClass.LAN_TO_INTERNET),
        ("142.250.1.1", "192.168.1.20", TrafficClass.INTERNET_TO_LAN),
        ("2a00:1450::1", "2a02:8070:1:2::20", TrafficClass.INTERNET_TO_LAN),
        ("192.168.1.20", "192.168.1.1", TrafficClass.LAN_TO_LAN),
        ("fe80::1", "fe80::2", TrafficClass.LAN_TO_LAN),
        ("2a02:8070:1:2::20", "fd00::1", TrafficClass.LAN_TO_LAN),
        ("192.168.1.20", "224.0.0.251", TrafficClass.MULTICAST_BROADCAST),
        ("fe80::1", "ff02::fb", TrafficClass.MULTICAST_BROADCAST),
        ("192.168.1.20", "239.255.255.250", TrafficClass.MULTICAST_BROADCAST),
        ("0.0.0.0", "255.255.255.255", TrafficClass.MULTICAST_BROADCAST),
        ("192.168.1.20", "192.168.1.255", TrafficClass.MULTICAST_BROADCAST),
        ("142.250.1.1", "232.1.1.1", TrafficClass.MULTICAST_BROADCAST),
        ("8.8.8.8", "1.1.1.1", TrafficClass.OTHER),  # transit between two outside hosts
        ("192.168.1.20", "192.0.2.1", TrafficClass.OTHER),  # documentation: not routed anywhere
        ("192.168.1.20", "240.0.0.1", TrafficClass.OTHER),
        ("::", "::", TrafficClass.OTHER),  # how the decoder leaves non-IP rows
    ]
    src_hi, src_lo = _columns([s for s, _, _ in flows])
    dst_hi, dst_lo = _columns([d for _, d, _ in flows])
    got = traffic_class(src_hi, src_lo, dst_hi, dst_lo, home)
    assert got.dtype == np.uint8
    assert [TrafficClass(v) for v in got] == [c for _, _, c in flows]


def test_traffic_class_with_cgnat_local() -> None:
    home = HomeNetwork(["192.168.1.0/24"], cgnat_is_local=True)
    src_hi, src_lo = _columns(["192.168.1.20", "100.100.1.1"])
    dst_hi, dst_lo = _columns(["100.64.0.1", "8.8.8.8"])
    got = traffic_class(src_hi, src_lo, dst_hi, dst_lo, home)
    assert [TrafficClass(v) for v in got] == [TrafficClass.LAN_TO_LAN, TrafficClass.LAN_TO_INTERNET]
