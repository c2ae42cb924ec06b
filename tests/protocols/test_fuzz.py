"""Property tests: on arbitrary and mutated real input, parsers raise only MalformedMessage."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.protocols.errors import MalformedMessage
from engine.protocols.http import looks_like_http_request, parse_http_request, parse_http_response
from engine.protocols.quic import (
    QUIC_V1,
    QuicInitialAssembler,
    gquic_version,
    is_quic_initial,
    parse_gquic_chlo,
    parse_initial_frames,
    parse_long_header,
)
from engine.protocols.tls import (
    ClientHelloAssembler,
    looks_like_tls_record,
    parse_client_hello,
    parse_client_hello_handshake,
    parse_server_hello,
)
from tests.protocols import rfc_vectors as rfc
from tests.protocols.builders import frame_payload, protect_long

# no deadline: speed is measured by the benchmarks, not by timing tests on a shared machine
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

PARSERS: list[Callable[[bytes], object]] = [
    parse_client_hello,
    parse_client_hello_handshake,
    parse_server_hello,
    parse_long_header,
    parse_initial_frames,
    parse_gquic_chlo,
    parse_http_request,
    parse_http_response,
]
CHECKS: list[Callable[[bytes], object]] = [
    looks_like_tls_record,
    looks_like_http_request,
    is_quic_initial,
    gquic_version,
]


def run_all(data: bytes) -> None:
    for check in CHECKS:
        check(data)
    for parse in PARSERS:
        try:
            parse(data)
        except MalformedMessage as exc:
            assert exc.reason and exc.reason == exc.reason.lower() and " " not in exc.reason
    QuicInitialAssembler().feed(data)  # never raises
    # the assembler given everything in one segment agrees with the one-shot parser
    asm = ClientHelloAssembler()
    from_assembler = asm.feed(0, data)
    try:
        expected = parse_client_hello(data)
    except MalformedMessage as exc:
        assert from_assembler is None
        assert asm.failed or exc.reason == "truncated"
    else:
        assert from_assembler == expected


def real_samples() -> list[bytes]:
    samples = [
        frame_payload("zeek_tls13-ech.pcap", 7).payload,  # ClientHello with GREASE and ECH
        frame_payload("joy_firefox58.pcap", 65).payload,  # ServerHello, then Certificate
        frame_payload("zeek_quic_chromium-google-de-fragmented.pcap", 1).payload,
        frame_payload("ndpi_telegram.pcap", 725).payload,  # gQUIC Q046 CHLO
        frame_payload("ndpi_http_ipv6.pcap", 5).payload,  # gQUIC Q025 CHLO
        frame_payload("zeek_wikipedia.pcap", 6).payload,  # HTTP request
        frame_payload("zeek_wikipedia.pcap", 7).payload,  # HTTP response
        rfc.CLIENT_PLAIN_PAYLOAD[:300],  # decrypted Initial frames
        rfc.SERVER_PLAIN_PAYLOAD,
    ]
    return samples


SAMPLES = real_samples()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A real payload with a few bytes changed, cut, inserted or removed."""
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "set", "cut", "insert", "delete"]))
        if action == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "set":
            data[at] = draw(st.sampled_from([0x00, 0x01, 0x3F, 0x40, 0x7F, 0x80, 0xBF, 0xC0, 0xFF]))
        elif action == "cut":
            del data[at:]
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[at : at + draw(st.integers(1, 8))]
    return bytes(data)


@FUZZ
@given(st.binary(max_size=2048))
def test_arbitrary_bytes(data: bytes) -> None:
    run_all(data)


@FUZZ
@given(
    st.sampled_from([b"\x16\x03\x01", b"\x01\x00\x01", b"\xc0\x00\x00\x00\x01\x08", b"GET / HTTP/1.1\r\n"])
)
def test_arbitrary_bytes_after_a_plausible_start(prefix: bytes) -> None:
    run_all(prefix + bytes(range(256)) * 4)


@FUZZ
@given(
    st.sampled_from([b"\x16\x03\x01", b"\xc3Q046", b"\x0dabcdefghQ043\x01", b"HTTP/1.1 200 OK\r\n"]),
    st.binary(),
)
def test_plausible_prefix_then_arbitrary_bytes(prefix: bytes, tail: bytes) -> None:
    run_all(prefix + tail)


@FUZZ
@given(mutated())
def test_mutated_real_payloads(data: bytes) -> None:
    run_all(data)


@FUZZ
@given(mutated(), st.lists(st.integers(1, 600), max_size=5), st.booleans())
def test_tcp_assembler_on_mutated_segments(data: bytes, cuts: list[int], reverse: bool) -> None:
    asm = ClientHelloAssembler(start_seq=0xFFFFFF00 if reverse else None)
    pieces = []
    pos = 0
    for size in [*cuts, len(data)]:
        pieces.append((0xFFFFFF00 + pos, data[pos : pos + size]))
        pos += size
    for seq, piece in reversed(pieces) if reverse else pieces:
        asm.feed(seq, piece)
    assert not (asm.done and asm.failed)


@FUZZ
@given(mutated())
def test_quic_assembler_on_encrypted_mutated_frames(frames: bytes) -> None:
    # damaged plaintext behind valid protection: reaches the frame and ClientHello parsers
    datagram = protect_long(0, QUIC_V1, rfc.DCID, 0, frames[:1100])
    asm = QuicInitialAssembler()
    asm.feed(datagram)
    assert not (asm.done and asm.failed)
