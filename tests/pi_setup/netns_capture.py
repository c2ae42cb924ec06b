"""The capture service's own command, running for real in a pair of throw-away network namespaces.

`running_capture_ring()` sets up two namespaces joined by a veth pair (addresses only inside them),
renders capture.env the way install.sh does, and starts pi-setup's `homescope-capture` script on the
capture end, the way the systemd unit does: as an unprivileged user holding only CAP_NET_RAW and
CAP_NET_ADMIN as ambient capabilities, with no_new_privs. It yields a `RunningCapture` whose dump
folder fills with rotating hs_*.pcapng files while `send_udp` sends traffic from the peer namespace.

The pi-setup integration test uses it, and so can the `homescope follow` tests: follow the dump
folder while the ring rotates underneath.

Everything it starts is stopped by PID (process groups it created), and both namespaces are deleted,
whatever happens in the test. It needs root, `ip` (iproute2), `setpriv` (util-linux) and dumpcap.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.pi_setup.conftest import GOOD_CONFIG, PI_SETUP, bash, write_config

NOBODY = 65534  # the capture runs as this uid/gid, as the unit runs it as `homescope`
RING_FILE = re.compile(r"^hs_(\d{5})_(\d{14})\.pcapng$")
STATS = re.compile(r"Packets received/dropped on interface '[^']+': (\d+)/(\d+)")


def missing_requirements() -> str | None:
    """Why the namespace capture cannot run here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "setpriv", "dumpcap"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not Path("/usr/bin/dumpcap").exists():
        return "the capture command runs /usr/bin/dumpcap, which is missing"
    return None


def run(*argv: str, timeout: float = 20) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True, timeout=timeout)


def stop_process_group(proc: subprocess.Popen[bytes] | subprocess.Popen[str], grace: float = 5) -> None:
    """SIGTERM the process group led by proc (started with start_new_session), then SIGKILL."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace)


@dataclass
class RunningCapture:
    """A capture ring being written: where, on what, and how to send it traffic."""

    dump_dir: Path
    env_file: Path
    capture_ns: str
    peer_ns: str
    capture_iface: str
    capture_ip: str
    peer_ip: str
    process: subprocess.Popen[str]
    senders: list[subprocess.Popen[str]] = field(default_factory=list)
    stderr_file: Path | None = None

    def ring_files(self) -> list[Path]:
        """The capture files present now, oldest first (by their sequence number)."""
        files = [p for p in self.dump_dir.iterdir() if p.name.startswith("hs_")]
        return sorted(files, key=lambda p: p.name)

    def start_udp(
        self,
        count: int,
        seconds: float,
        port: int = 5555,
        payload: int = 600,
        every_nth_to: tuple[int, int] | None = None,
    ) -> subprocess.Popen[str]:
        """Start sending `count` UDP datagrams of `payload` bytes to the capture end, spread over
        `seconds`, from the peer namespace. every_nth_to=(n, other_port) sends each n-th one to
        other_port instead. Returns the sender; it prints how many it sent to each port."""
        every, other = every_nth_to or (0, 0)
        code = textwrap.dedent(f"""
            import socket, sys, time
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            data = b"h" * {payload}
            sent = {{{port}: 0, {other}: 0}}
            start = time.monotonic()
            for i in range({count}):
                dport = {other} if {every} and i % {every} == {every} - 1 else {port}
                s.sendto(data, ("{self.capture_ip}", dport))
                sent[dport] += 1
                delay = start + (i + 1) * {seconds} / {count} - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            print(sent[{port}], sent[{other}])
        """)
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.peer_ns, sys.executable, "-c", code],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.senders.append(proc)
        return proc

    def send_udp(self, count: int, seconds: float, **kwargs: object) -> tuple[int, int]:
        """Like start_udp, and wait for it: returns (sent to port, sent to the other port)."""
        proc = self.start_udp(count, seconds, **kwargs)  # type: ignore[arg-type]
        out, err = proc.communicate(timeout=seconds + 20)
        assert proc.returncode == 0, err
        to_port, to_other = out.split()
        return int(to_port), int(to_other)

    def stop(self) -> str:
        """Stop the capture (SIGTERM, as systemd does) and return what dumpcap printed."""
        stop_process_group(self.process)
        return self.stderr_file.read_text() if self.stderr_file else ""

    def received_dropped(self, stderr: str) -> tuple[int, int] | None:
        """dumpcap's own count of received and dropped packets, printed when it stops."""
        found = STATS.search(stderr)
        return (int(found.group(1)), int(found.group(2))) if found else None


