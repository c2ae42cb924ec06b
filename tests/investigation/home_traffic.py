"""A crafted home network for the findings tests: devices behind a router, TCP connections with payloads
(TLS ClientHello with a server name, HTTP requests), UDP exchanges and DNS lookups, written as a pcap and
analysed by the engine.

Frames are built with the byte builders of tests/engine/crafted.py (written from the specifications, not
from the engine), so a finding that fires here fires on what a real capture would hold.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

from engine.analysis import AnalysisSnapshot
from engine.config import Settings, load_settings
from engine.dataframes import AnalysisResult, analyse
from tests.engine.crafted import BASE_TS, Rec, ethernet, ipv4, tcp, udp, write_pcap
from tests.protocols.builders import client_hello_message, records, sni_ext

ROUTER_MAC = "00:11:22:00:00:01"
ROUTER_IP = "192.168.1.1"
SYN, SYN_ACK, ACK, PSH_ACK, FIN_ACK = 0x02, 0x12, 0x10, 0x18, 0x11
DAY0 = BASE_TS - BASE_TS % 86400  # 2023-11-14 00:00 UTC


@dataclass(frozen=True)
class Device:
    mac: str
    ip: str


ESP32 = Device("24:0a:c4:00:00:01", "192.168.1.50")  # Espressif
PHONE = Device("3c:22:fb:00:00:02", "192.168.1.51")  # Apple
LAPTOP = Device("f0:18:98:00:00:03", "192.168.1.52")  # Apple
CAMERA = Device("00:62:6e:00:00:04", "192.168.1.53")
TV = Device("a8:23:fe:00:00:05", "192.168.1.54")  # LG


def dns_name(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"


def dns_message(ident: int, name: str, *, answer: str | None = None, qtype: int = 1) -> bytes:
    """A DNS query, or with `answer` its response carrying one A record."""
    flags = 0x8180 if answer is not None else 0x0100
    head = struct.pack(">HHHHHH", ident, flags, 1, 1 if answer is not None else 0, 0, 0)
    body = dns_name(name) + struct.pack(">HH", qtype, 1)
    if answer is not None:
        rdata = bytes(int(x) for x in answer.split("."))
        body += b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 300, 4) + rdata
    return head + body


def tls_hello(server_name: str) -> bytes:
    return records(client_hello_message(extensions=(sni_ext(server_name.encode()),)))


@dataclass
class Home:
    """Frames of a home network, in any order (written sorted by time)."""

    frames: list[Rec] = field(default_factory=list)
    _ports: int = 40000
    _dns_id: int = 1

    def _rec(self, t: float, frame: bytes, wirelen: int | None = None) -> None:
        sec = int(t)
        self.frames.append(Rec(frame, sec, round((t - sec) * 1e6), wirelen))

    def _port(self) -> int:
        self._ports = 40000 + (self._ports - 40000 + 1) % 20000
        return self._ports

    def tcp_session(
        self,
        t: float,
        device: Device,
        server: str,
        port: int,
        *,
        request: bytes = b"x" * 200,
        response: bytes = b"y" * 400,
        server_mac: str = ROUTER_MAC,
        extra_up: int = 0,
        up_wirelen: int | None = None,
    ) -> None:
        """A whole TCP connection: handshake, a request, a response, `extra_up` more segments up, close."""
        sport = self._port()
        c, s = device, server

        def up(at: float, flags: int, payload: bytes = b"", wirelen: int | None = None) -> None:
            frame = ethernet(
                ipv4(tcp(sport, port, payload, flags=flags), 6, src=c.ip, dst=s), dst=server_mac, src=c.mac
            )
            self._rec(at, frame, wirelen)

        def down(at: float, flags: int, payload: bytes = b"") -> None:
            frame = ethernet(
                ipv4(tcp(port, sport, payload, flags=flags), 6, src=s, dst=c.ip), dst=c.mac, src=server_mac
            )
            self._rec(at, frame)

        up(t, SYN)
        down(t + 0.01, SYN_ACK)
        up(t + 0.02, PSH_ACK, request)
        down(t + 0.05, PSH_ACK, response)
        for i in range(extra_up):
            up(t + 0.06 + i * 0.0001, PSH_ACK, b"z" * 100, up_wirelen)
        up(t + 0.08, FIN_ACK)
        down(t + 0.09, FIN_ACK)

    def tls(self, t: float, device: Device, server: str, name: str, port: int = 443, **kw: object) -> None:
        self.tcp_session(t, device, server, port, request=tls_hello(name), **kw)  # type: ignore[arg-type]

    def http(self, t: float, device: Device, server: str, host: str, port: int = 80, **kw: object) -> None:
        request = f"GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: test\r\n\r\n".encode()
        self.tcp_session(t, device, server, port, request=request, **kw)  # type: ignore[arg-type]

    def syn_only(self, t: float, device: Device, server: str, port: int) -> None:
        sport = self._port()
        frame = ethernet(
            ipv4(tcp(sport, port, b"", flags=SYN), 6, src=device.ip, dst=server),
            dst=ROUTER_MAC,
            src=device.mac,
        )
        self._rec(t, frame)

    def udp_exchange(
        self, t: float, device: Device, server: str, port: int, *, sport: int | None = None,
        payload: bytes = b"u" * 64, server_mac: str = ROUTER_MAC, dst_mac: str | None = None,
    ) -> None:  # fmt: skip
        """One datagram up and, unless the destination is a group address, one back."""
        sp = sport if sport is not None else self._port()
        frame = ethernet(
            ipv4(udp(sp, port, payload), 17, src=device.ip, dst=server),
            dst=dst_mac or server_mac,
            src=device.mac,
        )
        self._rec(t, frame)
        if dst_mac is None:
            back = ethernet(
                ipv4(udp(port, sp, payload), 17, src=server, dst=device.ip), dst=device.mac, src=server_mac
            )
            self._rec(t + 0.01, back)

    def dns(self, t: float, device: Device, name: str, answer: str, *, resolver: str = ROUTER_IP) -> None:
        """A lookup of `name` at `resolver` (the router by default) and its answer."""
        sport = self._port()
        ident = self._dns_id = (self._dns_id + 1) % 65536
        q = ethernet(
            ipv4(udp(sport, 53, dns_message(ident, name)), 17, src=device.ip, dst=resolver),
            dst=ROUTER_MAC,
            src=device.mac,
        )
        r = ethernet(
            ipv4(udp(53, sport, dns_message(ident, name, answer=answer)), 17, src=resolver, dst=device.ip),
            dst=device.mac,
            src=ROUTER_MAC,
        )
        self._rec(t, q)
        self._rec(t + 0.005, r)

    def router_presence(self, t: float) -> None:
        """Internet hosts in three /16s answering through the router MAC, so the engine sees a router."""
        for i, server in enumerate(("8.8.8.8", "9.9.9.9", "1.0.0.1")):
            self.udp_exchange(t + i * 0.001, LAPTOP, server, 123)

    def write(self, path: Path) -> Path:
        self.frames.sort(key=lambda r: (r.sec, r.frac))
        return write_pcap(path, self.frames)


def settings_for(findings: dict[str, dict[str, object]] | None = None, **overrides: object) -> Settings:
    """Settings with the given [findings] tables; time zone UTC unless overridden. Reads no user file (the
    test session redirects the config folder)."""
    values: dict[str, object] = {"timezone": "UTC", **overrides}
    if findings:
        values["findings"] = findings
    return load_settings(overrides=values)


def analyse_home(home: Home, tmp_path: Path, name: str = "home.pcap") -> AnalysisResult:
    return analyse(home.write(tmp_path / name))


def snapshot_of(home: Home, tmp_path: Path) -> AnalysisSnapshot:
    return analyse_home(home, tmp_path).snapshot
