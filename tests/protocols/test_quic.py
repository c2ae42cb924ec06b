"""QUIC long headers, Initial decryption (RFC 9001 / RFC 9369 vectors), frames, reassembly, and gQUIC."""

from __future__ import annotations

import itertools
import struct

import pytest

from engine.protocols.errors import MalformedMessage
from engine.protocols.quic import (
    QUIC_V1,
    QUIC_V2,
    PacketType,
    QuicInitialAssembler,
    decode_packet_number,
    decrypt_packet,
    gquic_version,
    initial_keys,
    is_quic_initial,
    parse_gquic_chlo,
    parse_initial_frames,
    parse_long_header,
    version_name,
)
from engine.protocols.tls import (
    parse_client_hello,
    parse_client_hello_handshake,
    parse_server_hello_handshake,
)
from tests.protocols import rfc_vectors as rfc
from tests.protocols.builders import (
    alpn_ext,
    capture_payloads,
    client_hello_message,
    crypto_frame,
    frame_payload,
    protect_long,
    sni_ext,
    varint,
)

# --- RFC 9001 Appendix A and RFC 9369 Appendix A ---


@pytest.mark.parametrize(
    ("version", "server", "expected"),
    [
        (QUIC_V1, False, rfc.V1_CLIENT_KEYS),
        (QUIC_V1, True, rfc.V1_SERVER_KEYS),
        (QUIC_V2, False, rfc.V2_CLIENT_KEYS),
        (QUIC_V2, True, rfc.V2_SERVER_KEYS),
    ],
)
def test_initial_keys_match_the_rfc(version: int, server: bool, expected: tuple[str, ...]) -> None:
    keys = initial_keys(version, rfc.DCID, server=server)
    assert (keys.secret.hex(), keys.key.hex(), keys.iv.hex(), keys.hp.hex()) == expected


@pytest.mark.parametrize(
    ("version", "packet", "plain_header"),
    [
        (QUIC_V1, rfc.V1_CLIENT_PACKET, rfc.V1_CLIENT_PLAIN_HEADER),
        (QUIC_V2, rfc.V2_CLIENT_PACKET, rfc.V2_CLIENT_PLAIN_HEADER),
    ],
    ids=["v1", "v2"],
)
def test_rfc_client_initial_decrypts_to_the_client_hello(
    version: int, packet: bytes, plain_header: bytes
) -> None:
    header = parse_long_header(packet)
    assert header.version == version
    assert header.packet_type is PacketType.INITIAL  # v2 sets type bits 01 for Initial
    assert (header.dcid, header.scid, header.token) == (rfc.DCID, b"", b"")
    assert (header.length, header.pn_offset, header.end) == (1182, 18, 1200)
    assert is_quic_initial(packet)

    decrypted = decrypt_packet(packet, header, initial_keys(version, header.dcid))
    assert decrypted.packet_number == 2
    assert decrypted.plain_header == plain_header
    assert decrypted.payload == rfc.CLIENT_PLAIN_PAYLOAD

    frames = parse_initial_frames(decrypted.payload)
    assert [(offset, len(data)) for offset, data in frames.crypto] == [(0, 241)]
    assert frames.stopped_at is None and not frames.ack and frames.connection_close is None
    hello = parse_client_hello_handshake(frames.crypto[0][1], "q")
    assert hello.sni == "example.com"
    assert hello.alpn == ("alpn",)
    assert hello.supported_versions == (0x0304,)
    assert hello.cipher_suites == (0x1301, 0x1302)
    assert hello.ja4.startswith("q13d0211an_")  # ALPN "alpn": first and last characters

    asm = QuicInitialAssembler()
    assert asm.feed(packet) == hello
    assert asm.done and asm.version == version and asm.dcid == rfc.DCID
    assert version_name(version) == ("QUICv1" if version == QUIC_V1 else "QUICv2")


