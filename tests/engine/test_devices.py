"""Devices through the whole analysis: keyed by MAC (by IP where the link type has none), every address a
device used, the router recognised by the internet addresses behind it, learnt IPv6 home prefixes, traffic
up and down split into internet and LAN, first/last seen, vendor, randomised MACs, announced names and user
labels."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.analysis import AnalysisSnapshot
from engine.labels import Labels
from engine.views.devices import DeviceView, device_views
from tests.engine.app_messages import (
    TYPE_A,
    dhcp_address,
    dhcp_message,
    dhcp_type,
    dhcpv6_solicit,
    dns_query,
    dns_response,
    mdns_announcement,
    nbns_registration,
    ssdp_notify,
)
from tests.engine.crafted import BASE_TS, Rec, analyse_paths, ethernet, ipv4, ipv6, sll, tcp, udp, write_pcap
from tests.protocols.wire import dhcp_option

ROUTER_MAC = "b8:27:eb:12:34:56"  # a Raspberry Pi as the Wi-Fi access point
PHONE_MAC = "f0:18:98:aa:bb:01"  # Apple
LAPTOP_MAC = "da:a1:19:00:00:07"  # locally administered: a private (randomised) MAC
NAS_MAC = "00:11:32:00:00:01"  # Synology

ROUTER_V4, PHONE_V4, LAPTOP_V4, NAS_V4 = "192.168.1.1", "192.168.1.20", "192.168.1.30", "192.168.1.40"
ROUTER_LL = "fe80::ba27:ebff:fe12:3456"
PHONE_LL = "fe80::1c2b:3c4d:5e6f:7081"
HOME_64 = "2a01:e34:ec1a:5e50::/64"
PHONE_V6 = (
    "2a01:e34:ec1a:5e50::20",
    "2a01:e34:ec1a:5e50:a1b2:c3d4:e5f6:1",
    "2a01:e34:ec1a:5e50:9f8e:7d6c:5b4a:2",
)
NAS_V6 = "2a01:e34:ec1a:5e50::40"
# internet hosts in four different /16 (IPv4) and /32 (IPv6) prefixes
WEB_V4, VIDEO_V4 = "93.184.216.34", "142.250.74.78"
WEB_V6, VIDEO_V6 = "2606:4700::6810:84e5", "2a00:1450:4001:82b::200e"


@dataclass(frozen=True)
class Packet:
    ts: float
    frame: bytes
    sender: str | None  # MAC of the sending device, None for a frame sent by none of the home devices
    receiver: str | None
    internet: bool  # one end of the packet is on the internet

    def rec(self) -> Rec:
        sec = int(self.ts)
        return Rec(self.frame, sec=sec, frac=round((self.ts - sec) * 1_000_000))


def _eth(packet: bytes, src: str, dst: str) -> bytes:
    """An Ethernet frame around an IPv4 or IPv6 packet (the EtherType from its version nibble)."""
    return ethernet(packet, 0x86DD if packet[0] >> 4 == 6 else 0x0800, src=src, dst=dst)


def home_packets() -> list[Packet]:
    """A small home: the phone asks the router for a name, then talks to the internet over IPv4 and from
    three IPv6 addresses, and to the NAS over IPv6; the laptop downloads something and copies it to the NAS;
    the phone announces itself over mDNS from its link-local address."""
    out: list[Packet] = []

    def add(
        dt: float, packet: bytes, sender: str, receiver: str | None, internet: bool, dst: str = ""
    ) -> None:
        frame = _eth(packet, sender, dst or receiver or "")
        out.append(Packet(BASE_TS + dt, frame, sender, receiver, internet))

    query = dns_query(0x1111, "example.com")
    answer = dns_response(0x1111, "example.com", TYPE_A, [("example.com", TYPE_A, WEB_V4)])
    add(0.0, ipv4(udp(50001, 53, query), src=PHONE_V4, dst=ROUTER_V4), PHONE_MAC, ROUTER_MAC, False)
    add(0.02, ipv4(udp(53, 50001, answer), src=ROUTER_V4, dst=PHONE_V4), ROUTER_MAC, PHONE_MAC, False)
    # the phone to the internet: through the router's MAC, and back from it
    for dt, segment, out_bound in (
        (1.0, tcp(50002, 443, flags=0x02), True),
        (1.05, tcp(443, 50002, flags=0x12), False),
        (1.10, tcp(50002, 443, b"x" * 300), True),
        (1.15, tcp(443, 50002, b"y" * 1200), False),
    ):
        if out_bound:
            add(dt, ipv4(segment, 6, src=PHONE_V4, dst=WEB_V4), PHONE_MAC, ROUTER_MAC, True)
        else:
            add(dt, ipv4(segment, 6, src=WEB_V4, dst=PHONE_V4), ROUTER_MAC, PHONE_MAC, True)
    for i, (mine, theirs) in enumerate(((PHONE_V6[1], WEB_V6), (PHONE_V6[2], VIDEO_V6))):
        up = ipv6(udp(51000 + i, 443, b"\x40" + bytes(99)), src=mine, dst=theirs)
        down = ipv6(udp(443, 51000 + i, b"\x40" + bytes(899)), src=theirs, dst=mine)
        add(2.0 + i, up, PHONE_MAC, ROUTER_MAC, True)
        add(2.1 + i, down, ROUTER_MAC, PHONE_MAC, True)
    # the phone to the NAS over their global IPv6 addresses: LAN traffic
    add(4.0, ipv6(tcp(52000, 445, b"s" * 200), 6, src=PHONE_V6[0], dst=NAS_V6), PHONE_MAC, NAS_MAC, False)
    add(4.1, ipv6(tcp(445, 52000, b"r" * 400), 6, src=NAS_V6, dst=PHONE_V6[0]), NAS_MAC, PHONE_MAC, False)
    # the laptop downloads from the internet, then copies to the NAS
    add(5.0, ipv4(tcp(443, 40000, b"d" * 1400), 6, src=VIDEO_V4, dst=LAPTOP_V4), ROUTER_MAC, LAPTOP_MAC, True)
    add(6.0, ipv4(tcp(40001, 445, b"c" * 1000), 6, src=LAPTOP_V4, dst=NAS_V4), LAPTOP_MAC, NAS_MAC, False)
    # the phone announces its name over mDNS from its link-local address: to a group, so to no device
    mdns = mdns_announcement([("Lucas-iPhone.local", 28, PHONE_LL)])
    add(
        7.0,
        ipv6(udp(5353, 5353, mdns), src=PHONE_LL, dst="ff02::fb"),
        PHONE_MAC,
        None,
        False,
        "33:33:00:00:00:fb",
    )
    # the router's own link-local address (DHCPv6 replies come from it)
    dhcpv6_reply = ipv6(udp(547, 546, b"\x07" + bytes(20)), src=ROUTER_LL, dst=PHONE_LL)
    add(8.0, dhcpv6_reply, ROUTER_MAC, PHONE_MAC, False)
    return out


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> AnalysisSnapshot:
    folder = tmp_path_factory.mktemp("home")
    path = write_pcap(folder / "home.pcap", [p.rec() for p in home_packets()])
    return analyse_paths([path])[0]


def by_mac(views: list[DeviceView]) -> dict[str, DeviceView]:
    return {v.key: v for v in views}


def test_devices_are_the_unicast_macs(home: AnalysisSnapshot) -> None:
    views = device_views(home)
    assert sorted(v.key for v in views) == sorted([ROUTER_MAC, PHONE_MAC, LAPTOP_MAC, NAS_MAC])
    assert all(v.mac == v.key for v in views)


def test_router_is_the_mac_behind_internet_addresses(home: AnalysisSnapshot) -> None:
    views = by_mac(device_views(home))
    assert [k for k, v in views.items() if v.router] == [ROUTER_MAC]
    router = views[ROUTER_MAC]
    # the internet addresses it forwarded are not its own
    assert router.ipv4 == (ROUTER_V4,)
    assert router.ipv6 == (ROUTER_LL,)
    assert router.vendor == "Raspberry Pi Foundation"
    assert not router.randomized_mac


def test_one_phone_with_all_its_addresses(home: AnalysisSnapshot) -> None:
    phone = by_mac(device_views(home))[PHONE_MAC]
    assert phone.ipv4 == (PHONE_V4,)
    assert sorted(phone.ipv6) == sorted([*PHONE_V6, PHONE_LL])
    assert phone.vendor == "Apple, Inc."
    assert phone.hostname == "Lucas-iPhone"
    assert phone.name == "Lucas-iPhone"


def test_home_prefix_learnt_from_a_device_address(home: AnalysisSnapshot) -> None:
    assert home.home is not None
    learnt = {str(p.network): p.source for p in home.home.prefixes}
    # from the phone's and the NAS's addresses; never from the internet addresses behind the router
    assert learnt == {HOME_64: "device address"}
    assert home.book is not None
    assert not home.book.internet[home.book.id_of(PHONE_V6[1])]
    assert home.book.internet[home.book.id_of(WEB_V6)]


def _expected(packets: list[Packet], device: str) -> dict[str, int]:
    up = [p for p in packets if p.sender == device]
    down = [p for p in packets if p.receiver == device]
    return {
        "packets_up": len(up),
        "bytes_up": sum(len(p.frame) for p in up),
        "packets_down": len(down),
        "bytes_down": sum(len(p.frame) for p in down),
        "internet_bytes_up": sum(len(p.frame) for p in up if p.internet),
        "internet_bytes_down": sum(len(p.frame) for p in down if p.internet),
        "lan_bytes_up": sum(len(p.frame) for p in up if not p.internet),
        "lan_bytes_down": sum(len(p.frame) for p in down if not p.internet),
    }


@pytest.mark.parametrize("device", [PHONE_MAC, LAPTOP_MAC, NAS_MAC])
def test_traffic_up_and_down_internet_and_lan(home: AnalysisSnapshot, device: str) -> None:
    view = by_mac(device_views(home))[device]
    got = {key: getattr(view, key) for key in _expected([], device)}
    assert got == _expected(home_packets(), device)


def test_phone_traffic_in_numbers(home: AnalysisSnapshot) -> None:
    """The same split spelt out for the phone (frame sizes): the internet is its TCP/443 flow and two QUIC
    flows, the LAN its DNS lookup, its SMB to the NAS over global IPv6, mDNS and the router's DHCPv6."""
    phone = by_mac(device_views(home))[PHONE_MAC]
    assert (phone.internet_bytes_up, phone.internet_bytes_down) == (
        54 + 354 + 162 + 162,
        54 + 1254 + 962 + 962,
    )
    assert (phone.lan_bytes_up, phone.lan_bytes_down) == (71 + 274 + 120, 98 + 474 + 83)
    assert (phone.packets_up, phone.packets_down) == (7, 7)
    assert phone.internet_peers == 3  # WEB_V4, WEB_V6, VIDEO_V6: the NAS is a home address


