"""Live capture through a capture tool writing to a pipe: dumpcap (preferred) or tcpdump.

homescope never opens a capture device itself. `LiveCapture` runs `dumpcap -w -` (pcapng) or
`tcpdump -U -w -` (pcap) and reads its stdout with the engine's stream reader, which hands out each
record batch as soon as the bytes are there (the tool flushes every 100 ms, or per packet). Only the
tool needs capture rights; engine/capture/live_failure.py says how to grant them when they are missing.

Drops, and what each number counts:
- the tool's own account, known when it stops: dumpcap's final interface statistics block (isb_ifrecv,
  isb_ifdrop) and its stderr line "Packets received/dropped on interface ...: R/D (pcap:P/dumpcap:D/
  flushed:F/ps_ifdrop:I)"; tcpdump's "N packets dropped by kernel" (also asked for every few seconds
  with SIGUSR1 while it runs);
- while capturing, the interface's `/sys/class/net/IFACE/statistics/rx_dropped` since the capture
  began: every packet the interface or its driver dropped, whether or not the filter would select it.

Stopping (`stop()`, from any thread or a signal handler) sends SIGINT to the tool's own PID (it runs in a
session of its own, so a Ctrl-C in the terminal reaches homescope, not the tool), reads on to the end of
its output (the last packets and the statistics block), and kills it if it has not exited within
`stop_timeout`. The tool is never left running: closing the batch iterator stops it too, and so does the
interpreter's exit.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import subprocess
import sys
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, cast

from engine.capture.byte_stream import ByteStream
from engine.capture.live_failure import (
    Tool,
    bad_filter,
    failure_kind,
    first_message,
    missing_interface,
    permission_error,
    stopped,
    tool_missing,
    tool_not_runnable,
)
from engine.capture.records import Problem, RecordBatch, SourceStatus
from engine.capture.source import open_capture_stream
from engine.errors import CaptureError, HomescopeError

# Searched after PATH: tcpdump lives in /usr/sbin on older systems, which a user's PATH may lack.
EXTRA_TOOL_DIRS = ("/usr/sbin", "/sbin")
SYSFS_NET = "/sys/class/net"
# Interfaces libpcap offers that are not network devices.
_PSEUDO_INTERFACES = ("any", "nflog", "nfqueue", "usbmon", "bluetooth", "dbus", "dpdk:", "rpcap:", "TCP@")
PIPE_SIZE = 1 << 20  # a larger pipe lets the tool write on while homescope decodes a batch
STOP_TIMEOUT = 5.0
TCPDUMP_STATS_EVERY = 2.0  # seconds between SIGUSR1 requests for tcpdump's running counts

_DUMPCAP_STATS = re.compile(
    r"Packets received/dropped on interface '(?P<name>[^']*)': (?P<recv>\d+)/(?P<drop>\d+)"
    r"(?: \(pcap:(?P<pcap>\d+)/dumpcap:(?P<dumpcap>\d+)/flushed:(?P<flushed>\d+)"
    r"(?:/ps_ifdrop:(?P<ifdrop>\d+))?\))?"
)
_DUMPCAP_GROUPS = (
    ("received", "recv"),
    ("dropped", "drop"),
    ("kernel", "pcap"),
    ("tool_buffer", "dumpcap"),
    ("flushed", "flushed"),
    ("interface", "ifdrop"),
)
_TCPDUMP_COUNT = re.compile(
    r"(?P<n>\d+) packets? (?P<what>captured|received by filter|dropped by kernel|dropped by interface)"
)


@dataclass(frozen=True, slots=True)
class LiveOptions:
    """What to capture: `snaplen` 0 keeps whole packets; `buffer_mib` sets the tool's capture buffer."""

    interface: str
    capture_filter: str | None = None
    snaplen: int = 0
    tool: Tool = "auto"
    buffer_mib: int | None = None