@pytest.mark.parametrize(
    ("version", "packet", "plain_header"),
    [
        (QUIC_V1, rfc.V1_SERVER_PACKET, rfc.V1_SERVER_PLAIN_HEADER),
        (QUIC_V2, rfc.V2_SERVER_PACKET, rfc.V2_SERVER_PLAIN_HEADER),
    ],
    ids=["v1", "v2"],
)
def test_rfc_server_initial_decrypts_to_the_server_hello(
    version: int, packet: bytes, plain_header: bytes
) -> None:
    header = parse_long_header(packet)
    assert (header.dcid, header.scid.hex(), header.length) == (b"", "f067a5502a4262b5", 117)
    decrypted = decrypt_packet(packet, header, initial_keys(version, rfc.DCID, server=True))
    assert (decrypted.packet_number, decrypted.plain_header) == (1, plain_header)
    frames = parse_initial_frames(decrypted.payload)
    assert frames.ack is True  # the ACK frame before the CRYPTO frame is skipped
    hello = parse_server_hello_handshake(frames.crypto[0][1])
    assert (hello.version, hello.cipher_suite, hello.alpn) == (0x0304, 0x1301, None)


def test_client_keys_do_not_open_the_server_packet() -> None:
    header = parse_long_header(rfc.V1_SERVER_PACKET)
    with pytest.raises(MalformedMessage) as info:
        decrypt_packet(rfc.V1_SERVER_PACKET, header, initial_keys(QUIC_V1, rfc.DCID))
    assert info.value.reason == "decrypt-failed"


def test_packet_number_reconstruction() -> None:
    # RFC 9000 Appendix A.3 example
    assert decode_packet_number(0xA82F30EA, 0x9B32, 16) == 0xA82F9B32
    assert decode_packet_number(-1, 0, 8) == 0
    assert decode_packet_number(254, 0x01, 8) == 257  # the 8-bit number wrapped
    assert decode_packet_number(300, 0xFF, 8) == 255  # a late packet from before the wrap


# --- headers ---


def test_version_names() -> None:
    assert version_name(0x00000001) == "QUICv1"
    assert version_name(0x6B3343CF) == "QUICv2"
    assert version_name(0xFF00001D) == "draft-29"
    assert version_name(0xFF000022) == "draft-34"
    assert version_name(0xFF000011) == "draft-17"
    assert version_name(0) == "version negotiation"
    assert [version_name(int.from_bytes(v, "big")) for v in (b"Q043", b"Q046", b"Q050", b"T051")] == [
        "Q043",
        "Q046",
        "Q050",
        "T051",
    ]
    assert version_name(0x1A2A3A4A) == "reserved (greasing)"
    assert version_name(0xFACEB002) == "mvfst-2"
    assert version_name(0x12345678) == "0x12345678"


def test_version_negotiation_and_retry_headers() -> None:
    vn = b"\x80" + bytes(4) + b"\x04abcd\x02ef" + struct.pack(">III", 1, 0x6B3343CF, 0xFF00001D)
    header = parse_long_header(vn)
    assert header.packet_type is PacketType.VERSION_NEGOTIATION
    assert (header.dcid, header.scid, header.supported_versions) == (
        b"abcd",
        b"ef",
        (1, 0x6B3343CF, 0xFF00001D),
    )
    retry = b"\xf0" + struct.pack(">I", 1) + b"\x00\x04wxyz" + b"token!" + bytes(16)
    header = parse_long_header(retry)
    assert (header.packet_type, header.scid, header.token, header.length) == (
        PacketType.RETRY,
        b"wxyz",
        b"token!",
        None,
    )
    assert not is_quic_initial(retry)


def test_unknown_versions_keep_the_invariant_fields() -> None:
    for version in (0x12345678, 0xFF000011):  # an unknown version; draft-17, before the v1 layout
        datagram = b"\xc0" + struct.pack(">I", version) + b"\x02ab\x01c" + bytes(30)
        header = parse_long_header(datagram)
        assert (header.packet_type, header.dcid, header.scid, header.end) == (
            PacketType.UNKNOWN,
            b"ab",
            b"c",
            40,
        )
        assert header.length is None
        assert not is_quic_initial(datagram)


@pytest.mark.parametrize(
    ("datagram", "reason"),
    [
        (b"\x40" + bytes(30), "short-header"),
        (b"\xc0\x00\x00\x00\x01\x15" + bytes(40), "bad-connection-id"),
        (b"\x80\x00\x00\x00\x01\x00\x00\x00\x00" + bytes(20), "fixed-bit-clear"),
        (b"\xc3Q046\x50" + bytes(30), "gquic-header"),
        (b"\xc0\x00\x00\x00\x01\x00\x00\x00\x7f\xff", "truncated"),  # Length beyond the datagram
    ],
)
def test_bad_long_headers(datagram: bytes, reason: str) -> None:
    with pytest.raises(MalformedMessage) as info:
        parse_long_header(datagram)
    assert info.value.reason == reason


