"""DNS names in wire format: reading their labels under the compression-pointer rules, and their
presentation form.

Names come out in presentation form as `dig` prints them, case kept as sent: labels joined with `.`, the
root as `.`, and inside a label `\\.` for a dot, `\\\\` for a backslash and `\\DDD` (decimal) for bytes
outside printable ASCII. A space stays a space: mDNS service instances are full of them and escaping them
would only make the monitor harder to read.

A damaged name raises `MalformedMessage` with reason `dns-truncated`, `dns-compression-loop`,
`dns-name-too-long` or `dns-bad-label-type`.
"""

from __future__ import annotations

from engine.protocols.errors import MalformedMessage

__all__ = [
    "MAX_NAME_WIRE_LENGTH",
    "TRUNCATED_REASON",
    "decode_name",
    "name_labels",
    "name_text",
    "read_name_labels",
]

MAX_NAME_WIRE_LENGTH = 255  # RFC 1035 2.3.4, counting every length byte and the root label
# The `MalformedMessage` reason for data cut short: `parse_dns` reports it as `truncated=True`
TRUNCATED_REASON = "dns-truncated"

# How each byte appears inside a label in presentation form
_LABEL_ESCAPES = [chr(b) if 0x20 <= b < 0x7F else f"\\{b:03d}" for b in range(256)]
_LABEL_ESCAPES[ord(".")] = "\\."
_LABEL_ESCAPES[ord("\\")] = "\\\\"
_NEEDS_ESCAPE = bytes(b for b in range(256) if _LABEL_ESCAPES[b] != chr(b))


def _label_text(label: bytes) -> str:
    # Fast path: most labels are plain hostnames; bytes.translate with a delete table runs in C
    if len(label.translate(None, _NEEDS_ESCAPE)) == len(label):
        return label.decode("ascii")
    return "".join([_LABEL_ESCAPES[b] for b in label])


def name_text(labels: list[bytes]) -> str:
    """The presentation form of a name given as its raw labels (the root, no labels, is `.`)."""
    if not labels:
        return "."
    # Fast path: check all labels at once; only names with bytes to escape go label by label
    joined = b"".join(labels)
    if len(joined.translate(None, _NEEDS_ESCAPE)) == len(joined):
        return b".".join(labels).decode("ascii")
    return ".".join([_label_text(label) for label in labels])


def read_name_labels(buf: bytes, offset: int) -> tuple[list[bytes], int]:
    """The labels of the wire-format name at `offset`, and the offset just after it in the message.

    Like `decode_name`, but the raw labels (for protocols such as NetBIOS that encode inside them).
    Compression pointers must point strictly below the start of the stretch of labels being read (the
    name's own start, then each pointer's target), so every jump goes further back and a loop is
    impossible; together with the 255-byte limit this bounds the work for any input.
    """
    labels: list[bytes] = []
    end = len(buf)
    pos = offset
    floor = offset
    after = -1
    wire_length = 1  # the terminating root label
    while True:
        if pos >= end:
            raise MalformedMessage(TRUNCATED_REASON, f"name at {offset} runs past the end")
        length = buf[pos]
        if length == 0:
            return labels, (pos + 1 if after < 0 else after)
        kind = length & 0xC0
        if kind == 0xC0:
            if pos + 1 >= end:
                raise MalformedMessage(TRUNCATED_REASON, f"pointer at {pos} cut")
            target = ((length & 0x3F) << 8) | buf[pos + 1]
            if target >= floor:
                raise MalformedMessage("dns-compression-loop", f"pointer at {pos} to {target}")
            if after < 0:
                after = pos + 2
            pos = floor = target
            continue
        if kind:
            # 0x40 (RFC 2673 binary labels, obsolete) and 0x80 (reserved)
            raise MalformedMessage("dns-bad-label-type", f"label type {kind:#x} at {pos}")
        wire_length += length + 1
        if wire_length > MAX_NAME_WIRE_LENGTH:
            raise MalformedMessage("dns-name-too-long", f"name at {offset}")
        nxt = pos + 1 + length
        if nxt > end:
            raise MalformedMessage(TRUNCATED_REASON, f"label at {pos} runs past the end")
        labels.append(buf[pos + 1 : nxt])
        pos = nxt


def decode_name(buf: bytes, offset: int) -> tuple[str, int]:
    """The name at `offset` of a DNS message (or any wire-format name), and the offset after it.

    Raises `MalformedMessage` with reason `dns-truncated`, `dns-compression-loop`, `dns-name-too-long` or
    `dns-bad-label-type`.
    """
    labels, after = read_name_labels(buf, offset)
    return name_text(labels), after


def name_labels(name: str) -> list[bytes]:
    """The raw labels of a name in this module's presentation form (the inverse of the escaping)."""
    if name in (".", ""):
        return []
    if "\\" not in name:
        return [label.encode("ascii", "replace") for label in name.rstrip(".").split(".")]
    labels: list[bytes] = []
    current = bytearray()
    i = 0
    n = len(name)
    while i < n:
        ch = name[i]
        if ch == "\\" and i + 1 < n:
            digits = name[i + 1 : i + 4]
            if len(digits) == 3 and digits.isascii() and digits.isdigit():
                current.append(min(int(digits), 255))
                i += 4
            else:
                current += name[i + 1].encode("ascii", "replace")
                i += 2
            continue
        if ch == ".":
            labels.append(bytes(current))
            current.clear()
        else:
            current += ch.encode("ascii", "replace")
        i += 1
    if current:
        labels.append(bytes(current))
    return labels
