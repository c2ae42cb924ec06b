"""Fixtures of the remote-source tests: a throw-away sshd on 127.0.0.1, stand-in capture tools behind it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.remote.remote_tools import RemoteTools, install_remote_tools
from tests.remote.sshd import SshServer, ssh_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SshServer]:
    with ssh_server(tmp_path / "sshd") as running:
        yield running


@pytest.fixture
def remote_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RemoteTools:
    return install_remote_tools(tmp_path / "tools", monkeypatch)
