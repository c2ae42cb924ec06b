"""Capture files written the way capture tools write them, for the follower's tests.

Packets are distinct UDP frames (the packet number is in the payload), so a test can check that every
packet was read exactly once and in order. Files are written in pieces that split records anywhere,
from a thread, while the follower reads.
"""

from __future__ import annotations

import gzip
import os
import struct
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.capture.records import RecordBatch
from tests.engine.crafted import BASE_TS, epb, ethernet, idb, ipv4, isb, pcap_bytes, shb, udp


def frame(number: int, size: int = 60) -> bytes:
    """An Ethernet/IPv4/UDP frame whose payload starts with its packet number."""
    payload = struct.pack(">I", number) + bytes(max(0, size - 4))
    return ethernet(ipv4(udp(40000, 5555, payload), src="10.0.0.2", dst="10.0.0.1"))


def frame_number(packet: bytes) -> int:
    return int(struct.unpack_from(">I", packet, 14 + 20 + 8)[0])


def pcapng_header() -> bytes:
    return shb() + idb(1, snaplen=0, tsresol=6)


def pcapng_packet(number: int, size: int = 60) -> bytes:
    return epb(0, (BASE_TS + number) * 1_000_000, frame(number, size))


def pcapng_file(numbers: Iterable[int], *, stats: tuple[int, int] | None = None) -> bytes:
    """A whole pcapng: header, one packet block per number, and an interface statistics block
    (received, dropped) when `stats` is given."""
    out = [pcapng_header(), *(pcapng_packet(n) for n in numbers)]
    if stats is not None:
        out.append(isb(0, 0, received=stats[0], dropped=stats[1]))
    return b"".join(out)


def pcap_header() -> bytes:
    return pcap_bytes([])


def pcap_packet(number: int, size: int = 60) -> bytes:
    data = frame(number, size)
    return struct.pack("<IIII", BASE_TS + number, 0, len(data), len(data)) + data


def pcap_file(numbers: Iterable[int]) -> bytes:
    return pcap_header() + b"".join(pcap_packet(n) for n in numbers)


def numbers_in(batches: Iterable[RecordBatch]) -> list[int]:
    """The packet numbers of every record, in order."""
    out: list[int] = []
    for b in batches:
        for start, caplen in zip(b.starts.tolist(), b.caplen.tolist(), strict=True):
            out.append(frame_number(b.data[start : start + caplen]))
    return out


def write_in_pieces(path: Path, data: bytes, pieces: Sequence[int], pause: float = 0.0) -> None:
    """Append `data` to `path` in pieces of the given sizes (cycled), flushing each, pausing between."""
    with open(path, "ab", buffering=0) as fh:
        pos = 0
        i = 0
        while pos < len(data):
            size = pieces[i % len(pieces)]
            fh.write(data[pos : pos + size])
            pos += size
            i += 1
            if pause:
                time.sleep(pause)


def ring_name(sequence: int, started: float, prefix: str = "hs", ext: str = ".pcapng") -> str:
    """A dumpcap ring file name: PREFIX_NNNNN_YYYYmmddHHMMSS.EXT (local time)."""
    return f"{prefix}_{sequence:05d}_{time.strftime('%Y%m%d%H%M%S', time.localtime(started))}{ext}"


def gzip_and_remove(path: Path) -> Path:
    """Compress a finished file the way a rotation hook does: write X.gz, then remove X."""
    target = path.with_name(path.name + ".gz")
    with open(path, "rb") as src, gzip.open(target, "wb") as dst:
        dst.write(src.read())
    path.unlink()
    return target


@dataclass
class RingWriter:
    """A dumpcap-like ring in a thread: `files` files of `per_file` packets each, written in pieces,
    keeping at most `keep` files (the oldest is deleted), optionally compressing each finished file."""

    directory: Path
    files: int
    per_file: int
    keep: int | None = None
    compress: bool = False
    pieces: Sequence[int] = (97, 13, 1, 250)
    pause: float = 0.001
    pcap: bool = False
    first_started: float = 1_700_000_000.0
    on_file_done: Callable[[Path], None] | None = None
    written: list[int] = field(default_factory=list)
    error: BaseException | None = None
    _thread: threading.Thread | None = None

    def start(self) -> RingWriter:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def join(self, timeout: float = 30) -> None:
        assert self._thread is not None
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the ring writer did not finish"
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        try:
            existing: list[Path] = []
            number = 0
            for f in range(self.files):
                ext = ".pcap" if self.pcap else ".pcapng"
                path = self.directory / ring_name(f + 1, self.first_started + f, ext=ext)
                numbers = list(range(number, number + self.per_file))
                number += self.per_file
                head = pcap_header() if self.pcap else pcapng_header()
                body = b"".join((pcap_packet if self.pcap else pcapng_packet)(n) for n in numbers)
                write_in_pieces(path, head + body, self.pieces, self.pause)
                self.written.extend(numbers)
                existing.append(path)
                if self.compress and len(existing) > 1:
                    # the previous file is finished once the next one is being written
                    previous = existing[-2]
                    existing[-2] = gzip_and_remove(previous)
                if self.keep is not None and len(existing) > self.keep:
                    os.unlink(existing.pop(0))
                if self.on_file_done is not None:
                    self.on_file_done(path)
        except BaseException as err:
            self.error = err


def wait_for(condition: Callable[[], bool], timeout: float = 10, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
