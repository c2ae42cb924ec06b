"""How responsive the TUI stays while it replays a capture as fast as it can.

For each engine placement (a thread in the TUI's process, or a separate process) the TUI runs headless
(Textual's Pilot) at a fixed size, replaying CORPUS at maximum speed, while this script

- presses a key every --key-interval seconds (cursor moves, Tab, sort) and times each from the moment
  the key is sent until its action has run ("handled") and until the next screen update ("painted");
- counts screen updates (compositor frames) and dashboard models shown, per second of wall time;
- times the ingest from the start of the session to its end, and compares it with a headless run of the
  same engine in this process and with the `homescope report` command, run just before.

Targets (issue 5): key presses handled within 100 ms at the 95th percentile, the screen refreshed at
least twice a second, ingest inside the TUI at least 70 % of headless `homescope report` speed.

Usage:
    PYTHONPATH=. python bench/tui_responsiveness.py [CORPUS] [--engine thread process] [--runs N]
CORPUS defaults to /tmp/corpus/corpus-n4.pcap; when it does not exist it is built with the shared
bench/build_corpus.sh (N=4 hour-copies), found through --build-script.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from textual import events  # noqa: E402

from engine.analysis import Analysis, run_capture  # noqa: E402
from engine.capture.source import CaptureSet  # noqa: E402
from tui.app import HomescopeApp  # noqa: E402
from tui.model.feed import EngineConfig, EngineFeed, ThreadFeed  # noqa: E402
from tui.model.process_feed import ProcessFeed  # noqa: E402

DEFAULT_CORPUS = "/tmp/corpus/corpus-n4.pcap"
DEFAULT_BUILD_SCRIPT = REPO.parent / "shared" / "bench" / "build_corpus.sh"
# each runs an action from the device table, which has focus at the start and after each shift+tab
KEYS = ("down", "s", "up", "S", "tab", "shift+tab", "down", "down", "up")
CHARS = {"s": "s", "S": "S"}
QUIET = 0.5  # a round counts as quiet when other processes kept less than this many CPUs busy
VERBOSE = False


@dataclass
class TuiRun:
    engine: str
    packets: int = 0
    ingest_seconds: float = 0.0
    handled: list[float] = field(default_factory=list)  # seconds from key sent to action run
    painted: list[float] = field(default_factory=list)  # ... to the next screen update
    frames_per_second: list[int] = field(default_factory=list)  # per whole second of the ingest
    models_per_second: list[int] = field(default_factory=list)
    keys_sent: int = 0
    others: float = 0.0  # CPUs kept busy by other processes meanwhile
    startup_seconds: float = 0.0  # from starting the feed to its first answer


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


TICK = os.sysconf("SC_CLK_TCK")


def system_busy() -> float:
    """CPU seconds the whole machine has spent busy (all CPUs, all processes)."""
    with open("/proc/stat") as fh:
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fh.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / TICK


def process_cpu(pid: int | None) -> float:
    """CPU seconds used by a process (this one when pid is None), 0 when it is gone."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


class LoadWatch:
    """How many CPUs other processes kept busy between `start()` and `stop()` (this machine is shared)."""

    def __init__(self) -> None:
        self.others = 0.0
        self._start = (0.0, 0.0, 0.0)

    def start(self) -> None:
        self._start = (time.perf_counter(), system_busy(), process_cpu(None))

    def stop(self, child: int | None = None) -> float:
        wall = time.perf_counter() - self._start[0]
        busy = system_busy() - self._start[1]
        own = process_cpu(None) - self._start[2] + (process_cpu(child) if child is not None else 0.0)
        self.others = max(0.0, (busy - own) / wall) if wall > 0 else 0.0
        return self.others


def per_second(counts: list[int]) -> str:
    """Mean and worst whole second."""
    return f"{statistics.mean(counts):.1f} (≥{min(counts)})" if counts else "-"


def headless(path: str) -> tuple[int, float, float]:
    """The engine alone, as `homescope report` drives it: packets, seconds, and CPUs used by others."""
    capture = CaptureSet([path])
    analysis = Analysis()
    load = LoadWatch()
    load.start()
    start = time.perf_counter()
    run_capture(capture, analysis)
    seconds = time.perf_counter() - start
    return sum(s.packets for s in capture.statuses), seconds, load.stop()


