"""Link-layer decoding of crafted frames, one link type (and one encapsulation) at a time.

Every frame is built with struct from the framing's specification; each test asserts the decoded columns
that framing determines (MACs, VLAN, EtherType, link-level class, the IP layer found inside)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from engine.analysis import note_undecoded
from engine.capture.source import CaptureSet
from engine.decode.malformed import Malformed
from engine.decode.packets import LinkClass, Packets
from tests.engine.crafted import (
    ETH_DST,
    ETH_SRC,
    decode_frames,
    ethernet,
    ip4,
    ipv4,
    ipv6,
    mac,
    mac_int,
    report_for,
    tcp,
    udp,
    v4_lo,
    v6_halves,
    vlan_tag,
    write_pcap,
)

IP_PACKET = ipv4(udp(5353, 53, b"query"), src="10.1.2.3", dst="10.9.8.7")
IP6_PACKET = ipv6(tcp(40000, 443, b"hello"), 6, src="fe80::1", dst="2001:db8::53")


def row(p: Packets, i: int = 0) -> dict[str, int]:
    """The scalar columns of packet `i`."""
    names = [
        "src_mac",
        "dst_mac",
        "has_src_mac",
        "has_dst_mac",
        "vlan",
        "ethertype",
        "link_class",
        "l3",
        "ip_version",
        "src_hi",
        "src_lo",
        "dst_hi",
        "dst_lo",
        "ip_proto",
        "ttl",
        "fragment",
        "l4",
        "sport",
        "dport",
        "tcp_flags",
        "icmp_type",
        "icmp_code",
        "payload",
        "payload_len",
        "malformed",
        "snaplen_cut",
        "start",
    ]
    return {n: int(getattr(p, n)[i]) for n in names}


def assert_inner_ipv4_udp(r: dict[str, int]) -> None:
    assert r["ethertype"] == 0x0800
    assert r["link_class"] == LinkClass.NETWORK
    assert r["ip_version"] == 4
    assert (r["src_lo"], r["dst_lo"]) == (v4_lo("10.1.2.3"), v4_lo("10.9.8.7"))
    assert (r["ip_proto"], r["sport"], r["dport"]) == (17, 5353, 53)
    assert r["payload_len"] == len(b"query")
    assert r["malformed"] == 0


# --- Ethernet and what it carries ------------------------------------------------------------------


def test_ethernet_ipv4() -> None:
    r = row(decode_frames([ethernet(IP_PACKET)]))
    assert (r["src_mac"], r["dst_mac"]) == (mac_int(ETH_SRC), mac_int(ETH_DST))
    assert r["has_src_mac"] and r["has_dst_mac"]
    assert r["vlan"] == 0
    assert r["l3"] == r["start"] + 14
    assert_inner_ipv4_udp(r)


def test_ethernet_8021q() -> None:
    frame = ethernet(vlan_tag(100, 0x0800, pcp=5) + IP_PACKET, 0x8100)
    r = row(decode_frames([frame]))
    assert r["vlan"] == 100
    assert r["l3"] == r["start"] + 18
    assert_inner_ipv4_udp(r)


@pytest.mark.parametrize("outer_type", [0x88A8, 0x9100])
def test_stacked_8021ad_and_8021q(outer_type: int) -> None:
    frame = ethernet(vlan_tag(10, 0x8100) + vlan_tag(20, 0x86DD) + IP6_PACKET, outer_type)
    r = row(decode_frames([frame]))
    assert r["vlan"] == 10  # the outermost (service) tag
    assert r["ethertype"] == 0x86DD
    assert r["l3"] == r["start"] + 22
    assert r["ip_version"] == 6
    assert (r["src_hi"], r["src_lo"]) == v6_halves("fe80::1")
    assert (r["sport"], r["dport"]) == (40000, 443)


def pppoe_session(ppp_protocol: int, payload: bytes, session: int = 0x1234) -> bytes:
    body = struct.pack(">H", ppp_protocol) + payload
    return struct.pack(">BBHH", 0x11, 0x00, session, len(body)) + body


def test_pppoe_session_carrying_ipv4() -> None:
    r = row(decode_frames([ethernet(pppoe_session(0x0021, IP_PACKET), 0x8864)]))
    assert r["l3"] == r["start"] + 14 + 8
    assert_inner_ipv4_udp(r)


def test_pppoe_session_carrying_ipv6() -> None:
    r = row(decode_frames([ethernet(pppoe_session(0x0057, IP6_PACKET), 0x8864)]))
    assert (r["ethertype"], r["ip_version"], r["dport"]) == (0x86DD, 6, 443)


def test_pppoe_lcp_frame_has_no_network_layer() -> None:
    lcp = bytes([0x09, 0x01, 0x00, 0x08]) + b"\x12\x34\x56\x78"  # echo request
    frame = ethernet(pppoe_session(0xC021, lcp), 0x8864)
    p = decode_frames([frame])
    r = row(p)
    assert r["ethertype"] == 0x8864  # counted as a PPPoE session frame
    assert r["ip_version"] == 0
    assert r["l3"] == -1
    assert r["malformed"] == 0
    assert (r["src_mac"], r["dst_mac"]) == (mac_int(ETH_SRC), mac_int(ETH_DST))


def test_llc_snap_carrying_ipv4() -> None:
    body = bytes([0xAA, 0xAA, 0x03, 0, 0, 0]) + struct.pack(">H", 0x0800) + IP_PACKET
    frame = ethernet(body, len(body))  # an 802.3 length, not an EtherType
    r = row(decode_frames([frame]))
    assert r["l3"] == r["start"] + 22
    assert_inner_ipv4_udp(r)


def test_plain_llc_spanning_tree() -> None:
    bpdu = bytes([0x42, 0x42, 0x03]) + bytes(35)
    frame = ethernet(bpdu, len(bpdu), dst="01:80:c2:00:00:00")
    r = row(decode_frames([frame]))
    assert r["link_class"] == LinkClass.LLC
    assert r["ethertype"] == 0
    assert r["ip_version"] == 0
    assert r["dst_mac"] == mac_int("01:80:c2:00:00:00")
    assert r["malformed"] == 0


def mpls_label(label: int, bottom: bool, ttl: int = 64) -> bytes:
    return struct.pack(">I", (label << 12) | (int(bottom) << 8) | ttl)


def test_mpls_label_stack_with_ipv4_inside() -> None:
    stack = mpls_label(16, False) + mpls_label(17, False) + mpls_label(18, True)
    r = row(decode_frames([ethernet(stack + IP_PACKET, 0x8847)]))
    assert r["l3"] == r["start"] + 14 + 12
    assert_inner_ipv4_udp(r)


def test_mpls_with_ipv6_inside() -> None:
    r = row(decode_frames([ethernet(mpls_label(99, True) + IP6_PACKET, 0x8847)]))
    assert (r["ethertype"], r["ip_version"], r["dport"]) == (0x86DD, 6, 443)


def test_arp_fields() -> None:
    arp = struct.pack(">HHBBH", 1, 0x0800, 6, 4, 2) + mac(ETH_SRC) + ip4("192.168.1.1")
    arp += mac(ETH_DST) + ip4("192.168.1.20")
    p = decode_frames([ethernet(IP_PACKET), ethernet(arp, 0x0806)])
    assert int(p.ethertype[1]) == 0x0806
    assert p.arp is not None
    assert p.arp.rows.tolist() == [1]
    assert p.arp.op.tolist() == [2]
    assert p.arp.sender_mac.tolist() == [mac_int(ETH_SRC)]
    assert p.arp.sender_ip.tolist() == [0xC0A80101]
    assert p.arp.target_ip.tolist() == [0xC0A80114]


# --- raw IP, cooked, loopback, PPP ---------------------------------------------------------------


@pytest.mark.parametrize("linktype", [12, 14, 101])
def test_raw_ip_by_version_nibble(linktype: int) -> None:
    p = decode_frames([IP_PACKET, IP6_PACKET], linktype)
    assert_inner_ipv4_udp(row(p, 0))
    r6 = row(p, 1)
    assert (r6["ethertype"], r6["ip_version"], r6["l3"], r6["dport"]) == (0x86DD, 6, r6["start"], 443)
    assert not p.has_src_mac.any() and not p.has_dst_mac.any()


def test_raw_ip_with_another_version_has_no_network_layer() -> None:
    r = row(decode_frames([b"\x50" + bytes(30)], 101))
    assert (r["ethertype"], r["ip_version"], r["link_class"]) == (0, 0, LinkClass.NO_NETWORK_LAYER)


def test_linktype_228_is_ipv4_and_229_is_ipv6() -> None:
    p = decode_frames([IP_PACKET, IP6_PACKET], [228, 229])
    assert_inner_ipv4_udp(row(p, 0))
    assert (int(p.ethertype[1]), int(p.ip_version[1]), int(p.sport[1])) == (0x86DD, 6, 40000)


def sll_header(protocol: int, address: str = ETH_SRC, arphrd: int = 1, packet_type: int = 0) -> bytes:
    return struct.pack(">HHH", packet_type, arphrd, 6) + mac(address) + b"\0\0" + struct.pack(">H", protocol)


def test_linux_sll() -> None:
    p = decode_frames(
        [sll_header(0x0800) + IP_PACKET, sll_header(0x86DD, "02:00:00:00:00:09") + IP6_PACKET], 113
    )
    r = row(p, 0)
    assert r["src_mac"] == mac_int(ETH_SRC)
    assert r["has_src_mac"] and not r["has_dst_mac"]
    assert r["l3"] == r["start"] + 16
    assert_inner_ipv4_udp(r)
    r6 = row(p, 1)
    assert (r6["src_mac"], r6["ethertype"], r6["dport"]) == (mac_int("02:00:00:00:00:09"), 0x86DD, 443)


def test_linux_sll_with_a_non_ethernet_address_has_no_mac() -> None:
    # ARPHRD_NONE (0xFFFE) e.g. a tun device: the address field is not a MAC
    r = row(decode_frames([sll_header(0x0800, arphrd=0xFFFE) + IP_PACKET], 113))
    assert not r["has_src_mac"]
    assert_inner_ipv4_udp(r)


def sll2_header(protocol: int, address: str = ETH_SRC, arphrd: int = 1) -> bytes:
    return struct.pack(">HHIHBB", protocol, 0, 3, arphrd, 4, 6) + mac(address) + b"\0\0"


def test_linux_sll2() -> None:
    r = row(decode_frames([sll2_header(0x0800) + IP_PACKET], 276))
    assert r["src_mac"] == mac_int(ETH_SRC)
    assert r["has_src_mac"] and not r["has_dst_mac"]
    assert r["l3"] == r["start"] + 20
    assert_inner_ipv4_udp(r)


@pytest.mark.parametrize("order", ["<", ">"], ids=["little-endian-host", "big-endian-host"])
def test_bsd_null_in_both_host_byte_orders(order: str) -> None:
    frames = [struct.pack(order + "I", 2) + IP_PACKET]
    frames += [struct.pack(order + "I", af) + IP6_PACKET for af in (10, 24, 28, 30)]
    frames.append(struct.pack(order + "I", 7) + IP_PACKET)  # another family: no network layer
    p = decode_frames(frames, 0)
    assert_inner_ipv4_udp(row(p, 0))
    assert p.ethertype[1:5].tolist() == [0x86DD] * 4
    assert p.dport[1:5].tolist() == [443] * 4
    last = row(p, 5)
    assert (last["ethertype"], last["link_class"], last["ip_version"]) == (0, LinkClass.NO_NETWORK_LAYER, 0)


def test_openbsd_loop_is_network_byte_order() -> None:
    p = decode_frames([struct.pack(">I", 2) + IP_PACKET, struct.pack(">I", 24) + IP6_PACKET], 108)
    assert_inner_ipv4_udp(row(p, 0))
    assert (int(p.ethertype[1]), int(p.dport[1])) == (0x86DD, 443)


@pytest.mark.parametrize("linktype", [9, 50])
@pytest.mark.parametrize(
    ("header", "offset"),
    [
        (b"\xff\x03\x00\x21", 4),  # address, control, protocol
        (b"\x00\x21", 2),  # address and control compressed away
        (b"\xff\x03\x21", 3),  # protocol field compression
        (b"\x21", 1),  # both
    ],
    ids=["ff03-proto16", "proto16", "ff03-proto8", "proto8"],
)
def test_ppp_framings(linktype: int, header: bytes, offset: int) -> None:
    r = row(decode_frames([header + IP_PACKET], linktype))
    assert r["l3"] == r["start"] + offset
    assert_inner_ipv4_udp(r)


def test_ppp_ipv6_and_lcp() -> None:
    p = decode_frames([b"\xff\x03\x00\x57" + IP6_PACKET, b"\xff\x03\xc0\x21\x01\x01\x00\x04"], 9)
    assert (int(p.ethertype[0]), int(p.dport[0])) == (0x86DD, 443)
    r = row(p, 1)
    assert (r["ethertype"], r["link_class"], r["malformed"]) == (0, LinkClass.NO_NETWORK_LAYER, 0)


def test_ppp_fixture() -> None:
    report = report_for([Path(__file__).parents[2] / "fixtures" / "ndpi_dlt_ppp.pcap"])
    assert report["totals"]["packets"] == 1
    assert [(e["ethertype"], e["packets"]) for e in report["ethertypes"]] == [("0x0800", 1)]
    assert [e["protocol"] for e in report["ip_protocols"]] == [17]  # QUIC


# --- 802.11 ----------------------------------------------------------------------------------------

A1, A2, A3, A4 = "02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:03", "02:00:00:00:00:04"
SNAP_IPV4 = bytes([0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00])


def wlan(
    ftype: int, subtype: int, flags: int = 0, *, body: bytes = b"", qos: bool = False, ht: bool = False
) -> bytes:
    fc = bytes([(subtype << 4) | (ftype << 2), flags])
    head = fc + b"\0\0" + mac(A1) + mac(A2) + mac(A3) + b"\x10\x00"
    if flags & 3 == 3:
        head += mac(A4)
    if qos:
        head += b"\x00\x00"
    if ht:
        head += b"\0\0\0\0"
    return head + body


def radiotap(frame: bytes, *, flags: int | None = None, tsft: bool = False) -> bytes:
    present = 0
    fields = b""
    if tsft:
        present |= 1
        fields += struct.pack("<Q", 123456789)
    if flags is not None:
        present |= 2
        fields += bytes([flags])
    header = struct.pack("<BBHI", 0, 0, 8 + len(fields), present) + fields
    return header + frame


@pytest.mark.parametrize(
    ("ds_bits", "src", "dst"),
    [(0, A2, A1), (1, A2, A3), (2, A3, A1), (3, A4, A3)],
    ids=["ibss", "to-ds", "from-ds", "four-address"],
)
@pytest.mark.parametrize("linktype", [105, 127])
def test_80211_data_frames_by_ds_bits(ds_bits: int, src: str, dst: str, linktype: int) -> None:
    frame = wlan(2, 0, ds_bits, body=SNAP_IPV4 + IP_PACKET)
    if linktype == 127:
        frame = radiotap(frame)
    r = row(decode_frames([frame], linktype))
    assert (r["src_mac"], r["dst_mac"]) == (mac_int(src), mac_int(dst))
    assert r["has_src_mac"] and r["has_dst_mac"]
    header = 30 if ds_bits == 3 else 24
    assert r["l3"] == r["start"] + (8 if linktype == 127 else 0) + header + 8
    assert_inner_ipv4_udp(r)


@pytest.mark.parametrize(("ht", "extra"), [(False, 2), (True, 6)], ids=["qos", "qos-ht-control"])
def test_80211_qos_data(ht: bool, extra: int) -> None:
    flags = 0x01 | (0x80 if ht else 0)  # to DS; "order" announces the HT control field
    frame = wlan(2, 8, flags, body=SNAP_IPV4 + IP_PACKET, qos=True, ht=ht)
    r = row(decode_frames([frame], 105))
    assert r["l3"] == r["start"] + 24 + extra + 8
    assert_inner_ipv4_udp(r)


def test_80211_radiotap_with_tsft_and_fcs_flag() -> None:
    fcs = b"\xde\xad\xbe\xef"
    frame = radiotap(wlan(2, 0, 1, body=SNAP_IPV4 + IP_PACKET) + fcs, flags=0x10, tsft=True)
    r = row(decode_frames([frame], 127))
    assert r["l3"] == r["start"] + 17 + 24 + 8
    assert_inner_ipv4_udp(r)


def test_80211_fcs_is_not_read_as_frame_content() -> None:
    # the frame ends 4 bytes into its LLC header; the 4 bytes after it are the FCS, which here happen to
    # look like the rest of an LLC/SNAP header for IPv4. Honouring the FCS flag, there is no SNAP header.
    frame = wlan(2, 0, 1, body=SNAP_IPV4[:4]) + SNAP_IPV4[4:]
    with_fcs = row(decode_frames([radiotap(frame, flags=0x10)], 127))
    assert with_fcs["link_class"] == LinkClass.LLC
    assert with_fcs["ethertype"] == 0
    without_flag = row(decode_frames([radiotap(frame, flags=0x00)], 127))
    assert without_flag["ethertype"] == 0x0800  # no FCS: the same bytes are a SNAP header


@pytest.mark.parametrize(
    ("ftype", "subtype", "flags", "klass", "with_macs"),
    [
        (0, 8, 0, LinkClass.WLAN_MANAGEMENT, True),  # beacon
        (0, 4, 0, LinkClass.WLAN_MANAGEMENT, True),  # probe request
        (2, 4, 1, LinkClass.WLAN_NULL_DATA, True),  # null data (power save)
        (2, 12, 1, LinkClass.WLAN_NULL_DATA, True),  # QoS null
        (2, 0, 0x41, LinkClass.WLAN_PROTECTED, True),  # protected data
        (2, 8, 0x42, LinkClass.WLAN_PROTECTED, True),  # protected QoS data
    ],
)
def test_80211_frame_classes(ftype: int, subtype: int, flags: int, klass: LinkClass, with_macs: bool) -> None:
    body = bytes(range(40))
    frame = wlan(ftype, subtype, flags, body=body, qos=ftype == 2 and subtype & 8 != 0)
    p = decode_frames([radiotap(frame), frame], [127, 105])
    for i in (0, 1):
        r = row(p, i)
        assert r["link_class"] == klass
        assert r["ethertype"] == 0 and r["ip_version"] == 0
        assert r["malformed"] == 0
        assert bool(r["has_src_mac"]) is with_macs


def test_80211_management_addresses() -> None:
    r = row(decode_frames([wlan(0, 8, body=bytes(12))], 105))
    assert (r["src_mac"], r["dst_mac"]) == (mac_int(A2), mac_int(A1))


def test_80211_control_frames_are_short_and_fine() -> None:
    ack = bytes([0xD4, 0x00, 0x00, 0x00]) + mac(A1)  # 10 bytes: frame control, duration, receiver
    rts = bytes([0xB4, 0x00, 0x00, 0x00]) + mac(A1) + mac(A2)
    p = decode_frames([ack, radiotap(rts)], [105, 127])
    for i in (0, 1):
        r = row(p, i)
        assert r["link_class"] == LinkClass.WLAN_CONTROL
        assert r["malformed"] == 0
        assert not r["has_src_mac"]


def test_80211_fixture() -> None:
    report = report_for([Path(__file__).parents[2] / "fixtures" / "arkime_80211http.pcap"])
    assert report["totals"]["packets"] == 26
    assert report["totals"]["bytes"] == 11832  # capinfos data size
    assert report["malformed"]["packets"] == 0
    tcp_row = [e for e in report["ip_protocols"] if e["protocol"] == 6]
    assert tcp_row and tcp_row[0]["packets"] >= 14  # tshark: 14 of the frames are HTTP


# --- NFLOG -----------------------------------------------------------------------------------------


def nflog(payload: bytes, family: int = 2, order: str = "<") -> bytes:
    def tlv(kind: int, value: bytes) -> bytes:
        raw = struct.pack(order + "HH", 4 + len(value), kind) + value
        return raw + b"\0" * (-len(raw) % 4)

    header = struct.pack(">BBH", family, 0, 7)
    return header + tlv(1, struct.pack(">HBB", 0x0800, 3, 0)) + tlv(10, b"prefix\0") + tlv(9, payload)


@pytest.mark.parametrize("order", ["<", ">"])
def test_nflog_tlvs(order: str) -> None:
    p = decode_frames([nflog(IP_PACKET, order=order), nflog(IP6_PACKET, 10, order=order)], 239)
    r = row(p, 0)
    assert r["l3"] == r["start"] + 4 + 8 + 12 + 4
    assert_inner_ipv4_udp(r)
    assert (int(p.ethertype[1]), int(p.dport[1])) == (0x86DD, 443)


def test_nflog_damaged_attribute_list() -> None:
    damaged = struct.pack(">BBH", 2, 0, 0) + struct.pack("<HH", 2, 9) + bytes(8)  # length below 4
    r = row(decode_frames([damaged], 239))
    assert r["malformed"] == Malformed.NFLOG_BAD_TLV
    assert r["link_class"] == LinkClass.MALFORMED


def test_nflog_fixture() -> None:
    report = report_for([Path(__file__).parents[2] / "fixtures" / "arkime_nflog.pcap"])
    assert report["totals"]["packets"] == 10
    assert report["malformed"]["packets"] == 0
    assert sum(e["packets"] for e in report["ethertypes"]) == 10


# --- link types homescope does not decode -------------------------------------------------------


def test_unsupported_link_type_is_counted_under_link_layer(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "usb.pcap", [bytes(64), bytes(30)], linktype=189)
    report = report_for([path])
    assert report["totals"]["packets"] == 2
    assert report["totals"]["bytes"] == 94
    assert report["link_layer"] == [
        {"kind": "unsupported-linktype", "name": "unsupported link type", "packets": 2, "bytes": 94}
    ]
    assert report["ethertypes"] == []
    source = report["sources"][0]
    assert source["link_types"] == [
        {"linktype": 189, "name": "USB with Linux header", "packets": 2, "supported": False}
    ]
    problem = source["problems"][0]
    assert problem["kind"] == "unsupported-linktype"
    assert problem["fatal"] is False
    assert "189" in problem["message"] and "USB with Linux header" in problem["message"]


def test_unsupported_link_type_noted_once_per_source(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "x.pcap", [bytes(20)] * 3, linktype=147)
    capture = CaptureSet([str(path)])
    for _ in capture.batches():
        pass
    note_undecoded(capture.statuses)
    note_undecoded(capture.statuses)
    assert [p.kind for p in capture.statuses[0].problems] == ["unsupported-linktype"]


def test_nflog_cut_by_the_snap_length_keeps_its_ip_header() -> None:
    # nflog's snap length (--nflog-size) keeps the start of the packet: the payload attribute's length
    # says more than was captured, but the IP and UDP headers are there
    full = nflog(ipv4(udp(5353, 53, bytes(400)), src="10.1.2.3", dst="10.9.8.7"))
    cut = full[: len(full) - 380]
    r = row(decode_frames([cut], 239, wirelen=[len(full)]))
    assert (r["ip_version"], r["src_lo"], r["dst_lo"]) == (4, v4_lo("10.1.2.3"), v4_lo("10.9.8.7"))
    assert (r["sport"], r["dport"]) == (5353, 53)
    assert r["malformed"] == 0
