"""Server names through the whole analysis: TLS SNI (also when the ClientHello spans TCP segments), QUIC
Initial SNI (v1 and v2, built with the keys of RFC 9001 and RFC 9369), gQUIC, HTTP Host, each with its
source; DHCP options overflowing into the file and sname fields; and the inspector in a child process giving
the same report as in the analysis process."""

from __future__ import annotations

import itertools
import json
import struct
from pathlib import Path
from typing import Any

import pytest

from engine.analysis import AnalysisSnapshot
from engine.report import build_report
from engine.views.flows import FlowView, flow_views
from tests.engine.app_messages import dhcp_message, dhcp_type, http_get
from tests.engine.crafted import BASE_TS, Rec, analyse_paths, ethernet, ipv4, ipv6, tcp, udp, write_pcap
from tests.protocols.builders import (
    alpn_ext,
    client_hello_message,
    crypto_frame,
    protect_long,
    records,
    sni_ext,
)
from tests.protocols.rfc_vectors import CLIENT_PLAIN_PAYLOAD, DCID
from tests.protocols.wire import dhcp_option

PHONE, SERVER = "192.168.1.20", "203.0.114.10"
PHONE_MAC, ROUTER_MAC = "f0:18:98:aa:bb:01", "b8:27:eb:12:34:56"
SYN, SYN_ACK, ACK, PSH_ACK = 0x02, 0x12, 0x10, 0x18
CLIENT_ISN, SERVER_ISN = 0x10000000, 0x20000000
QUIC_V1, QUIC_V2 = 0x00000001, 0x6B3343CF


def up(packet: bytes) -> bytes:
    ethertype = 0x86DD if packet[0] >> 4 == 6 else 0x0800
    return ethernet(packet, ethertype, src=PHONE_MAC, dst=ROUTER_MAC)


def down(packet: bytes) -> bytes:
    ethertype = 0x86DD if packet[0] >> 4 == 6 else 0x0800
    return ethernet(packet, ethertype, src=ROUTER_MAC, dst=PHONE_MAC)


def write_frames(tmp_path: Path, frames: list[bytes], name: str = "names.pcap") -> Path:
    return write_pcap(tmp_path / name, [Rec(f, sec=BASE_TS, frac=i * 1000) for i, f in enumerate(frames)])


def analyse(tmp_path: Path, frames: list[bytes], **options: Any) -> tuple[AnalysisSnapshot, dict[str, Any]]:
    snapshot, statuses = analyse_paths([write_frames(tmp_path, frames)], **options)
    return snapshot, build_report(snapshot, statuses)


def flows_of(snapshot: AnalysisSnapshot) -> list[FlowView]:
    assert snapshot.flows is not None and snapshot.metadata is not None
    records_, labels = snapshot.flows.all()
    return flow_views(records_, labels, snapshot.metadata.name_table)


# --- TLS: a ClientHello in one or several TCP segments ----------------------------------------------------


def big_client_hello(name: str) -> bytes:
    """A ClientHello of about 2.5 kB (post-quantum key shares make them this big), as TLS records."""
    message = client_hello_message(
        extensions=(sni_ext(name.encode()), alpn_ext(b"h2", b"http/1.1")), padding=2400
    )
    return records(message)


def tls_connection(
    hello: bytes, cuts: list[int], order: list[int] | None = None, *, sport: int = 50000, dport: int = 443
) -> list[bytes]:
    """A TCP connection whose client sends `hello` cut at `cuts`, its segments in `order` (default as cut)."""
    bounds = [0, *cuts, len(hello)]
    segments = [
        tcp(sport, dport, hello[a:b], flags=PSH_ACK, seq=CLIENT_ISN + 1 + a, ack=SERVER_ISN + 1)
        for a, b in itertools.pairwise(bounds)
    ]
    frames = [
        up(ipv4(tcp(sport, dport, flags=SYN, seq=CLIENT_ISN, ack=0), 6, src=PHONE, dst=SERVER)),
        down(
            ipv4(
                tcp(dport, sport, flags=SYN_ACK, seq=SERVER_ISN, ack=CLIENT_ISN + 1), 6, src=SERVER, dst=PHONE
            )
        ),
        up(
            ipv4(
                tcp(sport, dport, flags=ACK, seq=CLIENT_ISN + 1, ack=SERVER_ISN + 1), 6, src=PHONE, dst=SERVER
            )
        ),
    ]
    for i in order or range(len(segments)):
        frames.append(up(ipv4(segments[i], 6, src=PHONE, dst=SERVER)))
    server_hello = b"\x16\x03\x03\x00\x04\x02\x00\x00\x00"
    frames.append(
        down(
            ipv4(tcp(dport, sport, server_hello, flags=PSH_ACK, seq=SERVER_ISN + 1), 6, src=SERVER, dst=PHONE)
        )
    )
    return frames


