"""TLS ClientHello/ServerHello parsing, fingerprints, and reassembly of ClientHellos over TCP."""

from __future__ import annotations

import hashlib
import struct

import pytest

from engine.protocols.errors import MalformedMessage
from engine.protocols.tls import (
    ClientHelloAssembler,
    is_grease,
    ja4_fingerprint,
    looks_like_tls_record,
    parse_client_hello,
    parse_client_hello_handshake,
    parse_server_hello,
    tls_version_name,
)
from tests.protocols.builders import (
    alpn_ext,
    client_hello_message,
    ext,
    frame_payload,
    records,
    sni_ext,
    u16_list,
)

SIG_ALGS = (0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601)


def modern_hello(name: bytes = b"example.com", padding: int = 0, grease: bool = False) -> bytes:
    """A browser-like TLS 1.3 ClientHello message; with `grease`, GREASE values as Chrome sends them."""
    g = (0x2A2A,) if grease else ()
    exts = (
        *((ext(0x0A0A, b""),) if grease else ()),
        sni_ext(name),
        ext(0x000A, u16_list((*g, 0x001D, 0x0017, 0x0018))),
        ext(0x000B, b"\x01\x00"),
        ext(0x000D, u16_list(SIG_ALGS)),
        alpn_ext(b"h2", b"http/1.1"),
        ext(0x002B, u16_list((*g, 0x0304, 0x0303), 1)),
        ext(0x0033, bytes(2)),
        *((ext(0xFAFA, b"\x00"),) if grease else ()),
    )
    return client_hello_message(
        ciphers=(*g, 0x1301, 0x1302, 0xC02B, 0xC02F), extensions=exts, padding=padding
    )


# --- parsing ---


def test_client_hello_fields_and_ja3() -> None:
    hello = parse_client_hello(records(modern_hello()))
    assert hello.legacy_version == 0x0303
    assert hello.supported_versions == (0x0304, 0x0303)
    assert hello.version == 0x0304
    assert hello.sni == "example.com"
    assert hello.alpn == ("h2", "http/1.1")
    assert hello.cipher_suites == (0x1301, 0x1302, 0xC02B, 0xC02F)
    assert hello.extensions == (0x0000, 0x000A, 0x000B, 0x000D, 0x0010, 0x002B, 0x0033)
    assert hello.supported_groups == (0x001D, 0x0017, 0x0018)
    assert hello.ec_point_formats == (0,)
    assert hello.signature_algorithms == SIG_ALGS
    assert hello.ech is False
    assert hello.ja3_string == "771,4865-4866-49195-49199,0-10-11-13-16-43-51,29-23-24,0"
    assert hello.ja3 == hashlib.md5(hello.ja3_string.encode()).hexdigest()
    assert hello.ja4.startswith("t13d0407h2_")


def test_ja4_example_of_the_specification() -> None:
    # FoxIO technical_details/JA4.md: the worked example and its published fingerprint
    ciphers: tuple[int, ...] = (0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8)
    ciphers += (0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035)
    order: tuple[int, ...] = (0x001B, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002D, 0x000D)
    order += (0x0005, 0x0023, 0x0012, 0x002B, 0xFF01, 0x000B, 0x000A, 0x0015)
    bodies = {
        0x0000: sni_ext(b"example.com")[4:],
        0x0010: alpn_ext(b"h2", b"http/1.1")[4:],
        0x000D: u16_list(SIG_ALGS),
        0x002B: u16_list((0x0304, 0x0303), 1),
        0x000A: u16_list((0x001D,)),
        0x000B: b"\x01\x00",
    }
    exts = tuple(ext(t, bodies.get(t, b"")) for t in order)
    hello = parse_client_hello_handshake(client_hello_message(ciphers=ciphers, extensions=exts))
    assert hello.ja4 == "t13d1516h2_8daaf6152771_e5627efa2ab1"
    # the same fields through the public helper, and over QUIC
    fingerprint = ja4_fingerprint(
        "q", 0x0304, ciphers=ciphers, extensions=order, signature_algorithms=SIG_ALGS, first_alpn=(b"h2",)
    )
    assert fingerprint == "q13d1516h2_8daaf6152771_e5627efa2ab1"


