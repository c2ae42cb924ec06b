"""A throw-away OpenSSH server on 127.0.0.1 for the remote-source tests, and a client configuration for it.

Everything lives in the test's temporary folder: a host key and a user key made by ssh-keygen, an
`sshd_config` (a free high port, public keys only, `StrictModes no` for the temporary paths, `UsePAM
no`), the authorized keys, and a client `ssh_config` naming the server as `Host testpi` with its own
known-hosts file. The client is always run with `-F` that file, so the user's own `~/.ssh` is never read
or written. The server and every process it started are stopped by PID (never by name) at the end.

`capabilities_dropped=True` starts the server without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, so that
even as root its sessions meet file permissions (for the permission-denied tests).
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from engine.capture.ssh_target import SshSettings

SSHD = "/usr/sbin/sshd"
PRIVSEP_DIR = "/run/sshd"  # sshd started as root refuses to run without it
ALIAS = "testpi"


def sshd_available() -> str | None:
    """Why the server cannot run here, or None."""
    if not os.path.exists(SSHD):
        return "no OpenSSH server (/usr/sbin/sshd: Debian package openssh-server)"
    if shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        return "no OpenSSH client (ssh, ssh-keygen: Debian package openssh-client)"
    if os.geteuid() == 0 and not os.path.isdir(PRIVSEP_DIR):
        try:
            os.makedirs(PRIVSEP_DIR, mode=0o755, exist_ok=True)
        except OSError as err:
            return f"sshd needs {PRIVSEP_DIR}, which cannot be made ({err})"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def keygen(path: Path) -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "homescope-test", "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    path.chmod(0o600)
    return (path.with_suffix(".pub")).read_text().strip()


@dataclass
class SshServer:
    root: Path
    port: int = field(default_factory=free_port)
    user: str = field(default_factory=getpass.getuser)
    capabilities_dropped: bool = False
    proc: subprocess.Popen[str] | None = None
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.host_key = self.root / "host_key"
        self.user_key = self.root / "user_key"
        self.other_key = self.root / "other_key"
        self.host_pub = keygen(self.host_key)
        self.user_pub = keygen(self.user_key)
        keygen(self.other_key)
        self.authorized_keys = self.root / "authorized_keys"
        self.authorized_keys.write_text(self.user_pub + "\n")
        self.known_hosts = self.root / "known_hosts"
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {' '.join(self.host_pub.split()[:2])}\n")
        self.sshd_config = self.root / "sshd_config"
        self.sshd_config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {self.host_key}",
                    "PidFile none",
                    f"AuthorizedKeysFile {self.authorized_keys}",
                    "StrictModes no",
                    "UsePAM no",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PubkeyAuthentication yes",
                    "PermitRootLogin prohibit-password",
                    f"AllowUsers {self.user}",
                    "MaxStartups 50",
                    "LogLevel VERBOSE",
                    "",
                ]
            )
        )
        self.client_config = self.write_client_config("ssh_config")

    def write_client_config(
        self, name: str, *, key: Path | None = None, known_hosts: Path | None = None, port: int | None = None
    ) -> Path:
        path = self.root / name
        path.write_text(
            "\n".join(
                [
                    f"Host {ALIAS}",
                    "  HostName 127.0.0.1",
                    f"  Port {port or self.port}",
                    f"  User {self.user}",
                    f"  IdentityFile {key or self.user_key}",
                    "  IdentitiesOnly yes",
                    "  IdentityAgent none",
                    f"  UserKnownHostsFile {known_hosts or self.known_hosts}",
                    "  GlobalKnownHostsFile /dev/null",
                    "  StrictHostKeyChecking yes",
                    "  UpdateHostKeys no",
                    "",
                ]
            )
        )
        return path

    def settings(self, config: Path | None = None, **kwargs: object) -> SshSettings:
        """ssh settings that use only this folder's configuration and keys."""
        kwargs.setdefault("connect_timeout", 5)
        kwargs.setdefault("alive_interval", 1)
        kwargs.setdefault("alive_count", 3)
        return SshSettings(config_file=str(config or self.client_config), **kwargs)  # type: ignore[arg-type]

    # ---- running -----------------------------------------------------------------------------------

    def start(self, timeout: float = 15) -> SshServer:
        argv = [SSHD, "-D", "-e", "-f", str(self.sshd_config)]
        if self.capabilities_dropped:
            if shutil.which("setpriv") is None:
                pytest.skip("setpriv (util-linux) is needed to drop capabilities")
            argv = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--", *argv]
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        self.proc = proc
        assert proc.stderr is not None
        deadline = time.monotonic() + timeout
        ready = threading.Event()

        def drain() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                self.log.append(line.rstrip())
                if "Server listening on" in line:
                    ready.set()

        threading.Thread(target=drain, daemon=True).start()
        while not ready.wait(0.05):
            if proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail("sshd did not start:\n" + "\n".join(self.log))
        return self

    def descendants(self) -> list[int]:
        """PIDs of every process below the server (its per-connection children and their sessions)."""
        if self.proc is None:
            return []
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
        found: list[int] = []
        todo = [self.proc.pid]
        while todo:
            pid = todo.pop()
            for child in children.get(pid, []):
                found.append(child)
                todo.append(child)
        return found

    def kill_connections(self) -> None:
        """Kill the server's per-connection processes (by PID), leaving the server listening: the
        connections drop as if the network went away, and what the sessions run is left to notice."""
        for pid in self.descendants():
            try:
                with open(f"/proc/{pid}/comm") as fh:
                    name = fh.read().strip()
            except OSError:
                continue
            if name.startswith("sshd"):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        """Stop the server and everything it started, by PID."""
        if self.proc is None:
            return
        below = self.descendants()
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        for pid in below:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        self.proc = None


@contextlib.contextmanager
def ssh_server(root: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    why = sshd_available()
    if why is not None:
        pytest.skip(why)
    server = SshServer(root, **kwargs)  # type: ignore[arg-type]
    try:
        yield server.start()
    finally:
        server.stop()
