"""Each finding rule on crafted home traffic: where it must fire, and where it must not."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from engine.config import Settings
from engine.findings import Finding, Severity, evaluate
from tests.investigation.home_traffic import (
    CAMERA,
    DAY0,
    ESP32,
    LAPTOP,
    PHONE,
    ROUTER_MAC,
    TV,
    Home,
    analyse_home,
    settings_for,
)

NOON = DAY0 + 12 * 3600
SERVER = "34.120.5.6"


def findings_of(
    home: Home, tmp_path: Path, settings: Settings | None = None, rule: str | None = None
) -> list[Finding]:
    result = analyse_home(home, tmp_path)
    found = evaluate(result.snapshot, settings or settings_for())
    return [f for f in found if rule is None or f.rule == rule]


def base_home(start: float = NOON) -> Home:
    """Every device present from the start, and a router the engine recognises."""
    home = Home()
    home.router_presence(start)
    for device in (ESP32, PHONE, LAPTOP, CAMERA, TV):
        home.dns(start + 0.5, device, "time.example.net", "52.10.0.1")
    return home


# ---- periodic ---------------------------------------------------------------------------------------------


def test_beacon_every_ten_seconds(tmp_path: Path) -> None:
    home = base_home()
    for i in range(360):  # an hour, ±0.2 s around the beat
        home.tls(NOON + 10 + i * 10 + (0.2 if i % 2 else -0.2), ESP32, SERVER, "api.transit.example")
    (f,) = findings_of(home, tmp_path, rule="periodic")
    assert (f.kind, f.severity) == ("beaconing", Severity.NOTICE)
    assert f.device is not None and f.device.key == ESP32.mac
    assert f.remote is not None and f.remote.name == "api.transit.example" and f.remote.address == SERVER
    assert f.details["interval_s"] == pytest.approx(10.0, abs=0.01)
    assert f.details["jitter_s"] == pytest.approx(0.4, abs=0.01)
    assert "contacts api.transit.example every 10 s (±0.4 s), about 8,640 times a day" in f.explanation
    assert f.evidence.flow_count == 360 and len(f.evidence.flows) == 50
    assert "api.transit.example" in f.evidence.dns_names
    assert f.evidence.bin_seconds == 3600 and f.evidence.bins == (float(NOON), float(NOON + 3600))


def test_a_beacon_with_missed_check_ins_is_still_a_beacon(tmp_path: Path) -> None:
    home = base_home()
    beats = [i for i in range(40) if i % 7 not in (3, 5)]  # two of every seven missed
    for i in beats:
        home.tls(NOON + 10 + i * 60 + random.Random(i).uniform(-1, 1), ESP32, SERVER, "cloud.example.com")
    (f,) = findings_of(home, tmp_path, rule="periodic")
    assert f.kind == "beaconing" and f.severity == Severity.INFO  # once a minute: info
    assert f.details["interval_s"] == pytest.approx(60, abs=1)


def test_irregular_contacts_are_no_beacon(tmp_path: Path) -> None:
    home = base_home()
    rng = random.Random(7)
    t = NOON + 10.0
    for _ in range(60):
        t += rng.expovariate(1 / 30)  # random gaps, 30 s on average
        home.tls(t, PHONE, SERVER, "news.example.com")
    assert findings_of(home, tmp_path, rule="periodic") == []


def test_too_few_contacts_are_no_beacon(tmp_path: Path) -> None:
    home = base_home()
    for i in range(6):
        home.tls(NOON + 10 + i * 10, ESP32, SERVER, "api.transit.example")
    assert findings_of(home, tmp_path, rule="periodic") == []
    settings = settings_for({"periodic": {"min_contacts": 5}})
    assert [f.kind for f in findings_of(home, tmp_path, settings, rule="periodic")] == ["beaconing"]


def test_connections_in_a_burst_are_one_contact(tmp_path: Path) -> None:
    home = base_home()
    for i in range(20):
        for k in range(3):  # three parallel connections every 30 s
            home.tls(NOON + 10 + i * 30 + k * 0.1, LAPTOP, SERVER, "sync.example.com")
    (f,) = findings_of(home, tmp_path, rule="periodic")
    assert f.details["contacts"] == 20 and f.evidence.flow_count == 60


def test_lan_endpoints_only_with_include_lan(tmp_path: Path) -> None:
    home = base_home()
    for i in range(30):
        home.tcp_session(NOON + 10 + i * 12, PHONE, TV.ip, 9999, server_mac=TV.mac)
    assert findings_of(home, tmp_path, rule="periodic") == []
    settings = settings_for({"periodic": {"include_lan": True}})
    (f,) = findings_of(home, tmp_path, settings, rule="periodic")
    assert f.remote is not None and f.remote.address == TV.ip


def test_runaway_client_around_the_clock(tmp_path: Path) -> None:
    home = base_home()
    rng = random.Random(3)
    t = NOON + 10.0
    while t < NOON + 3 * 3600:
        t += rng.uniform(2, 40)  # ~170 an hour, not regular
        home.tls(t, TV, SERVER, "ads.example.tv")
    (f,) = findings_of(home, tmp_path, rule="periodic")
    assert (f.kind, f.severity) == ("high-rate", Severity.NOTICE)
    assert f.details["per_hour"] > 120 and f.details["active_hours"] == f.details["hours"]
    assert "an hour" in f.explanation


def test_a_busy_hour_is_no_runaway(tmp_path: Path) -> None:
    home = base_home()
    rng = random.Random(5)
    t = NOON + 10.0
    while t < NOON + 1800:  # half an hour only
        t += rng.uniform(1, 20)
        home.tls(t, LAPTOP, SERVER, "video.example.com")
    assert findings_of(home, tmp_path, rule="periodic") == []


def test_a_rule_can_be_disabled(tmp_path: Path) -> None:
    home = base_home()
    for i in range(30):
        home.tls(NOON + 10 + i * 10, ESP32, SERVER, "api.transit.example")
    assert findings_of(home, tmp_path, rule="periodic")
    settings = settings_for({"periodic": {"enabled": False}})
    assert findings_of(home, tmp_path, settings, rule="periodic") == []


# ---- night-time traffic -----------------------------------------------------------------------------------


def test_night_traffic_in_quiet_hours(tmp_path: Path) -> None:
    start = DAY0 + 20 * 3600
    home = base_home(start)
    night = DAY0 + 86400 + 2 * 3600  # 02:00 UTC the next night
    home.tcp_session(night, CAMERA, SERVER, 443, extra_up=600)  # ~90 kB up
    home.tcp_session(DAY0 + 86400 + 14 * 3600, TV, SERVER, 443, extra_up=600)  # 14:00: daytime
    (f,) = findings_of(home, tmp_path, rule="night_traffic")
    assert f.device is not None and f.device.key == CAMERA.mac
    assert f.severity == Severity.INFO and f.size >= 50_000
    assert "during quiet hours (23:00-06:00)" in f.explanation and "at 02:00" in f.explanation
    assert f.evidence.bin_seconds == 900 and f.evidence.bins == (float(night),)


def test_night_follows_the_configured_time_zone(tmp_path: Path) -> None:
    start = DAY0 + 12 * 3600
    home = base_home(start)
    home.tcp_session(
        DAY0 + 22 * 3600 + 1800, CAMERA, SERVER, 443, extra_up=600
    )  # 22:30 UTC = 23:30 in Berlin
    assert findings_of(home, tmp_path, rule="night_traffic") == []
    berlin = settings_for(timezone="Europe/Berlin")
    (f,) = findings_of(home, tmp_path, berlin, rule="night_traffic")
    assert "at 23:30" in f.explanation
    early = settings_for(quiet_hours={"start": "22:00", "end": "07:00"})
    assert len(findings_of(home, tmp_path, early, rule="night_traffic")) == 1


def test_night_traffic_counts_only_the_quiet_part_of_a_long_flow(tmp_path: Path) -> None:
    start = DAY0 + 12 * 3600
    home = base_home(start)
    # one UDP flow from 20:00 to 23:10 (a packet every 10 minutes): 1/19 of it in quiet hours
    for k in range(20):
        home.udp_exchange(DAY0 + 20 * 3600 + k * 600, TV, SERVER, 5000, sport=5000, payload=b"v" * 1400)
    settings = settings_for({"night_traffic": {"min_bytes": 1}})
    (f,) = findings_of(home, tmp_path, settings, rule="night_traffic")
    total = 20 * 2 * (1400 + 42)
    assert f.size == pytest.approx(total * 600 / 11400, rel=0.01)


def test_night_traffic_below_the_threshold_is_quiet(tmp_path: Path) -> None:
    start = DAY0 + 20 * 3600
    home = base_home(start)
    home.tcp_session(DAY0 + 86400 + 3 * 3600, PHONE, SERVER, 443)  # a push notification: under 1 kB
    assert findings_of(home, tmp_path, rule="night_traffic") == []


# ---- DNS bypass -------------------------------------------------------------------------------------------


def test_dns_to_another_resolver(tmp_path: Path) -> None:
    home = base_home()
    for i in range(3):
        home.dns(NOON + 20 + i, TV, f"ads{i}.example.tv", "52.1.1.1", resolver="8.8.8.8")
    (f,) = findings_of(home, tmp_path, rule="dns_bypass")
    assert (f.kind, f.severity) == ("dns", Severity.NOTICE)
    assert f.device is not None and f.device.key == TV.mac
    assert f.remote is not None and f.remote.address == "8.8.8.8" and f.remote.port == 53
    assert "3 DNS lookups to 8.8.8.8 instead of the home resolver (192.168.1.1)" in f.explanation
    assert set(f.evidence.dns_names) == {"ads0.example.tv", "ads1.example.tv", "ads2.example.tv"}
    assert f.evidence.flow_count == 3


def test_dns_over_tls_and_https(tmp_path: Path) -> None:
    home = base_home()
    home.tls(NOON + 20, PHONE, "1.1.1.1", "one.one.one.one", port=853)
    home.tls(NOON + 21, LAPTOP, "104.16.248.249", "mozilla.cloudflare-dns.com")
    found = {
        (f.kind, f.device.key if f.device else None) for f in findings_of(home, tmp_path, rule="dns_bypass")
    }
    assert found == {("dot", PHONE.mac), ("doh", LAPTOP.mac)}


def test_the_home_resolver_is_no_bypass(tmp_path: Path) -> None:
    home = base_home()
    home.tls(NOON + 20, LAPTOP, "104.16.1.1", "www.example.com")  # ordinary HTTPS is not DoH
    assert findings_of(home, tmp_path, rule="dns_bypass") == []


def test_a_pi_hole_is_the_home_resolver_and_may_forward(tmp_path: Path) -> None:
    home = base_home()
    pihole = LAPTOP
    for device in (PHONE, TV, CAMERA):
        home.dns(NOON + 10, device, "example.com", "52.1.1.1", resolver=pihole.ip)
    home.dns(NOON + 11, pihole, "example.com", "52.1.1.1", resolver="9.9.9.9")  # upstream
    assert findings_of(home, tmp_path, rule="dns_bypass") == []


def test_configured_and_allowed_resolvers(tmp_path: Path) -> None:
    home = base_home()
    home.dns(NOON + 20, TV, "example.tv", "52.1.1.1", resolver="8.8.8.8")
    allowed = settings_for({"dns_bypass": {"allow": ["8.8.8.8"]}})
    assert findings_of(home, tmp_path, allowed, rule="dns_bypass") == []
    # with 8.8.8.8 configured as the home resolver, the router is the one bypassing it
    configured = settings_for({"dns_bypass": {"resolvers": ["8.8.8.8"]}})
    found = findings_of(home, tmp_path, configured, rule="dns_bypass")
    assert {f.remote.address for f in found if f.remote} == {"192.168.1.1"}
    assert {f.device.key for f in found if f.device} == {ESP32.mac, PHONE.mac, LAPTOP.mac, CAMERA.mac, TV.mac}


# ---- plaintext --------------------------------------------------------------------------------------------


def test_plaintext_http_telnet_and_ftp(tmp_path: Path) -> None:
    home = base_home()
    home.http(NOON + 20, TV, "52.1.2.3", "update.example.tv")
    home.tcp_session(NOON + 21, CAMERA, "52.1.2.4", 23, request=b"login: admin\r\n")
    home.tcp_session(NOON + 22, LAPTOP, "52.1.2.5", 21, request=b"USER anonymous\r\n")
    found = {(f.title, f.severity) for f in findings_of(home, tmp_path, rule="plaintext")}
    assert ("Unencrypted HTTP", Severity.NOTICE) in found
    assert ("Unencrypted Telnet", Severity.WARNING) in found
    assert ("Unencrypted FTP", Severity.WARNING) in found


def test_plaintext_explains_and_points_at_the_flows(tmp_path: Path) -> None:
    home = base_home()
    home.http(NOON + 20, TV, "52.1.2.3", "update.example.tv")
    home.http(NOON + 21, TV, "52.1.2.3", "update.example.tv")
    result = analyse_home(home, tmp_path)
    (f,) = [f for f in evaluate(result.snapshot, settings_for()) if f.rule == "plaintext"]
    assert "used HTTP without encryption with update.example.tv" in f.explanation
    flows = result.flows
    serials = (
        set(result.snapshot.flows.all()[0].columns["serial"].tolist()) if result.snapshot.flows else set()
    )
    assert set(f.evidence.flows) <= serials and f.evidence.flow_count == 2
    assert len(flows[flows.server_name == "update.example.tv"]) == 2


def test_discovery_handshakes_and_the_lan_are_not_plaintext_findings(tmp_path: Path) -> None:
    home = base_home()
    home.udp_exchange(NOON + 20, TV, "224.0.0.251", 5353, sport=5353, dst_mac="01:00:5e:00:00:fb")
    home.udp_exchange(NOON + 21, TV, "239.255.255.250", 1900, dst_mac="01:00:5e:7f:ff:fa")
    home.syn_only(NOON + 22, PHONE, "52.1.2.3", 80)  # no data carried
    home.http(NOON + 23, PHONE, CAMERA.ip, "camera.lan", server_mac=CAMERA.mac)  # inside the home
    assert [f for f in findings_of(home, tmp_path, rule="plaintext") if f.title != "Unencrypted DNS"] == []
    settings = settings_for({"plaintext": {"include_lan": True}})
    lan = [
        f for f in findings_of(home, tmp_path, settings, rule="plaintext") if f.title == "Unencrypted HTTP"
    ]
    assert [(f.severity, "inside the home network" in f.explanation) for f in lan] == [(Severity.INFO, True)]


def test_dns_to_the_lan_resolver_is_not_plaintext_but_to_outside_it_is(tmp_path: Path) -> None:
    home = base_home()  # every device asks the router
    assert findings_of(home, tmp_path, rule="plaintext") == []
    home.dns(NOON + 30, TV, "example.tv", "52.1.1.1", resolver="8.8.8.8")
    (f,) = findings_of(home, tmp_path, rule="plaintext")
    assert (f.title, f.severity) == ("Unencrypted DNS", Severity.INFO)


def test_unknown_protocol_names_are_a_config_error(tmp_path: Path) -> None:
    from engine.errors import ConfigError

    home = base_home()
    with pytest.raises(ConfigError, match="unknown protocol 'Gopher'"):
        findings_of(home, tmp_path, settings_for({"plaintext": {"protocols": ["HTTP", "Gopher"]}}))


# ---- new device -------------------------------------------------------------------------------------------


def test_a_device_that_joins_later_is_new(tmp_path: Path) -> None:
    home = base_home()
    newcomer_mac = "da:a1:19:00:00:09"  # locally administered: a private MAC
    from tests.investigation.home_traffic import Device

    guest = Device(newcomer_mac, "192.168.1.99")
    for k in range(6):
        home.dns(NOON + 1800 + k, guest, "example.com", "52.1.1.1")
    (f,) = findings_of(home, tmp_path, rule="new_device")
    assert f.device is not None and f.device.key == newcomer_mac
    assert "30 min" in f.explanation and "private (randomised) MAC" in f.explanation
    assert f.evidence.dns_names == ("example.com",)
    known = settings_for({"new_device": {"known": [newcomer_mac.upper().replace(":", "-")]}})
    assert findings_of(home, tmp_path, known, rule="new_device") == []
    patient = settings_for({"new_device": {"grace_s": 3600}})
    assert findings_of(home, tmp_path, patient, rule="new_device") == []


def test_devices_there_from_the_start_are_not_new(tmp_path: Path) -> None:
    home = base_home()
    home.dns(NOON + 300, PHONE, "example.com", "52.1.1.1")
    assert findings_of(home, tmp_path, rule="new_device") == []


def test_a_stray_frame_is_no_new_device(tmp_path: Path) -> None:
    from tests.investigation.home_traffic import Device

    home = base_home()
    home.dns(NOON + 1800, Device("00:e0:4c:00:00:0a", "192.168.1.98"), "example.com", "52.1.1.1")
    assert findings_of(home, tmp_path, rule="new_device") == []


def test_a_labelled_device_is_known(tmp_path: Path) -> None:
    from engine.labels import Labels
    from tests.investigation.home_traffic import Device

    home = base_home()
    guest = Device("00:e0:4c:00:00:0b", "192.168.1.97")
    for k in range(6):
        home.dns(NOON + 1800 + k, guest, "example.com", "52.1.1.1")
    result = analyse_home(home, tmp_path)
    labels = Labels.from_entries({guest.mac: "Grandma's tablet"}, origin="test")
    assert [f.rule for f in evaluate(result.snapshot, settings_for()) if f.rule == "new_device"] == [
        "new_device"
    ]
    assert [
        f for f in evaluate(result.snapshot, settings_for(), labels=labels) if f.rule == "new_device"
    ] == []


# ---- unusual port or protocol -----------------------------------------------------------------------------


def test_a_port_no_other_device_uses(tmp_path: Path) -> None:
    home = base_home()
    home.tcp_session(NOON + 20, TV, "52.1.2.4", 11095)
    home.tcp_session(NOON + 20, PHONE, "52.1.2.5", 443)
    (f,) = findings_of(home, tmp_path, rule="unusual_port")
    assert (f.kind, f.severity, f.title) == ("unusual-port", Severity.INFO, "Unusual port TCP 11095")
    assert f.device is not None and f.device.key == TV.mac


def test_a_port_several_devices_use_is_not_unusual(tmp_path: Path) -> None:
    home = base_home()
    home.tcp_session(NOON + 20, TV, "52.1.2.4", 11095)
    home.tcp_session(NOON + 21, PHONE, "52.1.2.4", 11095)
    assert findings_of(home, tmp_path, rule="unusual_port") == []
    assert (
        len(
            findings_of(
                home, tmp_path, settings_for({"unusual_port": {"max_devices": 2}}), rule="unusual_port"
            )
        )
        == 2
    )


def test_a_device_suddenly_using_a_port(tmp_path: Path) -> None:
    home = base_home()
    home.tcp_session(NOON + 2 * 3600, CAMERA, "52.1.2.4", 6667)
    (f,) = findings_of(home, tmp_path, rule="unusual_port")
    assert f.severity == Severity.NOTICE and "It started 2 h" in f.explanation


def test_industrial_protocols(tmp_path: Path) -> None:
    home = base_home()
    home.tcp_session(NOON + 20, CAMERA, "52.1.2.4", 502)  # Modbus/TCP to the internet
    home.tcp_session(NOON + 21, LAPTOP, TV.ip, 502, server_mac=TV.mac)  # an inverter at home
    found = {
        (f.severity, f.title, f.details["internet"]) for f in findings_of(home, tmp_path, rule="unusual_port")
    }
    assert found == {
        (Severity.WARNING, "Industrial protocol: Modbus/TCP", True),
        (Severity.NOTICE, "Industrial protocol: Modbus/TCP", False),
    }


def test_peer_to_peer_ports_are_one_finding_and_media_is_ignored(tmp_path: Path) -> None:
    home = base_home()
    for k in range(12):
        home.tcp_session(NOON + 20 + k, LAPTOP, f"52.2.{k}.1", 6346 + k)
    home.udp_exchange(NOON + 40, PHONE, "52.3.0.1", 40000, sport=50000)  # a call's media: high ports
    (f,) = findings_of(home, tmp_path, rule="unusual_port")
    assert f.title == "12 unusual ports" and "peer-to-peer" in f.explanation
    assert f.details["port_count"] == 12


def test_an_unusual_protocol(tmp_path: Path) -> None:
    home = base_home()
    home.tcp_session(NOON + 20, LAPTOP, "52.1.2.4", 22, request=b"SSH-2.0-OpenSSH_9.6\r\n")
    (f,) = findings_of(home, tmp_path, rule="unusual_port")
    assert (f.kind, f.title) == ("unusual-protocol", "Unusual protocol: SSH")


# ---- upload-heavy -----------------------------------------------------------------------------------------


def test_a_camera_uploading(tmp_path: Path) -> None:
    home = base_home()
    for k in range(10):
        home.tls(NOON + 20 + k, CAMERA, "52.1.2.4", "upload.camcloud.example", extra_up=100, up_wirelen=1514)
    home.tls(NOON + 20, PHONE, "52.1.2.5", "www.example.com")
    settings = settings_for({"upload_heavy": {"min_bytes_up": 1_000_000}})
    (f,) = findings_of(home, tmp_path, settings, rule="upload_heavy")
    assert f.device is not None and f.device.key == CAMERA.mac and f.severity == Severity.NOTICE
    assert "mostly to upload.camcloud.example" in f.explanation
    assert f.details["ratio"] > 100
    assert findings_of(home, tmp_path, rule="upload_heavy") == []  # 1.5 MB is below the default 50 MB
    loud = settings_for({"upload_heavy": {"min_bytes_up": 1_000_000, "warning_bytes_up": 1_000_000}})
    assert [f.severity for f in findings_of(home, tmp_path, loud, rule="upload_heavy")] == [Severity.WARNING]


def test_downloads_are_not_upload_heavy(tmp_path: Path) -> None:
    home = base_home()
    for k in range(10):
        home.tls(NOON + 20 + k, TV, "52.1.2.4", "video.example", response=b"v" * 1400)
    settings = settings_for({"upload_heavy": {"min_bytes_up": 1}})
    assert findings_of(home, tmp_path, settings, rule="upload_heavy") == []


# ---- watchlist --------------------------------------------------------------------------------------------


class FakeGeo:
    """Country and organisation by address, as the offline geo database would give them."""

    def __init__(self, table: dict[str, tuple[str, str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    def lookup_many(self, addresses: object) -> dict[str, object]:
        from engine.enrich.geo import GeoInfo, GeoResult

        out: dict[str, object] = {}
        for a in addresses:  # type: ignore[attr-defined]
            self.asked.append(a)
            found = self.table.get(a)
            out[a] = (
                GeoResult(a, "ok", GeoInfo(found[0], found[0], found[1], None))
                if found
                else GeoResult(a, "not-found")
            )
        return out


def test_watchlist_domains_need_no_geo(tmp_path: Path) -> None:
    home = base_home()
    home.tls(NOON + 20, TV, "52.1.2.4", "telemetry.vendor.example")
    home.tls(NOON + 21, TV, "52.1.2.5", "www.example.com")
    settings = settings_for({"watchlist": {"domains": ["vendor.example"]}})
    (f,) = findings_of(home, tmp_path, settings, rule="watchlist")
    assert f.title == "Watchlist: domain vendor.example" and f.remote is not None
    assert f.remote.address == "52.1.2.4"


def test_watchlist_countries_and_organisations(tmp_path: Path) -> None:
    home = base_home()
    home.tls(NOON + 20, TV, "52.1.2.4", "cdn.example")
    home.tls(NOON + 21, PHONE, "52.1.2.5", "chat.example")
    result = analyse_home(home, tmp_path)
    geo = FakeGeo({"52.1.2.4": ("CN", "Example Cloud Computing"), "52.1.2.5": ("DE", "Other GmbH")})
    settings = settings_for({"watchlist": {"countries": ["cn"], "organisations": ["other"]}})
    found = {
        (f.title, f.device.key if f.device else None) for f in evaluate(result.snapshot, settings, geo=geo)
    }
    assert ("Watchlist: country CN", TV.mac) in found
    assert ("Watchlist: organisation other", PHONE.mac) in found
    # without geo data, countries and organisations cannot be checked
    assert [f for f in evaluate(result.snapshot, settings) if f.rule == "watchlist"] == []


def test_an_empty_watchlist_asks_nothing(tmp_path: Path) -> None:
    home = base_home()
    home.tls(NOON + 20, TV, "52.1.2.4", "cdn.example")
    result = analyse_home(home, tmp_path)
    geo = FakeGeo({})
    evaluate(result.snapshot, settings_for(), geo=geo)
    assert geo.asked == []


def test_router_traffic_is_never_a_device_finding(tmp_path: Path) -> None:
    home = base_home()
    found = findings_of(home, tmp_path)
    assert all(f.device is None or f.device.key != ROUTER_MAC for f in found)
