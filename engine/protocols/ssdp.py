"""SSDP (UPnP discovery, UDP 1900) and similar HTTP-over-UDP messages.

Smart TVs, speakers, routers and media servers multicast NOTIFY announcements and answer M-SEARCH
queries; their `SERVER`, `USN`, `NT`/`ST` and `LOCATION` headers say what the device is. The parser is
lenient because real devices are: bare LF line ends, stray spaces around names, missing headers,
trailing NULs and non-UTF-8 bytes are all accepted. Only a payload whose first line is not an HTTP
request or status line raises `MalformedMessage`.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.protocols.errors import MalformedMessage
from engine.protocols.text import safe_text

__all__ = ["MAX_HEADERS", "SsdpMessage", "parse_ssdp"]

KIND_NOTIFY = "notify"
KIND_MSEARCH = "m-search"
KIND_RESPONSE = "response"
KIND_REQUEST = "request"  # another method (SUBSCRIBE, GET, ...) seen on a discovery port

MAX_HEADERS = 64  # a discovery message has a dozen; more is junk not worth keeping


@dataclass(frozen=True, slots=True)
class SsdpMessage:
    kind: str  # notify, m-search, response or request
    method: str | None  # the request method as sent (upper-cased); None for a response
    target: str | None  # the request target, "*" for SSDP
    status: int | None  # the status code of a response
    version: str  # "HTTP/1.1"
    headers: tuple[tuple[str, str], ...]  # (lower-cased name, value), in order, duplicates kept
    problems: tuple[str, ...] = ()

    def header(self, name: str) -> str | None:
        """The first value of a header (name compared case-insensitively), or None."""
        key = name.lower()
        for header, value in self.headers:
            if header == key:
                return value
        return None

    @property
    def server(self) -> str | None:
        return self.header("server")

    @property
    def usn(self) -> str | None:
        return self.header("usn")

    @property
    def nt(self) -> str | None:
        return self.header("nt")

    @property
    def nts(self) -> str | None:
        return self.header("nts")

    @property
    def st(self) -> str | None:
        return self.header("st")

    @property
    def location(self) -> str | None:
        return self.header("location")

    @property
    def user_agent(self) -> str | None:
        return self.header("user-agent")

    @property
    def cache_control(self) -> str | None:
        return self.header("cache-control")

    @property
    def max_age(self) -> int | None:
        """The `max-age` of Cache-Control in seconds, when present and numeric."""
        value = self.cache_control
        if value is None:
            return None
        for directive in value.split(","):
            key, sep, number = directive.partition("=")
            if sep and key.strip().lower() == "max-age":
                digits = number.strip().strip('"')
                if digits.isascii() and digits.isdigit():
                    return int(digits)
        return None


def _start_line(line: str) -> tuple[str, str | None, str | None, int | None, str]:
    parts = line.split(None, 2)
    if len(parts) >= 2 and parts[0].upper().startswith("HTTP/"):
        code = parts[1]
        if len(code) == 3 and code.isascii() and code.isdigit():
            return KIND_RESPONSE, None, None, int(code), parts[0].upper()
    if len(parts) == 3 and parts[2].upper().startswith("HTTP/"):
        method = parts[0].upper()
        # a method is an HTTP token: letters, digits and a few punctuation characters
        if method.isascii() and method.replace("-", "").replace("_", "").isalnum():
            kind = {"NOTIFY": KIND_NOTIFY, "M-SEARCH": KIND_MSEARCH}.get(method, KIND_REQUEST)
            return kind, method, parts[1], None, parts[2].upper().strip()
    raise MalformedMessage("ssdp-bad-start-line", line[:60])


def parse_ssdp(payload: bytes) -> SsdpMessage:
    """Parse an SSDP message: NOTIFY, M-SEARCH, another request, or a response.

    Header names are lower-cased and values stripped. Lines without a colon are skipped (listed in
    `problems`); headers end at the first empty line (any body is ignored).
    """
    buf = bytes(payload).lstrip(b"\r\n\x00 \t")
    lines = buf.split(b"\n")  # CRLF or bare LF: the CR is stripped with the rest of each line's edges
    first = safe_text(lines[0].strip())
    if not first:
        raise MalformedMessage("ssdp-empty", "no start line")
    kind, method, target, status, version = _start_line(first)
    headers: list[tuple[str, str]] = []
    problems: list[str] = []
    for raw in lines[1:]:
        line = raw.strip(b"\r\x00 \t")
        if not line:
            break
        name, sep, value = line.partition(b":")
        if not sep or not name.strip():
            problems.append("ssdp-bad-header-line")
            continue
        if len(headers) >= MAX_HEADERS:
            problems.append("ssdp-too-many-headers")
            break
        headers.append((safe_text(name.strip()).lower(), safe_text(value.strip())))
    return SsdpMessage(kind, method, target, status, version, tuple(headers), tuple(dict.fromkeys(problems)))