def test_every_truncated_initial_fails_cleanly() -> None:
    packet = rfc.V1_CLIENT_PACKET
    for cut in range(len(packet)):
        with pytest.raises(MalformedMessage) as info:
            parse_long_header(packet[:cut])
        assert info.value.reason == "truncated"
    asm = QuicInitialAssembler()
    assert asm.feed(packet[:600]) is None
    assert asm.reason == "truncated"


def test_damaged_tag_fails_cleanly() -> None:
    damaged = bytearray(rfc.V1_CLIENT_PACKET)
    damaged[-1] ^= 0x01
    header = parse_long_header(bytes(damaged))
    with pytest.raises(MalformedMessage) as info:
        decrypt_packet(bytes(damaged), header, initial_keys(QUIC_V1, header.dcid))
    assert info.value.reason == "decrypt-failed"
    asm = QuicInitialAssembler()
    assert asm.feed(bytes(damaged)) is None
    assert asm.failed and asm.reason == "decrypt-failed"
    assert asm.feed(rfc.V1_CLIENT_PACKET) is None  # gave up for good


def test_is_quic_initial() -> None:
    assert is_quic_initial(rfc.V1_CLIENT_PACKET)
    assert is_quic_initial(rfc.V2_CLIENT_PACKET)
    handshake_v1 = b"\xe0" + rfc.V1_CLIENT_PACKET[1:]  # type bits 10: Handshake in v1
    assert not is_quic_initial(handshake_v1)
    zero_rtt_v2 = b"\xe0" + rfc.V2_CLIENT_PACKET[1:]  # type bits 10: 0-RTT in v2
    assert not is_quic_initial(zero_rtt_v2)
    assert not is_quic_initial(b"\x40" + rfc.V1_CLIENT_PACKET[1:])
    assert not is_quic_initial(b"\xc3Q050\x08" + bytes(40))  # Google's salts are not supported
    assert not is_quic_initial(b"\xc0\x00")


# --- frames ---


def test_initial_frames() -> None:
    ack = (
        b"\x02"
        + varint(1000)
        + varint(25)
        + varint(2)
        + varint(3)
        + varint(1)
        + varint(2)
        + varint(4)
        + varint(5)
    )
    ack_ecn = b"\x03" + varint(7) + varint(0) + varint(0) + varint(7) + varint(1) + varint(2) + varint(3)
    close = b"\x1c" + varint(0x0A) + varint(0x06) + varint(5) + b"oops\x07"
    payload = b"\x00\x00\x01" + ack + crypto_frame(10, b"late") + ack_ecn + crypto_frame(0, b"0123456789")
    payload += close + bytes(20)
    frames = parse_initial_frames(payload)
    assert frames.crypto == ((10, b"late"), (0, b"0123456789"))
    assert frames.ping and frames.ack
    assert frames.connection_close is not None
    assert (frames.connection_close.error_code, frames.connection_close.frame_type) == (0x0A, 0x06)
    assert frames.connection_close.reason == "oops\\x07"
    assert frames.connection_close.application is False
    assert frames.stopped_at is None

    app_close = parse_initial_frames(b"\x1d" + varint(0x100) + varint(3) + b"bye")
    assert app_close.connection_close is not None and app_close.connection_close.frame_type is None
    assert app_close.connection_close.application is True

    stream = parse_initial_frames(crypto_frame(0, b"ab") + b"\x08\x00hello")
    assert (stream.crypto, stream.stopped_at) == (((0, b"ab"),), 0x08)


@pytest.mark.parametrize(
    "payload",
    [
        b"\x02\x05\x00",  # ACK cut after two fields
        b"\x02\x05\x00\x3f\x00",  # 63 ranges announced in no bytes
        b"\x03\x05\x00\x00\x00\x01",  # ECN counts missing
        b"\x06\x00\x10abc",  # CRYPTO shorter than its length
        b"\x1c\x01\x00\x09abc",  # reason shorter than its length
        b"\x06\x40",  # a two-byte varint cut in half
    ],
)
def test_truncated_frames(payload: bytes) -> None:
    with pytest.raises(MalformedMessage) as info:
        parse_initial_frames(payload)
    assert info.value.reason == "truncated"


# --- reassembly ---

