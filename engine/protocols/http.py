"""HTTP/1.x request and response heads: the Host a client asks for, and what the server says about itself.

Parses the start line and header fields of one TCP segment or UDP datagram (SSDP and other HTTPU). A segment
may end inside the header block: the fields whose line is complete are kept and `headers_complete` tells
whether the blank line that ends the block was seen. Lines may end in CRLF or a bare LF; header names are
matched case-insensitively (and stored lower-case); values are ASCII with other bytes escaped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from engine.protocols._wire import printable
from engine.protocols.errors import MalformedMessage

METHODS: Final = frozenset(
    {
        # RFC 9110 and PATCH (RFC 5789)
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
        # WebDAV (RFC 4918, 3253, 3648, 3744, 4791, 5323, 5842) and Subversion
        "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH", "REPORT",
        "MKACTIVITY", "CHECKOUT", "CHECKIN", "UNCHECKOUT", "MERGE", "MKWORKSPACE", "UPDATE", "LABEL",
        "BASELINE-CONTROL", "VERSION-CONTROL", "MKCALENDAR", "ACL", "ORDERPATCH", "BIND", "UNBIND",
        "REBIND", "MKREDIRECTREF", "UPDATEREDIRECTREF",
        # SSDP / UPnP eventing over HTTPU and HTTP
        "M-SEARCH", "NOTIFY", "SUBSCRIBE", "UNSUBSCRIBE",
        # the HTTP/2 prior-knowledge preface (RFC 9113 §3.4) starts "PRI * HTTP/2.0"
        "PRI",
    }
)  # fmt: skip

# A head is read from at most this many bytes; longer heads keep the fields seen so far.
MAX_HEAD: Final = 16384

_MAX_METHOD = max(len(m) for m in METHODS)
_REQUEST_LINE: Final = re.compile(rb"([A-Z][A-Z-]*) +([\x21-\x7e\x80-\xff]+) +(HTTP/\d\.\d)\r?\n")
_STATUS_LINE: Final = re.compile(rb"(HTTP/\d\.\d) +(\d{3})(?: +([^\r\n]*))?\r?\n")
# token characters of RFC 9110 §5.6.2
_HEADER_NAME: Final = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_BYTES: Final = re.compile(rb"[^\t\x20-\x7e\x80-\xff]")


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    target: str
    version: str  # "HTTP/1.1"
    host: str | None  # the Host field as sent, port included
    user_agent: str | None
    content_type: str | None
    headers: tuple[tuple[str, str], ...]  # (lower-case name, value) of every complete field line, in order
    headers_complete: bool

    @property
    def host_name(self) -> str | None:
        """The Host without its port (and without brackets for an IPv6 literal), lower-cased."""
        host = self.host
        if not host:
            return None
        if host.startswith("["):
            end = host.find("]")
            return host[1:end].lower() if end > 0 else None
        name, _, port = host.rpartition(":")
        if name and port.isdigit():
            host = name
        return host.lower() or None


@dataclass(frozen=True, slots=True)
class HttpResponse:
    version: str
    status: int
    reason: str
    server: str | None
    content_type: str | None
    location: str | None
    headers: tuple[tuple[str, str], ...]
    headers_complete: bool


def looks_like_http_request(payload: bytes) -> bool:
    """Quick check: the payload starts with a known method and a space (as in "GET /")."""
    space = payload.find(b" ", 0, _MAX_METHOD + 1)
    return space > 0 and payload[:space].decode("ascii", "replace") in METHODS


def looks_like_http_response(payload: bytes) -> bool:
    """Quick check: the payload starts with an HTTP/1.x status line prefix ("HTTP/1.1 2")."""
    return len(payload) >= 10 and payload.startswith(b"HTTP/1.") and payload[8] == 0x20


def _fields(payload: bytes, start: int) -> tuple[tuple[tuple[str, str], ...], bool]:
    """Header fields from `start`: those whose line ends inside the data, and whether the head ended."""
    end = min(len(payload), MAX_HEAD)
    fields: list[tuple[str, str]] = []
    pos = start
    while pos < end:
        nl = payload.find(b"\n", pos, end)
        if nl < 0:
            break  # the segment ends inside this line
        line = payload[pos:nl]
        pos = nl + 1
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line:
            return tuple(fields), True
        if line[0] in b" \t" and fields:
            # an obsolete folded continuation line (RFC 9110 §5.5): part of the previous value
            name, value = fields[-1]
            fields[-1] = (name, f"{value} {printable(line.strip())}".strip())
            continue
        colon = line.find(b":")
        if colon <= 0 or not _HEADER_NAME.fullmatch(line, 0, colon) or _HEADER_BYTES.search(line):
            break  # not a field line: binary data or a damaged head; keep what came before
        name = line[:colon].decode("ascii").lower()
        fields.append((name, printable(line[colon + 1 :].strip(b" \t"))))
    return tuple(fields), False


def _first(fields: tuple[tuple[str, str], ...], name: str) -> str | None:
    for key, value in fields:
        if key == name:
            return value
    return None


def parse_http_request(payload: bytes) -> HttpRequest:
    """Parse an HTTP/1.x request head. Raises MalformedMessage when the request line is not complete."""
    space = payload.find(b" ", 0, _MAX_METHOD + 1)
    if space <= 0 or payload[:space].decode("ascii", "replace") not in METHODS:
        raise MalformedMessage("not-http-request", "no known method at the start")
    line = _REQUEST_LINE.match(payload, 0, MAX_HEAD)
    if line is None:
        if payload.find(b"\n", 0, MAX_HEAD) < 0:
            raise MalformedMessage("truncated", "the request line is not complete")
        raise MalformedMessage("bad-request-line", "the request line is not METHOD target HTTP/x.y")
    fields, complete = _fields(payload, line.end())
    return HttpRequest(
        method=line.group(1).decode("ascii"),
        target=printable(line.group(2)),
        version=line.group(3).decode("ascii"),
        host=_first(fields, "host"),
        user_agent=_first(fields, "user-agent"),
        content_type=_first(fields, "content-type"),
        headers=fields,
        headers_complete=complete,
    )


def parse_http_response(payload: bytes) -> HttpResponse:
    """Parse an HTTP/1.x response head. Raises MalformedMessage when the status line is not complete."""
    if not payload.startswith(b"HTTP/"):
        raise MalformedMessage("not-http-response", "no HTTP/ at the start")
    line = _STATUS_LINE.match(payload, 0, MAX_HEAD)
    if line is None:
        if payload.find(b"\n", 0, MAX_HEAD) < 0:
            raise MalformedMessage("truncated", "the status line is not complete")
        raise MalformedMessage("bad-status-line", "the status line is not HTTP/x.y NNN reason")
    fields, complete = _fields(payload, line.end())
    return HttpResponse(
        version=line.group(1).decode("ascii"),
        status=int(line.group(2)),
        reason=printable(line.group(3) or b"").strip(),
        server=_first(fields, "server"),
        content_type=_first(fields, "content-type"),
        location=_first(fields, "location"),
        headers=fields,
        headers_complete=complete,
    )


@dataclass(frozen=True, slots=True)
class HttpRequestBrief:
    """The request line, Host and User-Agent: what the monitor keeps of every request."""

    method: str
    target: str
    host: str | None
    user_agent: str | None


_HOST_FIELD: Final = re.compile(rb"\r?\n[Hh][Oo][Ss][Tt][ \t]*:[ \t]*([^\r\n]*)")
_AGENT_FIELD: Final = re.compile(rb"\r?\n[Uu][Ss][Ee][Rr]-[Aa][Gg][Ee][Nn][Tt][ \t]*:[ \t]*([^\r\n]*)")


def parse_http_request_brief(payload: bytes) -> HttpRequestBrief:
    """Like `parse_http_request`, for the hot path: only the request line, Host and User-Agent fields."""
    line = _REQUEST_LINE.match(payload, 0, MAX_HEAD)
    if line is None or line.group(1).decode("ascii") not in METHODS:
        raise MalformedMessage("not-http-request", "no complete request line with a known method")
    head_end = payload.find(b"\r\n\r\n", line.end() - 2, MAX_HEAD)
    stop = MAX_HEAD if head_end < 0 else head_end + 2
    host = _HOST_FIELD.search(payload, line.end() - 2, stop)
    agent = _AGENT_FIELD.search(payload, line.end() - 2, stop)
    return HttpRequestBrief(
        method=line.group(1).decode("ascii"),
        target=printable(line.group(2)),
        host=printable(host.group(1).strip()) if host else None,
        user_agent=printable(agent.group(1).strip()) if agent else None,
    )
