"""The order of the capture files in a dump folder: by the names capture tools give them, else by time.

- dumpcap's ring (`-b`): `PREFIX_NNNNN_YYYYmmddHHMMSS.EXT`, a sequence number and the local time the file
  was started. The time comes first in the order (a restarted dumpcap starts again at 00001), the number
  breaks ties within one second.
- tcpdump `-G` with a time in the name (`dump-%Y%m%d-%H%M%S.pcap`, or without separators): that time,
  then any count `-C` appends.
- Anything else (tcpdump `-C` alone names `dump`, `dump1`, `dump2`, ... and reuses them with `-W`): the
  time of the file's first packet, or its modification time while it holds none yet.

A compressed copy (`.gz`, `.bz2`, `.xz`, `.zst`) sorts where the file it was made from did.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

COMPRESSION_SUFFIXES = (".gz", ".bz2", ".xz", ".zst", ".zstd")

_DUMPCAP = re.compile(r"^(?P<prefix>.*)_(?P<seq>\d{5,})_(?P<stamp>\d{14})(?:\.[^.]+)?$")
_STAMP = re.compile(
    r"(?<!\d)(?P<y>(?:19|20)\d\d)-?(?P<mo>[01]\d)-?(?P<d>[0-3]\d)[-_T]?(?P<h>[0-2]\d)[-:]?(?P<mi>[0-5]\d)"
    r"[-:]?(?P<s>[0-6]\d)(?!\d)"
)
_TRAILING_COUNT = re.compile(r"(\d+)$")
_DIGITS = re.compile(r"(\d+)")

NaturalKey = tuple[tuple[int, int, str], ...]
OrderKey = tuple[float, int, NaturalKey]


def uncompressed_name(name: str) -> str:
    """The name without a compression suffix: `hs_00001_20240101000000.pcapng.gz` -> `...pcapng`."""
    for suffix in COMPRESSION_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def is_compressed_name(name: str) -> bool:
    return uncompressed_name(name) != name


def natural_key(name: str) -> NaturalKey:
    """`dump2` before `dump10`: digit runs compare as numbers."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in _DIGITS.split(name) if part
    )


@dataclass(frozen=True, slots=True)
class RingName:
    """What a dumpcap ring file's name says: its run prefix, sequence number and start time."""

    prefix: str
    sequence: int
    started: float  # epoch seconds (the name holds local time)


def parse_ring_name(name: str) -> RingName | None:
    """The parts of a dumpcap ring file name, or None for other names."""
    found = _DUMPCAP.match(uncompressed_name(name))
    if found is None:
        return None
    started = _local_epoch(found.group("stamp"), "%Y%m%d%H%M%S")
    if started is None:
        return None
    return RingName(found.group("prefix"), int(found.group("seq")), started)


def name_time(name: str) -> tuple[float, int] | None:
    """(start time, sequence or count) that the file name itself gives, or None when it gives none."""
    ring = parse_ring_name(name)
    if ring is not None:
        return ring.started, ring.sequence
    base = uncompressed_name(name)
    found = _STAMP.search(base)
    if found is None:
        return None
    stamp = "".join(found.group(k) for k in ("y", "mo", "d", "h", "mi", "s"))
    started = _local_epoch(stamp, "%Y%m%d%H%M%S")
    if started is None:
        return None
    rest = base[found.end() :]
    count = _TRAILING_COUNT.search(rest)
    return started, int(count.group(1)) if count else 0


def order_key(name: str, first_packet: float | None, mtime: float) -> OrderKey:
    """Where a file goes in the folder's time order (see the module docstring)."""
    from_name = name_time(name)
    if from_name is not None:
        started, sequence = from_name
        return started, sequence, natural_key(uncompressed_name(name))
    started = first_packet if first_packet is not None else mtime
    return started, 0, natural_key(uncompressed_name(name))


def _local_epoch(stamp: str, fmt: str) -> float | None:
    try:
        return time.mktime(time.strptime(stamp, fmt))
    except (ValueError, OverflowError):
        return None
