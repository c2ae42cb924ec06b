"""Throughput and memory of homescope against the reference pipelines, measured in one run per corpus.

Builds the N=4 and N=27 benchmark corpora with `shared/bench/build_corpus.sh` into a cache folder when they
are missing, then runs `shared/bench/anchors.sh -m "a b" -r RUNS -c CMD CORPUS` once per corpus. The command
given to anchors.sh runs every candidate in turn, each timed the way anchors.sh times its anchors (the
shell's microsecond clock around `/usr/bin/time -v`), so candidates and anchors are interleaved round by
round and every ratio printed comes from one table. See bench/README.md.

    python bench/benchmark.py                      # N=4 and N=27 (about 10 minutes)
    python bench/benchmark.py --quick              # N=4 only
    python bench/benchmark.py --corpus /tmp/corpus/corpus-n4.pcap
    python bench/benchmark.py --candidate traffic='homescope report "$CORPUS" --traffic-only -o /dev/null'
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = Path("~/.cache/homescope-bench").expanduser()
DEFAULT_CANDIDATES = {
    "report": 'homescope report "$CORPUS" --json -o /dev/null',  # the full analysis
    "traffic": 'homescope report "$CORPUS" --json --traffic-only -o /dev/null',  # the traffic counters only
}
CORPUS_SIZES = (4, 27)

# Targets per default candidate: packets/s and peak RSS (issue targets on the 2 M-packet corpus)
TARGETS = {"report": (500_000, 400.0), "traffic": (1_000_000, 300.0)}
TARGET_FLATNESS = 0.20  # peak RSS on the largest corpus within 20 % of the smallest


def find_bench_dir() -> Path | None:
    """`shared/bench` next to the repository, or next to one of its parent folders (git worktrees)."""
    for folder in (REPO, *REPO.parents):
        candidate = folder.parent / "shared" / "bench"
        if (candidate / "anchors.sh").is_file():
            return candidate
    return None


@dataclass
class Row:
    """One method of one corpus: median wall seconds and median peak RSS over the runs."""

    name: str
    wall: float
    rss_mib: float
    runs: list[float] = field(default_factory=list)


@dataclass
class CorpusResult:
    label: str
    path: Path
    packets: int
    anchors: dict[str, Row]
    candidates: dict[str, Row]
    table: str


# --- corpora -------------------------------------------------------------------------------------


def build_corpus(bench: Path, out: Path, copies: int) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    print(f"== building the N={copies} corpus into {out} (build_corpus.sh)", file=sys.stderr, flush=True)
    result = subprocess.run(
        ["bash", str(bench / "build_corpus.sh"), str(partial), str(copies)],
        stdout=subprocess.PIPE,
        stderr=sys.stderr,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        raise SystemExit(f"benchmark: building the N={copies} corpus failed (exit {result.returncode})")
    (out.parent / f"{out.stem}.build.log").write_text(result.stdout, encoding="utf-8")
    partial.rename(out)


def corpus_label(spec: str) -> tuple[str, Path]:
    """`N27=/path` or a bare path (labelled by an `nNN` in its name, else by its stem)."""
    if "=" in spec and not Path(spec).exists():
        label, _, given = spec.partition("=")
        return label, Path(given)
    path = Path(spec)
    match = re.search(r"n(\d+)", path.stem, re.IGNORECASE)
    return (f"N={match.group(1)}" if match else path.stem), path


def corpora_to_run(args: argparse.Namespace, bench: Path) -> list[tuple[str, Path]]:
    if args.corpus:
        chosen = [corpus_label(spec) for spec in args.corpus]
        for _label, path in chosen:
            if not path.is_file():
                raise SystemExit(f"benchmark: corpus {path} does not exist")
        return chosen
    sizes = CORPUS_SIZES[:1] if args.quick else CORPUS_SIZES
    chosen = []
    for copies in sizes:
        path = args.cache_dir / f"corpus-n{copies}.pcap"
        if not path.is_file():
            build_corpus(bench, path, copies)
        chosen.append((f"N={copies}", path))
    return chosen


# --- candidates ----------------------------------------------------------------------------------


def homescope_shim(folder: Path) -> Path:
    """A folder whose `homescope` runs the installed command, or `python -m tui` from this repository."""
    installed = shutil.which("homescope")
    folder.mkdir(parents=True, exist_ok=True)
    shim = folder / "homescope"
    if installed:
        body = f'exec {shlex.quote(installed)} "$@"\n'
    else:
        pythonpath = shlex.quote(str(REPO))
        python = shlex.quote(sys.executable)
        body = f'PYTHONPATH={pythonpath}${{PYTHONPATH:+:$PYTHONPATH}} exec {python} -m tui "$@"\n'
    shim.write_text("#!/bin/sh\n" + body, encoding="utf-8")
    shim.chmod(0o755)
    return folder


def candidate_runner(workdir: Path, candidates: dict[str, str], bin_dir: Path) -> str:
    """The shell command handed to anchors.sh as `-c`: runs every candidate once, each timed like an anchor.

    Each call appends `NAME WALL_S MAXRSS_KIB` lines to `times.tsv` in `workdir`; a failing candidate makes
    the whole command fail, which stops anchors.sh with the candidate's error output.
    """
    script = workdir / "run_candidates.sh"
    lines = [
        "#!/bin/bash",
        "set -euo pipefail",
        f"export PATH={shlex.quote(str(bin_dir))}:$PATH",
        f"OUT={shlex.quote(str(workdir))}",
    ]
    for name, command in candidates.items():
        q = shlex.quote(name)
        lines += [
            "t0=$EPOCHREALTIME",
            f'if ! /usr/bin/time -v -o "$OUT/time.{name}" bash -c {shlex.quote(command)} '
            f'> "$OUT/out.{name}" 2> "$OUT/err.{name}"; then',
            f'  echo "candidate {name} failed:" >&2; cat "$OUT/err.{name}" >&2; exit 1',
            "fi",
            "t1=$EPOCHREALTIME",
            f'awk -v n={q} -v t0="${{t0/,/.}}" -v t1="${{t1/,/.}}" '
            "'/Maximum resident set size/ { m=$NF } END { printf \"%s %.3f %d\\n\", n, t1 - t0, m }' "
            f'"$OUT/time.{name}" >> "$OUT/times.tsv"',
        ]
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    script.chmod(0o755)
    return f"bash {shlex.quote(str(script))}"


def read_candidate_times(path: Path, names: list[str]) -> dict[str, Row]:
    walls: dict[str, list[float]] = {n: [] for n in names}
    rss: dict[str, list[float]] = {n: [] for n in names}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, wall, kib = line.split()
        walls[name].append(float(wall))
        rss[name].append(int(kib) / 1024)
    rows = {}
    for n in names:
        if not walls[n]:
            raise SystemExit(f"benchmark: candidate {n} produced no timing")
        rows[n] = Row(n, statistics.median(walls[n]), statistics.median(rss[n]), walls[n])
    return rows


# --- anchors.sh ----------------------------------------------------------------------------------

_ANCHOR_ROWS = {"(a) tcpdump": "a", "(b) published pipeline": "b"}


def parse_anchor_table(text: str) -> tuple[int, dict[str, Row]]:
    """Packets of the corpus and the anchor rows (a, b) of the table anchors.sh prints."""
    match = re.search(r"^\s+(\d+) packets, ", text, re.MULTILINE)
    if not match:
        raise SystemExit("benchmark: anchors.sh printed no packet count for the corpus")
    packets = int(match.group(1))
    rows: dict[str, Row] = {}
    for line in text.splitlines():
        if not line.startswith("| "):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 5:
            continue
        for prefix, key in _ANCHOR_ROWS.items():
            if cells[0].startswith(prefix):
                runs = [float(x) for x in cells[4].split("/")]
                rows[key] = Row(key, float(cells[2]), float(cells[3]), runs)
    missing = {"a", "b"} - rows.keys()
    if missing:
        raise SystemExit(f"benchmark: anchors.sh table has no row for {', '.join(sorted(missing))}")
    return packets, rows


def run_corpus(
    bench: Path, label: str, corpus: Path, candidates: dict[str, str], runs: int, cache: Path
) -> CorpusResult:
    with tempfile.TemporaryDirectory(prefix="homescope-bench.") as tmp:
        workdir = Path(tmp)
        bin_dir = homescope_shim(workdir / "bin")
        command = candidate_runner(workdir, candidates, bin_dir)
        env = dict(os.environ)
        env.setdefault("BENCH_VENV", str(cache / "venv"))
        print(f"== {label}: anchors.sh -m 'a b' -r {runs} on {corpus}", file=sys.stderr, flush=True)
        result = subprocess.run(
            ["bash", str(bench / "anchors.sh"), "-m", "a b", "-r", str(runs), "-c", command, str(corpus)],
            stdout=subprocess.PIPE,
            stderr=sys.stderr,
            text=True,
            env=env,
            check=False,
        )
        cache.mkdir(parents=True, exist_ok=True)
        log = cache / f"anchors-{re.sub(r'[^A-Za-z0-9]+', '', label)}.log"
        log.write_text(result.stdout, encoding="utf-8")
        if result.returncode != 0:
            raise SystemExit(
                f"benchmark: anchors.sh failed on {corpus} (exit {result.returncode}); see {log}"
            )
        packets, anchors = parse_anchor_table(result.stdout)
        rows = read_candidate_times(workdir / "times.tsv", list(candidates))
    return CorpusResult(label, corpus, packets, anchors, rows, result.stdout)


# --- summary -------------------------------------------------------------------------------------


def _mark(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def summary(results: list[CorpusResult], candidates: dict[str, str]) -> str:
    out: list[str] = []
    header = f"{'corpus':<7} {'method':<30} {'packets/s':>11} {'wall s':>8} {'peak RSS MiB':>13}"
    header += f" {'vs (a)':>8} {'vs (b)':>8}  targets"
    for res in results:
        a, b = res.anchors["a"], res.anchors["b"]
        out += ["", f"{res.label}: {res.path} ({res.packets:,} packets)", header]
        methods: list[tuple[str, Row, bool]] = [
            ("(a) tcpdump -r X -w /dev/null", a, False),
            ("(b) tshark -T fields + pandas", b, False),
        ]
        methods += [(f"homescope: {name}", row, True) for name, row in res.candidates.items()]
        for title, row, is_candidate in methods:
            pps = res.packets / row.wall if row.wall > 0 else 0.0
            targets = ""
            if is_candidate and row.name in TARGETS:
                target_pps, target_rss = TARGETS[row.name]
                rss_ok = row.rss_mib <= target_rss
                pps_ok = pps >= target_pps
                targets = (
                    f">= {target_pps:,} pkt/s: {_mark(pps_ok)}; RSS <= {target_rss:.0f} MiB: {_mark(rss_ok)}"
                )
            out.append(
                f"{res.label:<7} {title[:30]:<30} {pps:>11,.0f} {row.wall:>8.3f} {row.rss_mib:>13.0f}"
                f" {a.wall / row.wall:>7.2f}x {b.wall / row.wall:>7.1f}x  {targets}".rstrip()
            )
    if len(results) >= 2:
        small = min(results, key=lambda r: r.packets)
        large = max(results, key=lambda r: r.packets)
        out += ["", f"Memory flatness: peak RSS on {large.label} vs {small.label} (target within 20 %)"]
        for name in candidates:
            lo, hi = small.candidates[name].rss_mib, large.candidates[name].rss_mib
            ratio = hi / lo if lo else float("inf")
            ok = abs(ratio - 1.0) <= TARGET_FLATNESS
            out.append(f"  {name}: {lo:.0f} MiB -> {hi:.0f} MiB, ratio {ratio:.2f}: {_mark(ok)}")
    out += [
        "",
        "Speed ratios are (anchor wall s) / (method wall s): above 1x is faster than the anchor. "
        "Wall times are medians; each corpus is one anchors.sh run.",
    ]
    return "\n".join(out) + "\n"


def parse_candidate(spec: str) -> tuple[str, str]:
    name, sep, command = spec.partition("=")
    if not sep or not re.fullmatch(r"[A-Za-z0-9_-]+", name) or not command.strip():
        raise argparse.ArgumentTypeError(
            f"expected NAME='command' with NAME made of [A-Za-z0-9_-], got {spec!r}"
        )
    return name, command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time `homescope report` against tcpdump (a) and the tshark-to-pandas pipeline (b).",
    )
    parser.add_argument("--quick", action="store_true", help="only the N=4 corpus")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=DEFAULT_CACHE,
        help=f"where corpora are built and logs kept (default {DEFAULT_CACHE})",
    )
    parser.add_argument(
        "--corpus",
        action="append",
        metavar="[LABEL=]PATH",
        help="use this existing corpus instead of the cached ones (repeatable)",
    )
    parser.add_argument(
        "--candidate",
        action="append",
        type=parse_candidate,
        default=[],
        metavar="NAME='COMMAND'",
        help="another command to time; $CORPUS is the corpus path, `homescope` the command under test",
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per method (median reported; default 3)")
    parser.add_argument("--bench-dir", type=Path, help="shared/bench (default: found next to the repository)")
    args = parser.parse_args(argv)

    bench = args.bench_dir or find_bench_dir()
    if bench is None or not (bench / "anchors.sh").is_file():
        raise SystemExit("benchmark: shared/bench/anchors.sh not found; give --bench-dir")
    args.cache_dir = args.cache_dir.expanduser().resolve()
    candidates = dict(DEFAULT_CANDIDATES)
    for name, command in args.candidate:
        candidates[name] = command

    results = []
    for label, path in corpora_to_run(args, bench):
        results.append(run_corpus(bench, label, path.resolve(), candidates, args.runs, args.cache_dir))
    for res in results:
        print(f"\n== anchors.sh table, {res.label} (all candidates together form its candidate row)")
        print("\n".join(line for line in res.table.splitlines() if line.startswith("|")))
    sys.stdout.write(summary(results, candidates))
    return 0


if __name__ == "__main__":
    sys.exit(main())