def render_capture_env(env_file: Path, settings: dict[str, str]) -> None:
    """capture.env exactly as install.sh renders it (lib/capture.sh), from a config file."""
    config = write_config(env_file.with_suffix(".conf"), {**GOOD_CONFIG, **settings})
    result = bash(f"load_config {shlex.quote(str(config))}\nrender_capture_env")
    assert result.returncode == 0, result.stderr
    env_file.write_text(result.stdout)


def install_capture_scripts(libexec: Path) -> Path:
    """The scripts laid out as install.sh installs them (bin/ and lib/ side by side); returns the
    capture command."""
    result = bash("libexec_files")
    for line in result.stdout.splitlines():
        src, dest, mode = line.split()
        target = libexec / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PI_SETUP / src, target)
        target.chmod(int(mode, 8))
    return libexec / "bin/homescope-capture"


def as_the_service_user(*argv: str) -> list[str]:
    """argv run the way homescope-capture.service runs its command: User= (here nobody), only the
    ambient capabilities CAP_NET_RAW and CAP_NET_ADMIN, the same bounding set, NoNewPrivileges."""
    return [
        "setpriv",
        f"--reuid={NOBODY}",
        f"--regid={NOBODY}",
        "--clear-groups",
        "--inh-caps=-all,+net_raw,+net_admin",
        "--ambient-caps=-all,+net_raw,+net_admin",
        "--bounding-set=-all,+net_raw,+net_admin",
        "--no-new-privs",
        "--",
        *argv,
    ]


@contextlib.contextmanager
def running_capture_ring(
    *,
    snaplen: int = 96,
    rotate_s: int = 2,
    files: int = 3,
    filesize_kb: int = 100_000,
    capture_filter: str = "",
    startup_timeout: float = 10,
) -> Iterator[RunningCapture]:
    """Yield a RunningCapture while the capture service's command writes its ring; clean up after."""
    tag = secrets.token_hex(3)
    capture_ns, peer_ns = f"hs-cap-{tag}", f"hs-peer-{tag}"
    capture_iface, peer_iface = f"hsc{tag}", f"hsp{tag}"
    subnet = f"10.213.{secrets.randbelow(256)}"
    capture_ip, peer_ip = f"{subnet}.1", f"{subnet}.2"
    # Not under pytest's tmp_path: that is private to root, and the capture runs as nobody.
    base = Path(tempfile.mkdtemp(prefix="homescope-netns-"))
    base.chmod(0o755)
    namespaces: list[str] = []
    ring: RunningCapture | None = None
    process: subprocess.Popen[str] | None = None
    try:
        for ns in (capture_ns, peer_ns):
            run("ip", "netns", "add", ns)
            namespaces.append(ns)
        run(
            "ip",
            "link",
            "add",
            capture_iface,
            "netns",
            capture_ns,
            "type",
            "veth",
            "peer",
            "name",
            peer_iface,
            "netns",
            peer_ns,
        )
        for ns, iface, ip in ((capture_ns, capture_iface, capture_ip), (peer_ns, peer_iface, peer_ip)):
            run("ip", "-n", ns, "addr", "add", f"{ip}/30", "dev", iface)
            run("ip", "-n", ns, "link", "set", "lo", "up")
            run("ip", "-n", ns, "link", "set", iface, "up")

        dump_dir = base / "dumps"
        dump_dir.mkdir(mode=0o750)
        os.chown(dump_dir, NOBODY, NOBODY)
        env_file = base / "capture.env"
        render_capture_env(
            env_file,
            {
                "HS_CAPTURE_IFACE": capture_iface,
                "HS_SNAPLEN": str(snaplen),
                "HS_DUMP_DIR": str(dump_dir),
                "HS_ROTATE_S": str(rotate_s),
                "HS_FILES": str(files),
                "HS_FILESIZE_KB": str(filesize_kb),
                "HS_FILTER": capture_filter,
            },
        )
        env_file.chmod(0o644)
        command = install_capture_scripts(base / "libexec")

        stderr_file = base / "capture.stderr"
        with stderr_file.open("w") as stderr:
            process = subprocess.Popen(
                ["ip", "netns", "exec", capture_ns, *as_the_service_user(str(command), str(env_file))],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                text=True,
                start_new_session=True,
            )
        ring = RunningCapture(
            dump_dir=dump_dir,
            env_file=env_file,
            capture_ns=capture_ns,
            peer_ns=peer_ns,
            capture_iface=capture_iface,
            capture_ip=capture_ip,
            peer_ip=peer_ip,
            process=process,
            stderr_file=stderr_file,
        )
        deadline = time.monotonic() + startup_timeout
        while not ring.ring_files():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the capture did not start: {stderr_file.read_text()}")
            time.sleep(0.05)
        yield ring
    finally:
        for proc in [*(ring.senders if ring else []), *([process] if process else [])]:
            stop_process_group(proc)
        for ns in namespaces:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20, check=False)
        shutil.rmtree(base, ignore_errors=True)