@dataclass(frozen=True, slots=True)
class LiveDrops:
    """Packets lost, each as its source counts it; None where that source has not said (yet)."""

    tool: str
    final: bool  # the tool has stopped and reported its counts
    received: int | None  # packets the capture saw (dumpcap: received; tcpdump: received by filter)
    dropped: int | None  # the tool's total of dropped packets
    kernel: int | None  # dropped by the kernel's capture buffer (full: the tool read too slowly)
    tool_buffer: int | None  # dropped by dumpcap's own buffer
    flushed: int | None  # dumpcap: still buffered when the capture stopped
    interface: int | None  # dropped by the interface or driver, as libpcap counted them (ps_ifdrop)
    interface_rx_dropped: int | None  # the interface's rx_dropped counter since the capture began
    interface_name: str = ""

    @property
    def total(self) -> int | None:
        """The one number for a status bar: the tool's total, else the interface's rx_dropped."""
        return self.dropped if self.dropped is not None else self.interface_rx_dropped

    def short(self) -> str:
        """A few words for a summary line, naming the source of the number."""
        if self.dropped is not None:
            return f"{self.dropped:,} dropped ({self.tool})"
        if self.interface_rx_dropped is not None:
            return f"interface rx_dropped +{self.interface_rx_dropped:,}"
        return "drops not known yet"

    def lines(self) -> list[str]:
        """The counts in words, each saying what it counts."""
        out: list[str] = []
        if self.dropped is not None or self.received is not None:
            parts = []
            if self.received is not None:
                what = "received by filter" if self.tool == "tcpdump" else "received"
                parts.append(f"{self.received:,} {what}")
            if self.dropped is not None:
                parts.append(f"{self.dropped:,} dropped")
            detail = [
                f"{label}: {value:,}"
                for label, value in (
                    ("kernel capture buffer full", self.kernel),
                    ("dumpcap's own buffer", self.tool_buffer),
                    ("still buffered at stop", self.flushed),
                    ("interface/driver, as libpcap saw it", self.interface),
                )
                if value is not None
            ]
            when = "at stop" if self.final else "so far"
            out.append(
                f"{self.tool} {when}: {', '.join(parts)}" + (f" ({'; '.join(detail)})" if detail else "")
            )
        elif self.tool == "dumpcap" and not self.final:
            out.append("dumpcap reports its own drop counts when it stops")
        if self.interface_rx_dropped is not None:
            out.append(
                f"interface {self.interface_name} rx_dropped: +{self.interface_rx_dropped:,} since the "
                "capture began (every packet the interface or its driver dropped, captured or not)"
            )
        return out

    def as_dict(self) -> dict[str, object]:
        return {
            "tool": self.tool,
            "final": self.final,
            "received": self.received,
            "dropped": self.dropped,
            "kernel": self.kernel,
            "tool_buffer": self.tool_buffer,
            "flushed": self.flushed,
            "interface_pcap": self.interface,
            "interface_rx_dropped": self.interface_rx_dropped,
        }


def find_tool(name: str, search_path: str | None = None) -> tuple[str | None, str | None]:
    """(executable path, path of a copy this account may not run) of a capture tool."""
    path = search_path if search_path is not None else os.environ.get("PATH", os.defpath)
    dirs = [d for d in path.split(os.pathsep) if d] + [d for d in EXTRA_TOOL_DIRS if search_path is None]
    not_runnable: str | None = None
    for d in dirs:
        candidate = os.path.join(d, name)
        if os.path.isfile(candidate):
            if os.access(candidate, os.X_OK):
                return candidate, None
            not_runnable = not_runnable or candidate
    return None, not_runnable


def interfaces(sysfs: str = SYSFS_NET) -> list[str]:
    """The network interfaces of this system (of this network namespace)."""
    try:
        return sorted(os.listdir(sysfs))
    except OSError:
        return []


