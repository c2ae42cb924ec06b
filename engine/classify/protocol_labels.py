"""The protocol labels homescope gives to flows, and whether each one protects its content.

A label is decided once per flow (from a payload signature of its first packets, else the port table) and
applies to every packet of the flow. Each label has a class:

- encrypted: the payload is encrypted end to end (TLS, QUIC, SSH, VPNs);
- plaintext: the payload can be read by anyone on the path (HTTP, DNS, DHCP, NTP, mail without TLS, ...),
  including network control protocols (ICMP, ARP), which carry no user data but are readable;
- unknown: not identified (plain TCP/UDP, other IP protocols, unknown link-layer frames).

The same taxonomy is documented in docs/protocols.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class TrafficProtection(IntEnum):
    UNKNOWN = 0
    ENCRYPTED = 1
    PLAINTEXT = 2


PROTECTION_NAMES = {
    TrafficProtection.UNKNOWN: "unknown",
    TrafficProtection.ENCRYPTED: "encrypted",
    TrafficProtection.PLAINTEXT: "plaintext",
}


@dataclass(frozen=True, slots=True)
class LabelInfo:
    name: str
    protection: TrafficProtection
    description: str


class Label(IntEnum):
    NONE = 0
    # transport-level fallbacks
    TCP = 1
    UDP = 2
    ICMP = 3
    ICMPV6 = 4
    IGMP = 5
    OTHER_IP = 6
    # encrypted
    TLS = 10
    QUIC = 11
    GQUIC = 12
    DTLS = 13
    SSH = 14
    WIREGUARD = 15
    OPENVPN = 16
    IPSEC = 17
    DNS_OVER_TLS = 18
    # plaintext application protocols
    HTTP = 30
    DNS = 31
    MDNS = 32
    LLMNR = 33
    NBNS = 34
    NETBIOS_DGM = 35
    DHCP = 36
    DHCPV6 = 37
    NTP = 38
    SSDP = 39
    STUN = 40
    RTP = 41
    SIP = 42
    RTSP = 43
    TELNET = 44
    FTP = 45
    SMTP = 46
    POP3 = 47
    IMAP = 48
    SNMP = 49
    SYSLOG = 50
    MQTT = 51
    COAP = 52
    TPLINK_SHP = 53
    WS_DISCOVERY = 54
    UBIQUITI_DISCOVERY = 55
    BITTORRENT = 56
    SMB = 57
    TUYA = 58
    # link layer (frames that are not IP)
    ARP = 80
    EAPOL = 81
    LLDP = 82
    OTHER_LINK = 83


LABELS: dict[Label, LabelInfo] = {
    Label.NONE: LabelInfo("-", TrafficProtection.UNKNOWN, "not decided yet"),
    Label.TCP: LabelInfo("TCP", TrafficProtection.UNKNOWN, "TCP with an unidentified payload"),
    Label.UDP: LabelInfo("UDP", TrafficProtection.UNKNOWN, "UDP with an unidentified payload"),
    Label.ICMP: LabelInfo("ICMP", TrafficProtection.PLAINTEXT, "IPv4 control messages (ping, errors)"),
    Label.ICMPV6: LabelInfo("ICMPv6", TrafficProtection.PLAINTEXT, "IPv6 control and neighbour discovery"),
    Label.IGMP: LabelInfo("IGMP", TrafficProtection.PLAINTEXT, "IPv4 multicast group membership"),
    Label.OTHER_IP: LabelInfo("other IP", TrafficProtection.UNKNOWN, "another IP protocol (GRE, ESP, ...)"),
    Label.TLS: LabelInfo("TLS", TrafficProtection.ENCRYPTED, "TLS (HTTPS and other secured TCP)"),
    Label.QUIC: LabelInfo("QUIC", TrafficProtection.ENCRYPTED, "IETF QUIC (HTTP/3)"),
    Label.GQUIC: LabelInfo("gQUIC", TrafficProtection.ENCRYPTED, "Google QUIC (Q0xx versions)"),
    Label.DTLS: LabelInfo("DTLS", TrafficProtection.ENCRYPTED, "TLS over UDP (WebRTC media keys, VPNs)"),
    Label.SSH: LabelInfo("SSH", TrafficProtection.ENCRYPTED, "secure shell"),
    Label.WIREGUARD: LabelInfo("WireGuard", TrafficProtection.ENCRYPTED, "WireGuard VPN"),
    Label.OPENVPN: LabelInfo("OpenVPN", TrafficProtection.ENCRYPTED, "OpenVPN"),
    Label.IPSEC: LabelInfo("IPsec", TrafficProtection.ENCRYPTED, "IPsec (IKE, ESP, NAT traversal)"),
    Label.DNS_OVER_TLS: LabelInfo("DNS over TLS", TrafficProtection.ENCRYPTED, "DNS over TLS (port 853)"),
    Label.HTTP: LabelInfo("HTTP", TrafficProtection.PLAINTEXT, "web traffic without TLS"),
    Label.DNS: LabelInfo("DNS", TrafficProtection.PLAINTEXT, "name lookups"),
    Label.MDNS: LabelInfo("mDNS", TrafficProtection.PLAINTEXT, "multicast DNS (Bonjour, device discovery)"),
    Label.LLMNR: LabelInfo("LLMNR", TrafficProtection.PLAINTEXT, "link-local name resolution (Windows)"),
    Label.NBNS: LabelInfo("NBNS", TrafficProtection.PLAINTEXT, "NetBIOS name service"),
    Label.NETBIOS_DGM: LabelInfo("NetBIOS datagram", TrafficProtection.PLAINTEXT, "NetBIOS datagrams"),
    Label.DHCP: LabelInfo("DHCP", TrafficProtection.PLAINTEXT, "address assignment (IPv4)"),
    Label.DHCPV6: LabelInfo("DHCPv6", TrafficProtection.PLAINTEXT, "address assignment (IPv6)"),
    Label.NTP: LabelInfo("NTP", TrafficProtection.PLAINTEXT, "time synchronisation"),
    Label.SSDP: LabelInfo("SSDP", TrafficProtection.PLAINTEXT, "UPnP device discovery"),
    Label.STUN: LabelInfo("STUN", TrafficProtection.PLAINTEXT, "NAT traversal for calls and WebRTC"),
    Label.RTP: LabelInfo("RTP", TrafficProtection.PLAINTEXT, "real-time audio/video (may be SRTP)"),
    Label.SIP: LabelInfo("SIP", TrafficProtection.PLAINTEXT, "voice-over-IP signalling"),
    Label.RTSP: LabelInfo("RTSP", TrafficProtection.PLAINTEXT, "camera/media stream control"),
    Label.TELNET: LabelInfo("Telnet", TrafficProtection.PLAINTEXT, "remote login without encryption"),
    Label.FTP: LabelInfo("FTP", TrafficProtection.PLAINTEXT, "file transfer without encryption"),
    Label.SMTP: LabelInfo("SMTP", TrafficProtection.PLAINTEXT, "mail submission/relay without TLS"),
    Label.POP3: LabelInfo("POP3", TrafficProtection.PLAINTEXT, "mail retrieval without TLS"),
    Label.IMAP: LabelInfo("IMAP", TrafficProtection.PLAINTEXT, "mail access without TLS"),
    Label.SNMP: LabelInfo("SNMP", TrafficProtection.PLAINTEXT, "network device management"),
    Label.SYSLOG: LabelInfo("Syslog", TrafficProtection.PLAINTEXT, "log messages"),
    Label.MQTT: LabelInfo("MQTT", TrafficProtection.PLAINTEXT, "IoT messaging without TLS"),
    Label.COAP: LabelInfo("CoAP", TrafficProtection.PLAINTEXT, "IoT request/response over UDP"),
    Label.TPLINK_SHP: LabelInfo(
        "TP-Link SHP", TrafficProtection.PLAINTEXT, "TP-Link smart home protocol (XOR-obfuscated JSON)"
    ),
    Label.WS_DISCOVERY: LabelInfo("WS-Discovery", TrafficProtection.PLAINTEXT, "web services discovery"),
    Label.UBIQUITI_DISCOVERY: LabelInfo(
        "Ubiquiti discovery", TrafficProtection.PLAINTEXT, "Ubiquiti device discovery"
    ),
    Label.BITTORRENT: LabelInfo("BitTorrent", TrafficProtection.PLAINTEXT, "peer-to-peer file sharing"),
    Label.SMB: LabelInfo("SMB", TrafficProtection.UNKNOWN, "Windows file sharing (encryption optional)"),
    Label.TUYA: LabelInfo("Tuya", TrafficProtection.ENCRYPTED, "Tuya smart device LAN protocol (AES)"),
    Label.ARP: LabelInfo("ARP", TrafficProtection.PLAINTEXT, "IPv4 address resolution"),
    Label.EAPOL: LabelInfo("EAPOL", TrafficProtection.PLAINTEXT, "Wi-Fi/802.1X key exchange"),
    Label.LLDP: LabelInfo("LLDP", TrafficProtection.PLAINTEXT, "link-layer neighbour discovery"),
    Label.OTHER_LINK: LabelInfo("other link layer", TrafficProtection.UNKNOWN, "frames that are not IP"),
}


def label_name(label: int) -> str:
    try:
        return LABELS[Label(label)].name
    except ValueError:
        return f"label {label}"


def label_protection(label: int) -> TrafficProtection:
    try:
        return LABELS[Label(label)].protection
    except ValueError:
        return TrafficProtection.UNKNOWN