DCID = bytes.fromhex("0011223344556677")
SCID = bytes.fromhex("aabbccdd")


def big_hello() -> bytes:
    """A ClientHello of about 1.8 KB: more than one Initial packet can carry."""
    return client_hello_message(extensions=(sni_ext(b"quic.example"), alpn_ext(b"h3")), padding=1700)


def initial(pn: int, frames: bytes, dcid: bytes = DCID, version: int = QUIC_V1, **kw: object) -> bytes:
    bits = 1 if version == QUIC_V2 else 0  # the Initial type bits differ in v2
    return protect_long(bits, version, dcid, pn, frames, scid=SCID, **kw)  # type: ignore[arg-type]


def test_hello_across_two_initial_packets_in_reverse_order() -> None:
    msg = big_hello()
    first = initial(0, crypto_frame(0, msg[:1100]), pad_to=1150)
    second = initial(1, crypto_frame(1100, msg[1100:]), pad_to=1150)
    asm = QuicInitialAssembler()
    assert asm.feed(second) is None
    hello = asm.feed(first)
    assert hello is not None and hello.sni == "quic.example" and hello.alpn == ("h3",)
    assert hello.ja4.startswith("q12d0303h3_")
    assert hello == parse_client_hello_handshake(msg, "q")


def test_out_of_order_crypto_frames_in_one_packet() -> None:
    msg = client_hello_message(extensions=(sni_ext(b"chaos.example"),))
    cuts = [0, 7, 40, 41, 90, len(msg)]
    pieces = [crypto_frame(a, msg[a:b]) for a, b in itertools.pairwise(cuts)]
    frames = b"\x01" + pieces[3] + b"\x00\x00" + pieces[0] + pieces[4] + pieces[2] + b"\x01" + pieces[1]
    hello = QuicInitialAssembler().feed(initial(0, frames, pad_to=1162))
    assert hello is not None and hello.sni == "chaos.example"


def test_coalesced_initial_zero_rtt_and_handshake() -> None:
    msg = client_hello_message(extensions=(sni_ext(b"coalesced.example"),))
    init = initial(0, crypto_frame(0, msg))
    zero_rtt = protect_long(1, QUIC_V1, DCID, 0, b"\x08\x00appdata", scid=SCID, token=None)
    handshake = protect_long(2, QUIC_V1, DCID, 0, b"\x01", scid=SCID, token=None)
    datagram = init + zero_rtt + handshake + bytes(200)  # then padding
    types = []
    offset = 0
    while offset < len(datagram) and datagram[offset] & 0x80:
        header = parse_long_header(datagram, offset)
        types.append(header.packet_type)
        offset = header.end
    assert types == [PacketType.INITIAL, PacketType.ZERO_RTT, PacketType.HANDSHAKE]
    assert offset == len(init) + len(zero_rtt) + len(handshake)
    # Initial last: the assembler skips the other packets to reach it
    hello = QuicInitialAssembler().feed(zero_rtt + handshake + init)
    assert hello is not None and hello.sni == "coalesced.example"


def test_two_initials_coalesced_in_one_datagram_and_v2() -> None:
    msg = big_hello()
    datagram = initial(0, crypto_frame(0, msg[:900]), version=QUIC_V2) + initial(
        1, crypto_frame(900, msg[900:]), version=QUIC_V2
    )
    asm = QuicInitialAssembler()
    hello = asm.feed(datagram)
    assert hello is not None and hello.sni == "quic.example"
    assert asm.version == QUIC_V2


def test_later_initials_use_the_first_dcid_keys_and_retry_changes_them() -> None:
    msg = big_hello()
    # after the server answers, the client addresses it by the server's connection id, same keys
    second_dcid = bytes.fromhex("9999999999999999")
    asm = QuicInitialAssembler()
    assert asm.feed(initial(0, crypto_frame(0, msg[:1000]))) is None
    damaged = bytearray(initial(1, crypto_frame(1000, msg[1000:]), dcid=second_dcid, key_dcid=DCID))
    damaged[-3] ^= 0xFF
    assert asm.feed(bytes(damaged)) is None and not asm.failed  # one bad packet later on is skipped
    hello = asm.feed(initial(2, crypto_frame(1000, msg[1000:]), dcid=second_dcid, key_dcid=DCID))
    assert hello is not None and asm.dcid == DCID
    # after a Retry the client starts over with keys from the DCID the server gave it
    asm = QuicInitialAssembler()
    assert asm.feed(initial(0, crypto_frame(0, msg[:1000]))) is None
    hello = asm.feed(initial(1, crypto_frame(0, msg), dcid=second_dcid))
    assert hello is not None and asm.dcid == second_dcid


