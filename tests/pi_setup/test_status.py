"""status.sh on the pretend Pi after an install: what it reports and its exit status."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.pi_setup.conftest import FakePi

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="installing files with owners needs root")


@pytest.fixture
def installed(fake_pi: FakePi, pi_config: Path) -> FakePi:
    if os.geteuid() != 0:
        pytest.skip("installing files with owners needs root")
    result = fake_pi.run("install.sh", "--config", str(pi_config), "--i-have-informed-household")
    assert result.returncode == 0, result.stdout + result.stderr
    return fake_pi


def test_not_installed(fake_pi: FakePi) -> None:
    result = fake_pi.run("status.sh")
    assert result.returncode == 2
    assert "not installed" in result.stderr


@needs_root
def test_all_running(installed: FakePi) -> None:
    dumps = installed.root / "var/lib/homescope/dumps"
    (dumps / "hs_00001_20250601090000.pcapng").write_bytes(b"x" * 100)
    (dumps / "hs_00002_20250601100000.pcapng").write_bytes(b"x" * 2048)
    leases = installed.root / "var/lib/NetworkManager/dnsmasq-wlan0.leases"
    leases.parent.mkdir(parents=True)
    leases.write_text("1748862000 aa:bb:cc:00:00:01 10.42.0.23 phone 01:aa:bb:cc:00:00:01\n")
    installed.set_state(
        stations=["aa:bb:cc:00:00:01", "aa:bb:cc:00:00:02"],
        journal=[
            "Capturing on 'wlan0'",
            "Packets received/dropped on interface 'wlan0': 5120/3 "
            "(pcap:3/dumpcap:0/flushed:0/ps_ifdrop:0) (99.9%)",
        ],
        nm={**installed.state["nm"]},
    )
    result = installed.run("status.sh")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert 'Access point: up on wlan0, SSID "Home Net (monitored)" (routed)' in out
    assert "Clients:      2 connected" in out
    assert "aa:bb:cc:00:00:01  10.42.0.23  phone" in out
    assert "Capture:      running on wlan0 since Mon 2025-06-02 10:00:00 UTC" in out
    assert "Dumps:        2 files, 2.1KiB in" in out
    assert "Newest file:  hs_00002_20250601100000.pcapng, 2.0KiB, written" in out
    assert "5120/3" in out
    assert "Retention:    daily; next run Tue 2025-06-03 00:12:00 UTC; keeps 7 days" in out
    assert f"homescope follow {dumps}" in out


@needs_root
def test_capture_down_is_reported(installed: FakePi) -> None:
    installed.set_state(active=["NetworkManager.service", "homescope-retention.timer"], nm_active=[])
    result = installed.run("status.sh")
    assert result.returncode == 1
    assert "Capture:      INACTIVE dead" in result.stdout
    assert "Access point: DOWN" in result.stdout
    assert "Drops:        none reported" in result.stdout
