"""Live capture on another machine (the Pi), streamed back over SSH: `homescope live --ssh pi@host -i wlan0`.

`RemoteLiveCapture` is a LiveCapture whose capture command is the user's `ssh` running
`remote_shell.capture_script` on the Pi: it finds dumpcap (or tcpdump) there, runs it writing pcapng
(pcap) to stdout, and stops it with SIGINT when ssh's stdin closes. So stopping homescope closes that
stdin, the remote dumpcap ends its stream with its interface statistics block (the drop counts) and
prints its closing counts on stderr, which ssh passes on, and both are read as for a local capture. If the
connection dies instead, the remote tool ends with it (its output has nowhere to go).

Failures are told apart and explained: ssh's own (name, route, refusal, timeout, login, host key), the
tool missing on the Pi (with its Debian package), no capture permission there (quoting the tool, with the
group to join or the capture service's dumps to follow instead), no such interface, a bad filter.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import threading

from engine.capture.live import LiveCapture, LiveOptions, _kill_quietly
from engine.capture.live_failure import TOOL_PACKAGES, bad_filter, failure_kind, first_message, stopped
from engine.capture.remote_shell import MARK, capture_script
from engine.capture.ssh_failure import ssh_failure, ssh_missing
from engine.capture.ssh_target import SshSettings, SshTarget, sh_command, ssh_argv
from engine.errors import ExitCode, HomescopeError, LiveCaptureError

_TOOL_LINE = re.compile(rf"^{MARK} tool (?P<tool>\S+) (?P<path>.+)$")
_USER_LINE = re.compile(rf"^{MARK} user (?P<user>\S+)$")


class RemoteLiveCapture(LiveCapture):
    """A capture tool running on another machine, read over SSH; see the module docstring.

    `tool_dirs` is where the tool is looked for there (a PATH-like list; default: the account's PATH,
    /usr/sbin and /sbin)."""

    def __init__(
        self,
        options: LiveOptions,
        target: SshTarget,
        *,
        ssh: SshSettings | None = None,
        tool_dirs: str | None = None,
        stop_timeout: float = 10.0,
    ) -> None:
        # no SIGUSR1 to a tool on another machine: tcpdump's counts come when it stops
        super().__init__(options, stop_timeout=stop_timeout, stats_every=0)
        self.target = target
        self.ssh = ssh or SshSettings()
        self.tool_dirs = tool_dirs
        self.remote_user: str | None = target.user
        self._tool_started = False
        self._set_path()

    def _set_path(self) -> None:
        tool = self.tool if self.options.tool != "auto" or self._tool_started else "capture"
        self.status.path = f"{self.target.display}: {tool} -i {self.options.interface}"

    # ---- starting ----------------------------------------------------------------------------------

    def check(self) -> None:
        """Nothing to check here before connecting: the remote end checks the tool and the interface."""
        self._set_path()

    def remote_script(self) -> str:
        """The POSIX sh script run on the remote machine."""
        return capture_script(self.options, self.tool_dirs)

    def command(self) -> list[str]:
        """The ssh command line (what `--print-command` shows)."""
        return ssh_argv(self.target, self.ssh, sh_command(self.remote_script()))

    def _popen(self) -> subprocess.Popen[bytes]:
        try:
            return subprocess.Popen(
                self.command(),
                stdin=subprocess.PIPE,  # closing it stops the remote capture
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # a terminal's Ctrl-C reaches homescope, which stops the capture
                bufsize=0,
            )
        except FileNotFoundError:
            raise ssh_missing(self.ssh.program, ExitCode.CAPTURE_FAILED) from None

    def stop(self) -> None:
        """Close ssh's stdin: the remote end stops the tool with SIGINT, which writes its statistics and
        ends the stream. ssh is killed if it has not ended within `stop_timeout`. Does not wait."""
        self._stopping.set()
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        timer = threading.Timer(self.stop_timeout, _kill_quietly, args=(proc,))
        timer.daemon = True
        timer.start()

    def _rx_dropped(self) -> int | None:
        return None  # the interface is on the other machine: its drop counts come from the tool

    def _parse_counts(self, line: str) -> None:
        found = _TOOL_LINE.match(line)
        if found is not None:
            self.tool = "tcpdump" if found.group("tool") == "tcpdump" else "dumpcap"
            self.tool_path = found.group("path")
            self._tool_started = True
            self._set_path()
            return
        user = _USER_LINE.match(line)
        if user is not None:
            self.remote_user = user.group("user")
            return
        super()._parse_counts(line)

    # ---- failures ----------------------------------------------------------------------------------

    def _failure(self, *, started: bool) -> HomescopeError:
        proc = self._proc
        assert proc is not None
        text = self.stderr_text()
        error = ssh_failure(
            text,
            proc.returncode,
            self.target,
            exit_code=ExitCode.CAPTURE_FAILED,
            connected=self._tool_started,
        )
        if error is not None:
            return error
        return self._remote_failure(text, started=started)

    def _remote_failure(self, text: str, *, started: bool) -> LiveCaptureError:
        host = self.target.host
        who = self.remote_user or self.target.user or "your account"
        tool = self.tool
        iface = self.options.interface
        for line in text.splitlines():
            if line.startswith(f"{MARK} no-tool"):
                if self.options.tool == "auto":
                    message = (
                        f"no capture tool on {host}: homescope captures there through dumpcap (Debian "
                        "package wireshark-common) or tcpdump (package tcpdump); install one on the Pi, "
                        "e.g. `sudo apt install wireshark-common`"
                    )
                else:
                    package = TOOL_PACKAGES[self.options.tool]
                    message = (
                        f"{self.options.tool} is not installed on {host} (or not where homescope looks: the "
                        f"account's PATH, /usr/sbin and /sbin): install it on the Pi with "
                        f"`sudo apt install {package}`"
                    )
                return LiveCaptureError(message, title="No capture tool")
            if line.startswith(f"{MARK} not-runnable "):
                path = line.split(" ", 2)[2]
                return self._permission(
                    f"{path} may only be run by members of its group (usually wireshark)", who
                )
        said = first_message(_tool_lines(text), tool)
        if not started or self.status.packets == 0:
            kind = failure_kind(text, tool, self.options.capture_filter)
            if kind == "permission":
                return self._permission(said, who)
            if kind == "no-interface":
                return LiveCaptureError(
                    f'there is no network interface "{iface}" on {host} ({tool} said: {said}); '
                    f"`ssh {self.target.display} ip -br link` lists them",
                    title="No such interface",
                )
            if kind == "bad-filter":
                return bad_filter(tool, self.options.capture_filter, text, said, where=f" on {host}")
        assert self._proc is not None
        return stopped(
            f"the capture on {host}",
            started=started,
            packets=self.status.packets,
            code=self._proc.returncode,
            said=said,
        )

    def _permission(self, said: str, who: str) -> LiveCaptureError:
        host = self.target.host
        said_part = f" ({self.tool} said: {said})" if said else ""
        return LiveCaptureError(
            f'{who} may not capture on "{self.options.interface}" on {host}{said_part}. On the Pi, run '
            "`sudo dpkg-reconfigure wireshark-common` (answer Yes to letting non-superusers capture) and "
            f"`sudo usermod -aG wireshark {who}`, then connect again. Or, without any capture rights, watch "
            "the Pi's capture service: "
            f"`homescope follow {self.target.describe('/var/lib/homescope/dumps')}`.",
            title="No permission to capture",
        )


def _tool_lines(text: str) -> str:
    """The remote tool's stderr: without homescope's own lines and ssh's warnings."""
    return "\n".join(
        ln for ln in text.splitlines() if not ln.startswith((MARK, "Warning: Permanently added"))
    )
