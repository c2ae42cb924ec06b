"""DHCPv6 parser: options, DUIDs, relay unwrapping, real captures checked against tshark, fuzzing."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.protocols.dhcpv6 import MAX_RELAY_DEPTH, Duid, VendorClass, parse_dhcpv6
from engine.protocols.errors import MalformedMessage
from tests.protocols.captured import payloads
from tests.protocols.fuzzing import FUZZ, MUTATIONS, Mutation, mutated, only_malformed
from tests.protocols.wire import dhcpv6_option

DUID_LL = struct.pack("!HH", 3, 1) + bytes.fromhex("b827eb0a0b0c")
DUID_LLT = struct.pack("!HHI", 1, 1, 0x1C39CF88) + bytes.fromhex("080027fe8f95")
DUID_EN = struct.pack("!HI", 2, 311) + b"\x01\x02\x03"
LINK = bytes.fromhex("fe800000000000000000000000000001")
PEER = bytes.fromhex("fe80000000000000ba27ebfffe0a0b0c")


def _solicit(txid: int = 0xABCDEF) -> bytes:
    return (
        bytes([1])
        + txid.to_bytes(3, "big")
        + dhcpv6_option(1, DUID_LL)
        + dhcpv6_option(6, struct.pack("!HHH", 23, 24, 39))
        + dhcpv6_option(39, b"\x01\x07raspber\x04home\x04arpa\x00")
        + dhcpv6_option(16, struct.pack("!I", 4491) + struct.pack("!H", 8) + b"docsis3\xff")
        + dhcpv6_option(15, struct.pack("!H", 3) + b"abc" + struct.pack("!H", 2) + b"de")
        + dhcpv6_option(3, struct.pack("!III", 7, 0, 0))
    )


def _reply() -> bytes:
    iaaddr = dhcpv6_option(
        5, bytes.fromhex("20010db8000100020000000000001002") + struct.pack("!II", 3600, 7200)
    )
    iaprefix = dhcpv6_option(
        26, struct.pack("!IIB", 3600, 7200, 56) + bytes.fromhex("20010db8aa0000000000000000000000")
    )
    return (
        bytes([7])
        + (0x123456).to_bytes(3, "big")
        + dhcpv6_option(2, DUID_EN)
        + dhcpv6_option(1, DUID_LLT)
        + dhcpv6_option(3, struct.pack("!III", 7, 1800, 2880) + iaaddr)
        + dhcpv6_option(4, struct.pack("!I", 8) + dhcpv6_option(5, bytes(15) + b"\x09" + bytes(8)))
        + dhcpv6_option(25, struct.pack("!III", 9, 0, 0) + iaprefix)
        + dhcpv6_option(23, bytes.fromhex("20010db8000000000000000000000053") + bytes(15) + b"\x01")
        + dhcpv6_option(24, b"\x04home\x04arpa\x00\x03lan\x00")
    )


def test_solicit_client_identity() -> None:
    msg = parse_dhcpv6(_solicit())
    assert (msg.msg_type, msg.msg_type_name, msg.transaction_id) == (1, "SOLICIT", 0xABCDEF)
    assert msg.client_duid == Duid(DUID_LL.hex(), 3, "b8:27:eb:0a:0b:0c")
    assert msg.client_duid is not None and msg.client_duid.type_name == "LL"
    assert msg.option_request == (23, 24, 39)
    assert (msg.fqdn_flags, msg.client_fqdn) == (1, "raspber.home.arpa")
    assert msg.vendor_class == VendorClass(4491, ("docsis3\\xff",))
    assert msg.user_class == ("abc", "de")
    assert msg.addresses == ()
    assert msg.options == (1, 6, 39, 16, 15, 3)
    assert msg.relayed is None and msg.hop_count is None
    assert msg.problems == ()


def test_reply_addresses_prefixes_and_dns() -> None:
    msg = parse_dhcpv6(_reply())
    assert msg.msg_type_name == "REPLY"
    assert msg.server_duid == Duid(DUID_EN.hex(), 2, None, 311)
    assert msg.client_duid == Duid(DUID_LLT.hex(), 1, "08:00:27:fe:8f:95")
    assert msg.addresses == ("2001:db8:1:2::1002", "::9")  # IA_NA then IA_TA
    assert msg.prefixes == ("2001:db8:aa00::/56",)
    assert msg.dns_servers == ("2001:db8::53", "::1")
    assert msg.domain_list == ("home.arpa", "lan")
    assert msg.problems == ()


def test_partial_fqdn_without_root_label() -> None:
    msg = parse_dhcpv6(b"\x01\x00\x00\x01" + dhcpv6_option(39, b"\x00\x06laptop"))
    assert msg.client_fqdn == "laptop"


def test_relay_forward_is_unwrapped() -> None:
    inner = _solicit()
    relay = bytes([12, 0]) + LINK + PEER + dhcpv6_option(18, b"eth0") + dhcpv6_option(9, inner)
    outer = bytes([12, 1]) + bytes(16) + LINK + dhcpv6_option(9, relay)
    msg = parse_dhcpv6(outer)
    assert (msg.msg_type_name, msg.hop_count, msg.transaction_id) == ("RELAY-FORW", 1, None)
    assert (msg.link_address, msg.peer_address) == ("::", "fe80::1")
    assert msg.relayed is not None
    assert (msg.relayed.hop_count, msg.relayed.link_address, msg.relayed.peer_address) == (
        0,
        "fe80::1",
        "fe80::ba27:ebff:fe0a:b0c",
    )
    assert msg.relayed.options == (18, 9)
    client = msg.innermost
    assert client.msg_type_name == "SOLICIT"
    assert client.client_duid is not None and client.client_duid.mac == "b8:27:eb:0a:0b:0c"
    assert client.client_fqdn == "raspber.home.arpa"


def test_relay_reply_carrying_a_damaged_message() -> None:
    msg = parse_dhcpv6(bytes([13, 0]) + LINK + PEER + dhcpv6_option(9, b"\x07\x00"))
    assert msg.relayed is None
    assert msg.problems == ("dhcpv6-short-header",)


def test_relay_nesting_is_limited() -> None:
    message = _solicit()
    for _ in range(MAX_RELAY_DEPTH + 5):
        message = bytes([12, 0]) + LINK + PEER + dhcpv6_option(9, message)
    msg = parse_dhcpv6(message)
    depth = 0
    deepest = msg
    while deepest.relayed is not None:
        deepest = deepest.relayed
        depth += 1
    assert depth == MAX_RELAY_DEPTH
    assert deepest.msg_type == 12
    assert deepest.problems == ("dhcpv6-relay-too-deep",)


def test_option_past_the_end_keeps_earlier_options() -> None:
    msg = parse_dhcpv6(
        b"\x01\x00\x00\x02" + dhcpv6_option(1, DUID_LL) + struct.pack("!HH", 39, 40) + b"\x00\x03abc"
    )
    assert msg.client_duid is not None and msg.client_duid.mac == "b8:27:eb:0a:0b:0c"
    assert msg.client_fqdn is None
    assert msg.problems == ("dhcpv6-option-past-end",)


def test_bad_inner_lengths_are_problems() -> None:
    msg = parse_dhcpv6(
        b"\x07\x00\x00\x03"
        + dhcpv6_option(23, bytes(20))
        + dhcpv6_option(16, b"\x00\x01")
        + dhcpv6_option(3, struct.pack("!III", 1, 0, 0) + dhcpv6_option(5, bytes(10)))
    )
    assert msg.dns_servers == ("::",)
    assert msg.vendor_class is None
    assert msg.addresses == ()
    assert msg.problems == ("dhcpv6-bad-option-length",)


@pytest.mark.parametrize("payload", [b"", b"\x01\x00\x00", bytes([12]) + bytes(32)])
def test_short_headers_raise(payload: bytes) -> None:
    with pytest.raises(MalformedMessage) as info:
        parse_dhcpv6(payload)
    assert info.value.reason == "dhcpv6-short-header"


def test_duid_without_mac() -> None:
    uuid = struct.pack("!H", 4) + bytes(range(16))
    msg = parse_dhcpv6(b"\x0b\x00\x00\x01" + dhcpv6_option(1, uuid) + dhcpv6_option(2, b"\x00"))
    assert msg.client_duid == Duid(uuid.hex(), 4)
    assert msg.client_duid is not None and msg.client_duid.type_name == "UUID"
    assert msg.server_duid == Duid("00", 0)


# ------------------------------------------------------------------------------------ real captures


def test_wireshark_dhcpv6_capture_matches_tshark() -> None:
    frames = payloads("arkime_wireshark-dhcpv6.pcap", 546, 547)
    # tshark -e dhcpv6.msgtype -e dhcpv6.xid -e dhcpv6.duid.bytes -e dhcpv6.duidllt.link_layer_addr
    #        -e dhcpv6.requested_option_code, frame 2
    solicit = parse_dhcpv6(frames[2])
    assert (solicit.msg_type, solicit.transaction_id) == (1, 0x100874)
    assert solicit.client_duid == Duid("000100011c39cf88080027fe8f95", 1, "08:00:27:fe:8f:95")
    assert solicit.option_request == (23, 24)
    # frame 5: ADVERTISE with dhcpv6.iaprefix.pref_addr 2001:0:0:fe00:: and pref_len 64
    advertise = parse_dhcpv6(frames[5])
    assert advertise.msg_type_name == "ADVERTISE"
    assert advertise.server_duid is not None and advertise.server_duid.mac == "08:00:27:d4:10:bb"
    assert advertise.prefixes == ("2001:0:0:fe00::/64",)
    assert [parse_dhcpv6(frames[n]).msg_type for n in (7, 8, 11, 12)] == [3, 7, 8, 7]


def test_outlease_capture_matches_tshark() -> None:
    frames = payloads("chrissanders_dhcp6_outlease_acquisition.pcapng", 546, 547)
    # tshark -e dhcpv6.xid -e dhcpv6.iaaddr.ip -e dhcpv6.dns_server -e dhcpv6.requested_option_code
    solicit = parse_dhcpv6(frames[1])
    assert (solicit.transaction_id, solicit.option_request) == (0x9DE03F, (23, 24, 39, 31))
    assert solicit.client_duid is not None and solicit.client_duid.mac == "00:0c:29:5e:77:44"
    reply = parse_dhcpv6(frames[4])
    assert (reply.msg_type_name, reply.transaction_id) == ("REPLY", 0x2D1603)
    assert reply.addresses == ("2001:db8:1:2::1002",)
    assert reply.dns_servers == ("2001:db8::35",)
    assert reply.server_duid is not None and reply.server_duid.mac == "00:0c:29:1f:a7:55"


# ---------------------------------------------------------------------------------------- properties


def _seeds() -> list[bytes]:
    relay = bytes([12, 0]) + LINK + PEER + dhcpv6_option(9, _reply())
    return [*payloads("arkime_wireshark-dhcpv6.pcap", 546, 547).values(), _solicit(), relay]


@FUZZ
@given(MUTATIONS)
def test_mutated_messages_raise_only_malformed_message(mutation: Mutation) -> None:
    for data in mutated(_seeds(), mutation):
        only_malformed(parse_dhcpv6, data)


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_malformed_message(data: bytes) -> None:
    only_malformed(parse_dhcpv6, data)
    only_malformed(parse_dhcpv6, bytes([12, 0]) + LINK + PEER + data)
