#!/usr/bin/env python3
"""Remote rates: how fast the engine reads a capture over SSH (to a throw-away sshd on 127.0.0.1) against
reading the same file locally, in the same run. Not a test: it takes a minute and needs openssh-server.

Each round reads, in turn:
- `local file`: `open_capture(path)`, every record batch;
- `ssh file`: `open_remote_capture("testpi:path")` (ssh + `cat` on the far end: what replay uses);
- `local follow`: a DumpFollower on a folder holding the file as a ring dump, up to its end;
- `ssh follow`: a RemoteDumpFollower on the same folder (the request/response protocol of
  remote_folder.py: 4 MiB READs), up to its end.

Rounds are interleaved and the median of each is reported, with the ratio to its local counterpart. Only
the ratios mean anything across machines; the loopback has no network limit, so this measures what the
SSH transport (encryption, the pipes, the remote script's processes) costs the reader.

    python bench/remote_rates.py                     # 600,000 packets (~310 MB), 3 rounds
    python bench/remote_rates.py --packets 2000000 --snaplen 128   # like the Pi's dumps
    python bench/remote_rates.py --packets 300000 --rounds 5
    python bench/remote_rates.py --capture big.pcapng
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.capture.follow import DumpFollower, FollowState  # noqa: E402
from engine.capture.remote_file import open_remote_capture  # noqa: E402
from engine.capture.remote_follow import RemoteDumpFollower  # noqa: E402
from engine.capture.source import open_capture  # noqa: E402
from engine.capture.ssh_target import parse_remote  # noqa: E402
from tests.remote.sshd import ALIAS, SshServer, sshd_available  # noqa: E402

RING_NAME = "hs_00001_20240101120000.pcapng"


def synthetic_capture(path: Path, packets: int, snaplen: int = 0) -> None:
    """A pcapng of `packets` frames of mixed sizes (the benchmark's own: no corpus needed), cut to
    `snaplen` bytes like the Pi's capture service does (HS_SNAPLEN=128) unless 0."""
    from tests.engine.crafted import BASE_TS, epb, ethernet, ipv4, udp
    from tests.live.writers import pcapng_header

    blocks = []
    for i, size in enumerate((60, 120, 400, 1200, 80, 1460, 200, 64)):
        frame = ethernet(ipv4(udp(40000 + i, 443, bytes(size)), src="192.168.1.20", dst="203.0.113.9"))
        kept = frame[:snaplen] if snaplen else frame
        blocks.append(epb(0, (BASE_TS + i) * 1_000_000, kept, wirelen=len(frame)))
    unit = b"".join(blocks)
    with open(path, "wb") as fh:
        fh.write(pcapng_header())
        whole, rest = divmod(packets, len(blocks))
        chunk = unit * 1000
        for _ in range(whole // 1000):
            fh.write(chunk)
        fh.write(unit * (whole % 1000))
        fh.write(b"".join(blocks[:rest]))


def count_local_file(path: Path) -> int:
    return sum(len(b) for b in open_capture(str(path)).batches())


def count_ssh_file(server: SshServer, path: Path) -> int:
    return sum(len(b) for b in open_remote_capture(f"{ALIAS}:{path}", ssh=server.settings()).batches())


def count_follow(follower: DumpFollower | RemoteDumpFollower, expected: int) -> int:
    got = [0]
    done = threading.Event()

    def run() -> None:
        for batch in follower.batches():
            got[0] += len(batch)
            if got[0] >= expected:
                done.set()
        done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    done.wait(600)
    follower.stop()
    thread.join(30)
    assert follower.status().state in (FollowState.FOLLOWING, FollowState.STOPPED, FollowState.READING)
    return got[0]


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    begun = time.perf_counter()
    n = fn()
    return time.perf_counter() - begun, n


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--packets", type=int, default=600_000, help="packets of the synthetic capture (600,000: ~310 MB)"
    )
    parser.add_argument(
        "--snaplen", type=int, default=0, help="cut the synthetic packets to this many bytes (the Pi: 128)"
    )
    parser.add_argument("--capture", type=Path, help="use this pcap/pcapng instead of a synthetic one")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    why = sshd_available()
    if why is not None:
        print(f"remote_rates: {why}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="homescope-remote-rates-"))
    try:
        dumps = work / "dumps"
        dumps.mkdir()
        capture = dumps / RING_NAME
        if args.capture:
            shutil.copy(args.capture, capture)
        else:
            synthetic_capture(capture, args.packets, args.snaplen)
        size = capture.stat().st_size
        expected = count_local_file(capture)
        print(f"capture: {expected:,} packets, {size / 1e6:,.1f} MB; {args.rounds} interleaved rounds")
        server = SshServer(work / "sshd").start()
        try:
            target = parse_remote(f"{ALIAS}:{dumps}")
            methods: dict[str, Callable[[], int]] = {
                "local file": lambda: count_local_file(capture),
                "ssh file": lambda: count_ssh_file(server, capture),
                "local follow": lambda: count_follow(DumpFollower(str(dumps), poll_interval=0.05), expected),
                "ssh follow": lambda: count_follow(
                    RemoteDumpFollower(target, ssh=server.settings(), poll_interval=0.05), expected
                ),
            }
            times: dict[str, list[float]] = {name: [] for name in methods}
            for _ in range(args.rounds):
                for name, fn in methods.items():
                    seconds, n = timed(fn)
                    if n != expected:
                        print(f"{name}: read {n:,} packets, expected {expected:,}", file=sys.stderr)
                        return 1
                    times[name].append(seconds)
        finally:
            server.stop()
        print(f"{'method':<14} {'median s':>9} {'packets/s':>12} {'MB/s':>8} {'vs local':>9}")
        for name, values in times.items():
            median = statistics.median(values)
            local = statistics.median(times[name.replace("ssh", "local")])
            print(
                f"{name:<14} {median:>9.3f} {expected / median:>12,.0f} {size / 1e6 / median:>8.1f} "
                f"{local / median:>8.2f}x"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