def test_assembler_bounds() -> None:
    asm = QuicInitialAssembler()
    for pn in range(QuicInitialAssembler.MAX_PACKETS):
        assert asm.feed(initial(pn, b"\x01")) is None  # PING only: no progress
    assert not asm.failed
    asm.feed(initial(99, b"\x01"))
    assert asm.reason == "too-many-packets"

    asm = QuicInitialAssembler()
    assert asm.feed(initial(0, b"\x01")) is None
    for _ in range(QuicInitialAssembler.MAX_DATAGRAMS - 1):
        assert asm.feed(b"\x41" + bytes(40)) is None  # 1-RTT packets while the hello never completes
    assert not asm.failed
    asm.feed(b"\x41" + bytes(40))
    assert asm.reason == "too-many-datagrams"

    asm = QuicInitialAssembler()
    asm.feed(initial(0, crypto_frame(70000, b"far away")))
    assert asm.reason == "too-large"

    asm = QuicInitialAssembler()
    asm.feed(initial(0, crypto_frame(0, b"\x01\x01\x00\x00" + bytes(100))))  # claims 65540 bytes
    assert asm.reason == "too-large"

    asm = QuicInitialAssembler()
    asm.feed(initial(0, crypto_frame(0, b"\x02\x00\x00\x10" + bytes(16))))  # a ServerHello
    assert asm.reason == "not-client-hello"

    asm = QuicInitialAssembler()
    damaged_hello = bytearray(client_hello_message())
    damaged_hello[38] = 0x21
    asm.feed(initial(0, crypto_frame(0, bytes(damaged_hello))))
    assert asm.reason == "bad-session-id"


@pytest.mark.parametrize(
    ("datagram", "reason"),
    [
        (b"\x41" + bytes(60), "no-initial"),  # a short-header packet: joined mid-connection
        (protect_long(2, QUIC_V1, DCID, 0, b"\x01", token=None), "no-initial"),  # only a Handshake
        (b"\xc3Q046\x50" + bytes(60), "gquic-header"),
        (b"\xc0\x12\x34\x56\x78\x00\x00" + bytes(60), "no-initial"),  # unknown version
        (b"\xc0\xff\x00\x00\x16\x00\x00\x00\x02\x00\x00", "unsupported-version"),  # draft-22: no salt here
    ],
)
def test_assembler_fails_fast_on_what_cannot_start_a_connection(datagram: bytes, reason: str) -> None:
    asm = QuicInitialAssembler()
    assert asm.feed(datagram) is None
    assert asm.reason == reason


# --- real captures, expected values from tshark 4.0 (which decrypts Initials) ---
# tshark -r FILE -Y 'quic.long.packet_type==0' -T fields -e quic.version -e quic.dcid -e quic.scid
#        -e quic.packet_number -e quic.length -e quic.crypto.offset -e quic.crypto.length
#        -e tls.handshake.extensions_server_name -e tls.handshake.ja3 -e tls.handshake.extensions_alpn_str


def client_datagrams(name: str, client_port: int) -> list[tuple[int, bytes]]:
    return [
        (s.frame, s.payload) for s in capture_payloads(name) if s.ip_proto == 17 and s.sport == client_port
    ]