def test_grease_is_kept_in_fields_and_left_out_of_fingerprints() -> None:
    plain = parse_client_hello_handshake(modern_hello())
    greased = parse_client_hello_handshake(modern_hello(grease=True))
    assert greased.cipher_suites[0] == 0x2A2A and is_grease(greased.cipher_suites[0])
    assert greased.extensions[0] == 0x0A0A and greased.extensions[-1] == 0xFAFA
    assert greased.supported_groups == (0x2A2A, 0x001D, 0x0017, 0x0018)
    assert greased.supported_versions == (0x0304, 0x0303)  # GREASE removed here, as documented
    assert greased.ja3_string == plain.ja3_string
    assert greased.ja4 == plain.ja4
    assert [v for v in range(0x10000) if is_grease(v)] == [0x0A0A + 0x1010 * i for i in range(16)]


def test_ech_extension_and_outer_name() -> None:
    exts = (sni_ext(b"public.example"), ext(0xFE0D, b"\x00\x00\x01\x00\x01\x2a" + bytes(40)))
    hello = parse_client_hello_handshake(client_hello_message(extensions=exts))
    assert hello.ech is True
    assert hello.sni == "public.example"
    assert hello.extensions == (0x0000, 0xFE0D)


def test_ja4_without_sni_alpn_or_signature_algorithms() -> None:
    hello = parse_client_hello_handshake(client_hello_message(extensions=(ext(0x000A, u16_list((29,))),)))
    assert hello.sni is None and hello.alpn == ()
    # "i" (no SNI), TLS 1.2 from legacy_version, 3 ciphers, 1 extension, "00" for no ALPN; no underscore
    expected_b = hashlib.sha256(b"1301,1302,c02b").hexdigest()[:12]
    expected_c = hashlib.sha256(b"000a").hexdigest()[:12]
    assert hello.ja4 == f"t12i030100_{expected_b}_{expected_c}"
    bare = parse_client_hello_handshake(client_hello_message(ciphers=(), extensions=()))
    assert bare.ja4 == "t12i000000_000000000000_000000000000"


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        (b"h2", "h2"),
        (b"http/1.1", "h1"),
        (b"h", "hh"),
        (b"\xab", "ab"),
        (b"\xab\xcd", "ad"),
        (b"0\xab", "3b"),
    ],
)
def test_ja4_alpn_characters(first: bytes, expected: str) -> None:
    hello = parse_client_hello_handshake(client_hello_message(extensions=(alpn_ext(first),)))
    assert hello.ja4[8:10] == expected


def test_hello_split_across_two_and_three_records() -> None:
    msg = modern_hello(padding=600)
    one = parse_client_hello(records(msg))
    two = parse_client_hello(records(msg, (100,)))
    three = parse_client_hello(records(msg, (3, 300)))  # even the handshake header is split
    assert one == two == three
    assert one.sni == "example.com"


def test_old_hello_without_extensions() -> None:
    hello = parse_client_hello(
        records(client_hello_message(legacy_version=0x0301, session_id=b"", extensions=None))
    )
    assert (hello.legacy_version, hello.extensions, hello.sni, hello.supported_versions) == (
        0x0301,
        (),
        None,
        (),
    )
    assert hello.ja4.startswith("t10i0300")
    assert hello.ja3_string == "769,4865-4866-49195,,,"


