"""The options `homescope live --ssh` and `homescope follow USER@HOST:/path` share: how to run ssh."""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the engine is imported when a command runs: `homescope --help` stays quick
    from engine.capture.ssh_target import SshSettings


def add_ssh_options(parser: argparse.ArgumentParser, *, print_command: bool = True) -> None:
    """--ssh-option and --ssh-config (and --print-command, for live and follow)."""
    group = parser.add_argument_group(
        "over SSH",
        "homescope runs your own ssh command (your keys, agent and ~/.ssh/config; it never asks for a "
        "password) and needs nothing installed on the Pi beyond what pi-setup installs",
    )
    group.add_argument(
        "--ssh-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an ssh option (as ssh -o), e.g. Port=2222 or IdentityFile=~/.ssh/pi; repeatable",
    )
    group.add_argument("--ssh-config", metavar="FILE", help="the ssh configuration file to use (as ssh -F)")
    if not print_command:
        return
    group.add_argument(
        "--print-command",
        action="store_true",
        help="print the ssh command line homescope would run (with the script it runs on the Pi) and exit",
    )


def ssh_settings(args: argparse.Namespace) -> SshSettings:
    from engine.capture.ssh_target import SshSettings

    return SshSettings(config_file=args.ssh_config or None, options=tuple(args.ssh_option or ()))


def print_command(argv: list[str]) -> int:
    sys.stdout.write(shlex.join(argv) + "\n")
    sys.stdout.flush()
    return 0