@pytest.mark.parametrize(
    ("name", "port", "version", "dcid", "sni", "ja3", "alpn"),
    [
        (
            "zeek_quic_curl-http3-google-de.pcap",
            34347,
            "QUICv1",
            "815d62c70884f4b51e8ccadd5beed372",
            "www.google.de",
            "f75253b5e2b4dcb3fdae9b78ce8c6e49",
            ("h3", "h3-29", "h3-28", "h3-27"),
        ),
        (
            "zeek_quic_chromium-google-de-fragmented.pcap",
            57538,
            "QUICv1",
            "5a37463b0eb7cc5d",
            "www.google.de",
            "d0b6d21da230b6eb1fa42d221ec5b3e2",
            ("h3",),
        ),
        # one draft-29 packet over DLT_PPP
        (
            "ndpi_dlt_ppp.pcap",
            44083,
            "draft-29",
            "b712293a9b14f20cd059dca8",
            "server4",
            "fe94e313a5d76fb687c85443cdfa8170",
            ("hq-29",),
        ),
    ],
)
def test_real_quic_client_hellos_match_tshark(
    *, name: str, port: int, version: str, dcid: str, sni: str, ja3: str, alpn: tuple[str, ...]
) -> None:
    asm = QuicInitialAssembler()
    results = [(frame, asm.feed(datagram)) for frame, datagram in client_datagrams(name, port)]
    found = [(frame, hello) for frame, hello in results if hello is not None]
    assert len(found) == 1
    frame, hello = found[0]
    assert frame == 1
    assert (hello.sni, hello.ja3, hello.alpn) == (sni, ja3, alpn)
    assert hello.ja4.startswith("q")
    assert version_name(asm.version or -1) == version
    assert asm.dcid is not None and asm.dcid.hex() == dcid


def test_chromium_fragmented_crypto_frames() -> None:
    datagram = frame_payload("zeek_quic_chromium-google-de-fragmented.pcap", 1).payload
    header = parse_long_header(datagram)
    assert (header.dcid.hex(), header.scid, header.length) == ("5a37463b0eb7cc5d", b"", 1212)
    packet = decrypt_packet(datagram, header, initial_keys(header.version, header.dcid))
    assert packet.packet_number == 1
    frames = parse_initial_frames(packet.payload)
    # tshark: quic.crypto.offset / quic.crypto.length, in packet order; PING and PADDING between them
    assert [o for o, _ in frames.crypto] == [137, 0, 260, 198, 225, 275, 189, 72, 161, 229]
    assert [len(d) for _, d in frames.crypto] == [24, 72, 15, 27, 4, 25, 9, 65, 28, 31]
    assert frames.ping
    # Chrome 115 sends neither GREASE-free nor a randomised-order-free hello; its JA4 is stable
    assert QuicInitialAssembler().feed(datagram) == parse_client_hello_handshake(
        b"".join(d for _, d in sorted(frames.crypto)), "q"
    )


def test_real_coalesced_initial_and_handshake_and_server_hello() -> None:
    name = "zeek_quic_curl-http3-google-de.pcap"
    client_dcid = bytes.fromhex("815d62c70884f4b51e8ccadd5beed372")
    # frame 4: the client's ACK-only Initial coalesced with a Handshake packet, then zero padding
    datagram = frame_payload(name, 4).payload
    first = parse_long_header(datagram)
    second = parse_long_header(datagram, first.end)
    assert (first.packet_type, first.length, first.end) == (PacketType.INITIAL, 22, 60)
    assert (second.packet_type, second.length, second.end) == (PacketType.HANDSHAKE, 22, 119)
    assert first.dcid.hex() == "c15d62c70884f4b5"  # the server's connection id, keys still from the first
    frames = parse_initial_frames(decrypt_packet(datagram, first, initial_keys(QUIC_V1, client_dcid)).payload)
    assert frames.ack and frames.crypto == ()
    # frame 2: the server's Initial (ACK, CRYPTO, PADDING) with the ServerHello
    datagram = frame_payload(name, 2).payload
    header = parse_long_header(datagram)
    frames = parse_initial_frames(
        decrypt_packet(datagram, header, initial_keys(QUIC_V1, client_dcid, server=True)).payload
    )
    assert frames.ack and [(o, len(d)) for o, d in frames.crypto] == [(0, 90)]
    hello = parse_server_hello_handshake(frames.crypto[0][1])
    assert (hello.cipher_suite, hello.version) == (0x1301, 0x0304)


# --- Google QUIC: tshark -Y gquic -e gquic.version -e gquic.tag -e gquic.tag.sni -e gquic.tag.uaid ---


@pytest.mark.parametrize(
    ("name", "frame", "version", "sni", "uaid"),
    [
        ("ndpi_http_ipv6.pcap", 5, "Q025", "www.google.it", "Chrome/46.0.2490.80 Linux x86_64"),
        ("pcpp_many_interfaces-1.pcapng", 51, "Q025", "clients6.google.com", "Chrome/44.0.2403.130"),
        ("pcpp_many_interfaces-1.pcapng", 57, "Q025", "clients6.google.com", "Chrome/44.0.2403.130"),
        (
            "ndpi_telegram.pcap",
            725,
            "Q046",
            "www.google.com",
            "beta Chrome/83.0.4103.34 Intel Mac OS X 10_13_6",
        ),
    ],
)
def test_real_gquic_client_hellos_match_tshark(
    name: str, frame: int, version: str, sni: str, uaid: str
) -> None:
    payload = frame_payload(name, frame).payload
    assert gquic_version(payload) == version
    hello = parse_gquic_chlo(payload)
    assert (hello.version, hello.sni, hello.uaid) == (version, sni, uaid)
    assert hello.tags[:4] == ("PAD", "SNI", "STK", "VER")
    assert not is_quic_initial(payload)