def assert_tls_name(tmp_path: Path, frames: list[bytes], name: str) -> None:
    snapshot, report = analyse(tmp_path, frames)
    (flow,) = flows_of(snapshot)
    assert (flow.label, flow.server_name) == ("TLS", name)
    (entry,) = report["tls_sni"]
    assert (entry["name"], entry["source"], entry["count"], entry["servers"]) == (
        name,
        "tls-sni",
        1,
        [SERVER],
    )
    assert entry["details"] == ["TLS 1.2", "alpn h2", "alpn http/1.1"]
    assert entry["devices"] == ["Apple aa:bb:01"]
    assert snapshot.metadata is not None
    (seen,) = snapshot.metadata.remote_names[SERVER]
    assert (seen.name, seen.sources) == (name, {"tls-sni"})


def test_client_hello_in_one_segment(tmp_path: Path) -> None:
    hello = big_client_hello("www.example.com")
    assert_tls_name(tmp_path, tls_connection(hello, []), "www.example.com")


@pytest.mark.parametrize(
    "cuts",
    [[1200], [700, 1400], [3, 1400], [1, 6, 40]],
    # the last two cut inside the record header, as DPI evasion tools do
    ids=["two", "three", "three-header-cut", "four-one-byte-first"],
)
def test_client_hello_spanning_segments(tmp_path: Path, cuts: list[int]) -> None:
    hello = big_client_hello("split.example.com")
    assert len(hello) > 2500
    assert_tls_name(tmp_path, tls_connection(hello, cuts), "split.example.com")


def test_client_hello_in_two_records_and_two_segments(tmp_path: Path) -> None:
    message = client_hello_message(
        extensions=(sni_ext(b"records.example.com"), alpn_ext(b"h2", b"http/1.1")), padding=1600
    )
    hello = records(message, (900,))  # record-layer fragments of 900 bytes and the rest
    assert_tls_name(tmp_path, tls_connection(hello, [1000]), "records.example.com")


def test_client_hello_second_segment_first(tmp_path: Path) -> None:
    hello = big_client_hello("reordered.example.com")
    assert_tls_name(tmp_path, tls_connection(hello, [1200], order=[1, 0]), "reordered.example.com")


def test_only_the_client_hello_names_the_flow(tmp_path: Path) -> None:
    """A server's ClientHello-like bytes, or a second hello in the flow, do not rename it."""
    first = tls_connection(big_client_hello("first.example.com"), [])
    second = up(
        ipv4(
            tcp(50000, 443, big_client_hello("second.example.com"), flags=PSH_ACK, seq=CLIENT_ISN + 5000),
            6,
            src=PHONE,
            dst=SERVER,
        )
    )
    snapshot, report = analyse(tmp_path, [*first, second])
    (flow,) = flows_of(snapshot)
    assert flow.server_name == "first.example.com"
    assert [e["name"] for e in report["tls_sni"]] == ["first.example.com"]


# --- QUIC and gQUIC -----------------------------------------------------------------------------------


def quic_initial(version: int, frames: bytes, *, pn: int = 2) -> bytes:
    return protect_long(0 if version == QUIC_V1 else 1, version, DCID, pn, frames, pn_len=4, pad_to=1162)


def quic_flow(datagrams: list[bytes], *, v6: bool = False) -> list[bytes]:
    if v6:
        return [
            up(ipv6(udp(51000, 443, d), src="2a01:e34:ec1a:5e50::20", dst="2606:4700::6810:84e5"))
            for d in datagrams
        ]
    return [up(ipv4(udp(51000, 443, d), src=PHONE, dst=SERVER)) for d in datagrams]


