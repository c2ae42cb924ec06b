"""Remote source names, the ssh command line, the quoting of what the user typed into the remote script, and
the reading of ssh's own error messages (as OpenSSH 9.2 prints them)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from engine.capture.live import LiveOptions
from engine.capture.remote_shell import capture_script
from engine.capture.ssh_failure import ssh_failure
from engine.capture.ssh_target import (
    SshSettings,
    SshTarget,
    is_remote_spec,
    parse_remote,
    sh_command,
    ssh_argv,
)
from engine.errors import ExitCode, RemoteError

# ---- names ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "pi@raspberrypi.local:/var/lib/homescope/dumps",
            SshTarget("raspberrypi.local", "pi", None, "/var/lib/homescope/dumps"),
        ),
        ("pi:dumps", SshTarget("pi", None, None, "dumps")),
        ("ssh://pi@10.0.0.5:2222/var/dumps", SshTarget("10.0.0.5", "pi", 2222, "/var/dumps")),
        ("ssh://host/x.pcapng.gz", SshTarget("host", None, None, "/x.pcapng.gz")),
        ("me@[fe80::1%eth0]:/d", SshTarget("fe80::1%eth0", "me", None, "/d")),
        ("ssh://me@[2001:db8::1]:22/d", SshTarget("2001:db8::1", "me", 22, "/d")),
    ],
)
def test_remote_specs(text: str, expected: SshTarget) -> None:
    assert is_remote_spec(text)
    assert parse_remote(text) == expected


@pytest.mark.parametrize("text", ["/var/lib/homescope/dumps", "./dumps:old", "dumps", "~/dumps", "a/b:c"])
def test_local_paths_are_not_remote(text: str) -> None:
    assert not is_remote_spec(text)


def test_host_only_for_live() -> None:
    assert parse_remote("pi@raspberrypi", need_path=False) == SshTarget("raspberrypi", "pi")
    assert parse_remote("ssh://pi@host:2200", need_path=False) == SshTarget("host", "pi", 2200)
    with pytest.raises(RemoteError, match="names no path"):
        parse_remote("pi@host:")


@pytest.mark.parametrize("text", ["-oProxyCommand=x:/p", "pi@-oProxyCommand=x:/p", "ssh://h:99999/p"])
def test_names_that_could_be_options_or_nonsense_are_refused(text: str) -> None:
    with pytest.raises(RemoteError) as caught:
        parse_remote(text)
    assert caught.value.exit_code == ExitCode.USAGE


# ---- the ssh command line -------------------------------------------------------------------------------


def test_ssh_argv_batch_mode_first_user_options_before_defaults() -> None:
    settings = SshSettings(config_file="/tmp/cfg", options=("ConnectTimeout=30", "IdentityFile=~/.ssh/pi"))
    argv = ssh_argv(SshTarget("host", "pi", 2222), settings, "true")
    assert argv[:4] == ["ssh", "-T", "-o", "BatchMode=yes"]
    options = [argv[i + 1] for i, a in enumerate(argv) if a == "-o"]
    # ssh keeps the first value it sees: the user's timeout wins over homescope's default
    assert options.index("ConnectTimeout=30") < options.index("ConnectTimeout=10")
    assert "ServerAliveInterval=5" in options and "ServerAliveCountMax=3" in options
    assert "ClearAllForwardings=yes" in options
    assert argv[-7:] == ["-F", "/tmp/cfg", "-p", "2222", "--", "pi@host", "true"]


@pytest.mark.skipif(shutil.which("dash") is None and shutil.which("sh") is None, reason="no POSIX sh")
def test_interface_and_filter_reach_the_tool_as_typed(tmp_path: Path) -> None:
    """Whatever the user types (quotes, $(...), ;, newlines) arrives as one argument each, never as shell
    code: the remote command line is run by a shell, as ssh does it."""
    log = tmp_path / "argv"
    fake = tmp_path / "bin" / "dumpcap"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\nfor a in "$@"; do printf "%s\\0" "$a"; done > {log}\n')
    fake.chmod(0o755)
    evil_filter = "port 53 and host 'a' \"b\" $(touch x) `id`; rm -rf / \\ \n next"
    evil_iface = "wlan0'; touch pwned; '"
    options = LiveOptions(evil_iface, capture_filter=evil_filter, snaplen=96, buffer_mib=4)
    command = sh_command(capture_script(options, str(fake.parent)))
    # ssh hands the command line to the login shell: `sh -c COMMAND`
    # stdin stays open (as ssh's does while homescope reads): the tool ends by itself, and so does the script
    proc = subprocess.Popen(
        ["sh", "-c", command],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    try:
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.stdin is not None and proc.stderr is not None and proc.stdout is not None
    proc.stdin.close()
    stderr = proc.stderr.read()
    proc.stderr.close()
    proc.stdout.close()
    assert code == 0, stderr
    assert log.read_bytes().split(b"\0")[:-1] == [
        b"-q",
        b"-i",
        evil_iface.encode(),
        b"-s",
        b"96",
        b"-B",
        b"4",
        b"-f",
        evil_filter.encode(),
        b"-w",
        b"-",
    ]
    assert not (tmp_path / "x").exists() and not (tmp_path / "pwned").exists()
    assert b"homescope-remote: tool dumpcap " in stderr


# ---- ssh's words ----------------------------------------------------------------------------------------

TARGET = SshTarget("raspberrypi.local", "pi")

SSH_SAID = {
    "unresolved": "ssh: Could not resolve hostname raspberrypi.local: Name or service not known",
    "refused": "ssh: connect to host 192.168.1.20 port 22: Connection refused",
    "unreachable": "ssh: connect to host 192.168.1.20 port 22: No route to host",
    "timeout": "ssh: connect to host 192.168.1.20 port 22: Connection timed out",
    "auth": "pi@raspberrypi.local: Permission denied (publickey,password).",
    "host-key-unknown": "Host key verification failed.",
    "host-key-changed": (
        "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
        "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n"
        "Host key for raspberrypi.local has changed and you have requested strict checking.\n"
        "Host key verification failed."
    ),
    "closed-early": "kex_exchange_identification: Connection closed by remote host",
}


@pytest.mark.parametrize("kind", sorted(SSH_SAID))
def test_ssh_failures_are_recognised(kind: str) -> None:
    err = ssh_failure(SSH_SAID[kind], 255, TARGET)
    assert err is not None and err.kind == kind
    assert err.exit_code == ExitCode.NO_INPUT
    assert err.retryable == (kind in {"unresolved", "refused", "unreachable", "timeout", "closed-early"})
    live = ssh_failure(SSH_SAID[kind], 255, TARGET, exit_code=ExitCode.CAPTURE_FAILED)
    assert live is not None and live.exit_code == 5


def test_failure_messages_say_what_to_do() -> None:
    auth = ssh_failure(SSH_SAID["auth"], 255, TARGET)
    assert auth is not None and auth.title == "Login refused"
    assert (
        "ssh-copy-id pi@raspberrypi.local" in auth.message and "ssh pi@raspberrypi.local true" in auth.message
    )
    assert "(ssh said: pi@raspberrypi.local: Permission denied (publickey,password).)" in auth.message
    unknown = ssh_failure(SSH_SAID["host-key-unknown"], 255, TARGET)
    assert (
        unknown is not None
        and "connect once in a terminal with `ssh pi@raspberrypi.local`" in unknown.message
    )
    changed = ssh_failure(SSH_SAID["host-key-changed"], 255, TARGET)
    assert changed is not None and "ssh-keygen -R raspberrypi.local" in changed.message
    assert "Host key for raspberrypi.local has changed" in changed.message
    timeout = ssh_failure("Timeout, server raspberrypi.local not responding.", 255, TARGET, connected=True)
    assert timeout is not None and timeout.kind == "timeout" and "stopped answering" in timeout.message
    dropped = ssh_failure(
        "Connection to raspberrypi.local closed by remote host.", 255, TARGET, connected=True
    )
    assert dropped is not None and dropped.kind == "dropped" and dropped.retryable


def test_a_remote_commands_own_failure_is_not_sshs() -> None:
    # the same words with the remote command's exit status are the command's, not ssh's
    assert ssh_failure("cd: Permission denied (publickey)", 1, TARGET) is None
    other = ssh_failure("something odd", 255, TARGET)
    assert (
        other is not None and other.title == "SSH failed" and "ssh pi@raspberrypi.local true" in other.message
    )
