"""install.sh and uninstall.sh against a pretend Raspberry Pi (fake_system.py): what they plan, that
they converge, and that a second run changes nothing.

The "real" runs write into a temporary tree (HS_ROOT) with the test's own account as the service
account, and every system command (apt-get, nmcli, systemctl, useradd, ...) is a stand-in, so this
machine is never changed. They need root only because install(1) sets file owners.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.pi_setup.conftest import GOOD_CONFIG, PI_SETUP, FakePi, write_config

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="installing files with owners needs root")
INFORMED = "--i-have-informed-household"

# Paths of the real system that the tests must never create.
REAL_PATHS = [
    Path("/etc/homescope"),
    Path("/usr/local/lib/homescope"),
    Path("/usr/local/bin/homescope"),
    Path("/etc/systemd/system/homescope-capture.service"),
    Path("/opt/homescope"),
]


@pytest.fixture(autouse=True)
def _the_real_system_stays_untouched():
    before = {p: p.exists() for p in REAL_PATHS}
    yield
    assert {p: p.exists() for p in REAL_PATHS} == before


def install(fake_pi: FakePi, config: Path, *args: str, **env: str):
    return fake_pi.run("install.sh", "--config", str(config), *args, **env)


def commands(output: str, prefix: str) -> list[str]:
    return [line[len(prefix) :] for line in output.splitlines() if line.startswith(prefix)]


# --- refusals ------------------------------------------------------------------------------------------


def test_refuses_without_the_household_notice(fake_pi: FakePi, pi_config: Path) -> None:
    result = install(fake_pi, pi_config)
    assert result.returncode == 2
    assert "tell everyone in your household" in result.stderr
    assert INFORMED in result.stderr
    assert fake_pi.calls() == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "--config FILE is required"),
        (["--config"], "--config needs a file name"),
        (["--bogus"], "unknown option"),
    ],
)
def test_usage_errors(fake_pi: FakePi, args: list[str], message: str) -> None:
    result = fake_pi.run("install.sh", INFORMED, *args)
    assert result.returncode == 2 and message in result.stderr


def test_invalid_config_changes_nothing(fake_pi: FakePi, tmp_path: Path) -> None:
    config = write_config(tmp_path / "bad.conf", {**GOOD_CONFIG, "HS_PSK": "short", "HS_MODE": "nat"})
    result = install(fake_pi, config, INFORMED)
    assert result.returncode == 2
    assert "HS_PSK: must be 8 to 63 characters" in result.stderr and "HS_MODE: must be" in result.stderr
    assert fake_pi.calls() == []


def test_ring_larger_than_the_disk_is_refused(fake_pi: FakePi, pi_config: Path) -> None:
    config = pi_config.read_text().replace("HS_FILES='4'", "HS_FILES='100000'")
    pi_config.write_text(config.replace("HS_FILESIZE_KB='1024'", "HS_FILESIZE_KB='2097152'"))
    result = install(fake_pi, pi_config, INFORMED, "--dry-run")
    assert result.returncode == 2
    assert "the capture ring can grow to 204800000 MiB" in result.stderr
    assert fake_pi.changing_calls() == []


def test_invalid_capture_filter_is_refused(fake_pi: FakePi, pi_config: Path) -> None:
    pi_config.write_text(pi_config.read_text() + "HS_FILTER='not INVALID'\n")
    result = install(fake_pi, pi_config, INFORMED, "--dry-run")
    assert result.returncode == 2
    assert "HS_FILTER is not a valid capture filter" in result.stderr


def test_refuses_to_cut_an_ssh_session_over_the_wifi(fake_pi: FakePi, pi_config: Path) -> None:
    fake_pi.set_state(addrs={"wlan0": ["192.168.1.50"]})
    result = install(
        fake_pi, pi_config, INFORMED, "--dry-run", SSH_CONNECTION="192.168.1.20 50000 192.168.1.50 22"
    )
    assert result.returncode == 1
    assert "you are connected over wlan0" in result.stderr


def test_missing_interface_is_named(fake_pi: FakePi, pi_config: Path) -> None:
    pi_config.write_text(pi_config.read_text() + "HS_WIFI_IFACE=wlan1\n")
    result = install(fake_pi, pi_config, INFORMED, "--dry-run")
    assert result.returncode == 1 and "there is no interface 'wlan1' (HS_WIFI_IFACE)" in result.stderr


# --- the plan (--dry-run) --------------------------------------------------------------------------------


def test_dry_run_plan_on_a_fresh_pi(fake_pi: FakePi, pi_config: Path) -> None:
    result = install(fake_pi, pi_config, INFORMED, "--dry-run", HS_SERVICE_USER="homescope")
    assert result.returncode == 0, result.stderr
    plan = commands(result.stdout, "[dry-run] ")
    root = fake_pi.root
    expected = [
        "debconf-set-selections <<< 'wireshark-common wireshark-common/install-setuid boolean false'",
        "apt-get update",
        "env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "
        "tshark libcap2-bin python3-venv dnsmasq-base iw",
        "groupadd --system wireshark",
        "useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin "
        "--comment 'homescope capture' homescope",
        f"install -d -m 0750 -o homescope -g homescope -- {root}/var/lib/homescope/dumps",
        f"python3 -m venv {root}/opt/homescope/venv",
        f"{root}/opt/homescope/venv/bin/python -m pip install --upgrade --quiet homescope==0.1.0",
        f"ln -sfn -- {root}/opt/homescope/venv/bin/homescope {root}/usr/local/bin/homescope",
        "raspi-config nonint do_wifi_country GB",
        "nmcli connection up homescope-ap",
        "install -D -m 0640 -o root -g homescope -- '<generated>/capture.env' "
        f"{root}/etc/homescope/capture.env",
        f"install -D -m 0755 -o root -g root -- {PI_SETUP}/bin/homescope-capture "
        f"{root}/usr/local/lib/homescope/bin/homescope-capture",
        f"install -D -m 0644 -o root -g root -- {PI_SETUP}/systemd/homescope-capture.service "
        f"{root}/etc/systemd/system/homescope-capture.service",
        "systemctl daemon-reload",
        "systemctl enable homescope-capture.service",
        "systemctl enable homescope-retention.timer",
        "systemctl start homescope-capture.service",
        "systemctl start homescope-retention.timer",
    ]
    missing = [c for c in expected if c not in plan]
    assert not missing, "\n".join(plan)
    nm_add = [c for c in plan if c.startswith("nmcli connection add")]
    assert len(nm_add) == 1
    assert "802-11-wireless.ssid 'Home Net (monitored)'" in nm_add[0]
    assert "802-11-wireless-security.psk '********'" in nm_add[0]
    # the order matters: packages before the account, the profile before it is started, units last
    assert (
        plan.index(expected[2]) < plan.index(expected[4]) < plan.index(nm_add[0]) < plan.index(expected[10])
    )
    assert plan.index("systemctl daemon-reload") < plan.index("systemctl start homescope-capture.service")


def test_dry_run_never_shows_the_password(fake_pi: FakePi, pi_config: Path) -> None:
    result = install(fake_pi, pi_config, INFORMED, "--dry-run")
    assert GOOD_CONFIG["HS_PSK"] not in result.stdout + result.stderr


def test_dry_run_changes_nothing_and_plans_the_same_twice(fake_pi: FakePi, pi_config: Path) -> None:
    first = install(fake_pi, pi_config, INFORMED, "--dry-run")
    second = install(fake_pi, pi_config, INFORMED, "--dry-run")
    assert first.returncode == second.returncode == 0

    def plan(output: str) -> list[str]:
        # the free disk space is measured, not planned: it may change between the runs
        return [line for line in output.splitlines() if not line.startswith("capture ring:")]

    assert plan(first.stdout) == plan(second.stdout)
    assert len(commands(first.stdout, "[dry-run] ")) > 20
    assert fake_pi.changing_calls() == []
    assert list(fake_pi.root.iterdir()) == []


def test_capture_only_leaves_the_network_alone(fake_pi: FakePi, pi_config: Path) -> None:
    result = install(fake_pi, pi_config, INFORMED, "--dry-run", "--no-ap")
    assert result.returncode == 0, result.stderr
    plan = commands(result.stdout, "[dry-run] ")
    assert not [c for c in plan if c.startswith(("nmcli", "raspi-config", "rfkill", "iw "))]
    assert any("apt-get install" in c and "dnsmasq-base" not in c for c in plan)
    assert "systemctl start homescope-capture.service" in plan


# --- real runs against the pretend Pi --------------------------------------------------------------------


@pytest.fixture
def installed(fake_pi: FakePi, pi_config: Path) -> FakePi:
    """The pretend Pi after one successful install."""
    if os.geteuid() != 0:
        pytest.skip("installing files with owners needs root")
    result = install(fake_pi, pi_config, INFORMED)
    assert result.returncode == 0, result.stdout + result.stderr
    return fake_pi


def mode_of(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


@needs_root
def test_first_run_sets_everything_up(installed: FakePi, pi_config: Path) -> None:
    root, state = installed.root, installed.state
    assert {"tshark", "wireshark-common", "libcap2-bin", "python3-venv", "dnsmasq-base", "iw"} <= set(
        state["packages"]
    )
    assert state["debconf"] == ["wireshark-common wireshark-common/install-setuid boolean false"]
    apt = [c for c in installed.calls() if c["cmd"] == "apt-get" and c["argv"][0] == "install"]
    assert apt and all(c["env_frontend"] == "noninteractive" for c in apt)
    assert "wireshark" in state["groups"]
    assert state["country"] == "GB"
    assert state["nm"]["homescope-ap"]["props"]["802-11-wireless-security.psk"] == GOOD_CONFIG["HS_PSK"]
    assert state["nm_active"] == ["homescope-ap"]
    assert {"homescope-capture.service", "homescope-retention.timer"} <= set(state["enabled"])
    assert {"homescope-capture.service", "homescope-retention.timer"} <= set(state["active"])

    assert mode_of(root / "var/lib/homescope/dumps") == "0o750"
    assert mode_of(root / "etc/homescope/capture.env") == "0o640"
    assert GOOD_CONFIG["HS_PSK"] not in (root / "etc/homescope/capture.env").read_text()
    assert (
        'HS_DUMP_DIR="' + str(root / "var/lib/homescope/dumps") + '"'
        in (root / "etc/homescope/capture.env").read_text()
    )
    for name in ("bin/homescope-capture", "bin/homescope-retention", "lib/envfile.sh"):
        assert (root / "usr/local/lib/homescope" / name).read_bytes() == (PI_SETUP / name).read_bytes()
    assert mode_of(root / "usr/local/lib/homescope/bin/homescope-capture") == "0o755"
    for unit in ("homescope-capture.service", "homescope-retention.service", "homescope-retention.timer"):
        assert (root / "etc/systemd/system" / unit).read_bytes() == (PI_SETUP / "systemd" / unit).read_bytes()
    dropin = (root / "etc/systemd/system/homescope-capture.service.d/10-dump-dir.conf").read_text()
    assert f"ReadWritePaths={root}/var/lib/homescope/dumps" in dropin
    assert (root / "usr/local/bin/homescope").readlink() == root / "opt/homescope/venv/bin/homescope"
    assert 'HS_MODE="routed"' in (root / "etc/homescope/pi-setup.env").read_text()


@needs_root
def test_second_run_changes_nothing(installed: FakePi, pi_config: Path) -> None:
    installed.forget_calls()
    result = install(installed, pi_config, INFORMED)
    assert result.returncode == 0, result.stderr
    assert commands(result.stdout, "+ ") == []
    assert installed.changing_calls() == []
    assert "Nothing to change" in result.stdout


@needs_root
def test_a_changed_setting_changes_only_what_depends_on_it(installed: FakePi, pi_config: Path) -> None:
    pi_config.write_text(pi_config.read_text() + "HS_PSK='a new passphrase'\nHS_SNAPLEN=256\n")
    installed.forget_calls()
    result = install(installed, pi_config, INFORMED)
    assert result.returncode == 0, result.stderr
    ran = commands(result.stdout, "+ ")
    assert ran == [
        "nmcli connection modify homescope-ap 802-11-wireless-security.psk '********'",
        "nmcli connection up homescope-ap",
        "install -D -m 0640 -o root -g root -- '<generated>/capture.env' "
        f"{installed.root}/etc/homescope/capture.env",
        "systemctl restart homescope-capture.service",
    ]
    assert 'HS_SNAPLEN="256"' in (installed.root / "etc/homescope/capture.env").read_text()
    assert "a new passphrase" not in result.stdout + result.stderr


@needs_root
def test_a_drifted_file_mode_is_repaired(installed: FakePi, pi_config: Path) -> None:
    (installed.root / "etc/homescope/capture.env").chmod(0o644)
    result = install(installed, pi_config, INFORMED)
    assert commands(result.stdout, "+ ")[:2] == [
        f"chown -- root:root {installed.root}/etc/homescope/capture.env",
        f"chmod -- 0640 {installed.root}/etc/homescope/capture.env",
    ]
    assert mode_of(installed.root / "etc/homescope/capture.env") == "0o640"


@needs_root
def test_upgrade_reinstalls_homescope(installed: FakePi, pi_config: Path) -> None:
    result = install(installed, pi_config, INFORMED, "--upgrade")
    assert commands(result.stdout, "+ ") == [
        f"{installed.root}/opt/homescope/venv/bin/python -m pip install --upgrade --quiet homescope==0.1.0"
    ]


# --- uninstall -------------------------------------------------------------------------------------------


@needs_root
def test_uninstall_keeps_the_dumps(installed: FakePi) -> None:
    dumps = installed.root / "var/lib/homescope/dumps"
    (dumps / "hs_00001_20250101000000.pcapng").write_bytes(b"x")
    installed.forget_calls()
    result = installed.run("uninstall.sh")
    assert result.returncode == 0, result.stderr
    state = installed.state
    assert state["nm"] == {}
    assert "homescope-capture.service" not in state["enabled"] + state["active"]
    assert "homescope-retention.timer" not in state["enabled"] + state["active"]
    for gone in (
        "etc/homescope",
        "usr/local/lib/homescope",
        "usr/local/bin/homescope",
        "opt/homescope/venv",
        "etc/systemd/system/homescope-capture.service",
        "etc/systemd/system/homescope-capture.service.d",
    ):
        assert not (installed.root / gone).exists(), gone
    assert (dumps / "hs_00001_20250101000000.pcapng").exists()
    assert "kept" in result.stdout
    again = installed.run("uninstall.sh")
    assert again.returncode == 0 and commands(again.stdout, "+ ") == []


@needs_root
def test_uninstall_purge_deletes_the_dumps_and_the_account(installed: FakePi) -> None:
    dumps = installed.root / "var/lib/homescope/dumps"
    (dumps / "hs_00001_20250101000000.pcapng").write_bytes(b"x")
    installed.set_state(users={"homescope": []}, groups=[*installed.state["groups"], "homescope"])
    dry = installed.run("uninstall.sh", "--purge", "--dry-run", HS_SERVICE_USER="homescope")
    assert dry.returncode == 0 and (dumps / "hs_00001_20250101000000.pcapng").exists()
    assert "[dry-run] userdel homescope" in dry.stdout
    result = installed.run("uninstall.sh", "--purge", HS_SERVICE_USER="homescope")
    assert result.returncode == 0, result.stderr
    assert not dumps.exists()
    assert "homescope" not in installed.state["users"] and "homescope" not in installed.state["groups"]


@needs_root
def test_purge_leaves_other_files_in_the_dump_folder(installed: FakePi) -> None:
    dumps = installed.root / "var/lib/homescope/dumps"
    (dumps / "hs_00001_20250101000000.pcapng").write_bytes(b"x")
    (dumps / "keep-me.txt").write_text("mine")
    result = installed.run("uninstall.sh", "--purge", HS_SERVICE_USER="homescope")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in dumps.iterdir()) == ["keep-me.txt"]
    assert "holds other files too" in result.stderr
