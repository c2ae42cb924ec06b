"""What the history store costs: ingest of the full analysis with the store on and off in one run, and the
time to reopen the stored analysis. Not a test: numbers for bench/README.md.

Every measurement runs in a fresh process (`--one`), and the modes are interleaved round by round (off,
store, store-inline, off, ...), so a busy machine slows them alike; medians are printed.

- off: `run_capture` then one snapshot (what `homescope report` and the TUI end with);
- store: the same through a `Recorder` (flushes every 5 s, written by its background thread), closed with
  its final flush before that snapshot;
- store-inline: flushes written on the ingest thread itself (`Recorder(background=False)`).

Then, in a fresh process each: open the store read-only and `load()` the whole analysis (target: under
1 s for the 2 M-packet corpus), and that plus `build_report`.

    python bench/store_bench.py                                  # N=27 (and N=4) from the cache folder
    python bench/store_bench.py --corpus /tmp/corpus/corpus-n27.pcap --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DIRS = (Path("~/.cache/homescope-bench").expanduser(), Path("/tmp/corpus"))
MODES = ("off", "store", "store-inline")
TARGET_OVERHEAD = 0.20
TARGET_REOPEN = 1.0


def _cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def measure_ingest(mode: str, corpus: str, db: str) -> dict[str, object]:
    from engine.analysis import Analysis, inspector_mode, run_capture
    from engine.capture.source import CaptureSet
    from engine.store import HistoryStore, Recorder

    for leftover in (db, db + ".wal"):
        if os.path.exists(leftover):
            os.remove(leftover)
    cpu, started = _cpu(), time.perf_counter()
    capture = CaptureSet([corpus])
    analysis = Analysis(inspector=inspector_mode(capture.paths))
    out: dict[str, object] = {"mode": mode}
    try:
        if mode == "off":
            run_capture(capture, analysis)
        else:
            store = HistoryStore(db, sensor="bench")
            recorder = Recorder(store, analysis, background=mode == "store")
            recorder.record(capture)
            recorder.close()
            store.close()
            out.update(
                flushes=recorder.stats.flushes,
                capture_seconds=recorder.stats.capture_seconds,
                capture_cpu=recorder.stats.capture_cpu,
                write_seconds=recorder.stats.write_seconds,
                write_cpu=recorder.stats.write_cpu,
                dns_lost=recorder.stats.dns_lost,
            )
        snapshot = analysis.snapshot()
    finally:
        analysis.close()
    out.update(
        wall=time.perf_counter() - started,
        cpu=_cpu() - cpu,
        packets=snapshot.totals.packets,
        flows=len(snapshot.flows.closed) if snapshot.flows is not None else 0,
    )
    if mode != "off":
        out["db_bytes"] = os.path.getsize(db)
    return out


def measure_reopen(db: str, report: bool) -> dict[str, object]:
    started = time.perf_counter()
    from engine.store import HistoryStore

    imported = time.perf_counter()
    with HistoryStore(db, read_only=True) as store:
        opened = time.perf_counter()
        stored = store.load()
    loaded = time.perf_counter()
    out: dict[str, object] = {
        "import": imported - started,
        "open": opened - imported,
        "load": loaded - opened,
        "open_and_load": loaded - imported,
        "packets": stored.snapshot.totals.packets,
        "flows": len(stored.snapshot.flows.closed) if stored.snapshot.flows is not None else 0,
        "dns_entries": len(stored.snapshot.metadata.dns.entries) if stored.snapshot.metadata else 0,
    }
    if report:
        from engine.report import build_report

        build_report(stored.snapshot, stored.sources)
        out["report"] = time.perf_counter() - loaded
    return out


def _child(*args: str) -> dict[str, object]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
    }
    done = subprocess.run(
        [sys.executable, __file__, "--one", *args], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode:
        raise SystemExit(f"store_bench: {' '.join(args)} failed:\n{done.stderr}")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _median(rows: list[dict[str, object]], key: str) -> float:
    return statistics.median(float(r[key]) for r in rows if key in r)  # type: ignore[arg-type]


def run_corpus(corpus: Path, rounds: int, workdir: Path) -> str:
    db = str(workdir / "bench.duckdb")
    results: dict[str, list[dict[str, object]]] = {m: [] for m in MODES}
    for r in range(rounds):
        for mode in MODES:
            results[mode].append(_child("ingest", mode, str(corpus), db))
            print(f"  round {r + 1}/{rounds} {mode}: {results[mode][-1]['wall']:.2f} s", file=sys.stderr)
    # the store of the last background run, reopened
    _child("ingest", "store", str(corpus), db)
    reopen = [_child("reopen", db) for _ in range(rounds)]
    reports = [_child("reopen", db, "report") for _ in range(rounds)]
    packets = int(results["off"][0]["packets"])  # type: ignore[call-overload]
    off_wall, off_cpu = _median(results["off"], "wall"), _median(results["off"], "cpu")
    lines = [f"{corpus.name}: {packets:,} packets, {rounds} rounds (medians)"]
    lines.append(f"  {'mode':<13} {'wall s':>7} {'pkt/s':>11} {'cpu s':>7} {'wall +%':>8} {'cpu +%':>7} "
                 f"{'flushes':>7} {'on ingest thread s (cpu)':>24} {'writer s (cpu)':>15}")  # fmt: skip
    for mode in MODES:
        rows = results[mode]
        wall, cpu = _median(rows, "wall"), _median(rows, "cpu")
        extra = ""
        if mode != "off":
            ingest = f"{_median(rows, 'capture_seconds'):.2f} ({_median(rows, 'capture_cpu'):.2f})"
            writer = f"{_median(rows, 'write_seconds'):.2f} ({_median(rows, 'write_cpu'):.2f})"
            extra = f" {_median(rows, 'flushes'):>7.0f} {ingest:>24} {writer:>15}"
        more_wall, more_cpu = 100 * (wall / off_wall - 1), 100 * (cpu / off_cpu - 1)
        lines.append(
            f"  {mode:<13} {wall:>7.2f} {packets / wall:>11,.0f} {cpu:>7.2f} {more_wall:>+7.1f}% "
            f"{more_cpu:>+6.1f}%{extra}"
        )
    overhead = _median(results["store"], "wall") / off_wall - 1
    mark = "ok" if overhead <= TARGET_OVERHEAD else "MISSED"
    lines.append(
        f"  store overhead (wall): {100 * overhead:+.1f}% (target <= {100 * TARGET_OVERHEAD:.0f}%): {mark}"
    )
    size = _median(results["store"], "db_bytes")
    lines.append(f"  store file: {size / 1e6:.1f} MB ({size / packets:.1f} bytes per packet)")
    load = _median(reopen, "open_and_load")
    mark = "ok" if load <= TARGET_REOPEN else "MISSED"
    first = reopen[0]
    opened, loaded = _median(reopen, "open"), _median(reopen, "load")
    lines.append(
        f"  reopen: open {opened:.3f} s + load {loaded:.3f} s = {load:.3f} s "
        f"(target <= {TARGET_REOPEN:.0f} s): {mark}; {first['flows']:,} flows, "
        f"{first['dns_entries']:,} DNS log entries"
    )
    lines.append(
        f"  then build_report {_median(reports, 'report'):.3f} s; "
        f"importing engine.store {_median(reopen, 'import'):.3f} s"
    )
    return "\n".join(lines)


def _find(name: str) -> Path | None:
    for folder in DEFAULT_DIRS:
        if (folder / name).is_file():
            return folder / name
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", action="append", type=Path, help="a corpus (repeatable)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--one", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        kind, *rest = args.one
        result = measure_ingest(*rest) if kind == "ingest" else measure_reopen(rest[0], len(rest) > 1)
        print(json.dumps(result))
        return 0
    corpora = args.corpus or [p for p in (_find("corpus-n4.pcap"), _find("corpus-n27.pcap")) if p is not None]
    if not corpora:
        parser.error(
            "no corpus: give --corpus, or build corpus-n27.pcap with shared/bench/build_corpus.sh into "
            "~/.cache/homescope-bench"
        )
    with tempfile.TemporaryDirectory(prefix="homescope-store-bench-") as work:
        for corpus in corpora:
            print(run_corpus(corpus.resolve(), args.rounds, Path(work)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
