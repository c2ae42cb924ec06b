"""Network and transport decoding of crafted packets, every truncation point and its malformed reason, the
snap-length rule (a header cut by the capture is not a defect), and wire-length byte counts."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from engine.decode.malformed import Malformed
from engine.decode.packets import Fragment, LinkClass
from tests.engine.crafted import (
    Rec,
    decode_frames,
    ethernet,
    icmp,
    ipv4,
    ipv6,
    ipv6_ext,
    ipv6_fragment,
    report_for,
    tcp,
    udp,
    v4_lo,
    v6_halves,
    vlan_tag,
    write_pcap,
)
from tests.engine.test_link_layers import mpls_label, nflog, pppoe_session, radiotap, row, sll_header, wlan

M = Malformed

# --- IPv4 ------------------------------------------------------------------------------------------


def test_ipv4_with_options() -> None:
    router_alert = b"\x94\x04\x00\x00"
    timestamp_opt = b"\x44\x0c\x05\x00" + bytes(8)
    packet = ipv4(udp(1, 2, b"abc"), options=router_alert + timestamp_opt, ttl=3)
    r = row(decode_frames([ethernet(packet)]))
    assert r["l4"] == r["l3"] + 20 + 16
    assert (r["ip_version"], r["ttl"], r["ip_proto"]) == (4, 3, 17)
    assert (r["sport"], r["dport"], r["payload_len"]) == (1, 2, 3)
    assert r["malformed"] == 0


def test_ipv4_fragments() -> None:
    first = ipv4(udp(500, 4500, bytes(32)), flags_frag=0x2000)  # more fragments, offset 0
    later = ipv4(bytes(40), 17, flags_frag=0x2000 | 4)  # offset 32 bytes: UDP header lies elsewhere
    last = ipv4(bytes(12), 17, flags_frag=9)
    dont_fragment = ipv4(udp(7, 8), flags_frag=0x4000)
    p = decode_frames([ethernet(x) for x in (first, later, last, dont_fragment)])
    assert p.fragment.tolist() == [Fragment.FIRST, Fragment.LATER, Fragment.LATER, Fragment.NONE]
    assert p.ip_proto.tolist() == [17, 17, 17, 17]
    assert (p.sport.tolist(), p.dport.tolist()) == ([500, 0, 0, 7], [4500, 0, 0, 8])
    assert p.payload.tolist()[1:3] == [-1, -1]
    assert p.malformed.tolist() == [0, 0, 0, 0]


def test_ipv4_total_length_zero_from_segmentation_offload() -> None:
    segment = tcp(443, 50000, bytes(3000), flags=0x10)
    frame = ethernet(ipv4(segment, 6, total_length=0))
    r = row(decode_frames([frame]))
    assert r["malformed"] == 0
    assert r["payload_len"] == 3000
    assert (r["sport"], r["dport"]) == (443, 50000)


def test_ipv4_total_length_limits_the_payload() -> None:
    # Ethernet pads short frames to 60 bytes: the padding is not UDP payload
    frame = ethernet(ipv4(udp(9, 9, b"hi"))) + bytes(12)
    r = row(decode_frames([frame]))
    assert r["payload_len"] == 2


def test_ipv4_header_defects() -> None:
    frames = [
        ethernet(ipv4(udp(1, 2), version=5)),
        ethernet(ipv4(udp(1, 2), ihl=4)),
        ethernet(ipv4(udp(1, 2), total_length=19)),
    ]
    p = decode_frames(frames)
    assert p.malformed.tolist() == [M.IPV4_BAD_VERSION, M.IPV4_BAD_HEADER_LENGTH, M.IPV4_BAD_TOTAL_LENGTH]
    assert p.ip_version.tolist() == [0, 0, 0]
    assert p.ethertype.tolist() == [0x0800] * 3  # the frame is still counted as IPv4 at the link layer


# --- IPv6 ------------------------------------------------------------------------------------------


def test_ipv6_extension_headers_then_fragment() -> None:
    chain = ipv6_ext(60) + ipv6_ext(44, b"\x01\x04\x00\x00\x00\x00") + ipv6_fragment(17, 0, True)
    first = ethernet(ipv6(chain + udp(546, 547, b"dhcp"), 0), 0x86DD)
    later_chain = ipv6_ext(44) + ipv6_fragment(17, 100, False)
    later = ethernet(ipv6(later_chain + bytes(24), 0), 0x86DD)
    p = decode_frames([first, later])
    r = row(p, 0)
    assert (r["ip_version"], r["ip_proto"], r["fragment"]) == (6, 17, Fragment.FIRST)
    assert r["l4"] == r["l3"] + 40 + 8 + 8 + 8
    assert (r["sport"], r["dport"], r["payload_len"]) == (546, 547, 4)
    assert r["malformed"] == 0
    r = row(p, 1)
    assert (r["ip_proto"], r["fragment"], r["sport"], r["dport"]) == (17, Fragment.LATER, 0, 0)
    assert r["malformed"] == 0


def test_ipv6_addresses_and_hop_limit() -> None:
    r = row(decode_frames([ethernet(ipv6(udp(1, 2), src="fe80::a", dst="ff02::fb", hop_limit=255), 0x86DD)]))
    assert (r["src_hi"], r["src_lo"]) == v6_halves("fe80::a")
    assert (r["dst_hi"], r["dst_lo"]) == v6_halves("ff02::fb")
    assert r["ttl"] == 255


def test_ipv6_in_ipv4_counts_both_addresses(tmp_path: Path) -> None:
    inner = ipv6(udp(1000, 53, b"q"), src="2001:db8::10", dst="2001:4860::8888")
    frame = ethernet(ipv4(inner, 41, src="198.51.100.1", dst="192.88.99.1"))
    p = decode_frames([frame])
    r = row(p)
    assert (r["ip_version"], r["ip_proto"], r["dport"]) == (6, 17, 53)
    assert (r["src_hi"], r["src_lo"]) == v6_halves("2001:db8::10")
    assert p.tunnels is not None
    assert p.tunnels.rows.tolist() == [0]
    assert p.tunnels.src_lo.tolist() == [v4_lo("198.51.100.1")]
    path = write_pcap(tmp_path / "6in4.pcap", [frame])
    report = report_for([path])
    hosts = {h["ip"]: h for h in report["hosts"]}
    assert set(hosts) == {"198.51.100.1", "192.88.99.1", "2001:db8::10", "2001:4860::8888"}
    assert hosts["198.51.100.1"]["tx_bytes"] == len(frame)
    assert hosts["2001:4860::8888"]["rx_packets"] == 1
    assert report["totals"]["ip_versions"] == {"6": {"packets": 1, "bytes": len(frame)}}


def test_ipv4_in_ipv4() -> None:
    frame = ethernet(
        ipv4(ipv4(tcp(1, 2), 6, src="10.0.0.1", dst="10.0.0.2"), 4, src="1.1.1.1", dst="2.2.2.2")
    )
    p = decode_frames([frame])
    r = row(p)
    assert (r["src_lo"], r["dst_lo"], r["ip_proto"]) == (v4_lo("10.0.0.1"), v4_lo("10.0.0.2"), 6)
    assert p.tunnels is not None and p.tunnels.dst_lo.tolist() == [v4_lo("2.2.2.2")]


# --- transport -------------------------------------------------------------------------------------


def test_tcp_flags_and_payload_offset() -> None:
    options = b"\x02\x04\x05\xb4" + b"\x01\x01\x04\x02" + b"\x01\x03\x03\x07"  # MSS, SACK-permitted, wscale
    syn_ack = tcp(80, 51000, flags=0x12, options=options)
    data = tcp(80, 51000, b"HTTP/1.1 200 OK\r\n", flags=0x18, options=bytes(12))
    p = decode_frames([ethernet(ipv4(syn_ack, 6)), ethernet(ipv4(data, 6))])
    assert p.tcp_flags.tolist() == [0x12, 0x18]
    assert (p.payload - p.l4).tolist() == [32, 32]
    assert p.payload_len.tolist() == [0, 17]
    assert p.malformed.tolist() == [0, 0]


def test_tcp_bad_data_offset() -> None:
    p = decode_frames(
        [ethernet(ipv4(tcp(1, 2, data_offset=4), 6)), ethernet(ipv4(tcp(1, 2, data_offset=15), 6))]
    )
    assert p.malformed.tolist() == [M.TCP_BAD_DATA_OFFSET, M.TCP_BAD_DATA_OFFSET]
    assert p.sport.tolist() == [1, 1]  # the ports before the damage are kept
    assert p.payload.tolist() == [-1, -1]


def test_udp_length_field() -> None:
    short_udp = udp(53, 5353, b"abcdefgh", length=8 + 5)  # UDP says 5 bytes of payload, IP carries 8
    bad = udp(53, 5353, b"abc", length=4)
    p = decode_frames([ethernet(ipv4(short_udp)), ethernet(ipv4(bad))])
    assert p.payload_len.tolist()[0] == 5
    assert p.malformed.tolist() == [0, M.UDP_BAD_LENGTH]
    assert (int(p.sport[1]), int(p.dport[1])) == (53, 5353)


def test_icmp_icmpv6_igmp_types() -> None:
    frames = [
        ethernet(ipv4(icmp(8, 0, b"\x00\x01\x00\x01ping"), 1)),
        ethernet(ipv4(icmp(3, 13), 1)),
        ethernet(ipv6(icmp(135, 0, bytes(20)), 58), 0x86DD),
        ethernet(ipv4(icmp(0x16, 0, bytes(4)), 2, options=b"\x94\x04\x00\x00")),
    ]
    p = decode_frames(frames)
    assert p.ip_proto.tolist() == [1, 1, 58, 2]
    assert p.icmp_type.tolist() == [8, 3, 135, 0x16]
    assert p.icmp_code.tolist() == [0, 13, 0, 0]
    assert p.payload_len.tolist() == [8, 4, 20, 4]
    assert p.malformed.tolist() == [0, 0, 0, 0]


def test_sctp_ports() -> None:
    sctp = struct.pack(">HHII", 5060, 5061, 1, 0) + bytes(16)
    r = row(decode_frames([ethernet(ipv4(sctp, 132))]))
    assert (r["sport"], r["dport"], r["payload_len"]) == (5060, 5061, 16)


# --- every truncation point ------------------------------------------------------------------------

TCP4 = ethernet(ipv4(tcp(80, 1234, b"payload"), 6))  # 14 + 20 + 20 + 7
UDP6 = ethernet(ipv6(udp(53, 53, b"dns"), 17), 0x86DD)  # 14 + 40 + 8 + 3
EXT6 = ethernet(ipv6(ipv6_ext(17) + udp(1, 2), 0), 0x86DD)  # 14 + 40 + 8 + 8
ICMP4 = ethernet(ipv4(icmp(8, 0), 1))  # 14 + 20 + 8
OPT4 = ethernet(ipv4(udp(1, 2), options=bytes(8)))  # 14 + 28 + 8
VLAN4 = ethernet(vlan_tag(5, 0x0800) + ipv4(udp(1, 2)), 0x8100)  # 14 + 4 + 20 + 8
PPPOE4 = ethernet(pppoe_session(0x0021, ipv4(udp(1, 2))), 0x8864)  # 14 + 8 + 20 + 8
MPLS4 = ethernet(mpls_label(5, False) + mpls_label(6, True) + ipv4(udp(1, 2)), 0x8847)  # 14 + 8 + 28
ARP = ethernet(struct.pack(">HHBBH", 1, 0x0800, 6, 4, 1) + bytes(20), 0x0806)  # 14 + 28
SLL4 = sll_header(0x0800) + ipv4(udp(1, 2))  # 16 + 28
RADIOTAP4 = radiotap(wlan(2, 0, 1, body=bytes([0xAA, 0xAA, 3, 0, 0, 0, 8, 0]) + ipv4(udp(1, 2))))
NFLOG4 = nflog(ipv4(udp(1, 2)))


# (name, frame, link type, [(n, reason), ...]): a frame cut to fewer than `n` bytes is malformed for the
# first `reason` whose `n` it is below; a frame of at least the last `n` bytes is fine.
Thresholds = list[tuple[int, Malformed]]
CASES: list[tuple[str, bytes, int, Thresholds]] = [
    ("ethernet-ipv4-tcp", TCP4, 1, [(14, M.LINK_TRUNCATED), (34, M.IPV4_TRUNCATED), (54, M.TCP_TRUNCATED)]),
    ("ethernet-ipv6-udp", UDP6, 1, [(14, M.LINK_TRUNCATED), (54, M.IPV6_TRUNCATED), (62, M.UDP_TRUNCATED)]),
    (
        "ipv6-extension",
        EXT6,
        1,
        [
            (14, M.LINK_TRUNCATED),
            (54, M.IPV6_TRUNCATED),
            (62, M.IPV6_EXTENSION_TRUNCATED),
            (70, M.UDP_TRUNCATED),
        ],
    ),
    ("icmp", ICMP4, 1, [(14, M.LINK_TRUNCATED), (34, M.IPV4_TRUNCATED), (38, M.ICMP_TRUNCATED)]),
    ("ipv4-options", OPT4, 1, [(14, M.LINK_TRUNCATED), (42, M.IPV4_TRUNCATED), (50, M.UDP_TRUNCATED)]),
    ("vlan", VLAN4, 1, [(18, M.LINK_TRUNCATED), (38, M.IPV4_TRUNCATED), (46, M.UDP_TRUNCATED)]),
    (
        "pppoe",
        PPPOE4,
        1,
        [(14, M.LINK_TRUNCATED), (22, M.PPPOE_TRUNCATED), (42, M.IPV4_TRUNCATED), (50, M.UDP_TRUNCATED)],
    ),
    (
        "mpls",
        MPLS4,
        1,
        [(14, M.LINK_TRUNCATED), (23, M.MPLS_TRUNCATED), (42, M.IPV4_TRUNCATED), (50, M.UDP_TRUNCATED)],
    ),
    ("arp", ARP, 1, [(14, M.LINK_TRUNCATED), (42, M.ARP_TRUNCATED)]),
    ("sll", SLL4, 113, [(16, M.LINK_TRUNCATED), (36, M.IPV4_TRUNCATED), (44, M.UDP_TRUNCATED)]),
    (
        "radiotap-80211",
        RADIOTAP4,
        127,
        # an LLC header cut short leaves a data frame without a network layer, which is not a defect
        [
            (8, M.RADIOTAP_BAD_LENGTH),
            (32, M.WLAN_TRUNCATED),
            (40, M.OK),
            (60, M.IPV4_TRUNCATED),
            (68, M.UDP_TRUNCATED),
        ],
    ),
    (
        "nflog",
        NFLOG4,
        239,
        # up to the header of the payload attribute, the attribute list itself is cut
        [
            (len(NFLOG4) - 28, M.NFLOG_BAD_TLV),
            (len(NFLOG4) - 8, M.IPV4_TRUNCATED),
            (len(NFLOG4), M.UDP_TRUNCATED),
        ],
    ),
]


def _expected(thresholds: Thresholds, n: int) -> Malformed:
    return next((reason for limit, reason in thresholds if n < limit), M.OK)


@pytest.mark.parametrize(
    ("frame", "linktype", "thresholds"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_every_truncation_point_has_its_reason(frame: bytes, linktype: int, thresholds: Thresholds) -> None:
    assert thresholds[-1][0] <= len(frame)
    lengths = list(range(len(frame) + 1))
    p = decode_frames([frame[:n] for n in lengths], linktype)
    got = {n: Malformed(int(p.malformed[n])) for n in lengths}
    want = {n: _expected(thresholds, n) for n in lengths}
    assert got == want
    assert not p.snaplen_cut.any()


@pytest.mark.parametrize(("frame", "linktype"), [c[1:3] for c in CASES], ids=[c[0] for c in CASES])
def test_headers_cut_by_the_snap_length_are_not_malformed(frame: bytes, linktype: int) -> None:
    lengths = list(range(len(frame)))
    p = decode_frames([frame[:n] for n in lengths], linktype, wirelen=[len(frame)] * len(lengths))
    assert p.malformed.tolist() == [0] * len(lengths)
    # at least every cut inside the first header is noted as cut by the snap length
    assert p.snaplen_cut[:4].all()
    assert p.wirelen.tolist() == [len(frame)] * len(lengths)


def test_malformed_packets_keep_the_layers_before_the_damage() -> None:
    p = decode_frames([TCP4[:40]])
    r = row(p)
    assert r["malformed"] == M.TCP_TRUNCATED
    assert (r["ip_version"], r["ip_proto"], r["ethertype"]) == (4, 6, 0x0800)
    assert r["link_class"] == LinkClass.NETWORK


# --- byte counts use the wire length ---------------------------------------------------------------


def test_byte_counts_use_the_wire_length(tmp_path: Path) -> None:
    full = ethernet(ipv4(tcp(443, 50000, bytes(1400), flags=0x10), 6, src="10.0.0.5", dst="10.0.0.9"))
    records = [Rec(full[:68], wirelen=len(full)), Rec(full[:20], wirelen=len(full)), Rec(full)]
    path = write_pcap(tmp_path / "snap.pcap", records, snaplen=68)
    report = report_for([path])
    totals = report["totals"]
    assert totals["packets"] == 3
    assert totals["bytes"] == 3 * len(full)
    assert totals["captured_bytes"] == 68 + 20 + len(full)
    assert totals["snaplen_cut_packets"] == 1  # only the second one lost a header to the snap length
    assert report["malformed"]["packets"] == 0
    hosts = {h["ip"]: h for h in report["hosts"]}
    # the packet cut at 20 bytes has no IP layer to count; the other two count with their wire length
    assert hosts["10.0.0.5"]["tx_bytes"] == 2 * len(full)
    assert hosts["10.0.0.9"]["rx_bytes"] == 2 * len(full)
    macs = {m["mac"]: m for m in report["macs"]}
    assert macs["66:77:88:99:aa:bb"]["tx_bytes"] == 3 * len(full)
    assert report["ip_protocols"] == [{"protocol": 6, "name": "TCP", "packets": 2, "bytes": 2 * len(full)}]
    source = report["sources"][0]
    assert (source["bytes"], source["captured_bytes"]) == (3 * len(full), 68 + 20 + len(full))
