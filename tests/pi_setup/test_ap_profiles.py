"""The access point as NetworkManager profiles: the nmcli arguments for each mode, and changing an
existing setup by only what differs (against the pretend NetworkManager of fake_system)."""

from __future__ import annotations

import shlex

import pytest

from tests.pi_setup.conftest import FakePi, bash

SETTINGS = (
    "HS_MODE=routed HS_WIFI_IFACE=wlan0 HS_UPLINK_IFACE=eth0 HS_SSID='Home Net' HS_PSK='pass word!' "
    "HS_BAND=bg HS_CHANNEL=11 HS_IPV6=disabled\n"
)

WIFI_ARGS = [
    "connection.interface-name",
    "wlan0",
    "connection.autoconnect",
    "yes",
    "connection.autoconnect-priority",
    "150",
    "802-11-wireless.ssid",
    "Home Net",
    "802-11-wireless.mode",
    "ap",
    "802-11-wireless.band",
    "bg",
    "802-11-wireless.channel",
    "11",
    "802-11-wireless-security.key-mgmt",
    "wpa-psk",
    "802-11-wireless-security.proto",
    "rsn",
    "802-11-wireless-security.pairwise",
    "ccmp",
    "802-11-wireless-security.group",
    "ccmp",
    "802-11-wireless-security.psk",
    "pass word!",
]


def argv_lines(script: str) -> list[str]:
    result = bash(SETTINGS + script)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_routed_profile_arguments() -> None:
    assert argv_lines("nm_add_argv homescope-ap wifi < <(nm_routed_ap_props)") == [
        "connection",
        "add",
        "type",
        "wifi",
        "con-name",
        "homescope-ap",
        *WIFI_ARGS,
        "ipv4.method",
        "shared",
        "ipv6.method",
        "disabled",
    ]


def test_bridged_profiles_arguments() -> None:
    assert argv_lines("nm_profiles_for_mode bridged") == [
        "homescope-bridge bridge nm_bridge_props",
        "homescope-bridge-port ethernet nm_port_props",
        "homescope-ap wifi nm_bridged_ap_props",
    ]
    assert argv_lines("nm_add_argv homescope-bridge bridge < <(nm_bridge_props dc:a6:32:00:00:02)") == [
        "connection",
        "add",
        "type",
        "bridge",
        "con-name",
        "homescope-bridge",
        "connection.interface-name",
        "br-homescope",
        "connection.autoconnect",
        "yes",
        "connection.autoconnect-priority",
        "150",
        "bridge.stp",
        "no",
        "bridge.mac-address",
        "DC:A6:32:00:00:02",
        "ipv4.method",
        "auto",
        "ipv6.method",
        "auto",
    ]
    assert argv_lines("nm_add_argv homescope-bridge-port ethernet < <(nm_port_props)") == [
        "connection",
        "add",
        "type",
        "ethernet",
        "con-name",
        "homescope-bridge-port",
        "connection.interface-name",
        "eth0",
        "connection.autoconnect",
        "yes",
        "connection.autoconnect-priority",
        "150",
        "connection.slave-type",
        "bridge",
        "connection.master",
        "br-homescope",
    ]
    assert argv_lines("nm_add_argv homescope-ap wifi < <(nm_bridged_ap_props)") == [
        "connection",
        "add",
        "type",
        "wifi",
        "con-name",
        "homescope-ap",
        *WIFI_ARGS,
        "connection.slave-type",
        "bridge",
        "connection.master",
        "br-homescope",
    ]


def test_modify_arguments() -> None:
    assert argv_lines(
        "nm_modify_argv homescope-ap <<<$'ipv4.method\\tshared\\n802-11-wireless.ssid\\tA B'"
    ) == [
        "connection",
        "modify",
        "homescope-ap",
        "ipv4.method",
        "shared",
        "802-11-wireless.ssid",
        "A B",
    ]