class LiveCapture:
    """A capture tool running on an interface, read as record batches; see the module docstring.

    `statuses` holds the one SourceStatus of the capture (the session shows it); `drops()` and
    `drop_counts()` may be called from any thread.
    """

    def __init__(
        self,
        options: LiveOptions,
        *,
        search_path: str | None = None,
        sysfs: str = SYSFS_NET,
        stop_timeout: float = STOP_TIMEOUT,
        stats_every: float = TCPDUMP_STATS_EVERY,
    ) -> None:
        self.options = options
        self.search_path = search_path
        self.sysfs = sysfs
        self.stop_timeout = stop_timeout
        self.stats_every = stats_every
        self.tool = "dumpcap" if options.tool == "auto" else options.tool
        self.tool_path: str | None = None
        self.status = SourceStatus(path=f"live:{options.interface}")
        self.statuses = [self.status]
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._ended = threading.Event()
        self._lock = threading.Lock()
        self._stderr: list[str] = []
        self._stderr_dropped = 0
        self._threads: list[threading.Thread] = []
        self._rx_dropped_start: int | None = None
        self._rx_dropped_end: int | None = None
        self._counts: dict[str, int] = {}  # parsed from the tool's stderr
        self._dumpcap_lines: dict[str, dict[str, int]] = {}
        self._final = False
        self._finalizer: weakref.finalize[..., LiveCapture] | None = None

    # ---- starting ----------------------------------------------------------------------------------

    def check(self) -> None:
        """Find the capture tool and check the interface; raises LiveCaptureError."""
        options = self.options
        if options.tool == "auto":
            for name in ("dumpcap", "tcpdump"):
                path, not_runnable = find_tool(name, self.search_path)
                if path is not None:
                    self.tool, self.tool_path = name, path
                    break
                if not_runnable is not None:
                    raise tool_not_runnable(name, not_runnable, options.interface)
            else:
                raise tool_missing("auto")
        else:
            path, not_runnable = find_tool(options.tool, self.search_path)
            if path is None:
                if not_runnable is not None:
                    raise tool_not_runnable(options.tool, not_runnable, options.interface)
                raise tool_missing(options.tool)
            self.tool, self.tool_path = options.tool, path
        self.status.path = f"{self.tool} -i {options.interface}"
        name = options.interface
        if (
            os.path.isdir(self.sysfs)
            and not name.isdigit()
            and not name.startswith(_PSEUDO_INTERFACES)
            and name not in interfaces(self.sysfs)
        ):
            raise missing_interface(name, interfaces(self.sysfs))

    def command(self) -> list[str]:
        """The capture tool's command line (after `check()`)."""
        o = self.options
        path = self.tool_path or self.tool
        if self.tool == "dumpcap":
            argv = [path, "-q", "-i", o.interface]
            if o.snaplen:
                argv += ["-s", str(o.snaplen)]
            if o.buffer_mib:
                argv += ["-B", str(o.buffer_mib)]
            if o.capture_filter:
                argv += ["-f", o.capture_filter]
            return [*argv, "-w", "-"]
        argv = [path, "-U", "-n", "-i", o.interface]
        if o.snaplen:
            argv += ["-s", str(o.snaplen)]
        if o.buffer_mib:
            argv += ["-B", str(o.buffer_mib * 1024)]
        argv += ["-w", "-"]
        if o.capture_filter:
            argv.append(o.capture_filter)
        return argv

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Check, then start the capture tool. Raises LiveCaptureError."""
        if self._proc is not None:
            return
        self.check()
        self._rx_dropped_start = self._rx_dropped()
        proc = self._popen()
        self._proc = proc
        self._finalizer = weakref.finalize(self, _kill_quietly, proc)
        if self._stopping.is_set():  # stopped while starting (from another thread)
            self.stop()
        assert proc.stdout is not None and proc.stderr is not None
        set_pipe_size = getattr(fcntl, "F_SETPIPE_SZ", None)
        if set_pipe_size is not None:
            with contextlib.suppress(OSError):
                fcntl.fcntl(proc.stdout.fileno(), set_pipe_size, PIPE_SIZE)
        self._spawn(self._read_stderr, "homescope-capture-stderr")
        if self.tool == "tcpdump" and sys.platform.startswith("linux") and self.stats_every > 0:
            self._spawn(self._ask_tcpdump_counts, "homescope-capture-stats")

    def _popen(self) -> subprocess.Popen[bytes]:
        """Start the capture command, its output to pipes."""
        try:
            return subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # a terminal's Ctrl-C reaches homescope, which stops the tool
                bufsize=0,
            )
        except FileNotFoundError:
            raise tool_missing(self.options.tool) from None
        except PermissionError:
            raise tool_not_runnable(self.tool, self.tool_path or self.tool, self.options.interface) from None

    def _spawn(self, target: object, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    # ---- reading -----------------------------------------------------------------------------------

    def batches(self) -> Iterator[RecordBatch]:
        """Record batches as the tool writes them, until it stops. Raises LiveCaptureError when the tool
        cannot start or stops without being asked to."""
        if self._stopping.is_set() and self._proc is None:
            return  # stopped before it started
        self.start()
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        try:
            stream = ByteStream(cast(BinaryIO, proc.stdout), name=self.status.path, is_stream=True, size=None)
            capture = open_capture_stream(stream, self.status)
        except CaptureError:
            self._reap()
            if self._stopping.is_set():
                return
            raise self._failure(started=False) from None
        except BaseException:
            self.stop()
            self._reap()
            raise
        inner = capture.batches()
        completed = False
        try:
            yield from _pass_through(inner)
            completed = True
        finally:
            if not completed:
                # the consumer stopped early, or reading failed: stop the tool, read its statistics
                self.stop()
                with contextlib.suppress(Exception):
                    for _ in inner:
                        pass
                close = getattr(inner, "close", None)
                if close is not None:
                    close()
            self._reap()
        if not self._stopping.is_set():
            raise self._failure(started=True)

    def stop(self) -> None:
        """Ask the tool to stop (SIGINT to its own PID); kill it if it has not exited in time. Safe from
        any thread and from a signal handler; does not wait."""
        self._stopping.set()
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGINT)
        timer = threading.Timer(self.stop_timeout, _kill_quietly, args=(proc,))
        timer.daemon = True
        timer.start()

    def close(self) -> None:
        """Make sure the tool is gone (stop it, kill it after `stop_timeout`)."""
        if self._proc is None:
            return
        self.stop()
        self._reap()

    def _reap(self) -> None:
        proc = self._proc
        if proc is None:
            return
        try:
            proc.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            _kill_quietly(proc)
            proc.wait(timeout=self.stop_timeout)
        self._ended.set()
        for thread in self._threads:
            thread.join(timeout=2)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        with self._lock:
            if self._rx_dropped_end is None:
                self._rx_dropped_end = self._rx_dropped()
            self._final = True
        if self._finalizer is not None:
            self._finalizer.detach()
        dropped = self.drop_counts().dropped
        if dropped:
            self.status.add_problem(
                Problem(
                    "dropped",
                    f"{self.tool} dropped {dropped:,} packets: they are missing from the analysis",
                    fatal=False,
                )
            )

    def _failure(self, *, started: bool) -> HomescopeError:
        """The error for a tool that could not start, or stopped on its own."""
        proc = self._proc
        assert proc is not None
        text = "\n".join(self._stderr_lines())
        said = first_message(text, self.tool)
        iface = self.options.interface
        if not started or self.status.packets == 0:
            kind = failure_kind(text, self.tool, self.options.capture_filter)
            if kind == "permission":
                return permission_error(self.tool, self.tool_path, iface, said)
            if kind == "no-interface":
                return missing_interface(iface, interfaces(self.sysfs))
            if kind == "bad-filter":
                return bad_filter(self.tool, self.options.capture_filter, text, said)
        return stopped(
            self.tool, started=started, packets=self.status.packets, code=proc.returncode, said=said
        )

    # ---- drops ---------------------------------------------------------------------------------------

    def drops(self) -> int | None:
        """Packets dropped so far, as one number (see LiveDrops.total)."""
        return self.drop_counts().total

    def drop_counts(self) -> LiveDrops:
        with self._lock:
            counts = dict(self._counts)
            final = self._final
            end = self._rx_dropped_end
        start = self._rx_dropped_start
        now = end if end is not None else self._rx_dropped()
        rx = now - start if now is not None and start is not None else None
        received = counts.get("received")
        dropped = counts.get("dropped")
        isb = list(self.status.interface_stats.values())
        if self.tool == "dumpcap" and isb:
            isb_recv = [s.received for s in isb if s.received is not None]
            isb_drop = [s.dropped for s in isb if s.dropped is not None]
            received = received if received is not None else (sum(isb_recv) if isb_recv else None)
            dropped = dropped if dropped is not None else (sum(isb_drop) if isb_drop else None)
        return LiveDrops(
            tool=self.tool,
            final=final,
            received=received,
            dropped=dropped,
            kernel=counts.get("kernel"),
            tool_buffer=counts.get("tool_buffer"),
            flushed=counts.get("flushed"),
            interface=counts.get("interface"),
            interface_rx_dropped=rx,
            interface_name=self.options.interface,
        )

    def _rx_dropped(self) -> int | None:
        try:
            with open(os.path.join(self.sysfs, self.options.interface, "statistics", "rx_dropped")) as fh:
                return int(fh.read().strip())
        except (OSError, ValueError):
            return None

    # ---- the tool's stderr -----------------------------------------------------------------------------

    def stderr_text(self) -> str:
        return "\n".join(self._stderr_lines())

    def _stderr_lines(self) -> list[str]:
        with self._lock:
            lines = list(self._stderr)
            skipped = self._stderr_dropped
        if skipped:
            lines.insert(_STDERR_HEAD, f"[... {skipped} lines ...]")
        return lines

    def _read_stderr(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stderr is not None
        for raw in iter(proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip()
            with self._lock:
                self._stderr.append(line)
                if len(self._stderr) > _STDERR_HEAD + _STDERR_TAIL:
                    del self._stderr[_STDERR_HEAD]
                    self._stderr_dropped += 1
                self._parse_counts(line)

    def _parse_counts(self, line: str) -> None:
        found = _DUMPCAP_STATS.search(line)
        if found is not None:
            # one line per interface: keep each, add them up
            self._dumpcap_lines[found.group("name")] = {
                key: int(value) for key, group in _DUMPCAP_GROUPS if (value := found.group(group)) is not None
            }
            totals: dict[str, int] = {}
            for per_interface in self._dumpcap_lines.values():
                for key, value in per_interface.items():
                    totals[key] = totals.get(key, 0) + value
            self._counts.update(totals)
            return
        for m in _TCPDUMP_COUNT.finditer(line):
            n = int(m.group("n"))
            what = m.group("what")
            if what == "received by filter":
                self._counts["received"] = n
            elif what == "dropped by kernel":
                self._counts["kernel"] = n
                self._counts["dropped"] = n + self._counts.get("interface", 0)
            elif what == "dropped by interface":
                self._counts["interface"] = n
                self._counts["dropped"] = n + self._counts.get("kernel", 0)

    def _ask_tcpdump_counts(self) -> None:
        """tcpdump prints its counts on SIGUSR1: ask every few seconds once it is listening."""
        proc = self._proc
        assert proc is not None
        while not self._stopping.wait(self.stats_every):
            if proc.poll() is not None:
                return
            with self._lock:
                listening = any("listening on" in line for line in self._stderr)
            if listening:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGUSR1)


_STDERR_HEAD = 40
_STDERR_TAIL = 60


def _pass_through(inner: Iterator[RecordBatch]) -> Iterator[RecordBatch]:
    """Hand out the batches without closing `inner` when the consumer stops early (so that the rest of
    the stream can still be read for the statistics)."""
    while True:
        try:
            batch = next(inner)
        except StopIteration:
            return
        yield batch


def _kill_quietly(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