def test_first_and_last_seen(home: AnalysisSnapshot) -> None:
    views = by_mac(device_views(home))
    assert views[PHONE_MAC].first_ts == pytest.approx(BASE_TS + 0.0)
    assert views[PHONE_MAC].last_ts == pytest.approx(BASE_TS + 8.0)  # received the router's message
    assert views[LAPTOP_MAC].first_ts == pytest.approx(BASE_TS + 5.0)
    assert views[LAPTOP_MAC].last_ts == pytest.approx(BASE_TS + 6.0)
    assert views[NAS_MAC].first_ts == pytest.approx(BASE_TS + 4.0)


def test_randomised_mac_is_flagged_and_has_no_vendor(home: AnalysisSnapshot) -> None:
    views = by_mac(device_views(home))
    laptop = views[LAPTOP_MAC]
    assert laptop.randomized_mac
    assert laptop.vendor is None
    assert laptop.name == "private MAC 00:00:07"
    assert [k for k, v in views.items() if v.randomized_mac] == [LAPTOP_MAC]
    assert views[NAS_MAC].vendor == "Synology Incorporated"
    assert views[NAS_MAC].name == "Synology 00:00:01"


# --- captures without destination MACs ---------------------------------------------------------------------


def test_raw_ip_capture_keys_devices_by_local_address(tmp_path: Path) -> None:
    frames = [
        ipv4(tcp(50000, 443, b"a" * 100), 6, src=PHONE_V4, dst=WEB_V4),
        ipv4(tcp(443, 50000, b"b" * 500), 6, src=WEB_V4, dst=PHONE_V4),
        ipv4(udp(50001, 53, dns_query(7, "example.com")), src=PHONE_V4, dst=ROUTER_V4),
        ipv6(udp(5353, 5353, b"\0" * 12), src=PHONE_LL, dst="ff02::fb"),
    ]
    path = write_pcap(
        tmp_path / "raw.pcap", [Rec(f, sec=BASE_TS + i) for i, f in enumerate(frames)], linktype=101
    )
    snapshot, _ = analyse_paths([path])
    views = {v.key: v for v in device_views(snapshot)}
    # every local unicast address is a device of its own; internet and group addresses are not devices
    assert sorted(views) == sorted([PHONE_V4, ROUTER_V4, PHONE_LL])
    phone = views[PHONE_V4]
    assert phone.mac is None and phone.vendor is None and not phone.randomized_mac
    assert phone.ipv4 == (PHONE_V4,)
    assert (phone.internet_bytes_up, phone.internet_bytes_down) == (140, 540)
    assert (phone.lan_bytes_up, phone.lan_bytes_down) == (len(frames[2]), 0)
    assert views[ROUTER_V4].packets_down == 1
    assert views[ROUTER_V4].packets_up == 0