def ensure_ap(fake_pi: FakePi, settings: str = "") -> list[list[str]]:
    """Run ensure_ap against the pretend NetworkManager; returns the nmcli calls that changed it."""
    fake_pi.forget_calls()
    result = bash(SETTINGS + settings + "ensure_ap", env=fake_pi.env())
    assert result.returncode == 0, result.stderr
    return [c["argv"] for c in fake_pi.changing_calls() if c["cmd"] == "nmcli"]


def test_first_run_creates_and_starts_the_access_point(fake_pi: FakePi) -> None:
    calls = ensure_ap(fake_pi)
    assert [c[:2] for c in calls] == [["connection", "add"], ["connection", "up"]]
    profile = fake_pi.state["nm"]["homescope-ap"]
    assert profile["type"] == "wifi"
    assert profile["props"]["802-11-wireless-security.psk"] == "pass word!"
    assert profile["props"]["ipv4.method"] == "shared"
    assert fake_pi.state["nm_active"] == ["homescope-ap"]


def test_second_run_changes_nothing(fake_pi: FakePi) -> None:
    ensure_ap(fake_pi)
    assert ensure_ap(fake_pi) == []


def test_an_inactive_access_point_is_started(fake_pi: FakePi) -> None:
    ensure_ap(fake_pi)
    fake_pi.set_state(nm_active=[])
    assert ensure_ap(fake_pi) == [["connection", "up", "homescope-ap"]]


def test_a_changed_setting_modifies_only_that_property(fake_pi: FakePi) -> None:
    ensure_ap(fake_pi)
    assert ensure_ap(fake_pi, "HS_PSK='new pass word'; HS_CHANNEL=1\n") == [
        [
            "connection",
            "modify",
            "homescope-ap",
            "802-11-wireless.channel",
            "1",
            "802-11-wireless-security.psk",
            "new pass word",
        ],
        ["connection", "up", "homescope-ap"],
    ]


def test_switching_to_bridged_and_back(fake_pi: FakePi) -> None:
    ensure_ap(fake_pi)
    calls = ensure_ap(fake_pi, "HS_MODE=bridged\n")
    assert [" ".join(c[:3]) if c[1] != "add" else " ".join(c[:6]) for c in calls] == [
        "connection add type bridge con-name homescope-bridge",
        "connection add type ethernet con-name homescope-bridge-port",
        # the AP profile becomes a bridge port: NetworkManager wants it recreated
        "connection delete homescope-ap",
        "connection add type wifi con-name homescope-ap",
        "connection up homescope-bridge",
        "connection up homescope-bridge-port",
        "connection up homescope-ap",
    ]
    assert fake_pi.state["nm"]["homescope-bridge"]["props"]["bridge.mac-address"] == "DC:A6:32:00:00:02"
    assert "ipv4.method" not in fake_pi.state["nm"]["homescope-ap"]["props"]
    assert ensure_ap(fake_pi, "HS_MODE=bridged\n") == []

    calls = ensure_ap(fake_pi, "HS_MODE=routed\n")
    assert [" ".join(c[:3]) for c in calls] == [
        "connection delete homescope-bridge-port",
        "connection delete homescope-bridge",
        "connection delete homescope-ap",
        "connection add type",
        "connection up homescope-ap",
    ]
    assert sorted(fake_pi.state["nm"]) == ["homescope-ap"]


@pytest.mark.parametrize("psk", ["pass word!", "$(touch /tmp/x)", "a'b\"c"])
def test_password_is_masked_in_what_is_printed(fake_pi: FakePi, psk: str) -> None:
    result = bash(
        SETTINGS + f'HS_PSK={shlex.quote(psk)}\nSECRETS=("$HS_PSK")\nDRY_RUN=1\nensure_ap', env=fake_pi.env()
    )
    assert result.returncode == 0, result.stderr
    assert psk not in result.stdout + result.stderr
    assert "802-11-wireless-security.psk '********'" in result.stdout
