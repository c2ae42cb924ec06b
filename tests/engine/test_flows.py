"""Flows through the whole analysis: one bidirectional flow per 5-tuple (address pair for ICMP and later
fragments), the client decided from the handshake or the ports, TCP states, idle expiry by packet time with
a bounded active table, and what each closed-flow retention policy keeps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.analysis import Analysis, AnalysisSnapshot
from engine.capture.source import open_capture
from engine.flows.flow_table import FlowRecords, FlowTimeouts
from engine.views.flows import FlowView, flow_views
from tests.engine.crafted import (
    BASE_TS,
    Rec,
    analyse_paths,
    ethernet,
    icmp,
    ipv4,
    ipv6,
    tcp,
    udp,
    write_pcap,
)

PHONE, LAPTOP, ROUTER = "192.168.1.20", "192.168.1.30", "192.168.1.1"
WEB, VIDEO = "93.184.216.34", "142.250.74.78"
PHONE_MAC, LAPTOP_MAC, ROUTER_MAC = "f0:18:98:aa:bb:01", "3c:22:fb:00:00:02", "b8:27:eb:12:34:56"
MACS = {PHONE: PHONE_MAC, LAPTOP: LAPTOP_MAC}
SYN, SYN_ACK, ACK, PSH_ACK, FIN_ACK, RST = 0x02, 0x12, 0x10, 0x18, 0x11, 0x04


def frame(packet: bytes, src: str, dst: str) -> bytes:
    """An Ethernet frame from the device at `src` (or from the router, for internet sources)."""
    ethertype = 0x86DD if packet[0] >> 4 == 6 else 0x0800
    return ethernet(packet, ethertype, src=MACS.get(src, ROUTER_MAC), dst=MACS.get(dst, ROUTER_MAC))


def tcp_frame(src: str, dst: str, sport: int, dport: int, flags: int, payload: bytes = b"") -> bytes:
    return frame(ipv4(tcp(sport, dport, payload, flags=flags), 6, src=src, dst=dst), src, dst)


def udp_frame(src: str, dst: str, sport: int, dport: int, payload: bytes = b"") -> bytes:
    return frame(ipv4(udp(sport, dport, payload), src=src, dst=dst), src, dst)


def capture(tmp_path: Path, frames: list[bytes], *, step: float = 0.1, name: str = "flows.pcap") -> Path:
    recs = []
    for i, f in enumerate(frames):
        us = round(i * step * 1_000_000)
        recs.append(Rec(f, sec=BASE_TS + us // 1_000_000, frac=us % 1_000_000))
    return write_pcap(tmp_path / name, recs)


def all_flows(snapshot: AnalysisSnapshot) -> list[FlowView]:
    assert snapshot.flows is not None and snapshot.metadata is not None
    records, labels = snapshot.flows.all()
    return flow_views(records, labels, snapshot.metadata.name_table)


def one_flow(snapshot: AnalysisSnapshot) -> FlowView:
    (flow,) = all_flows(snapshot)
    return flow


# --- one flow for both directions, and who is the client ------------------------------------------------


def test_both_directions_are_one_flow_counted_from_the_client(tmp_path: Path) -> None:
    frames = [
        tcp_frame(PHONE, WEB, 50000, 443, SYN),
        tcp_frame(WEB, PHONE, 443, 50000, SYN_ACK),
        tcp_frame(PHONE, WEB, 50000, 443, ACK),
        tcp_frame(PHONE, WEB, 50000, 443, PSH_ACK, b"q" * 100),
        tcp_frame(WEB, PHONE, 443, 50000, PSH_ACK, b"r" * 1000),
        tcp_frame(WEB, PHONE, 443, 50000, PSH_ACK, b"r" * 500),
    ]
    snapshot, _ = analyse_paths([capture(tmp_path, frames)])
    flow = one_flow(snapshot)
    assert (flow.client, flow.client_port, flow.server, flow.server_port) == (PHONE, 50000, WEB, 443)
    assert (flow.protocol, flow.label, flow.protection) == ("TCP", "TLS", "encrypted")
    assert (flow.packets_up, flow.bytes_up) == (3, 54 + 54 + 154)
    assert (flow.packets_down, flow.bytes_down) == (3, 54 + 1054 + 554)
    assert flow.first_ts == pytest.approx(BASE_TS)
    assert flow.last_ts == pytest.approx(BASE_TS + 0.5)
    assert flow.state == "established"
    assert not flow.active  # the end of the capture closed it
    # the local device, and no device at the remote end (the router only forwards)
    assert snapshot.devices is not None
    keys = snapshot.devices.key_lo.tolist()
    assert flow.client_device == keys.index(int(PHONE_MAC.replace(":", ""), 16))
    assert flow.server_device == -1


@pytest.mark.parametrize(
    ("first", "expected_client"),
    [
        # the SYN's sender is the client, even with the lower port
        (tcp_frame(WEB, PHONE, 443, 50000, SYN), WEB),
        # the SYN-ACK's sender is the server (the SYN was not captured)
        (tcp_frame(WEB, PHONE, 443, 50000, SYN_ACK), PHONE),
        # joined late: the higher (ephemeral) port is the client's
        (tcp_frame(WEB, PHONE, 443, 50000, PSH_ACK, b"r" * 10), PHONE),
        (udp_frame(PHONE, ROUTER, 53, 40000, b"x" * 12), ROUTER),
        # equal ports: the first sender
        (udp_frame(ROUTER, PHONE, 123, 123, b"\x23" + bytes(47)), ROUTER),
    ],
    ids=["syn", "syn-ack", "ports-tcp", "ports-udp", "equal-ports"],
)
def test_client_decided_from_handshake_or_ports(tmp_path: Path, first: bytes, expected_client: str) -> None:
    snapshot, _ = analyse_paths([capture(tmp_path, [first])])
    assert one_flow(snapshot).client == expected_client


@pytest.mark.parametrize(
    ("flags_sent", "state"),
    [
        ([(True, SYN)], "syn-sent"),
        ([(True, SYN), (False, SYN_ACK), (True, ACK)], "established"),
        ([(True, SYN), (False, SYN_ACK), (True, FIN_ACK)], "closing"),
        ([(True, SYN), (False, SYN_ACK), (True, FIN_ACK), (False, FIN_ACK)], "closed"),
        ([(True, SYN), (False, RST)], "reset"),
        ([(True, PSH_ACK), (False, ACK)], "established (joined late)"),
    ],
)
def test_tcp_states(tmp_path: Path, flags_sent: list[tuple[bool, int]], state: str) -> None:
    frames = [
        tcp_frame(PHONE, WEB, 50000, 443, f) if from_client else tcp_frame(WEB, PHONE, 443, 50000, f)
        for from_client, f in flags_sent
    ]
    snapshot, _ = analyse_paths([capture(tmp_path, frames)])
    assert one_flow(snapshot).state == state


def test_udp_and_icmp_flows_have_no_tcp_state(tmp_path: Path) -> None:
    frames = [
        udp_frame(PHONE, ROUTER, 40000, 53, bytes(20)),
        frame(ipv4(icmp(8, 0, b"\x00\x01\x00\x01"), 1, src=PHONE, dst=WEB), PHONE, WEB),
    ]
    snapshot, _ = analyse_paths([capture(tmp_path, frames)])
    assert sorted((f.protocol, f.state) for f in all_flows(snapshot)) == [("ICMP", None), ("UDP", None)]


def test_icmp_flows_are_keyed_by_address_pair(tmp_path: Path) -> None:
    frames = [
        frame(ipv4(icmp(8, 0, b"\x00\x01\x00\x01" + bytes(56)), 1, src=PHONE, dst=WEB), PHONE, WEB),
        frame(ipv4(icmp(0, 0, b"\x00\x01\x00\x01" + bytes(56)), 1, src=WEB, dst=PHONE), WEB, PHONE),
        # another identifier and sequence: still the same pair of addresses, the same flow
        frame(ipv4(icmp(8, 0, b"\x00\x02\x00\x07" + bytes(56)), 1, src=PHONE, dst=WEB), PHONE, WEB),
        # the same host pinged from another device: another flow
        frame(ipv4(icmp(8, 0, b"\x00\x01\x00\x01" + bytes(56)), 1, src=LAPTOP, dst=WEB), LAPTOP, WEB),
        # ICMPv6 echo between link-local addresses
        ethernet(ipv6(icmp(128, 0, bytes(8)), 58, src="fe80::1", dst="fe80::2"), 0x86DD),
        ethernet(ipv6(icmp(129, 0, bytes(8)), 58, src="fe80::2", dst="fe80::1"), 0x86DD),
    ]
    snapshot, _ = analyse_paths([capture(tmp_path, frames)])
    flows = {(f.client, f.server): f for f in all_flows(snapshot)}
    assert sorted(flows) == sorted([(PHONE, WEB), (LAPTOP, WEB), ("fe80::1", "fe80::2")])
    ping = flows[PHONE, WEB]
    assert (ping.protocol, ping.label, ping.client_port, ping.server_port) == ("ICMP", "ICMP", 0, 0)
    assert (ping.packets_up, ping.packets_down) == (2, 1)
    v6 = flows["fe80::1", "fe80::2"]
    assert (v6.protocol, v6.label, v6.packets_up, v6.packets_down) == ("ICMPv6", "ICMPv6", 1, 1)


def test_later_ipv4_fragments_are_a_flow_of_the_address_pair(tmp_path: Path) -> None:
    """A later fragment has no ports: it goes to the port-less flow of its addresses and protocol."""
    datagram = udp(40000, 4500, bytes(2000))  # the UDP header belongs to the first fragment only
    frames = [
        frame(ipv4(datagram[:1480], flags_frag=0x2000, src=PHONE, dst=WEB), PHONE, WEB),
        frame(ipv4(datagram[1480:], flags_frag=1480 // 8, src=PHONE, dst=WEB), PHONE, WEB),
        udp_frame(WEB, PHONE, 4500, 40000, bytes(100)),
    ]
    snapshot, _ = analyse_paths([capture(tmp_path, frames)])
    flows = {(f.client_port, f.server_port): f for f in all_flows(snapshot)}
    assert sorted(flows) == [(0, 0), (40000, 4500)]
    ported, rest = flows[40000, 4500], flows[0, 0]
    assert (ported.packets_up, ported.bytes_up, ported.packets_down) == (1, 1514, 1)
    assert (rest.protocol, rest.client, rest.server, rest.packets_up, rest.bytes_up) == (
        "UDP",
        PHONE,
        WEB,
        1,
        14 + 20 + 528,
    )
    assert (ported.label, rest.label) == ("IPsec", "UDP")  # NAT traversal port; no port for the rest


# --- idle flows close by packet time; memory follows the active flows -----------------------------------


def ingest_in_batches(analysis: Analysis, path: Path, chunk_size: int) -> list[int]:
    """Feed a capture a few records at a time; the number of active flows after each batch."""
    sizes = []
    for batch in open_capture(str(path)).batches(chunk_size):
        analysis.ingest_batch(batch)
        sizes.append(len(analysis.flows))
    return sizes


def test_idle_flows_close_by_packet_time(tmp_path: Path) -> None:
    # (seconds from the start, frame): the DNS flow goes idle; the TCP flow stays busy, then resets
    timeline = [
        (0, udp_frame(PHONE, ROUTER, 40000, 53, bytes(30))),
        (1, tcp_frame(PHONE, WEB, 50000, 443, SYN)),
        (2, udp_frame(ROUTER, PHONE, 53, 40000, bytes(60))),
        (20, tcp_frame(PHONE, WEB, 50000, 443, PSH_ACK, bytes(10))),
        (40, tcp_frame(WEB, PHONE, 443, 50000, RST)),
        (41, udp_frame(LAPTOP, ROUTER, 40001, 53, bytes(30))),
        (60, udp_frame(LAPTOP, ROUTER, 40002, 53, bytes(30))),
        (80, udp_frame(LAPTOP, ROUTER, 40003, 53, bytes(30))),
    ]
    path = write_pcap(tmp_path / "idle.pcap", [Rec(f, sec=BASE_TS + t) for t, f in timeline])
    timeouts = FlowTimeouts(tcp_closed=5.0, tcp=300.0, udp=15.0, other=15.0, check_every=1.0)
    analysis = Analysis(timeouts=timeouts)
    closed: list[FlowRecords] = []
    analysis.flows.on_close.append(closed.append)
    # one record per batch: idle flows are looked for before each batch, by the clock as it stood
    active = ingest_in_batches(analysis, path, chunk_size=60)
    assert len(active) == len(timeline)
    # by t=20 the DNS flow (last packet at t=2) was idle 18 s > 15 s: closed before the t=40 packet; by
    # t=60 the reset TCP flow was idle 20 s > 5 s and the laptop's first lookup 19 s > 15 s
    assert [(r.columns["first_ts"] - BASE_TS).astype(int).tolist() for r in closed] == [[0], [1, 41]]
    assert active == [1, 2, 2, 2, 1, 2, 3, 2]
    assert analysis.flows.closed_count == 3
    assert len(analysis.flows) == 2  # the table was compacted
    snapshot = analysis.snapshot()
    assert snapshot.flows is not None
    assert (len(snapshot.flows.closed), len(snapshot.flows.active)) == (3, 2)
    # summaries hold every packet, closed or active
    total = snapshot.totals
    assert int(snapshot.flows.summaries.label_packets.sum()) == total.packets == len(timeline)
    assert int(snapshot.flows.summaries.label_bytes.sum()) == total.bytes
    analysis.finish()
    assert len(analysis.flows) == 0
    assert analysis.flows.closed_count == 5
    assert int(analysis.snapshot().flows.summaries.label_bytes.sum()) == total.bytes  # type: ignore[union-attr]


def many_short_flows(tmp_path: Path, count: int) -> Path:
    """`count` DNS lookups, one a second, each its own flow (another source port)."""
    recs = []
    for i in range(count):
        port = 10000 + i
        recs.append(Rec(udp_frame(PHONE, ROUTER, port, 53, bytes(29)), sec=BASE_TS + i))
        recs.append(Rec(udp_frame(ROUTER, PHONE, 53, port, bytes(45)), sec=BASE_TS + i, frac=20_000))
    return write_pcap(tmp_path / "lookups.pcap", recs)


def test_memory_follows_the_active_flows_not_the_capture(tmp_path: Path) -> None:
    count = 3000
    path = many_short_flows(tmp_path, count)
    analysis = Analysis(timeouts=FlowTimeouts(udp=30.0, check_every=10.0))
    active = ingest_in_batches(analysis, path, chunk_size=16 << 10)
    # about 90 s of lookups per batch, plus the timeout: never near the 3000 flows of the capture
    assert len(active) > 20
    assert max(active) < 200
    assert analysis.flows.closed_count + len(analysis.flows) == count
    assert analysis.flows.cols["serial"].shape[0] <= 1024  # the columns shrank with the table
    snapshot = analysis.snapshot()
    assert snapshot.flows is not None
    summaries = snapshot.flows.summaries
    assert summaries.flows == count
    assert int(summaries.label_packets.sum()) == snapshot.totals.packets == 2 * count
    assert int(summaries.label_bytes.sum()) == snapshot.totals.bytes


# --- closed-flow retention ------------------------------------------------------------------------------


def sized_flows(tmp_path: Path, sizes: list[int]) -> Path:
    """One UDP flow per size (in bytes of payload), one a second, each closing 31 s after it began."""
    recs = [
        Rec(udp_frame(PHONE, WEB, 20000 + i, 9000, bytes(size)), sec=BASE_TS + 40 * i)
        for i, size in enumerate(sizes)
    ]
    return write_pcap(tmp_path / "sized.pcap", recs)


def retained(policy: str, limit: int, path: Path) -> tuple[list[int], int, AnalysisSnapshot]:
    analysis = Analysis(
        timeouts=FlowTimeouts(udp=30.0, check_every=1.0),
        closed_flow_limit=limit,
        closed_flow_retention=policy,  # type: ignore[arg-type]
    )
    for batch in open_capture(str(path)).batches(600):
        analysis.ingest_batch(batch)
    analysis.finish()
    snapshot = analysis.snapshot()
    assert snapshot.flows is not None
    ports = sorted(int(p) - 20000 for p in snapshot.flows.closed.port_a)
    return ports, snapshot.flows.closed_dropped, snapshot


SIZES = [100, 900, 300, 1200, 50, 700, 1100, 20, 600, 1000, 10, 400]


@pytest.mark.parametrize("policy", ["all", "recent"])
def test_all_and_recent_keep_the_newest_flows(tmp_path: Path, policy: str) -> None:
    ports, dropped, snapshot = retained(policy, 5, sized_flows(tmp_path, SIZES))
    assert ports == [7, 8, 9, 10, 11]
    assert dropped == len(SIZES) - 5
    assert snapshot.flows is not None
    assert snapshot.flows.summaries.flows == len(SIZES)  # the totals keep every flow


def test_largest_keeps_the_flows_with_most_bytes(tmp_path: Path) -> None:
    ports, dropped, snapshot = retained("largest", 4, sized_flows(tmp_path, SIZES))
    assert ports == sorted(np.argsort(SIZES)[-4:].tolist())  # 1200, 1100, 1000, 900 bytes
    assert dropped == len(SIZES) - 4
    assert snapshot.flows is not None
    assert int(snapshot.flows.summaries.label_bytes.sum()) == snapshot.totals.bytes


def test_without_a_limit_every_flow_is_kept(tmp_path: Path) -> None:
    ports, dropped, _ = retained("all", 1000, sized_flows(tmp_path, SIZES))
    assert ports == list(range(len(SIZES)))
    assert dropped == 0


def test_report_counts_dropped_flows(tmp_path: Path) -> None:
    """A report's flow counts include the flows the retention let go."""
    from engine.report import build_report

    _, _, snapshot = retained("recent", 5, sized_flows(tmp_path, SIZES))
    flows = build_report(snapshot, [])["flows"]
    assert (flows["total"], flows["closed"], flows["active"], len(flows["top"])) == (12, 12, 0, 5)


@pytest.mark.parametrize("policy", ["all", "recent", "largest"])
def test_retention_holds_when_many_flows_close_at_once(tmp_path: Path, policy: str) -> None:
    """The end of a capture closes every flow in one go: the limit still holds."""
    recs = [
        Rec(udp_frame(PHONE, WEB, 20000 + i, 9000, bytes(size)), sec=BASE_TS, frac=i * 1000)
        for i, size in enumerate(SIZES)
    ]
    path = write_pcap(tmp_path / "burst.pcap", recs)
    snapshot, _ = analyse_paths([path], closed_flow_limit=5, closed_flow_retention=policy)
    assert snapshot.flows is not None
    ports = sorted(int(p) - 20000 for p in snapshot.flows.closed.port_a)
    assert len(ports) == 5
    assert snapshot.flows.closed_dropped == len(SIZES) - 5
    if policy == "largest":
        assert ports == sorted(np.argsort(SIZES)[-5:].tolist())
    else:
        assert ports == [7, 8, 9, 10, 11]  # closed together: the most recently active are kept