def test_cooked_capture_finds_the_receiver_by_its_address(tmp_path: Path) -> None:
    """Linux cooked capture names only the sender's MAC: the receiver is the device that sends from the
    destination address."""
    frames = [
        sll(ipv4(tcp(52000, 445, b"q" * 100), 6, src=PHONE_V4, dst=NAS_V4), src=PHONE_MAC),
        sll(ipv4(tcp(445, 52000, b"r" * 300), 6, src=NAS_V4, dst=PHONE_V4), src=NAS_MAC),
        sll(ipv4(tcp(52000, 445, b"q" * 50), 6, src=PHONE_V4, dst=NAS_V4), src=PHONE_MAC),
        sll(ipv4(tcp(443, 50000, b"w" * 700), 6, src=WEB_V4, dst=PHONE_V4), src=ROUTER_MAC),
    ]
    path = write_pcap(
        tmp_path / "sll.pcap", [Rec(f, sec=BASE_TS + i) for i, f in enumerate(frames)], linktype=113
    )
    snapshot, _ = analyse_paths([path])
    views = {v.key: v for v in device_views(snapshot)}
    assert sorted(views) == sorted([PHONE_MAC, NAS_MAC, ROUTER_MAC])
    phone, nas = views[PHONE_MAC], views[NAS_MAC]
    sizes = [len(f) for f in frames]
    assert (phone.packets_up, phone.bytes_up) == (2, sizes[0] + sizes[2])
    assert (phone.packets_down, phone.bytes_down) == (2, sizes[1] + sizes[3])
    assert phone.internet_bytes_down == sizes[3]
    assert (nas.packets_up, nas.packets_down) == (1, 2)
    assert (nas.bytes_up, nas.bytes_down) == (sizes[1], sizes[0] + sizes[2])