def test_real_gquic_server_and_short_packets() -> None:
    server = frame_payload("ndpi_telegram.pcap", 727).payload  # the server's Q046 long header
    assert gquic_version(server) == "Q046"
    with pytest.raises(MalformedMessage) as info:
        parse_gquic_chlo(server)
    assert info.value.reason == "no-chlo"
    for name, frame in (
        ("ndpi_telegram.pcap", 728),
        ("ndpi_http_ipv6.pcap", 10),
        ("ndpi_http_ipv6.pcap", 11),
    ):
        assert gquic_version(frame_payload(name, frame).payload) is None  # no version in the header


def chlo(tags: list[tuple[bytes, bytes]]) -> bytes:
    out = b"CHLO" + struct.pack("<HH", len(tags), 0)
    end = 0
    for tag, value in tags:
        end += len(value)
        out += tag + struct.pack("<I", end)
    return out + b"".join(value for _, value in tags)


def test_crafted_q043_chlo() -> None:
    message = chlo([(b"SNI\x00", b"gquic.example"), (b"UAID", b"Chrome/70"), (b"VER\x00", b"Q043")])
    # flags: version, 8-byte CID, 2-byte packet number; then hash, STREAM frame (stream 1, 2-byte length)
    packet = b"\x19" + bytes(range(8)) + b"Q043" + b"\x00\x01" + bytes(12)
    packet += b"\xa0\x01" + struct.pack(">H", len(message)) + message
    assert gquic_version(packet) == "Q043"
    hello = parse_gquic_chlo(packet)
    assert (hello.sni, hello.uaid, hello.tags) == ("gquic.example", "Chrome/70", ("SNI", "UAID", "VER"))
    # no CID: the version follows the flags
    assert gquic_version(b"\x01Q039\x01" + bytes(20)) == "Q039"


def test_gquic_versions_that_encrypt_their_hello() -> None:
    for version in (b"Q050", b"T051"):
        packet = b"\xc3" + version + b"\x08" + bytes(8) + b"\x00" + b"\x00" + varint(60) + bytes(60)
        assert gquic_version(packet) == version.decode()
        assert parse_long_header(packet).packet_type is PacketType.INITIAL  # IETF layout from Q050
        with pytest.raises(MalformedMessage) as info:
            parse_gquic_chlo(packet)
        assert info.value.reason == "encrypted"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (
            b"\x0dabcdefghQ043\x01"
            + bytes(12)
            + b"\xa0\x01\x00\x20CHLO\x05\x00\x00\x00SNI\x00\x10\x00\x00\x00",
            "truncated",
        ),
        (b"\x0dabcdefghQ043\x01" + b"CHLO\xff\x00\x00\x00", "too-many-tags"),
        (
            b"\x0dabcdefghQ043\x01"
            + chlo([(b"AAAA", b"xy"), (b"BBBB", b"z")])[:16]
            + b"BBBB\x01\x00\x00\x00"
            + b"xyz",
            "bad-tag-offset",
        ),
        (b"\x0dabcdefghQ043\x01" + bytes(80), "no-chlo"),
        (b"\x0dabcdefghX043\x01" + bytes(80), "not-gquic"),
        (b"\x0f" + bytes(30), "not-gquic"),  # the reset flag
    ],
)
def test_bad_gquic_chlo(payload: bytes, reason: str) -> None:
    with pytest.raises(MalformedMessage) as info:
        parse_gquic_chlo(payload)
    assert info.value.reason == reason


def test_quic_hello_is_not_a_tls_record() -> None:
    # what QUIC carries is a bare handshake message: the record-layer parser must refuse it
    msg = client_hello_message()
    with pytest.raises(MalformedMessage) as info:
        parse_client_hello(msg)
    assert info.value.reason == "not-handshake-record"
