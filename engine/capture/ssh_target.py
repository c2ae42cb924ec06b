"""Where a remote source is and how to reach it: `USER@HOST:/path` or `ssh://USER@HOST:PORT/path`, and the
command line of the user's own `ssh`.

homescope never handles passwords or keys: it runs the `ssh` command with the user's keys, agent and
`~/.ssh/config` (so a `Host pi` alias works), adding only what a program needs to drive it safely:

- `BatchMode=yes`: never prompt (a password or host-key prompt would hang inside the monitor); a missing
  key or an unknown host key fails at once, with a message saying how to set it up;
- `ConnectTimeout`, `ServerAliveInterval` and `ServerAliveCountMax`: a dead link is noticed within
  seconds instead of when TCP gives up;
- `-T`, `ClearAllForwardings=yes`, `ForwardX11=no`: no terminal (it would mangle the binary stream)
  and none of the forwardings a `Host` block may ask for (a busy local port would fail the connection).

Options given by the user (`SshSettings.options`, `--ssh-option`) come before homescope's defaults, so
they win (ssh takes the first value it sees), except BatchMode, which always stays on.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from engine.errors import ExitCode, RemoteError

CONNECT_TIMEOUT = 10  # seconds for the TCP connection and the SSH handshake
ALIVE_INTERVAL = 5  # seconds between keep-alive probes through the encrypted channel
ALIVE_COUNT = 3  # unanswered probes after which ssh gives up: a dead link is noticed within ~15 s

_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/:\s]+)@)?(?P<host>\[[^\]/\s]+\]|[^@/:\s\[\]]+):(?P<path>.*)$")
_URL = re.compile(
    r"^ssh://(?:(?P<user>[^@/:\s]+)@)?(?P<host>\[[^\]/\s]+\]|[^@/:\s\[\]]+)(?::(?P<port>\d+))?(?P<path>/.*)?$"
)
_HOST_ONLY = re.compile(r"^(?:(?P<user>[^@/:\s]+)@)?(?P<host>\[[^\]/\s]+\]|[^@/:\s\[\]]+)$")


@dataclass(frozen=True, slots=True)
class SshTarget:
    """A remote machine, and a path on it when the source is a folder or a file."""

    host: str  # a name, an address, or a Host alias of the user's ssh configuration
    user: str | None = None
    port: int | None = None
    path: str = ""

    @property
    def destination(self) -> str:
        """What ssh connects to: `user@host` or `host`."""
        return f"{self.user}@{self.host}" if self.user else self.host

    @property
    def display(self) -> str:
        """The machine as the user would write it in an ssh command."""
        port = f" -p {self.port}" if self.port else ""
        return f"{self.destination}{port}"

    def describe(self, path: str | None = None) -> str:
        """`user@host:/path` for messages and statuses."""
        where = self.path if path is None else path
        host = f"{self.destination}:{self.port}" if self.port else self.destination
        return f"{host}:{where}" if where else host


@dataclass(frozen=True, slots=True)
class SshSettings:
    """How to run ssh: the program, a configuration file (`-F`) and options (`-o Key=Value`) of the user's
    choosing, and the time limits homescope adds unless the options set them."""

    program: str = "ssh"
    config_file: str | None = None
    options: tuple[str, ...] = field(default_factory=tuple)
    connect_timeout: int = CONNECT_TIMEOUT
    alive_interval: int = ALIVE_INTERVAL
    alive_count: int = ALIVE_COUNT


def is_remote_spec(text: str) -> bool:
    """Whether `text` names a remote source (`ssh://...` or `[user@]host:path`) rather than a local path.
    A local name with a colon before any slash (`dumps:old`) reads as remote: write `./dumps:old`."""
    if text.startswith("ssh://"):
        return True
    if text.startswith(("/", ".", "~")):
        return False
    return _SCP_LIKE.match(text) is not None


def parse_remote(text: str, *, need_path: bool = True, exit_code: ExitCode = ExitCode.USAGE) -> SshTarget:
    """Parse `USER@HOST:/path`, `HOST:path`, `ssh://USER@HOST:PORT/path` (and, with `need_path=False`, a
    bare `USER@HOST` or `ssh://USER@HOST:PORT`). Raises RemoteError (a usage error) when it is none."""
    found = _URL.match(text)
    if found is not None:
        port = int(found.group("port")) if found.group("port") else None
        path = found.group("path") or ""
        target = SshTarget(_host(found.group("host")), found.group("user"), port, path)
    elif (found := _SCP_LIKE.match(text)) is not None:
        target = SshTarget(_host(found.group("host")), found.group("user"), None, found.group("path"))
    elif not need_path and (found := _HOST_ONLY.match(text)) is not None:
        target = SshTarget(_host(found.group("host")), found.group("user"))
    else:
        shape = "USER@HOST:/path or ssh://USER@HOST[:PORT]/path" if need_path else "USER@HOST"
        raise RemoteError(
            f"{text!r} is not a remote source: write {shape}",
            title="Not a remote source",
            exit_code=exit_code,
        )
    if target.host.startswith("-") or (target.user or "").startswith("-"):
        raise RemoteError(
            f"{text!r}: a host or user name cannot start with '-'",
            title="Not a remote source",
            exit_code=exit_code,
        )
    if target.port is not None and not 0 < target.port < 65536:
        raise RemoteError(
            f"{text!r}: no such port {target.port}", title="Not a remote source", exit_code=exit_code
        )
    if need_path and not target.path:
        raise RemoteError(
            f"{text!r} names no path on {target.host}: write {target.destination}:/var/lib/homescope/dumps",
            title="Not a remote source",
            exit_code=exit_code,
        )
    return target


def _host(text: str) -> str:
    return text[1:-1] if text.startswith("[") and text.endswith("]") else text


def ssh_argv(target: SshTarget, settings: SshSettings, remote_command: str) -> list[str]:
    """The ssh command line that runs `remote_command` (one shell command line) on the target."""
    argv = [settings.program, "-T", "-o", "BatchMode=yes"]
    for option in settings.options:
        argv += ["-o", option]
    argv += [
        "-o",
        f"ConnectTimeout={settings.connect_timeout}",
        "-o",
        f"ServerAliveInterval={settings.alive_interval}",
        "-o",
        f"ServerAliveCountMax={settings.alive_count}",
        "-o",
        "ClearAllForwardings=yes",
        "-o",
        "ForwardX11=no",
    ]
    if settings.config_file:
        argv += ["-F", settings.config_file]
    if target.port:
        argv += ["-p", str(target.port)]
    return [*argv, "--", target.destination, remote_command]


def sh_command(script: str) -> str:
    """A command line that runs a POSIX sh script whatever the remote account's login shell."""
    return f"sh -c {shlex.quote(script)}"