def test_sni_with_control_characters_is_escaped() -> None:
    hello = parse_client_hello_handshake(client_hello_message(extensions=(sni_ext(b"evil\x1b[2J.example"),)))
    assert hello.sni == "evil\\x1b[2J.example"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x17\x03\x03\x00\x05hello", "not-handshake-record"),
        (b"\x16\x02\x00\x00\x05\x01\x00\x00\x01\x00", "bad-record-version"),
        (b"\x16\x03\x01\x00\x00", "bad-record-length"),
        (b"\x16\x03\x01\xff\xff" + bytes(10), "bad-record-length"),
        (records(b"\x02\x00\x00\x04abcd"), "unexpected-handshake-type"),
        (records(b"\x01\x02\x00\x00" + bytes(8)), "too-large"),
        (b"\x16\x03\x01\x00\x04\x01\x00\x00\x40\x15\x03\x01\x00\x01\x00", "not-handshake-record"),
    ],
)
def test_bad_records_are_rejected(data: bytes, reason: str) -> None:
    with pytest.raises(MalformedMessage) as info:
        parse_client_hello(data)
    assert info.value.reason == reason


def test_bad_hello_bodies_are_rejected() -> None:
    msg = bytearray(modern_hello())
    cases = {
        "bad-session-id": bytes(msg[:38]) + b"\x21" + bytes(msg[39:]),
        "trailing-bytes": (
            b"\x01" + (int.from_bytes(msg[1:4], "big") + 2).to_bytes(3, "big") + bytes(msg[4:]) + b"\x00\x00"
        ),
        # the cipher-suite list length (after 4 + 2 + 32 + 1 + 32 bytes) made odd
        "odd-length": client_hello_message(ciphers=(1, 2))[:71] + b"\x00\x03" + bytes(20),
    }
    for reason, data in cases.items():
        with pytest.raises(MalformedMessage) as info:
            parse_client_hello_handshake(data)
        assert info.value.reason == reason, reason


def test_every_truncation_is_malformed_not_a_crash() -> None:
    data = records(modern_hello(grease=True), (50,))
    for cut in range(len(data)):
        with pytest.raises(MalformedMessage) as info:
            parse_client_hello(data[:cut])
        assert info.value.reason in {"truncated", "bad-record-length"}
    msg = modern_hello()
    for cut in range(len(msg)):
        with pytest.raises(MalformedMessage):
            parse_client_hello_handshake(msg[:cut])


def test_looks_like_tls_record() -> None:
    assert looks_like_tls_record(records(modern_hello()))
    assert looks_like_tls_record(b"\x17\x03\x03\x00\x20")
    assert not looks_like_tls_record(b"GET / HTTP/1.1\r\n")
    assert not looks_like_tls_record(b"\x16\x03\x01\x00")  # too short
    assert not looks_like_tls_record(b"\x16\x03\x05\x00\x10")  # no such version
    assert not looks_like_tls_record(b"\x16\x03\x01\x00\x00")  # empty record
    assert not looks_like_tls_record(b"\x16\x03\x01\x50\x00")  # longer than any record


# --- ServerHello ---


def server_hello(version_ext: int | None, alpn: bytes | None, random: bytes = bytes(32)) -> bytes:
    exts = b""
    if version_ext is not None:
        exts += ext(0x002B, struct.pack(">H", version_ext))
    if alpn is not None:
        exts += alpn_ext(alpn)
    body = b"\x03\x03" + random + b"\x00" + b"\x13\x02" + b"\x00" + struct.pack(">H", len(exts)) + exts
    return records(b"\x02" + len(body).to_bytes(3, "big") + body)


def test_server_hello_versions_and_alpn() -> None:
    tls13 = parse_server_hello(server_hello(0x0304, b"h2"))
    assert (tls13.version, tls13.legacy_version, tls13.cipher_suite, tls13.alpn) == (
        0x0304,
        0x0303,
        0x1302,
        "h2",
    )
    assert tls13.extensions == (0x002B, 0x0010)
    assert tls13.hello_retry_request is False
    tls12 = parse_server_hello(server_hello(None, None))
    assert (tls12.version, tls12.alpn, tls12.extensions) == (0x0303, None, ())
    hrr_random = hashlib.sha256(b"HelloRetryRequest").digest()
    assert parse_server_hello(server_hello(0x0304, None, hrr_random)).hello_retry_request is True
    assert tls_version_name(tls13.version) == "TLS 1.3"
    assert tls_version_name(0x7F1C) == "0x7f1c"
    with pytest.raises(MalformedMessage) as info:
        parse_server_hello(records(modern_hello()))
    assert info.value.reason == "unexpected-handshake-type"


