"""The port table: the label a flow gets from its server port when no payload signature decided it."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.classify.protocol_labels import Label

TCP_PORTS: dict[int, Label] = {
    20: Label.FTP,
    21: Label.FTP,
    22: Label.SSH,
    23: Label.TELNET,
    25: Label.SMTP,
    53: Label.DNS,
    80: Label.HTTP,
    110: Label.POP3,
    139: Label.SMB,
    143: Label.IMAP,
    443: Label.TLS,
    445: Label.SMB,
    465: Label.TLS,
    554: Label.RTSP,
    587: Label.SMTP,
    853: Label.DNS_OVER_TLS,
    993: Label.TLS,
    995: Label.TLS,
    1194: Label.OPENVPN,
    1883: Label.MQTT,
    5060: Label.SIP,
    5061: Label.TLS,
    6881: Label.BITTORRENT,
    8008: Label.HTTP,
    8080: Label.HTTP,
    8443: Label.TLS,
    8883: Label.TLS,
    9999: Label.TPLINK_SHP,
}

UDP_PORTS: dict[int, Label] = {
    53: Label.DNS,
    67: Label.DHCP,
    68: Label.DHCP,
    123: Label.NTP,
    137: Label.NBNS,
    138: Label.NETBIOS_DGM,
    161: Label.SNMP,
    162: Label.SNMP,
    443: Label.QUIC,
    500: Label.IPSEC,
    514: Label.SYSLOG,
    546: Label.DHCPV6,
    547: Label.DHCPV6,
    853: Label.DNS_OVER_TLS,
    1194: Label.OPENVPN,
    1900: Label.SSDP,
    3478: Label.STUN,
    3702: Label.WS_DISCOVERY,
    4500: Label.IPSEC,
    5060: Label.SIP,
    5353: Label.MDNS,
    5355: Label.LLMNR,
    5683: Label.COAP,
    6666: Label.TUYA,
    6667: Label.TUYA,
    6881: Label.BITTORRENT,
    9999: Label.TPLINK_SHP,
    10001: Label.UBIQUITI_DISCOVERY,
    19302: Label.STUN,
    51820: Label.WIREGUARD,
}


def _table(ports: dict[int, Label]) -> npt.NDArray[np.uint16]:
    table = np.zeros(1 << 16, dtype=np.uint16)
    for port, label in ports.items():
        table[port] = label
    return table


TCP_TABLE = _table(TCP_PORTS)
UDP_TABLE = _table(UDP_PORTS)