def report_command(path: str) -> float:
    """Wall seconds of `homescope report CORPUS` (start-up included)."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "tui", "report", path, "--json", "-o", os.devnull],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


class FinishWatch(threading.Thread):
    """Polls the feed's progress off the UI thread and notes when the session started and ended.

    The session has started when the feed first answers: an engine process must start its interpreter
    and import the engine first (about half a second, counted apart as start-up)."""

    def __init__(self, feed: EngineFeed) -> None:
        super().__init__(daemon=True)
        self.feed = feed
        self.launched = time.perf_counter()
        self.started = self.launched
        self.finished: float | None = None
        self.packets = 0

    def run(self) -> None:
        first = True
        while self.finished is None:
            progress = self.feed.progress()
            if first:
                self.started, first = time.perf_counter(), False
            if progress.finished:
                self.finished = time.perf_counter()
                self.packets = progress.packets
                return
            time.sleep(0.05)  # each poll of an engine process interrupts its ingest for a moment


async def tui_run(path: str, engine: str, size: tuple[int, int], hz: float, key_interval: float) -> TuiRun:
    config = EngineConfig((path,), timezone="UTC")
    feed: EngineFeed = ThreadFeed(config) if engine == "thread" else ProcessFeed(config)
    app = HomescopeApp(feed, tz=dt.UTC, refresh_hz=hz)
    result = TuiRun(engine)
    frames: list[float] = []
    models: list[float] = []
    pending: dict[str, float] = {}  # "sent" and then "handled", for the key in flight
    watch = FinishWatch(feed)

    original_start = feed.start

    load = LoadWatch()

    def start() -> None:
        watch.launched = time.perf_counter()
        load.start()
        original_start()
        watch.start()

    feed.start = start  # type: ignore[method-assign]

    original_display = app._display

    def display(screen: object, renderable: object) -> None:
        now = time.perf_counter()
        if renderable is not None:
            frames.append(now)
            if "handled" in pending:
                result.painted.append(now - pending.pop("sent"))
                pending.clear()
        original_display(screen, renderable)  # type: ignore[arg-type]

    app._display = display  # type: ignore[method-assign]

    original_run_action = app.run_action

    async def run_action(action: str, default_namespace: object = None) -> bool:
        handled = await original_run_action(action, default_namespace)  # type: ignore[arg-type]
        if "sent" in pending and "handled" not in pending:
            pending["handled"] = time.perf_counter()
            result.handled.append(pending["handled"] - pending["sent"])
            if VERBOSE:
                print(
                    f"  t={pending['sent'] - watch.started:6.2f}s {action:<16} "
                    f"{(pending['handled'] - pending['sent']) * 1000:7.1f} ms",
                    file=sys.stderr,
                )
        return handled

    app.run_action = run_action  # type: ignore[method-assign]

    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.3)
        next_key = time.perf_counter()
        index = 0
        shown = app.models_shown
        while watch.finished is None:
            if app.models_shown != shown:  # noted within 5 ms of it
                shown = app.models_shown
                models.append(time.perf_counter())
            if not app.is_running:
                raise SystemExit(f"the TUI stopped before the replay ended (return code {app.return_code})")
            now = time.perf_counter()
            if now >= next_key and not pending:
                key = KEYS[index % len(KEYS)]
                index += 1
                pending["sent"] = time.perf_counter()
                assert app._driver is not None
                app._driver.send_message(events.Key(key, CHARS.get(key)))
                result.keys_sent += 1
                next_key = now + key_interval
            elif "handled" not in pending and pending and now - pending["sent"] > 5:
                raise SystemExit(f"key {KEYS[(index - 1) % len(KEYS)]!r} ran no action within 5 s")
            await asyncio.sleep(0.005)
        end = watch.finished
        child = feed._process.pid if isinstance(feed, ProcessFeed) else None
        result.others = load.stop(child)
        await pilot.press("q")
    result.packets = watch.packets
    result.ingest_seconds = end - watch.started
    result.startup_seconds = watch.started - watch.launched
    for second in range(int(result.ingest_seconds)):
        lo, hi = watch.started + second, watch.started + second + 1
        result.frames_per_second.append(sum(1 for t in frames if lo <= t < hi))
        result.models_per_second.append(sum(1 for t in models if lo <= t < hi))
    return result


def ensure_corpus(path: str, build_script: Path) -> None:
    if Path(path).exists():
        return
    if not build_script.exists():
        raise SystemExit(f"{path} does not exist and {build_script} is not there to build it")
    print(f"building {path} with {build_script} (4 hour-copies)...", file=sys.stderr)
    subprocess.run([str(build_script), path, "4"], check=True)


COLUMNS = (
    "engine",
    "others",
    "start s",
    "ingest s",
    "pkt/s",
    "vs engine",
    "vs report",
    "keys",
    "key p50",
    "key p95",
    "key max",
)
COLUMNS += ("paint p95", "frames/s", "models/s")
WIDTHS = (8, 6, 7, 8, 9, 9, 9, 5, 8, 8, 8, 9, 11, 11)


def table_line(cells: tuple[str, ...]) -> str:
    return " ".join(
        c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, WIDTHS, strict=True))
    )


def run_cells(name: str, runs: list[TuiRun], vs_engine: float, vs_report: float) -> tuple[str, ...]:
    """One line for one or several runs: ingest medians, latencies and refreshes pooled over them."""
    seconds = statistics.median(r.ingest_seconds for r in runs)
    rate = statistics.median(r.packets / r.ingest_seconds for r in runs)
    handled = [x for r in runs for x in r.handled]
    painted = [x for r in runs for x in r.painted]
    frames = [x for r in runs for x in r.frames_per_second]
    models = [x for r in runs for x in r.models_per_second]
    return (
        name,
        f"{statistics.median(r.others for r in runs):.1f}",
        f"{statistics.median(r.startup_seconds for r in runs):.2f}",
        f"{seconds:.2f}",
        f"{rate:,.0f}",
        f"{vs_engine:.0%}",
        f"{vs_report:.0%}",
        str(len(handled)),
        f"{percentile(handled, 50) * 1000:.1f}ms",
        f"{percentile(handled, 95) * 1000:.1f}ms",
        f"{max(handled, default=float('nan')) * 1000:.1f}ms",
        f"{percentile(painted, 95) * 1000:.1f}ms",
        per_second(frames),
        per_second(models),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", default=DEFAULT_CORPUS)
    parser.add_argument("--engine", nargs="+", choices=("thread", "process"), default=["thread", "process"])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of (headless, report, each engine)")
    parser.add_argument("--size", default="120x40", help="terminal size, WIDTHxHEIGHT")
    parser.add_argument("--hz", type=float, default=4.0, help="dashboard refreshes per second asked for")
    parser.add_argument("--key-interval", type=float, default=0.2, help="seconds between key presses")
    parser.add_argument("--build-script", type=Path, default=DEFAULT_BUILD_SCRIPT)
    parser.add_argument("-v", "--verbose", action="store_true", help="print every key's latency")
    args = parser.parse_args()
    global VERBOSE  # noqa: PLW0603 (a switch for the instrumentation above)
    VERBOSE = args.verbose
    ensure_corpus(args.corpus, args.build_script)
    width, height = (int(x) for x in args.size.split("x"))
    size = Path(args.corpus).stat().st_size / 1e6
    print(
        f"corpus {args.corpus} ({size:.0f} MB); TUI at {width}x{height}, {args.hz:g} Hz, a key every "
        f"{args.key_interval:g} s; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start"
    )
    print(
        "Each round runs the headless engine, `homescope report`, then the TUI with each engine; ratios "
        "compare runs of the same round (this machine is shared and its speed varies).\n"
    )
    print(table_line(COLUMNS))
    print("-" * (sum(WIDTHS) + len(WIDTHS) - 1))
    # per engine, per round: (ratio to the headless engine, ratio to the command, the run, quiet round)
    results: dict[str, list[tuple[float, float, TuiRun, bool]]] = {engine: [] for engine in args.engine}
    for round_number in range(1, args.rounds + 1):
        packets, seconds, others = headless(args.corpus)
        report_seconds = report_command(args.corpus)
        headless_rate, report_rate = packets / seconds, packets / report_seconds
        print(
            f"round {round_number}: headless engine {seconds:.2f} s ({headless_rate:,.0f} pkt/s, others "
            f"{others:.1f}), `homescope report` {report_seconds:.2f} s ({report_rate:,.0f} pkt/s)"
        )
        for engine in args.engine:
            run = asyncio.run(tui_run(args.corpus, engine, (width, height), args.hz, args.key_interval))
            rate = run.packets / run.ingest_seconds
            quiet = max(others, run.others) < QUIET
            results[engine].append((rate / headless_rate, rate / report_rate, run, quiet))
            print(table_line(run_cells(engine, [run], rate / headless_rate, rate / report_rate)))
    summaries = [("all rounds", lambda quiet: True)]
    summaries.append((f"rounds where other processes kept less than {QUIET:g} CPU busy", lambda quiet: quiet))
    for title, keep in summaries:
        print(f"\nmedians, pooled latencies and refreshes, {title}:")
        print(table_line(COLUMNS))
        for engine in args.engine:
            chosen = [r for r in results[engine] if keep(r[3])]
            if not chosen:
                print(f"{engine:8} (none)")
                continue
            vs_engine = statistics.median(r[0] for r in chosen)
            vs_report = statistics.median(r[1] for r in chosen)
            print(table_line(run_cells(engine, [r[2] for r in chosen], vs_engine, vs_report)))
    print(
        "\nothers: CPUs kept busy by other processes during the run (this machine is shared); key: from "
        "sending a key until its action ran; paint: until the next screen update; frames/s and models/s: "
        f"mean (worst whole second) while ingesting. Load average at the end: {os.getloadavg()[0]:.1f}."
    )


if __name__ == "__main__":
    main()