# --- reassembly over TCP ---


def segments(data: bytes, seq: int, sizes: tuple[int, ...]) -> list[tuple[int, bytes]]:
    out = []
    pos = 0
    for size in (*sizes, len(data)):
        chunk = data[pos : pos + size]
        if chunk:
            out.append(((seq + pos) & 0xFFFFFFFF, chunk))
        pos += len(chunk)
    return out


BIG = records(modern_hello(padding=1500))  # about 1.8 KB like a post-quantum browser ClientHello


def test_assembler_two_and_three_segments() -> None:
    expected = parse_client_hello(BIG)
    for sizes in ((1448,), (600, 600)):
        asm = ClientHelloAssembler()
        parts = segments(BIG, 1000, sizes)
        results = [asm.feed(seq, payload) for seq, payload in parts]
        assert results[:-1] == [None] * (len(parts) - 1)
        assert results[-1] == expected
        assert asm.done and not asm.failed and asm.client_hello == expected
        assert asm.feed(*parts[-1]) is None  # returned once


def test_assembler_single_segment_and_pure_acks() -> None:
    asm = ClientHelloAssembler()
    assert asm.feed(5, b"") is None  # a pure ACK neither starts nor fails the stream
    hello = asm.feed(5, records(modern_hello()))
    assert hello is not None and hello.sni == "example.com"


def test_assembler_out_of_order_retransmitted_and_overlapping() -> None:
    expected = parse_client_hello(BIG)
    first, second, third = segments(BIG, 7000, (600, 600))
    asm = ClientHelloAssembler()
    assert asm.feed(*first) is None
    assert asm.feed(*third) is None  # ahead of a hole
    assert asm.feed(*first) is None  # retransmission
    overlap = (second[0] - 100, BIG[500:1000])  # a resent segment overlapping the first, hole unfilled
    assert asm.feed(*overlap) is None
    assert asm.feed(*second) == expected


def test_assembler_with_known_start_accepts_any_order() -> None:
    expected = parse_client_hello(BIG)
    parts = segments(BIG, 42, (700, 700))
    asm = ClientHelloAssembler(start_seq=42)
    assert asm.feed(*parts[2]) is None
    assert asm.feed(*parts[1]) is None
    assert asm.feed(*parts[0]) == expected
    # a resent segment that starts before the stream (with bytes of the SYN's sequence space) is trimmed
    asm = ClientHelloAssembler(start_seq=42)
    assert asm.feed(32, bytes(10) + BIG[:700]) is None
    assert asm.feed(2, bytes(5)) is None  # entirely before the start: ignored
    assert asm.feed(*parts[1]) is None
    assert asm.feed(*parts[2]) == expected


def test_assembler_without_known_start_needs_the_first_segment_first() -> None:
    parts = segments(BIG, 42, (700,))
    asm = ClientHelloAssembler()
    assert asm.feed(*parts[1]) is None
    assert asm.failed and asm.reason == "not-client-hello"


def test_assembler_sequence_wrap() -> None:
    expected = parse_client_hello(BIG)
    parts = segments(BIG, 0xFFFFFFFF - 300, (500, 700))
    assert parts[0][0] > parts[1][0]  # the second segment's sequence number wrapped past 2^32
    asm = ClientHelloAssembler()
    assert asm.feed(*parts[0]) is None
    assert asm.feed(*parts[2]) is None
    assert asm.feed(*parts[1]) == expected
    asm = ClientHelloAssembler(start_seq=0xFFFFFFFF - 300 + 2**32)  # wrapped before masking, too
    assert [asm.feed(*p) for p in parts][-1] == expected


