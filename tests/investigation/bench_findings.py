"""How long `evaluate` takes on a busy home network: a synthetic day of traffic (devices, thousands of
internet servers, beaconing gadgets, DNS), analysed by the engine, then every rule timed.

    PYTHONPATH=. python -m tests.investigation.bench_findings [--flows 200000] [--devices 40] [--runs 5]
        [--retention all|recent|largest] [--limit N]

Not a test (timings on shared machines are noise): a measurement to read. Frames are built with numpy, one
fixed-size TCP or UDP header per packet, so a million packets take a few seconds to make.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import fields
from pathlib import Path

import numpy as np

from engine.analysis import Analysis, AnalysisSnapshot, run_capture
from engine.capture.source import CaptureSet
from engine.findings import RULES, evaluate
from engine.flows.contact_table import contact_table
from tests.investigation.home_traffic import DAY0, settings_for

ROUTER = 0x001122000001


def _mac_bytes(values: np.ndarray) -> np.ndarray:
    return ((values[:, None] >> np.arange(40, -8, -8, dtype=np.uint64)) & 0xFF).astype(np.uint8)


def _be(values: np.ndarray, width: int) -> np.ndarray:
    shifts = np.arange(8 * (width - 1), -8, -8, dtype=np.uint64)
    return ((values.astype(np.uint64)[:, None] >> shifts) & 0xFF).astype(np.uint8)


def synthetic_day(path: Path, flows: int, devices: int, seed: int = 1) -> int:
    """Write a pcap of `flows` TCP connections (4 packets each) and DNS lookups over a day; returns the
    number of packets."""
    rng = np.random.default_rng(seed)
    dev = rng.integers(0, devices, flows)
    start = np.sort(rng.uniform(DAY0, DAY0 + 86400, flows))
    # a few gadgets beacon every 10 s / 60 s all day
    beacons = []
    for k, period in enumerate((10.0, 60.0, 300.0)):
        t = np.arange(DAY0 + 5, DAY0 + 86400, period) + rng.normal(0, 0.2, int(86400 // period))
        beacons.append((np.full(t.shape[0], k), t, np.full(t.shape[0], k)))
    dev = np.concatenate([dev, *[b[0] for b in beacons]])
    start = np.concatenate([start, *[b[1] for b in beacons]])
    server = np.concatenate([rng.zipf(1.3, flows) % 20000, *[b[2] for b in beacons]])
    n = dev.shape[0]
    port = np.where(rng.random(n) < 0.9, 443, rng.choice([80, 8883, 5228, 11095, 22, 853], n)).astype(
        np.int64
    )
    port[flows:] = 443
    # four packets a flow: SYN, SYN-ACK, data up, data down
    k = np.arange(4)
    ts = (start[:, None] + k[None, :] * 0.02).reshape(-1)
    up = np.tile(np.array([True, False, True, False]), n)
    flags = np.tile(np.array([0x02, 0x12, 0x18, 0x18], dtype=np.uint8), n)
    d = np.repeat(dev, 4)
    s = np.repeat(server, 4)
    p = np.repeat(port, 4)
    sport = np.repeat(rng.integers(32768, 61000, n), 4)
    dev_mac = (0x3C22FB000000 + d).astype(np.uint64)
    dev_ip = (0xC0A80100 + 10 + d).astype(np.uint64)
    srv_ip = (0x34000000 + s * 7919 % 0xFFFFFF).astype(np.uint64)
    order = np.argsort(ts, kind="stable")
    ts, up, flags, dev_mac, dev_ip, srv_ip, p, sport = (
        a[order] for a in (ts, up, flags, dev_mac, dev_ip, srv_ip, p, sport)
    )
    count = ts.shape[0]
    frame = np.zeros((count, 54), dtype=np.uint8)
    router = np.full(count, ROUTER, dtype=np.uint64)
    frame[:, 0:6] = _mac_bytes(np.where(up, router, dev_mac))
    frame[:, 6:12] = _mac_bytes(np.where(up, dev_mac, router))
    frame[:, 12:14] = (0x08, 0x00)
    frame[:, 14] = 0x45
    frame[:, 16:18] = _be(np.full(count, 40), 2)
    frame[:, 22] = 64
    frame[:, 23] = 6
    frame[:, 26:30] = _be(np.where(up, dev_ip, srv_ip), 4)
    frame[:, 30:34] = _be(np.where(up, srv_ip, dev_ip), 4)
    frame[:, 34:36] = _be(np.where(up, sport, p), 2)
    frame[:, 36:38] = _be(np.where(up, p, sport), 2)
    frame[:, 46] = 0x50
    frame[:, 47] = flags
    frame[:, 48:50] = (0xFF, 0xFF)
    wirelen = np.where(flags == 0x18, rng.integers(60, 1514, count), 60)
    head = np.zeros((count, 16), dtype=np.uint8)
    sec = np.floor(ts).astype(np.uint64)
    usec = ((ts - np.floor(ts)) * 1e6).astype(np.uint64)
    head[:, 0:4] = _be(sec, 4)[:, ::-1]
    head[:, 4:8] = _be(usec, 4)[:, ::-1]
    head[:, 8:12] = _be(np.full(count, 54), 4)[:, ::-1]
    head[:, 12:16] = _be(wirelen, 4)[:, ::-1]
    header = (
        np.array([0xA1B2C3D4], "<u4").tobytes()
        + np.array([2, 4], "<u2").tobytes()
        + np.array([0, 0, 65535, 1], "<u4").tobytes()
    )
    path.write_bytes(header + np.hstack([head, frame]).tobytes())
    return count


def _log_size(snapshot: AnalysisSnapshot) -> str:
    log = snapshot.contacts
    if log is None:
        return "no contact log"
    arrays = [*log.keys.values()]
    for chunk in (*log.events, *log.bins):
        arrays += [getattr(chunk, f.name) for f in fields(chunk)]
    events = sum(len(e) for e in log.events)
    bins = sum(len(b) for b in log.bins)
    return (
        f"contact log: {len(log):,} keys, {events:,} ring entries, {bins:,} bins, "
        f"{sum(a.nbytes for a in arrays) / 1e6:.1f} MB of arrays; {log.evicted_keys:,} keys evicted"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=200_000)
    parser.add_argument("--devices", type=int, default=40)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--retention",
        choices=["all", "recent", "largest"],
        default="all",
        help="closed flows the analysis keeps (the findings must not depend on it)",
    )
    parser.add_argument("--limit", type=int, default=None, help="closed flows kept (default: all)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "day.pcap"
        started = time.perf_counter()
        packets = synthetic_day(path, args.flows, args.devices)
        print(f"capture: {packets:,} packets written in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        analysis = Analysis(closed_flow_retention=args.retention, closed_flow_limit=args.limit)
        try:
            run_capture(CaptureSet([str(path)]), analysis)
            took = time.perf_counter() - started
            snapshot = analysis.snapshot()
            snap_times = []
            for _ in range(args.runs):
                started = time.perf_counter()
                analysis.snapshot()
                snap_times.append(time.perf_counter() - started)
        finally:
            analysis.close()
        assert snapshot.flows is not None
        flows = len(snapshot.flows.closed) + snapshot.flows.closed_dropped + len(snapshot.flows.active)
        kept = len(snapshot.flows.closed)
        print(f"analysis ({args.retention}): {flows:,} flows ({kept:,} closed ones kept) in {took:.1f} s")
        print(f"  {_log_size(snapshot)}; snapshot best {min(snap_times) * 1000:.0f} ms")
    settings = settings_for()
    started = time.perf_counter()
    table = contact_table(snapshot.contacts, [(snapshot.flows.active, snapshot.flows.active_labels)])
    print(f"  contact table: {len(table):,} rows in {(time.perf_counter() - started) * 1000:.0f} ms")
    timings = []
    for _ in range(args.runs):
        started = time.perf_counter()
        found = evaluate(snapshot, settings)
        timings.append(time.perf_counter() - started)
    best, median, first = (x * 1000 for x in (min(timings), statistics.median(timings), timings[0]))
    print(
        f"evaluate: {len(found)} findings; best {best:.0f} ms, median {median:.0f} ms, first {first:.0f} ms"
    )
    for name in RULES:
        per_rule = []
        for _ in range(args.runs):
            started = time.perf_counter()
            evaluate(snapshot, settings, rules={name: RULES[name]})
            per_rule.append(time.perf_counter() - started)
        print(f"  {name:14} best {min(per_rule) * 1000:7.1f} ms (context included)")
    for f in found[:8]:
        print(f"  {f.severity!s:8} {f.explanation[:120]}")


if __name__ == "__main__":
    main()