# --- names devices announce, and user labels ------------------------------------------------------------

TV_MAC, TV_V4 = "dc:a6:32:0a:0b:0c", "192.168.1.50"  # a Raspberry Pi media centre
BROADCAST = "ff:ff:ff:ff:ff:ff"


def announcement_frames() -> list[bytes]:
    request = dhcp_message(
        LAPTOP_MAC,
        [
            dhcp_type(3),
            dhcp_option(12, b"lucas-laptop"),
            dhcp_option(60, b"MSFT 5.0"),
            dhcp_address(50, LAPTOP_V4),
            dhcp_option(55, bytes([1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252])),
        ],
    )
    ack = dhcp_message(
        LAPTOP_MAC,
        [
            dhcp_type(5),
            dhcp_address(54, ROUTER_V4),
            dhcp_address(1, "255.255.255.0"),
            dhcp_address(3, ROUTER_V4),
        ],
        op=2,
        yiaddr=LAPTOP_V4,
    )
    llmnr_answer = dns_response(0x4242, "diskstation", TYPE_A, [("diskstation", TYPE_A, NAS_V4)])
    llmnr_answer = llmnr_answer[:2] + b"\x80\x00" + llmnr_answer[4:]  # LLMNR: a response, no other flags
    return [
        _eth(ipv4(udp(68, 67, request), src="0.0.0.0", dst="255.255.255.255"), LAPTOP_MAC, BROADCAST),
        _eth(ipv4(udp(67, 68, ack), src=ROUTER_V4, dst=LAPTOP_V4), ROUTER_MAC, LAPTOP_MAC),
        _eth(ipv4(tcp(40001, 445, b"c" * 10), 6, src=LAPTOP_V4, dst=NAS_V4), LAPTOP_MAC, NAS_MAC),
        _eth(
            ipv6(
                udp(546, 547, dhcpv6_solicit(PHONE_MAC, "lucas-phone.home.arpa")),
                src=PHONE_LL,
                dst="ff02::1:2",
            ),
            PHONE_MAC,
            "33:33:00:01:00:02",
        ),
        _eth(
            ipv4(udp(50000, 53, dns_query(1, "example.com")), src=PHONE_V4, dst=ROUTER_V4),
            PHONE_MAC,
            ROUTER_MAC,
        ),
        _eth(
            ipv4(udp(137, 137, nbns_registration(b"DISKSTATION", NAS_V4)), src=NAS_V4, dst="192.168.1.255"),
            NAS_MAC,
            BROADCAST,
        ),
        _eth(ipv4(udp(5355, 53000, llmnr_answer), src=NAS_V4, dst=LAPTOP_V4), NAS_MAC, LAPTOP_MAC),
        _eth(
            ipv4(
                udp(1900, 1900, ssdp_notify("Linux/5.10 UPnP/1.0 Kodi/20.2", f"http://{TV_V4}:1337/")),
                src=TV_V4,
                dst="239.255.255.250",
            ),
            TV_MAC,
            "01:00:5e:7f:ff:fa",
        ),
    ]