def test_assembler_hello_in_two_records_and_two_segments() -> None:
    data = records(modern_hello(padding=1500), (900,))
    asm = ClientHelloAssembler()
    first, second = segments(data, 1, (1000,))
    assert asm.feed(*first) is None
    hello = asm.feed(*second)
    assert hello is not None and hello.sni == "example.com"


def test_assembler_gap_that_never_fills() -> None:
    first, _, third = segments(BIG, 1, (600, 600))
    asm = ClientHelloAssembler()
    asm.feed(*first)
    fed = 1
    while not asm.failed:
        assert asm.feed(*third) is None  # the same later segment again and again
        fed += 1
    assert asm.reason == "too-many-segments"
    assert fed == ClientHelloAssembler.MAX_SEGMENTS + 1
    assert asm.feed(*third) is None and asm.client_hello is None


def test_assembler_byte_cap() -> None:
    asm = ClientHelloAssembler()
    head = records(b"\x01\x00\xf0\x00" + bytes(1000))  # claims 61440 bytes: allowed, but never comes
    asm.feed(0, head)
    asm.feed(70000, b"x" * 10)  # beyond the 64 KiB of stream the ClientHello may use
    assert asm.reason == "too-large"
    asm = ClientHelloAssembler()
    asm.feed(0, records(b"\x01\x01\x00\x00" + bytes(100)))  # claims 65536 + 4 bytes
    assert asm.reason == "too-large"


