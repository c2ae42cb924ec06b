"""What went wrong with an SSH connection, from ssh's own words on stderr, as a message for a person.

ssh exits with status 255 when it fails itself, and prints why on stderr in words that have been stable
across OpenSSH releases ("Could not resolve hostname", "Connection refused", "Permission denied
(publickey)", "Host key verification failed", ...). `ssh_failure` recognises them and returns a
RemoteError that says what happened in homescope's terms and what to do about it, quoting ssh.
"""

from __future__ import annotations

import re

from engine.capture.ssh_target import SshTarget
from engine.errors import ExitCode, RemoteError

SSH_FAILED = 255  # ssh's exit status for its own failures

# (kind, pattern) in the order they are tried: the first that matches any line names the cause.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("host-key-changed", re.compile(r"REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed")),
    ("host-key-unknown", re.compile(r"Host key verification failed|No \S+ host key is known for")),
    ("unresolved", re.compile(r"Could not resolve hostname|Name or service not known|nodename nor servname")),
    ("auth", re.compile(r"Permission denied \(|Too many authentication failures|Authentication failed")),
    ("refused", re.compile(r"Connection refused")),
    ("unreachable", re.compile(r"No route to host|Network is unreachable|Host is unreachable")),
    ("timeout", re.compile(r"timed out|Operation timed out|Timeout, server .* not responding")),
    ("closed-early", re.compile(r"kex_exchange_identification|Connection reset by peer|banner exchange")),
    (
        "dropped",
        re.compile(
            r"closed by remote host|Broken pipe|Connection closed by|connection reset|Connection reset"
            r"|client_loop: send disconnect|packet_write_wait|Received disconnect"
        ),
    ),
    ("ssh-config", re.compile(r"Bad configuration option|Unsupported option|Can't open user config file")),
)

# What may work when tried again later (the Pi rebooting, Wi-Fi coming back) and what will not.
RETRYABLE = frozenset({"unresolved", "refused", "unreachable", "timeout", "closed-early", "dropped"})

_NOISE = (
    "Warning: Permanently added",
    "@@@",
    "Pseudo-terminal will not be allocated",
    "homescope-remote:",
)


def ssh_words(stderr: str, limit: int = 2) -> str:
    """ssh's own message: its first meaningful lines, joined."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith(_NOISE)]
    picked = lines[:limit]
    return " / ".join(ln.removeprefix("ssh: ") for ln in picked)


def _line_of(stderr: str, pattern: re.Pattern[str]) -> str:
    for line in stderr.splitlines():
        if pattern.search(line):
            return line.strip().removeprefix("ssh: ")
    return ""


def ssh_failure(
    stderr: str,
    returncode: int | None,
    target: SshTarget,
    *,
    exit_code: ExitCode = ExitCode.NO_INPUT,
    connected: bool = False,
) -> RemoteError | None:
    """The RemoteError for ssh's failure, or None when stderr shows none (the remote command failed, not
    the connection). `connected`: the connection had worked, so an end of it is a lost connection.
    Only an exit status of 255 is ssh's own failure: other statuses are the remote command's, whose
    words are not read as ssh's."""
    if returncode != SSH_FAILED:
        return None
    for kind, pattern in _PATTERNS:
        if pattern.search(stderr):
            said = _line_of(stderr, pattern)
            if kind == "host-key-changed":
                said = _line_of(stderr, re.compile(r"Host key for .* has changed")) or said
            return _error(kind, said, target, exit_code, connected=connected)
    said = ssh_words(stderr)
    if connected:
        return _error("dropped", said, target, exit_code, connected=True)
    return RemoteError(
        f"ssh could not run the command on {target.display}"
        + (f" (ssh said: {said})" if said else " (ssh printed nothing)")
        + f"; check that `ssh {target.display} true` works",
        title="SSH failed",
        kind="ssh",
        exit_code=exit_code,
    )


def ssh_missing(program: str, exit_code: ExitCode = ExitCode.NO_INPUT) -> RemoteError:
    return RemoteError(
        f"homescope reaches remote machines through the `{program}` command, which is not installed here "
        "(Debian package openssh-client: `sudo apt install openssh-client`)",
        title="ssh not found",
        kind="ssh-missing",
        exit_code=exit_code,
    )


def _error(kind: str, said: str, target: SshTarget, exit_code: ExitCode, *, connected: bool) -> RemoteError:
    host = target.host
    dest = target.display
    quote = f" (ssh said: {said})" if said else ""
    if kind == "unresolved":
        title = "Host not found"
        text = (
            f"the name {host} could not be resolved{quote}: check the spelling, or use the Pi's address "
            "(names like raspberrypi.local need mDNS on this machine: the avahi-daemon package)"
        )
    elif kind == "refused":
        title = "Connection refused"
        text = (
            f"{host} refused the connection{quote}: no SSH server listens on that port. Is the Pi on, is SSH "
            "enabled on it (`sudo raspi-config`, Interface Options, SSH), and is the port right?"
        )
    elif kind == "unreachable":
        title = "Host unreachable"
        text = f"{host} cannot be reached{quote}: is it on, and on a network this machine can reach?"
    elif kind == "timeout":
        title = "Connection timed out"
        if connected:
            text = f"the connection to {host} stopped answering{quote}: the Pi or the network went away"
        else:
            text = (
                f"{host} did not answer in time{quote}: is it on and reachable (a firewall may drop the "
                "connection silently)?"
            )
    elif kind == "closed-early":
        title = "Connection closed"
        text = (
            f"{host} closed the connection before the login{quote}: its SSH server may be refusing "
            "connections for now (too many at once, or a blocker such as fail2ban)"
        )
    elif kind == "dropped":
        title = "Connection lost"
        text = f"the SSH connection to {host} was lost{quote}"
    elif kind == "auth":
        title = "Login refused"
        text = (
            f"{dest} refused the login{quote}. homescope logs in with your SSH keys and never asks for a "
            f"password: set up a key with `ssh-copy-id {dest}`, then check that `ssh {dest} true` works "
            "without any prompt (a key with a passphrase needs ssh-agent)."
        )
    elif kind == "host-key-unknown":
        title = "Unknown host key"
        text = (
            f"the host key of {host} is not known on this machine yet, and homescope cannot ask you to "
            f"confirm it{quote}: connect once in a terminal with `ssh {dest}`, check the fingerprint, "
            "answer yes, then try again."
        )
    elif kind == "host-key-changed":
        title = "Host key changed"
        text = (
            f"the host key of {host} has changed since the last connection{quote}. That happens when the "
            "Pi was reinstalled, but also when someone intercepts the connection. If you reinstalled it, "
            f"remove the old key with `ssh-keygen -R {host}` and connect once with `ssh {dest}` to accept "
            "the new one."
        )
    else:  # ssh-config
        title = "SSH configuration error"
        text = f"ssh rejected its configuration{quote}"
    return RemoteError(text, title=title, kind=kind, retryable=kind in RETRYABLE, exit_code=exit_code)