@pytest.fixture
def announced(tmp_path: Path) -> AnalysisSnapshot:
    frames = announcement_frames()
    path = write_pcap(tmp_path / "names.pcap", [Rec(f, sec=BASE_TS + i) for i, f in enumerate(frames)])
    return analyse_paths([path])[0]


def test_names_and_traits_devices_announce(announced: AnalysisSnapshot) -> None:
    views = by_mac(device_views(announced))
    laptop, phone, nas, tv = views[LAPTOP_MAC], views[PHONE_MAC], views[NAS_MAC], views[TV_MAC]
    assert laptop.hostname == "lucas-laptop"
    assert laptop.names == (("lucas-laptop", "dhcp-hostname", None),)
    assert laptop.traits["dhcp vendor class"] == ("MSFT 5.0",)
    assert laptop.traits["dhcp fingerprint"] == ("1,3,6,15,31,33,43,44,46,47,119,121,249,252",)
    assert phone.names == (("lucas-phone.home.arpa", "dhcpv6-fqdn", None),)
    assert [(n, s) for n, s, _ in nas.names] == [("DISKSTATION", "nbns"), ("diskstation", "llmnr")]
    assert nas.name == "DISKSTATION"
    assert tv.traits == {"ssdp server": ("Linux/5.10 UPnP/1.0 Kodi/20.2",)}
    assert tv.vendor == "Raspberry Pi Trading Ltd"
    assert tv.ipv4 == (TV_V4,)


