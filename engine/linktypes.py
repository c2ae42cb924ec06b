"""Link-type numbers (LINKTYPE_* of the pcap and pcapng formats) and their names."""

from __future__ import annotations

ETHERNET = 1
PPP = 9
RAW_12 = 12  # DLT_RAW on most systems
RAW_14 = 14  # DLT_RAW on OpenBSD
PPP_HDLC = 50
NULL = 0
LOOP = 108
RAW = 101
IEEE802_11 = 105
LINUX_SLL = 113
IEEE802_11_RADIOTAP = 127
NFLOG = 239
IPV4 = 228
IPV6 = 229
LINUX_SLL2 = 276

NAMES: dict[int, str] = {
    0: "BSD loopback (NULL)",
    1: "Ethernet",
    6: "IEEE 802.5 Token Ring",
    8: "SLIP",
    9: "PPP",
    10: "FDDI",
    12: "raw IP",
    14: "raw IP",
    50: "PPP in HDLC-like framing",
    51: "PPPoE",
    101: "raw IP",
    104: "Cisco HDLC",
    105: "IEEE 802.11",
    108: "OpenBSD loopback (LOOP)",
    113: "Linux cooked capture (SLL)",
    119: "Prism 802.11",
    127: "IEEE 802.11 with radiotap",
    138: "Apple IP over IEEE 1394",
    143: "DOCSIS",
    163: "AVS 802.11",
    182: "link type 182 (unassigned, formerly used by some tools)",
    187: "Bluetooth HCI H4",
    189: "USB with Linux header",
    192: "PPI",
    195: "IEEE 802.15.4",
    201: "Bluetooth HCI H4 with direction",
    215: "IEEE 802.15.4 non-ASK PHY",
    220: "USB with Linux header (memory-mapped)",
    227: "SocketCAN",
    228: "raw IPv4",
    229: "raw IPv6",
    230: "IEEE 802.15.4 without FCS",
    239: "Linux NFLOG",
    240: "Netanalyzer",
    249: "USBPcap",
    252: "Wireshark Upper PDU",
    263: "Bluetooth LE link layer",
    276: "Linux cooked capture v2 (SLL2)",
}


def linktype_name(linktype: int) -> str:
    return NAMES.get(linktype, f"link type {linktype}")
