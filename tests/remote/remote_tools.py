"""The stand-in dumpcap and tcpdump of tests/live/fake_tools.py, run on the far side of an SSH connection.

sshd gives a session a fresh environment, so the fakes cannot read their settings from the test's
environment as they do locally. Here each tool is a small sh wrapper in a folder of its own (the folder
given to homescope as where the tools are on the remote machine): it loads the settings from an env file
that `sync()` writes from the test's FAKE_CAPTURE_* variables, then runs the fake.
"""

from __future__ import annotations

import os
import shlex
import stat
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.live.fake_tools import FakeTools, install_fake_tools


@dataclass
class RemoteTools:
    fakes: FakeTools
    bin: Path  # where homescope is told the tools are on the remote machine
    env_file: Path

    def configure(self, **kwargs: object) -> None:
        self.fakes.configure(**kwargs)  # type: ignore[arg-type]
        self.sync()

    def sync(self) -> None:
        lines = [
            f"{k}={shlex.quote(v)}" for k, v in sorted(os.environ.items()) if k.startswith("FAKE_CAPTURE_")
        ]
        self.env_file.write_text("\n".join(lines) + "\n")

    def remove(self, tool: str) -> None:
        (self.bin / tool).unlink()


def install_remote_tools(folder: Path, monkeypatch: pytest.MonkeyPatch) -> RemoteTools:
    folder.mkdir(parents=True, exist_ok=True)
    fakes = install_fake_tools(folder, monkeypatch)
    remote_bin = folder / "remote-bin"
    remote_bin.mkdir()
    env_file = folder / "fake.env"
    env_file.write_text("")
    for tool in ("dumpcap", "tcpdump"):
        wrapper = remote_bin / tool
        wrapper.write_text(
            f"#!/bin/sh\nset -a\n. {shlex.quote(str(env_file))}\nset +a\n"
            f'exec {shlex.quote(str(fakes.bin / tool))} "$@"\n'
        )
        wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return RemoteTools(fakes, remote_bin, env_file)