def test_dhcp_client_record(announced: AnalysisSnapshot) -> None:
    assert announced.metadata is not None
    (laptop,) = [c for c in announced.metadata.dhcp if c.client == LAPTOP_MAC]
    assert list(laptop.hostnames) == ["lucas-laptop"]
    assert list(laptop.vendor_classes) == ["MSFT 5.0"]
    assert list(laptop.requested) == [LAPTOP_V4]
    assert list(laptop.assigned) == [LAPTOP_V4]
    assert list(laptop.servers) == [ROUTER_V4]
    assert laptop.messages == {"REQUEST": 1, "ACK": 1}
    # the DHCP client known by its hardware address is the device of that MAC
    views = by_mac(device_views(announced))
    assert laptop.device == views[LAPTOP_MAC].id
    (phone,) = [c for c in announced.metadata.dhcp if c.client == PHONE_MAC]
    assert list(phone.fqdns) == ["lucas-phone.home.arpa"]
    assert phone.device == views[PHONE_MAC].id
    # the acknowledgement taught the home its IPv4 prefix
    assert announced.home is not None
    assert {str(p.network): p.source for p in announced.home.prefixes} == {"192.168.1.0/24": "dhcp"}


LABELS_TOML = f"""
[labels]
"{PHONE_MAC.upper().replace(":", "-")}" = "Phone (by MAC)"
"{PHONE_V4}" = "Phone (by IP)"       # the MAC wins
"{NAS_V4}" = "NAS (by IP)"
"diskstation" = "NAS (by name)"       # the IP address wins
"Lucas-Laptop." = "Laptop (by name)"
"{TV_MAC}" = "Media centre"
"192.168.1.99" = "Nobody"
"""


def test_labels_file_precedence(announced: AnalysisSnapshot, tmp_path: Path) -> None:
    path = tmp_path / "labels.toml"
    path.write_text(LABELS_TOML)
    views = by_mac(device_views(announced, Labels.load(path)))
    assert {key: (v.label, v.name) for key, v in views.items()} == {
        PHONE_MAC: ("Phone (by MAC)", "Phone (by MAC)"),
        NAS_MAC: ("NAS (by IP)", "NAS (by IP)"),
        LAPTOP_MAC: ("Laptop (by name)", "Laptop (by name)"),
        TV_MAC: ("Media centre", "Media centre"),
        ROUTER_MAC: (None, "Raspberry 12:34:56"),
    }
    # without the MAC and IP entries, the NAS is named by its host name
    path.write_text('[labels]\n"diskstation" = "NAS (by name)"\n')
    nas = by_mac(device_views(announced, Labels.load(path)))[NAS_MAC]
    assert (nas.label, nas.hostname) == ("NAS (by name)", "DISKSTATION")


# --- a router forwarding one remote, and hosts with public addresses ---------------------------------------

GOOGLE_V6 = "2a00:1450:4001:82b::200e"


def one_remote_frames() -> list[bytes]:
    """The phone talks to one internet host over IPv4 (through NAT) and to one over IPv6."""
    return [
        _eth(ipv6(udp(50000, 443, bytes(100)), src=PHONE_V6[0], dst=GOOGLE_V6), PHONE_MAC, ROUTER_MAC),
        _eth(ipv6(udp(443, 50000, bytes(900)), src=GOOGLE_V6, dst=PHONE_V6[0]), ROUTER_MAC, PHONE_MAC),
        _eth(ipv4(udp(50001, 443, bytes(100)), src=PHONE_V4, dst=VIDEO_V4), PHONE_MAC, ROUTER_MAC),
        _eth(ipv4(udp(443, 50001, bytes(900)), src=VIDEO_V4, dst=PHONE_V4), ROUTER_MAC, PHONE_MAC),
    ]


