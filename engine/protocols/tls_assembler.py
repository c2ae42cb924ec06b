"""Rebuilding a ClientHello from the TCP segments of one flow direction.

Post-quantum key shares make browser ClientHellos about 1.8 KB, more than one segment.
"""

from __future__ import annotations

from typing import Final

from engine.protocols._wire import StreamBuffer
from engine.protocols.errors import MalformedMessage
from engine.protocols.tls_codes import HANDSHAKE_CLIENT_HELLO
from engine.protocols.tls_fingerprints import Transport
from engine.protocols.tls_hello import (
    MAX_HELLO_LENGTH,
    ClientHello,
    ClientHelloBrief,
    first_handshake_message,
    may_start_handshake,
    parse_client_hello_brief,
    parse_client_hello_handshake,
    starts_handshake,
)

__all__ = ["ClientHelloAssembler"]


class ClientHelloAssembler:
    """Rebuilds the ClientHello from the client-to-server TCP payloads of one flow direction.

    Feed every payload-carrying segment with its TCP sequence number; `feed` returns the ClientHello once,
    when it is complete. Without `start_seq` the first segment fed must start the stream (and so the first
    TLS record): anything else fails at once, which keeps non-TLS flows cheap. With `start_seq` (the SYN's
    sequence number + 1) the segments may come in any order. Sequence numbers wrap at 2^32; duplicates and
    overlaps keep the first bytes seen. Gives up (`failed`, with a `reason`) on non-TLS data, a damaged
    ClientHello, more than `MAX_SEGMENTS` segments, or more than `MAX_BYTES` of stream.
    """

    MAX_SEGMENTS: Final = 32
    MAX_BYTES: Final = MAX_HELLO_LENGTH

    __slots__ = ("_brief", "_buffer", "_segments", "_start", "_transport", "brief", "client_hello", "reason")

    def __init__(
        self, start_seq: int | None = None, transport: Transport = "t", *, brief: bool = False
    ) -> None:
        self._start = None if start_seq is None else start_seq & 0xFFFFFFFF
        self._transport: Transport = transport
        self._brief = brief  # parse only names and versions (see parse_client_hello_brief)
        self.brief: ClientHelloBrief | None = None
        self._buffer: StreamBuffer | None = StreamBuffer(self.MAX_BYTES)
        self._segments = 0
        self.client_hello: ClientHello | None = None
        self.reason: str | None = None

    @property
    def done(self) -> bool:
        return self.client_hello is not None or self.brief is not None

    @property
    def failed(self) -> bool:
        return self.reason is not None

    def _fail(self, reason: str) -> None:
        self.reason = reason
        self._buffer = None

    def feed(self, seq: int, payload: bytes) -> ClientHello | None:
        """Add one segment; the ClientHello when this segment completes it, else None. Never raises."""
        buffer = self._buffer
        if buffer is None or not payload:
            return None
        self._segments += 1
        if self._segments > self.MAX_SEGMENTS:
            self._fail("too-many-segments")
            return None
        seq &= 0xFFFFFFFF
        if self._start is None:
            if not may_start_handshake(payload, HANDSHAKE_CLIENT_HELLO):
                self._fail("not-client-hello")
                return None
            self._start = seq
        offset = (seq - self._start) & 0xFFFFFFFF
        if offset >= 0x80000000:  # starts before the stream: keep only what reaches into it
            before = 0x100000000 - offset
            if before >= len(payload):
                return None
            payload, offset = payload[before:], 0
        try:
            if not buffer.add(offset, payload):
                return None
            prefix = buffer.prefix
            if len(prefix) >= 5 and not starts_handshake(prefix[:6], HANDSHAKE_CLIENT_HELLO):
                self._fail("not-client-hello")
                return None
            msg = first_handshake_message(prefix, HANDSHAKE_CLIENT_HELLO)
            if msg is None:
                return None
            if self._brief:
                self.brief = parse_client_hello_brief(msg)
                self._buffer = None
                return None
            hello = parse_client_hello_handshake(msg, self._transport)
        except MalformedMessage as exc:
            self._fail(exc.reason)
            return None
        self.client_hello = hello
        self._buffer = None
        return hello