@pytest.mark.parametrize(("version", "name"), [(QUIC_V1, "QUICv1"), (QUIC_V2, "QUICv2")])
def test_quic_initial_sni(tmp_path: Path, version: int, name: str) -> None:
    """The client Initial of RFC 9001 A.2 / RFC 9369 A.2 asks for example.com."""
    snapshot, report = analyse(tmp_path, quic_flow([quic_initial(version, CLIENT_PLAIN_PAYLOAD)]))
    (flow,) = flows_of(snapshot)
    assert (flow.label, flow.protection, flow.server_name) == ("QUIC", "encrypted", "example.com")
    (entry,) = report["quic_sni"]
    # the RFC's hello offers one application protocol, named "alpn"
    assert (entry["name"], entry["source"], entry["details"]) == (
        "example.com",
        "quic-sni",
        [name, "alpn alpn"],
    )
    assert report["tls_sni"] == []
    (remote,) = report["names"]
    assert (remote["ip"], remote["name"], remote["names"][0]["sources"]) == (
        SERVER,
        "example.com",
        ["quic-sni"],
    )


def test_quic_client_hello_spanning_two_initials(tmp_path: Path) -> None:
    message = client_hello_message(
        extensions=(sni_ext(b"big.quic.example"), alpn_ext(b"h3")), padding=1500
    )  # too big for one Initial
    cut = 900
    datagrams = [
        quic_initial(QUIC_V1, crypto_frame(0, message[:cut]), pn=0),
        quic_initial(QUIC_V1, crypto_frame(cut, message[cut:]), pn=1),
    ]
    snapshot, report = analyse(tmp_path, quic_flow(datagrams, v6=True))
    (flow,) = flows_of(snapshot)
    assert flow.server_name == "big.quic.example"
    (entry,) = report["quic_sni"]
    assert (entry["name"], entry["details"]) == ("big.quic.example", ["QUICv1", "alpn h3"])


def gquic_chlo(version: bytes, sni: bytes, uaid: bytes) -> bytes:
    """A gQUIC client hello: Q043's public header (version flag, 8-byte connection id, 1-byte packet number)
    or Q046's long header (8-byte destination connection id, 4-byte packet number), a message hash, then a
    STREAM frame on stream 1 holding the CHLO tag table."""
    tags = [(b"SNI\x00", sni), (b"UAID", uaid), (b"VER\x00", version)]
    table, values, end = b"", b"", 0
    for tag, value in tags:
        end += len(value)
        table += tag + struct.pack("<I", end)
        values += value
    chlo = b"CHLO" + struct.pack("<HH", len(tags), 0) + table + values
    stream = b"\xa0\x01" + struct.pack(">H", len(chlo)) + chlo
    if version >= b"Q046":
        header = b"\xc3" + version + b"\x50" + bytes(range(1, 9)) + struct.pack(">I", 1)
    else:
        header = b"\x09" + bytes(range(1, 9)) + version + b"\x01"
    return header + bytes(12) + stream


@pytest.mark.parametrize("version", [b"Q043", b"Q046"])
def test_gquic_client_hello_sni(tmp_path: Path, version: bytes) -> None:
    snapshot, report = analyse(tmp_path, quic_flow([gquic_chlo(version, b"www.youtube.com", b"Chrome/70.0")]))
    (flow,) = flows_of(snapshot)
    assert (flow.label, flow.server_name) == ("gQUIC", "www.youtube.com")
    (entry,) = report["quic_sni"]
    assert (entry["name"], entry["source"], entry["details"]) == (
        "www.youtube.com",
        "gquic-sni",
        [version.decode()],
    )
    (remote,) = report["names"]
    assert (remote["ip"], remote["names"][0]["sources"]) == (SERVER, ["gquic-sni"])


# --- HTTP Host --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "name"),
    [
        ("example.com", "example.com"),
        ("example.com:8080", "example.com"),
        ("[2001:db8::1]:8080", "2001:db8::1"),
    ],
)
def test_http_host(tmp_path: Path, host: str, name: str) -> None:
    request = http_get(host, "/index.html", user_agent="Roku/DVP-12.5")
    frames = [
        up(ipv4(tcp(50000, 8080, flags=SYN), 6, src=PHONE, dst=SERVER)),
        up(ipv4(tcp(50000, 8080, request, flags=PSH_ACK), 6, src=PHONE, dst=SERVER)),
        up(
            ipv4(
                tcp(50000, 8080, request.replace(b"index", b"other"), flags=PSH_ACK), 6, src=PHONE, dst=SERVER
            )
        ),
    ]
    snapshot, report = analyse(tmp_path, frames)
    (flow,) = flows_of(snapshot)
    assert (flow.label, flow.protection, flow.server_name) == ("HTTP", "plaintext", name)
    (entry,) = report["http_hosts"]
    assert (entry["name"], entry["source"], entry["count"], entry["details"]) == (
        name,
        "http-host",
        2,
        ["Roku/DVP-12.5"],
    )
    (phone,) = [d for d in report["devices"] if d["key"] == PHONE_MAC]
    assert phone["traits"] == {"http user agent": ["Roku/DVP-12.5"]}
    (remote,) = report["names"]
    assert (remote["ip"], remote["name"], remote["names"][0]["sources"]) == (SERVER, name, ["http-host"])