def test_router_behind_nat_with_a_single_remote(tmp_path: Path) -> None:
    """Two internet prefixes are too few to tell a router by; an internet address talking with a private
    one through its MAC is enough. The remote's IPv6 /64 is then not taken for a home prefix."""
    frames = one_remote_frames()
    path = write_pcap(tmp_path / "one.pcap", [Rec(f, sec=BASE_TS + i) for i, f in enumerate(frames)])
    snapshot, _ = analyse_paths([path])
    assert snapshot.home is not None
    assert [(str(p.network), p.source) for p in snapshot.home.prefixes] == [(HOME_64, "device address")]
    views = by_mac(device_views(snapshot))
    router, phone = views[ROUTER_MAC], views[PHONE_MAC]
    assert router.router and (router.ipv4, router.ipv6) == ((), ())
    assert (phone.internet_bytes_up, phone.internet_bytes_down) == (162 + 142, 962 + 942)
    assert (phone.lan_bytes_up, phone.lan_bytes_down) == (0, 0)
    assert phone.internet_peers == 2
    assert snapshot.flows is not None
    records, _ = snapshot.flows.all()
    ids = {v.key: v.id for v in views.values()}
    # the phone's end of each flow is the phone; the remote end is no device
    ends = zip(records.columns["dev_a"].tolist(), records.columns["dev_b"].tolist(), strict=True)
    assert [sorted(pair) for pair in ends] == [[-1, ids[PHONE_MAC]], [-1, ids[PHONE_MAC]]]


def test_a_host_with_a_public_address_keeps_its_flows(tmp_path: Path) -> None:
    """Outside a NAT (a university network) a host's own address is public: it stays the host's, and the
    host is no router."""
    host, gateway = "141.142.220.118", "00:13:7f:be:8c:ff"
    frames = [
        _eth(ipv4(tcp(50000, 80, b"GET / HTTP/1.1\r\n\r\n"), 6, src=host, dst=WEB_V4), PHONE_MAC, gateway),
        _eth(ipv4(tcp(80, 50000, b"HTTP/1.1 200 OK\r\n\r\n"), 6, src=WEB_V4, dst=host), gateway, PHONE_MAC),
    ]
    path = write_pcap(tmp_path / "public.pcap", [Rec(f, sec=BASE_TS + i) for i, f in enumerate(frames)])
    snapshot, _ = analyse_paths([path])
    views = by_mac(device_views(snapshot))
    assert not views[PHONE_MAC].router
    assert views[PHONE_MAC].ipv4 == (host,)
    assert views[PHONE_MAC].protocols == (("HTTP", sum(map(len, frames))),)
    assert snapshot.flows is not None
    records, _ = snapshot.flows.all()
    devs = {records.columns["dev_a"][0], records.columns["dev_b"][0]}
    assert views[PHONE_MAC].id in devs


def test_flows_to_the_internet_have_no_server_device(home: AnalysisSnapshot) -> None:
    from engine.views.flows import flow_views

    assert home.flows is not None and home.metadata is not None
    records, labels = home.flows.all()
    views = by_mac(device_views(home))
    flows = {(f.client, f.server): f for f in flow_views(records, labels, home.metadata.name_table)}
    web = flows[PHONE_V4, WEB_V4]
    assert (web.client_device, web.server_device) == (views[PHONE_MAC].id, -1)
    smb = flows[PHONE_V6[0], NAS_V6]
    assert (smb.client_device, smb.server_device) == (views[PHONE_MAC].id, views[NAS_MAC].id)
    download = flows[LAPTOP_V4, VIDEO_V4]
    assert (download.client_device, download.server_device) == (views[LAPTOP_MAC].id, -1)
    # the router's totals hold its own traffic (DNS, DHCPv6), not what it forwards
    assert dict(views[ROUTER_MAC].protocols) == {"DNS": 71 + 98, "DHCPv6": 83}
