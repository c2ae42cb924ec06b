#!/usr/bin/env python3
"""Live performance: the highest replay rate `homescope live` and `homescope follow` keep up with, and
whether memory stays flat over a long live run. Not a test: it needs root and takes minutes.

Set-up: two network namespaces joined by a veth pair (addresses only inside them). tcpreplay sends the
benchmark corpus from the peer end at increasing rates (`--pps` or `--mbps` steps); on the capture end

- live: `homescope live -i <veth>` (dumpcap, or --tool tcpdump, writing to homescope's pipe);
- follow: the capture service's own command (pi-setup/bin/homescope-capture: a dumpcap ring) writes
  rotating files and `homescope follow` reads them as they grow.

Each step compares tcpreplay's count of packets sent, the capture tool's received/dropped counts, the
interface's rx_dropped and what homescope counted; a step is kept up with when nothing was dropped,
homescope counted everything the tool received, and (follow) it caught up within --max-lag seconds of
the end of the replay. The soak replays the corpus in a loop at --soak-pps into `homescope live` for
--soak-seconds (default 10 min) and samples the RSS of homescope and its inspector process.

    sudo python bench/live_rates.py            # pps steps for live and follow, then a 10 min soak
    sudo python bench/live_rates.py --soak-seconds 120 --pps 10000,20000,40000
    sudo python bench/live_rates.py --mbps 10,50,100 --modes live --no-soak
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PI_SETUP = REPO / "pi-setup"
DEFAULT_CORPUS = Path("/tmp/corpus/corpus-n4.pcap")
DEFAULT_PPS = (5_000, 10_000, 20_000, 40_000, 80_000, 160_000)


# ---- namespaces ------------------------------------------------------------------------------------


@dataclass
class Net:
    capture_ns: str
    peer_ns: str
    capture_if: str
    peer_if: str


def sh(*argv: str, timeout: float = 30) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=timeout).stdout


@contextlib.contextmanager
def veth_namespaces() -> Iterator[Net]:
    tag = secrets.token_hex(3)
    net = Net(f"hs-bench-{tag}", f"hs-bpeer-{tag}", f"hsb{tag}", f"hsr{tag}")
    made: list[str] = []
    try:
        for ns in (net.capture_ns, net.peer_ns):
            sh("ip", "netns", "add", ns)
            made.append(ns)
        sh("ip", "link", "add", net.capture_if, "netns", net.capture_ns, "type", "veth",
           "peer", "name", net.peer_if, "netns", net.peer_ns)  # fmt: skip
        subnet = f"10.215.{secrets.randbelow(256)}"
        for ns, iface, ip in ((net.capture_ns, net.capture_if, 1), (net.peer_ns, net.peer_if, 2)):
            sh("ip", "-n", ns, "addr", "add", f"{subnet}.{ip}/30", "dev", iface)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "link", "set", iface, "up")
        yield net
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30, check=False)


# ---- processes -------------------------------------------------------------------------------------


class JsonProcess:
    """A homescope subcommand printing JSON lines; a thread collects its events."""

    def __init__(self, argv: list[str]) -> None:
        env = dict(os.environ, PYTHONPATH=str(REPO), HOME="/nonexistent", XDG_CONFIG_HOME="/nonexistent")
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=str(REPO),
            start_new_session=True,
        )
        self.events: list[dict[str, Any]] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with contextlib.suppress(json.JSONDecodeError):
                self.events.append(json.loads(line))

    def last(self, kind: str) -> dict[str, Any] | None:
        return next((e for e in reversed(self.events) if e.get("event") == kind), None)

    def wait_event(self, kind: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.last(kind)
            if found is not None:
                return found
            if self.proc.poll() is not None and self.last(kind) is None:
                self._thread.join(2)
                found = self.last(kind)
                if found is not None:
                    return found
                stderr = self.proc.stderr.read() if self.proc.stderr else ""
                raise RuntimeError(f"homescope ended without a {kind} event: {stderr.strip()}")
            time.sleep(0.05)
        raise RuntimeError(f"no {kind} event within {timeout} s")

    def packets(self) -> int:
        progress = self.last("progress")
        return int(progress["packets"]) if progress else 0

    def homescope_pids(self) -> list[int]:
        """The homescope process (behind `ip netns exec`, which execs it) and its children."""
        main = self.proc.pid
        return [main, *children(main)]

    def stop(self, timeout: float = 60) -> dict[str, Any]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGINT)
        final = self.wait_event("final", timeout)
        self.proc.wait(timeout)
        return final

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


def children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                out += [int(p) for p in fh.read().split()]
    return out


def rss_mib(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass
class Replay:
    sent: int = 0
    failed: int = 0
    seconds: float = 0.0
    pps: float = 0.0
    mbps: float = 0.0


def tcpreplay(net: Net, corpus: Path, kind: str, rate: float, limit: int | None, loop: int = 1) -> Replay:
    argv = ["ip", "netns", "exec", net.peer_ns, "tcpreplay", "-q", "-i", net.peer_if, f"--{kind}={rate:g}"]
    if limit:
        argv += ["-L", str(limit)]
    if loop != 1:
        argv += [f"--loop={loop}"]
    out = subprocess.run([*argv, str(corpus)], capture_output=True, text=True, timeout=3600, check=False)
    return parse_tcpreplay(out.stdout + out.stderr)


def parse_tcpreplay(text: str) -> Replay:
    r = Replay()
    if m := re.search(r"Actual: (\d+) packets \(\d+ bytes\) sent in ([\d.]+) seconds", text):
        r.seconds = float(m.group(2))
    if m := re.search(r"Rated: [\d.]+ Bps, ([\d.]+) Mbps, ([\d.]+) pps", text):
        r.mbps, r.pps = float(m.group(1)), float(m.group(2))
    if m := re.search(r"Successful packets:\s+(\d+)", text):
        r.sent = int(m.group(1))
    if m := re.search(r"Failed packets:\s+(\d+)", text):
        r.failed = int(m.group(1))
    if not r.sent:
        raise RuntimeError(f"tcpreplay sent nothing:\n{text}")
    return r


def wait_stable(read: Any, target: int | None, timeout: float, settle: float = 2.0) -> tuple[int, float]:
    """Wait until `read()` reaches `target` or stops growing for `settle` s; (value, seconds taken)."""
    begun = time.monotonic()
    last, since = -1, begun
    while time.monotonic() - begun < timeout:
        value = read()
        if target is not None and value >= target:
            return value, time.monotonic() - begun
        if value != last:
            last, since = value, time.monotonic()
        elif time.monotonic() - since > settle:
            return value, since - begun
        time.sleep(0.1)
    return read(), time.monotonic() - begun


# ---- one step ----------------------------------------------------------------------------------------


@dataclass
class Step:
    mode: str
    kind: str
    target: float
    sent: int = 0
    achieved_pps: float = 0.0
    achieved_mbps: float = 0.0
    tool_received: int | None = None
    tool_dropped: int | None = None
    rx_dropped: int | None = None
    counted: int = 0
    lag_s: float = 0.0
    rss_mib: float | None = None
    kept_up: bool = False
    note: str = ""


def live_step(net: Net, args: argparse.Namespace, kind: str, rate: float) -> Step:
    step = Step("live", kind, rate)
    argv = ["ip", "netns", "exec", net.capture_ns, sys.executable, "-m", "tui.cli", "live",
            "-i", net.capture_if, "--tool", args.tool, "--json", "--report-every", "0.5"]  # fmt: skip
    if args.buffer:
        argv += ["--buffer", str(args.buffer)]
    if args.live_snaplen:
        argv += ["--snaplen", str(args.live_snaplen)]
    live = JsonProcess(argv)
    try:
        live.wait_event("start", 30)
        time.sleep(1.5)  # the tool opens the interface
        replay = tcpreplay(net, args.corpus, kind, rate, limit_for(args, kind, rate))
        _, step.lag_s = wait_stable(live.packets, replay.sent, timeout=60)
        step.rss_mib = sum(filter(None, (rss_mib(p) for p in live.homescope_pids())))
        final = live.stop()
    finally:
        live.kill()
    drops = final["drops"]
    step.sent, step.achieved_pps, step.achieved_mbps = replay.sent, replay.pps, replay.mbps
    step.tool_received, step.tool_dropped = drops.get("received"), drops.get("dropped")
    step.rx_dropped, step.counted = drops.get("interface_rx_dropped"), int(final["packets"])
    # rx_dropped is shown, not judged: the stack counts every frame it has no handler for (LLDP and
    # other EtherTypes of the corpus) as dropped, though the capture saw it
    step.kept_up = step.tool_dropped == 0 and step.counted == step.tool_received and step.counted >= step.sent
    if replay.failed:
        step.note = f"tcpreplay failed to send {replay.failed}"
    return step


def follow_step(net: Net, args: argparse.Namespace, kind: str, rate: float) -> Step:
    step = Step("follow", kind, rate)
    base = Path(tempfile.mkdtemp(prefix="homescope-bench-"))
    dumps = base / "dumps"
    dumps.mkdir()
    env_file = base / "capture.env"
    env_file.write_text(
        "".join(
            f'{k}="{v}"\n'
            for k, v in {
                "HS_CAPTURE_IFACE": net.capture_if,
                "HS_SNAPLEN": str(args.follow_snaplen),
                "HS_DUMP_DIR": str(dumps),
                "HS_ROTATE_S": "86400",
                "HS_FILES": str(args.ring_files),
                "HS_FILESIZE_KB": str(args.ring_file_kb),
                "HS_FILTER": "",
            }.items()
        )
    )
    capture = subprocess.Popen(
        ["ip", "netns", "exec", net.capture_ns, str(PI_SETUP / "bin/homescope-capture"), str(env_file)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    follower: JsonProcess | None = None
    try:
        deadline = time.monotonic() + 20
        while not any(dumps.iterdir()):
            if capture.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the capture did not start: {capture.stderr.read() if capture.stderr else ''}"
                )
            time.sleep(0.05)
        follower = JsonProcess([sys.executable, "-m", "tui.cli", "follow", str(dumps), "--json",
                                "--report-every", "0.5"])  # fmt: skip
        follower.wait_event("start", 30)
        time.sleep(1.0)
        replay = tcpreplay(net, args.corpus, kind, rate, limit_for(args, kind, rate))
        ended = time.monotonic()
        time.sleep(0.5)  # dumpcap writes every 100 ms
        os.kill(capture.pid, signal.SIGTERM)  # ip netns exec and the script exec dumpcap: its own PID
        _, stderr = capture.communicate(timeout=30)
        if m := re.search(r"Packets received/dropped on interface '[^']*': (\d+)/(\d+)", stderr):
            step.tool_received, step.tool_dropped = int(m.group(1)), int(m.group(2))
        target = step.tool_received if step.tool_received is not None else replay.sent
        _, _ = wait_stable(follower.packets, target, timeout=120, settle=5.0)
        step.lag_s = max(0.0, time.monotonic() - ended - 0.5)
        step.rss_mib = sum(filter(None, (rss_mib(p) for p in follower.homescope_pids())))
        final = follower.stop()
        step.counted = int(final["packets"])
        missing = [s for s in final["report"]["sources"] if s["problems"]]
        if missing:
            step.note = "; ".join(p["message"] for s in missing for p in s["problems"])[:120]
    finally:
        if capture.poll() is None:
            os.killpg(capture.pid, signal.SIGKILL)
            capture.wait(10)
        if follower is not None:
            follower.kill()
        shutil.rmtree(base, ignore_errors=True)
    step.sent, step.achieved_pps, step.achieved_mbps = replay.sent, replay.pps, replay.mbps
    step.kept_up = (
        step.tool_dropped == 0
        and step.counted == step.tool_received
        and step.counted >= step.sent
        and step.lag_s <= args.max_lag
    )
    return step


def limit_for(args: argparse.Namespace, kind: str, rate: float) -> int:
    """Packets per step: about --step-seconds of replay at this rate, at most the whole corpus."""
    pps = rate if kind == "pps" else rate * 1e6 / 8 / args.mean_packet_bytes
    return max(1000, int(pps * args.step_seconds))


# ---- soak ----------------------------------------------------------------------------------------------


@dataclass
class Soak:
    seconds: float
    pps: float
    samples: list[dict[str, float]] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)


def soak(net: Net, args: argparse.Namespace) -> Soak:
    result = Soak(args.soak_seconds, args.soak_pps)
    argv = ["ip", "netns", "exec", net.capture_ns, sys.executable, "-m", "tui.cli", "live",
            "-i", net.capture_if, "--tool", args.tool, "--json", "--report-every", "1"]  # fmt: skip
    live = JsonProcess(argv)
    replay: subprocess.Popen[str] | None = None
    try:
        live.wait_event("start", 30)
        time.sleep(1.5)
        replay = subprocess.Popen(
            ["ip", "netns", "exec", net.peer_ns, "tcpreplay", "-q", "-i", net.peer_if,
             f"--pps={args.soak_pps:g}", "--loop=0", str(args.corpus)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        begun = time.monotonic()
        while (elapsed := time.monotonic() - begun) < args.soak_seconds:
            pids = live.homescope_pids()
            sizes = [rss_mib(p) or 0.0 for p in pids]
            result.samples.append(
                {
                    "t": round(elapsed, 1),
                    "packets": live.packets(),
                    "rss_main_mib": round(sizes[0], 1),
                    "rss_children_mib": round(sum(sizes[1:]), 1),
                }
            )
            print(f"  soak {elapsed:6.0f} s  {live.packets():>11,} packets  RSS {sizes[0]:6.1f} MiB "
                  f"+ inspector {sum(sizes[1:]):6.1f} MiB", flush=True)  # fmt: skip
            time.sleep(min(args.sample_every, max(0.0, args.soak_seconds - elapsed)))
        os.killpg(replay.pid, signal.SIGINT)
        replay.wait(30)
        time.sleep(1)
        result.final = live.stop()
        result.final.pop("report", None)
    finally:
        if replay is not None and replay.poll() is None:
            os.killpg(replay.pid, signal.SIGKILL)
            replay.wait(10)
        live.kill()
    return result


# ---- output ---------------------------------------------------------------------------------------------


def print_steps(steps: list[Step]) -> None:
    head = ("mode", "target", "sent", "achieved pps", "Mbit/s", "tool recv", "tool drop", "rx_drop",
            "homescope", "lag s", "RSS MiB", "kept up")  # fmt: skip
    rows = [head]
    for s in steps:
        target = f"{s.target:g} {s.kind}"
        rows.append((
            s.mode, target, f"{s.sent:,}", f"{s.achieved_pps:,.0f}", f"{s.achieved_mbps:.1f}",
            _n(s.tool_received), _n(s.tool_dropped), _n(s.rx_dropped), f"{s.counted:,}",
            f"{s.lag_s:.1f}", f"{s.rss_mib:.0f}" if s.rss_mib else "-", "yes" if s.kept_up else "NO",
        ))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for r in rows:
        print(
            "  ".join(
                c.rjust(w) if i > 1 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
    for s in steps:
        if s.note:
            print(f"  note ({s.mode} {s.target:g} {s.kind}): {s.note}")
    for mode in sorted({s.mode for s in steps}):
        ok = [s for s in steps if s.mode == mode and s.kept_up]
        best = max(ok, key=lambda s: s.achieved_pps, default=None)
        if best is None:
            print(f"{mode}: kept up with none of the rates tried")
        else:
            print(f"{mode}: highest rate kept up with: {best.achieved_pps:,.0f} pkt/s "
                  f"({best.achieved_mbps:.1f} Mbit/s), target {best.target:g} {best.kind}")  # fmt: skip


def print_soak(result: Soak) -> None:
    s = result.samples
    if not s:
        return
    quarter = max(1, len(s) // 4)
    early = s[quarter : 2 * quarter] or s[:1]
    late = s[-quarter:]

    def mean(rows: list[dict[str, float]], key: str) -> float:
        return sum(r[key] for r in rows) / len(rows)

    print(f"\nSoak: {result.seconds:.0f} s at {result.pps:g} pkt/s, {s[-1]['packets']:,} packets")
    print("    t s      packets  RSS MiB  inspector MiB")
    step = max(1, len(s) // 12)
    for r in s[::step] + ([s[-1]] if (len(s) - 1) % step else []):
        main_rss, child_rss = r["rss_main_mib"], r["rss_children_mib"]
        print(f"  {r['t']:5.0f}  {int(r['packets']):>11,}  {main_rss:7.1f}  {child_rss:13.1f}")
    for key, label in (("rss_main_mib", "homescope"), ("rss_children_mib", "inspector")):
        a, b = mean(early, key), mean(late, key)
        print(f"  {label}: {a:.1f} MiB in the second quarter, {b:.1f} MiB in the last ({b - a:+.1f} MiB)")
    drops = result.final.get("drops", {})
    print(f"  final: {result.final.get('packets', 0):,} packets, tool received {_n(drops.get('received'))}, "
          f"dropped {_n(drops.get('dropped'))}")  # fmt: skip


def _n(v: int | None) -> str:
    return "-" if v is None else f"{v:,}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help=f"pcap to replay ({DEFAULT_CORPUS})")
    p.add_argument("--pps", help="comma-separated packet-rate steps (default: 5k ... 160k)")
    p.add_argument("--mbps", help="comma-separated Mbit/s steps instead of --pps")
    p.add_argument("--step-seconds", type=float, default=8.0, help="replay length per step (8)")
    p.add_argument("--modes", default="live,follow", help="live, follow or both (live,follow)")
    p.add_argument("--tool", default="dumpcap", choices=("dumpcap", "tcpdump"), help="tool for live")
    p.add_argument("--buffer", type=int, help="capture buffer MiB for live (tool default)")
    p.add_argument("--live-snaplen", type=int, default=0, help="live snap length (0: whole packets)")
    p.add_argument(
        "--follow-snaplen", type=int, default=128, help="the ring's snap length (service default 128)"
    )
    p.add_argument("--ring-files", type=int, default=5)
    p.add_argument("--ring-file-kb", type=int, default=20_000)
    p.add_argument(
        "--max-lag", type=float, default=5.0, help="follow: seconds behind the replay's end allowed"
    )
    p.add_argument(
        "--stop-after-misses", type=int, default=2, help="stop a mode after this many failed steps"
    )
    p.add_argument("--soak-seconds", type=float, default=600.0, help="memory soak length (600)")
    p.add_argument("--soak-pps", type=float, default=5000.0, help="replay rate during the soak (5000)")
    p.add_argument("--sample-every", type=float, default=10.0, help="RSS sampling period in the soak (10)")
    p.add_argument("--no-soak", action="store_true")
    p.add_argument("--no-rates", action="store_true")
    p.add_argument("--json-out", type=Path, help="also write the raw results here")
    args = p.parse_args(argv)
    if os.geteuid() != 0:
        p.error("needs root (network namespaces)")
    for tool in ("ip", "tcpreplay", "dumpcap"):
        if shutil.which(tool) is None:
            p.error(f"{tool} is not installed")
    if not args.corpus.exists():
        p.error(f"{args.corpus} does not exist: build it with shared/bench/build_corpus.sh")
    args.mean_packet_bytes = args.corpus.stat().st_size / max(1, _packet_count(args.corpus))
    kind = "mbps" if args.mbps else "pps"
    rates = [float(x) for x in (args.mbps or args.pps or ",".join(map(str, DEFAULT_PPS))).split(",")]
    results: dict[str, Any] = {"corpus": str(args.corpus), "steps": [], "soak": None}
    print(f"corpus {args.corpus} ({args.mean_packet_bytes:.0f} bytes per packet on average)", flush=True)
    with veth_namespaces() as net:
        steps: list[Step] = []
        if not args.no_rates:
            for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
                misses = 0
                for rate in rates:
                    run = live_step if mode == "live" else follow_step
                    step = run(net, args, kind, rate)
                    steps.append(step)
                    verdict = "kept up" if step.kept_up else "NOT kept up"
                    print(f"  {mode:6} {rate:>9g} {kind}: sent {step.sent:,} at {step.achieved_pps:,.0f} "
                          f"pkt/s, homescope {step.counted:,}, tool dropped {_n(step.tool_dropped)}, "
                          f"lag {step.lag_s:.1f} s -> {verdict}", flush=True)  # fmt: skip
                    misses = 0 if step.kept_up else misses + 1
                    if misses >= args.stop_after_misses:
                        break
            print()
            print_steps(steps)
            results["steps"] = [asdict(s) for s in steps]
        if not args.no_soak:
            print(f"\nsoak: {args.soak_seconds:.0f} s of live capture at {args.soak_pps:g} pkt/s", flush=True)
            result = soak(net, args)
            print_soak(result)
            results["soak"] = asdict(result)
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=1, default=str))
    return 0


def _packet_count(path: Path) -> int:
    """Packets in a classic pcap, counted from its record headers."""
    import struct

    count = 0
    with open(path, "rb") as fh:
        head = fh.read(24)
        order = "<" if head[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        while rec := fh.read(16):
            if len(rec) < 16:
                break
            caplen = struct.unpack(order + "I", rec[8:12])[0]
            fh.seek(caplen, os.SEEK_CUR)
            count += 1
    return count


if __name__ == "__main__":
    sys.exit(main())