# --- DHCP options overflowing into file and sname -----------------------------------------------------------


def dhcp_overflow_discover() -> bytes:
    """Option 52 = 3: the options go on in `file`, then in `sname` (RFC 2131 4.1). The host name is a long
    option (RFC 3396), begun in the options field and ended in `file`; the vendor class is in `sname`."""
    options = [dhcp_type(1), dhcp_option(52, b"\x03"), dhcp_option(12, b"lucas-")]
    file = dhcp_option(12, b"chromebook") + dhcp_option(50, bytes([192, 168, 1, 77])) + b"\xff"
    sname = dhcp_option(60, b"dhcpcd-9.4.1:Linux-5.15:x86_64:GenuineIntel") + b"\xff"
    return dhcp_message("3c:22:fb:00:00:02", options, sname=sname, file=file)


def test_dhcp_options_overflowing_into_file_and_sname(tmp_path: Path) -> None:
    frame = ethernet(
        ipv4(udp(68, 67, dhcp_overflow_discover()), src="0.0.0.0", dst="255.255.255.255"),
        src="3c:22:fb:00:00:02",
        dst="ff:ff:ff:ff:ff:ff",
    )
    _, report = analyse(tmp_path, [frame])
    (client,) = report["dhcp"]
    assert client["hostnames"] == ["lucas-chromebook"]
    assert client["vendor_classes"] == ["dhcpcd-9.4.1:Linux-5.15:x86_64:GenuineIntel"]
    assert client["requested"] == ["192.168.1.77"]
    assert client["messages"] == {"DISCOVER": 1}
    (device,) = report["devices"]
    assert (device["key"], device["hostname"], device["name"]) == (
        "3c:22:fb:00:00:02",
        "lucas-chromebook",
        "lucas-chromebook",
    )
    assert client["device"] == {"name": "lucas-chromebook", "key": "3c:22:fb:00:00:02"}


# --- the inspector in its own process ---------------------------------------------------------------------


def every_crafted_case() -> list[bytes]:
    frames = tls_connection(big_client_hello("split.example.com"), [700, 1400], sport=50001)
    frames += tls_connection(big_client_hello("whole.example.com"), [], sport=50002)
    frames += quic_flow(
        [quic_initial(QUIC_V1, CLIENT_PLAIN_PAYLOAD), quic_initial(QUIC_V2, CLIENT_PLAIN_PAYLOAD)]
    )
    frames += [
        up(
            ipv4(
                udp(51001, 443, gquic_chlo(b"Q043", b"www.youtube.com", b"Chrome/70.0")),
                src=PHONE,
                dst=SERVER,
            )
        )
    ]
    frames += [
        up(ipv4(tcp(50003, 80, http_get("example.com:8080"), flags=PSH_ACK), 6, src=PHONE, dst=SERVER))
    ]
    frames += [
        ethernet(
            ipv4(udp(68, 67, dhcp_overflow_discover()), src="0.0.0.0", dst="255.255.255.255"),
            src="3c:22:fb:00:00:02",
            dst="ff:ff:ff:ff:ff:ff",
        )
    ]
    return frames


def test_child_process_inspector_gives_the_same_report(tmp_path: Path) -> None:
    path = write_frames(tmp_path, every_crafted_case(), "all.pcap")
    reports = {}
    for mode in ("local", "process"):
        snapshot, statuses = analyse_paths([path], inspector=mode)
        doc = build_report(snapshot, statuses)
        doc.pop("generator")
        reports[mode] = doc
    local = reports["local"]
    assert sorted(e["name"] for e in local["tls_sni"]) == ["split.example.com", "whole.example.com"]
    assert sorted((e["name"], e["source"]) for e in local["quic_sni"]) == [
        ("example.com", "quic-sni"),
        ("www.youtube.com", "gquic-sni"),
    ]
    assert [e["name"] for e in local["http_hosts"]] == ["example.com"]
    assert local["dhcp"][0]["hostnames"] == ["lucas-chromebook"]
    assert json.dumps(reports["process"], sort_keys=True) == json.dumps(local, sort_keys=True)
