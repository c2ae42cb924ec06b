"""Two throw-away network namespaces joined by a veth pair, for capturing real traffic in tests.

Addresses are only ever inside the namespaces. Everything started is stopped by PID (process groups
the helpers created) and the namespaces are deleted, whatever happens in the test.
"""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field

from tests.pi_setup.netns_capture import run, stop_process_group


@dataclass
class VethPair:
    capture_ns: str
    peer_ns: str
    capture_iface: str
    peer_iface: str
    capture_ip: str
    peer_ip: str
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def start_in_capture_ns(self, argv: list[str], **kwargs: object) -> subprocess.Popen[str]:
        """Start a process in the capture namespace (its own process group, stopped at the end)."""
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.capture_ns, *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            bufsize=1,
            **kwargs,  # type: ignore[call-overload]
        )
        self.processes.append(proc)
        return proc

    def send_udp(self, count: int, rate: float, *, port: int = 5555, payload: int = 100) -> int:
        """Send `count` UDP datagrams of `payload` bytes at about `rate` per second from the peer to the
        capture end; returns how many were sent."""
        code = textwrap.dedent(f"""
            import socket, time
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
            data = b"u" * {payload}
            start = time.monotonic()
            for i in range({count}):
                s.sendto(data, ("{self.capture_ip}", {port}))
                if i % 100 == 99:
                    delay = start + (i + 1) / {rate} - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
            print({count})
        """)
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.peer_ns, sys.executable, "-c", code],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.processes.append(proc)
        out, err = proc.communicate(timeout=count / rate + 30)
        assert proc.returncode == 0, err
        return int(out)


@contextlib.contextmanager
def veth_pair() -> Iterator[VethPair]:
    tag = secrets.token_hex(3)
    capture_ns, peer_ns = f"hs-live-{tag}", f"hs-lpeer-{tag}"
    capture_iface, peer_iface = f"hsl{tag}", f"hsq{tag}"
    subnet = f"10.214.{secrets.randbelow(256)}"
    pair = VethPair(capture_ns, peer_ns, capture_iface, peer_iface, f"{subnet}.1", f"{subnet}.2")
    namespaces: list[str] = []
    try:
        for ns in (capture_ns, peer_ns):
            run("ip", "netns", "add", ns)
            namespaces.append(ns)
        run(
            "ip", "link", "add", capture_iface, "netns", capture_ns,
            "type", "veth", "peer", "name", peer_iface, "netns", peer_ns,
        )  # fmt: skip
        for ns, iface, ip in (
            (capture_ns, capture_iface, pair.capture_ip),
            (peer_ns, peer_iface, pair.peer_ip),
        ):
            run("ip", "-n", ns, "addr", "add", f"{ip}/30", "dev", iface)
            run("ip", "-n", ns, "link", "set", "lo", "up")
            run("ip", "-n", ns, "link", "set", iface, "up")
        # static neighbours: no ARP in the capture, and no packet of a burst waits for (or is dropped
        # while) resolving the other end's address
        capture_mac, peer_mac = _mac(capture_ns, capture_iface), _mac(peer_ns, peer_iface)
        run("ip", "-n", capture_ns, "neigh", "replace", pair.peer_ip, "lladdr", peer_mac,
            "dev", capture_iface, "nud", "permanent")  # fmt: skip
        run("ip", "-n", peer_ns, "neigh", "replace", pair.capture_ip, "lladdr", capture_mac,
            "dev", peer_iface, "nud", "permanent")  # fmt: skip
        yield pair
    finally:
        for proc in pair.processes:
            stop_process_group(proc)
        for ns in namespaces:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20, check=False)


def _mac(ns: str, iface: str) -> str:
    out = subprocess.run(
        ["ip", "-n", ns, "-o", "link", "show", iface], capture_output=True, text=True, timeout=20, check=True
    ).stdout
    return out.split("link/ether ", 1)[1].split()[0]