@pytest.mark.parametrize(
    "payload",
    [b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", b"\x17\x03\x03\x00\x10" + bytes(16), b"SSH-2.0-OpenSSH_9.6\r\n"],
)
def test_assembler_fails_fast_on_other_protocols(payload: bytes) -> None:
    asm = ClientHelloAssembler()
    assert asm.feed(1, payload) is None
    assert asm.failed and asm.reason == "not-client-hello"


def test_assembler_reports_a_damaged_hello() -> None:
    msg = bytearray(modern_hello())
    msg[38] = 0x40  # session id length 64
    asm = ClientHelloAssembler()
    assert asm.feed(1, records(bytes(msg))) is None
    assert asm.reason == "bad-session-id"
    asm = ClientHelloAssembler(start_seq=1)
    asm.feed(1, b"\x15\x03\x03\x00\x02\x02\x28")  # an alert first: not a ClientHello stream
    assert asm.reason == "not-client-hello"


# --- real captures, expected values from tshark 4.0 ---
# tshark -r FILE -Y 'tls.handshake.type==1' -T fields -e frame.number
#        -e tls.handshake.extensions_server_name -e tls.handshake.ja3

CLIENT_HELLOS = [
    # Chrome with ECH: the SNI is the outer (public) name; extension order is randomised, so JA3 differs
    ("zeek_tls13-ech.pcap", 7, "cloudflare-ech.com", "2fcbf8655473005933c5869b2b5d8044"),
    ("zeek_tls13-ech.pcap", 39, "cloudflare-ech.com", "fa58f5ffd45a2d590a1677134966dc64"),
    ("joy_firefox58.pcap", 60, "google.com", "2c3efc25fa24d4f1f973fc059207ccda"),
    ("joy_firefox58.pcap", 106, "getpocket.cdn.mozilla.net", "2c3efc25fa24d4f1f973fc059207ccda"),
    ("joy_firefox58.pcap", 342, "tiles.services.mozilla.com", "2c3efc25fa24d4f1f973fc059207ccda"),
    ("ndpi_dns_doh.pcap", 4, "mozilla.cloudflare-dns.com", "b20b44b18b853ef29ab773e921b03422"),
    ("ndpi_googledns_android10.pcap", 10, "dns.google", "2c776785ee603cc85d37df996bb90cc8"),
    ("ndpi_googledns_android10.pcap", 162, "dns.google", "b734f75d22aaff9866fbd5d27eef9106"),
    ("ndpi_sonos.pcapng", 4, "192.168.1.70", "ae25e09391d7275844ccf16316569582"),  # an IP sent as SNI
    ("pcpp_many_interfaces-1.pcapng", 27, "clients6.google.com", "06ac73054dde9c9e7947fed24457fe9c"),
    ("ndpi_gnutella.pcap", 899, None, "6992dc627532d4fbccd43fb03d3bdeb4"),  # no server_name
]


@pytest.mark.parametrize(("name", "frame", "sni", "ja3"), CLIENT_HELLOS)
def test_real_client_hellos_match_tshark(name: str, frame: int, sni: str | None, ja3: str) -> None:
    hello = parse_client_hello(frame_payload(name, frame).payload)
    assert hello.sni == sni
    assert hello.ja3 == ja3


def test_real_chrome_ech_hello_details() -> None:
    # tshark: tls.handshake.ja3_full, tls.handshake.extensions_alpn_str,
    #         tls.handshake.extensions.supported_version
    hello = parse_client_hello(frame_payload("zeek_tls13-ech.pcap", 7).payload)
    assert hello.ja3_string == (
        "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,"
        "65281-16-13-51-45-17513-35-43-10-65037-23-5-18-11-0-27-21,29-23-24,0"
    )
    assert hello.alpn == ("h2", "http/1.1")
    assert hello.supported_versions == (0x0304, 0x0303)  # tshark lists 0x8a8a (GREASE) first
    assert hello.ech is True
    # Chrome's JA4 does not change with its randomised extension order
    assert hello.ja4 == "t13d1517h2_8daaf6152771_b1ff8ab2d16f"
    other = parse_client_hello(frame_payload("zeek_tls13-ech.pcap", 39).payload)
    assert other.ja4 == hello.ja4 and other.extensions != hello.extensions


def test_real_hello_reassembled_from_split_segments() -> None:
    # No fixture has a ClientHello spanning TCP segments (tshark finds no tcp.reassembled_in on any
    # handshake frame), so the real 517-byte Chrome hello is cut into segments at its real sequence number.
    seg = frame_payload("zeek_tls13-ech.pcap", 7)
    expected = parse_client_hello(seg.payload)
    parts = segments(seg.payload, seg.seq, (5, 250))  # the first segment holds only the record header
    asm = ClientHelloAssembler()
    assert asm.feed(*parts[0]) is None
    assert asm.feed(*parts[2]) is None
    assert asm.feed(*parts[1]) == expected
    assert expected.sni == "cloudflare-ech.com"


# tshark -Y 'tls.handshake.type==2' -e tls.handshake.version -e tls.handshake.ciphersuite
#        -e tls.handshake.extensions.supported_version -e tls.handshake.extensions_alpn_str
SERVER_HELLOS = [
    ("zeek_tls13-ech.pcap", 9, 0x0304, 0x1301, None),
    ("joy_firefox58.pcap", 65, 0x0303, 0xC02B, "h2"),
    ("joy_firefox58.pcap", 126, 0x0303, 0xC02F, "h2"),
    ("ndpi_googledns_android10.pcap", 15, 0x0303, 0xC02F, None),
    ("ndpi_dns_doh.pcap", 6, 0x0304, 0x1301, None),
]


@pytest.mark.parametrize(("name", "frame", "version", "cipher", "alpn"), SERVER_HELLOS)
def test_real_server_hellos_match_tshark(
    name: str, frame: int, version: int, cipher: int, alpn: str | None
) -> None:
    hello = parse_server_hello(frame_payload(name, frame).payload)
    assert (hello.version, hello.cipher_suite, hello.alpn) == (version, cipher, alpn)
    assert hello.legacy_version == 0x0303
