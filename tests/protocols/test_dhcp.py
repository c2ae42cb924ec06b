"""DHCPv4 parser: option handling edge cases, real captures checked against tshark, fuzzing."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.protocols.dhcp import ClientFqdn, parse_dhcp
from engine.protocols.errors import MalformedMessage
from tests.protocols.captured import payloads
from tests.protocols.fuzzing import FUZZ, MUTATIONS, Mutation, mutated, only_malformed
from tests.protocols.wire import dhcp_option

COOKIE = b"\x63\x82\x53\x63"
MAC = bytes.fromhex("a4c3f0123456")


def _header(
    op: int = 1, *, xid: int = 0xCAFE0001, sname: bytes = b"", file: bytes = b"", yiaddr: bytes = bytes(4)
) -> bytes:
    return (
        struct.pack("!BBBBIHH", op, 1, 6, 0, xid, 3, 0x8000)
        + bytes(4)  # ciaddr
        + yiaddr
        + bytes([192, 168, 1, 1])  # siaddr
        + bytes(4)  # giaddr
        + MAC.ljust(16, b"\x00")
        + sname.ljust(64, b"\x00")
        + file.ljust(128, b"\x00")
    )


def _message(*options: bytes, **header: Any) -> bytes:
    return _header(**header) + COOKIE + b"".join(options) + b"\xff"


def test_discover_with_the_usual_client_options() -> None:
    msg = parse_dhcp(
        _message(
            dhcp_option(53, b"\x01"),
            dhcp_option(61, b"\x01" + MAC),
            dhcp_option(12, b"kitchen-speaker\x00"),
            dhcp_option(60, b"android-dhcp-13"),
            dhcp_option(55, bytes([1, 3, 6, 15, 119, 252])),
            dhcp_option(50, bytes([192, 168, 1, 77])),
            b"\x00\x00",  # pads
        )
    )
    assert (msg.op, msg.htype, msg.hlen, msg.xid, msg.secs, msg.broadcast) == (1, 1, 6, 0xCAFE0001, 3, True)
    assert msg.client_mac == "a4:c3:f0:12:34:56"
    assert msg.chaddr_hex == "a4c3f0123456"
    assert (msg.message_type, msg.message_type_name) == (1, "DISCOVER")
    assert msg.client_id == "01a4c3f0123456"
    assert msg.hostname == "kitchen-speaker"  # the NUL terminator some clients count is dropped
    assert msg.vendor_class == "android-dhcp-13"
    assert msg.parameter_request_list == (1, 3, 6, 15, 119, 252)
    assert msg.requested_ip == "192.168.1.77"
    assert msg.siaddr == "192.168.1.1"
    assert msg.is_bootp is False
    assert msg.problems == ()
    assert msg.option(12) == b"kitchen-speaker\x00"
    assert msg.option(99) is None


def test_ack_with_server_options() -> None:
    msg = parse_dhcp(
        _message(
            dhcp_option(53, b"\x05"),
            dhcp_option(54, bytes([192, 168, 1, 1])),
            dhcp_option(51, struct.pack("!I", 86400)),
            dhcp_option(1, bytes([255, 255, 255, 0])),
            dhcp_option(3, bytes([192, 168, 1, 1])),
            dhcp_option(6, bytes([192, 168, 1, 1, 9, 9, 9, 9])),
            dhcp_option(15, b"home.arpa"),
            op=2,
            yiaddr=bytes([192, 168, 1, 77]),
        )
    )
    assert msg.message_type_name == "ACK"
    assert msg.yiaddr == "192.168.1.77"
    assert msg.server_id == "192.168.1.1"
    assert msg.lease_time == 86400
    assert msg.subnet_mask == "255.255.255.0"
    assert msg.routers == ("192.168.1.1",)
    assert msg.dns_servers == ("192.168.1.1", "9.9.9.9")
    assert msg.domain_name == "home.arpa"


def test_options_overloaded_into_file_and_sname() -> None:
    # option 52 = 3: options go on in `file`, then in `sname` (RFC 2131 4.1)
    file = dhcp_option(12, b"overflow-host") + dhcp_option(15, b"la") + b"\xff"
    sname = dhcp_option(15, b"n") + dhcp_option(60, b"vendor-x") + b"\xff"
    msg = parse_dhcp(_message(dhcp_option(53, b"\x03"), dhcp_option(52, b"\x03"), file=file, sname=sname))
    assert msg.hostname == "overflow-host"
    assert msg.domain_name == "lan"  # pieces in file then sname concatenated
    assert msg.vendor_class == "vendor-x"
    assert msg.server_name == ""  # it held options, not a server name
    assert msg.boot_file == ""
    assert msg.problems == ()


def test_overload_into_file_only_keeps_the_server_name() -> None:
    msg = parse_dhcp(
        _message(dhcp_option(52, b"\x01"), file=dhcp_option(12, b"cam") + b"\xff", sname=b"tftp.lan\x00junk")
    )
    assert msg.hostname == "cam"
    assert msg.server_name == "tftp.lan"
    assert msg.boot_file == ""


def test_without_overload_file_and_sname_are_text() -> None:
    msg = parse_dhcp(_message(dhcp_option(53, b"\x02"), sname=b"boot-server", file=b"pxelinux.0"))
    assert (msg.server_name, msg.boot_file) == ("boot-server", "pxelinux.0")


def test_repeated_long_option_is_concatenated() -> None:
    # RFC 3396: a 300-byte vendor class split over two option instances
    first, second = b"A" * 255, b"B" * 45
    msg = parse_dhcp(_message(dhcp_option(60, first), dhcp_option(53, b"\x01"), dhcp_option(60, second)))
    assert msg.vendor_class == "A" * 255 + "B" * 45
    assert [code for code, _ in msg.options] == [60, 53]


def test_option_length_past_the_end_keeps_earlier_options() -> None:
    payload = _header() + COOKIE + dhcp_option(53, b"\x01") + dhcp_option(12, b"printer") + b"\x3c\x20abc"
    msg = parse_dhcp(payload)
    assert msg.message_type == 1
    assert msg.hostname == "printer"
    assert msg.vendor_class is None
    assert msg.problems == ("dhcp-option-past-end",)


def test_option_code_without_length_byte_at_the_very_end() -> None:
    msg = parse_dhcp(_header() + COOKIE + dhcp_option(53, b"\x08") + b"\x0c")
    assert msg.message_type_name == "INFORM"
    assert msg.problems == ("dhcp-option-past-end",)


def test_missing_end_option_is_a_problem_but_options_are_kept() -> None:
    msg = parse_dhcp(_header() + COOKIE + dhcp_option(53, b"\x07"))
    assert msg.message_type_name == "RELEASE"
    assert msg.problems == ("dhcp-no-end-option",)


def test_missing_cookie_is_bootp_without_options() -> None:
    msg = parse_dhcp(_header(op=2) + b"\x00" * 64)
    assert msg.is_bootp is True
    assert msg.message_type is None
    assert msg.message_type_name is None
    assert msg.options == ()
    assert msg.client_mac == "a4:c3:f0:12:34:56"
    assert msg.problems == ("dhcp-no-magic-cookie",)
    assert parse_dhcp(_header()).problems == ()  # a bare 236-byte header: plain BOOTP


def test_header_shorter_than_236_bytes_raises() -> None:
    with pytest.raises(MalformedMessage) as info:
        parse_dhcp(_header()[:235])
    assert info.value.reason == "dhcp-short-header"


def test_non_ethernet_hardware_has_no_mac() -> None:
    payload = bytearray(_message(dhcp_option(53, b"\x01")))
    payload[1], payload[2] = 6, 8  # IEEE 802 token ring, 8-byte address
    msg = parse_dhcp(bytes(payload))
    assert msg.client_mac is None
    assert msg.chaddr_hex == "a4c3f01234560000"


def test_text_options_with_non_utf8_bytes() -> None:
    msg = parse_dhcp(_message(dhcp_option(12, b"Andr\xe9s-PC"), dhcp_option(60, b"MSFT\x075.0")))
    assert msg.hostname == "Andr\\xe9s-PC"
    assert msg.vendor_class == "MSFT\\x075.0"


def test_wrong_option_lengths_are_problems() -> None:
    msg = parse_dhcp(
        _message(
            dhcp_option(53, b"\x01\x02"),
            dhcp_option(50, b"\x0a\x00\x00"),
            dhcp_option(6, b"\x08\x08\x08"),
            dhcp_option(51, b"\x00\x01"),
        )
    )
    assert (msg.message_type, msg.requested_ip, msg.dns_servers, msg.lease_time) == (None, None, (), None)
    assert msg.problems == ("dhcp-bad-option-length",)


def test_client_fqdn_in_wire_format_and_ascii() -> None:
    wire = parse_dhcp(_message(dhcp_option(81, b"\x05\x00\x00\x06laptop\x04home\x04arpa\x00")))
    assert wire.client_fqdn == ClientFqdn(0x05, "laptop.home.arpa")
    partial = parse_dhcp(_message(dhcp_option(81, b"\x04\x00\x00\x06laptop")))
    assert partial.client_fqdn == ClientFqdn(0x04, "laptop")
    ascii_form = parse_dhcp(_message(dhcp_option(81, b"\x01\xff\xffdesk.lan")))
    assert ascii_form.client_fqdn == ClientFqdn(0x01, "desk.lan")


# ------------------------------------------------------------------------------------ real captures


def test_xiaomi_camera_capture_matches_tshark() -> None:
    frames = payloads("iotfw_dhcp-xiaomi.pcap", 67, 68)
    # tshark -e dhcp.hw.mac_addr -e dhcp.id -e dhcp.option.dhcp -e dhcp.option.hostname
    #        -e dhcp.option.vendor_class_id -e dhcp.option.request_list_item, frame 1
    discover = parse_dhcp(frames[1])
    assert discover.client_mac == "78:8b:2a:b2:20:ea"
    assert discover.xid == 0x6617CA54
    assert discover.message_type_name == "DISCOVER"
    assert discover.hostname == "chuangmi_camera_ipc019"
    assert discover.vendor_class == "udhcp 1.28.1"
    assert discover.parameter_request_list == (1, 3, 6, 12, 15, 28, 42)
    assert discover.client_id == "01788b2ab220ea"
    # frame 3: OFFER of 192.168.1.161, server/router/DNS 192.168.1.1, domain "lan", lease 43200
    offer = parse_dhcp(frames[3])
    assert offer.message_type_name == "OFFER"
    assert offer.yiaddr == "192.168.1.161"
    assert (offer.server_id, offer.routers, offer.dns_servers) == (
        "192.168.1.1",
        ("192.168.1.1",),
        ("192.168.1.1",),
    )
    assert (offer.domain_name, offer.subnet_mask, offer.lease_time) == ("lan", "255.255.255.0", 43200)
    # frame 4: REQUEST with dhcp.option.requested_ip_address 192.168.1.161
    assert parse_dhcp(frames[4]).requested_ip == "192.168.1.161"


def test_zeek_capture_matches_tshark() -> None:
    frames = payloads("zeek_dhcp.pcap", 67, 68)
    # tshark -e dhcp.option.dhcp -e dhcp.option.vendor_class_id -e dhcp.option.domain_name_server, frame 2
    offer = parse_dhcp(frames[2])
    assert offer.message_type_name == "OFFER"
    assert offer.yiaddr == "128.2.6.97"
    assert offer.vendor_class == "ArubaAP"
    assert offer.domain_name == "cmu.edu"
    assert offer.dns_servers == ("128.2.1.11", "128.2.1.10")
    assert offer.lease_time == 900
    # frames 1 and 5: hostname btest.is.cool, requested 192.168.211.194 then 128.2.6.189
    assert (parse_dhcp(frames[1]).hostname, parse_dhcp(frames[1]).requested_ip) == (
        "btest.is.cool",
        "192.168.211.194",
    )
    assert parse_dhcp(frames[5]).requested_ip == "128.2.6.189"
    assert parse_dhcp(frames[4]).message_type_name == "NAK"
    assert all(parse_dhcp(p).problems == () for p in frames.values())


def test_iphone_capture_matches_tshark() -> None:
    frames = payloads("ndpi_iphone.pcap", 67, 68)
    # tshark -e dhcp.option.hostname -e dhcp.option.request_list_item -e dhcp.option.ip_address_lease_time
    msg = parse_dhcp(frames[2])
    assert (msg.client_mac, msg.hostname, msg.lease_time) == ("d8:30:62:56:00:1c", "Lucas-iMac", 7776000)
    assert msg.parameter_request_list == (1, 121, 3, 6, 15, 119, 252, 95, 44, 46)
    assert [code for code, _ in msg.options] == [53, 55, 57, 61, 51, 12]  # tshark -O dhcp option order


# ---------------------------------------------------------------------------------------- properties


def _seeds() -> list[bytes]:
    real = list(payloads("ndpi_iphone.pcap", 67, 68).values()) + list(
        payloads("ndpi_telegram.pcap", 67, 68).values()
    )
    return [*real, _message(dhcp_option(52, b"\x03"), file=dhcp_option(12, b"x") + b"\xff")]


@FUZZ
@given(MUTATIONS)
def test_mutated_real_messages_raise_only_malformed_message(mutation: Mutation) -> None:
    for data in mutated(_seeds(), mutation):
        only_malformed(parse_dhcp, data)


@FUZZ
@given(st.binary(max_size=200))
def test_arbitrary_options_raise_only_malformed_message(data: bytes) -> None:
    only_malformed(parse_dhcp, data)
    only_malformed(parse_dhcp, _header() + COOKIE + data)
    only_malformed(parse_dhcp, _header(sname=data[:64], file=data[64:192]) + COOKIE + b"\x34\x01\x03\xff")
