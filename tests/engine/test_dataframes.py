"""`engine.analyse()`: the DataFrames of an analysis (their columns and dtypes), and the classic questions
about a home network answered in a few lines of pandas, with the answers checked on captures."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd
import pytest
from pandas.api import types

import engine
from engine.dataframes import AnalysisResult, analyse
from tests.conftest import fixture_path
from tests.engine.app_messages import tls_client_hello
from tests.engine.crafted import BASE_TS, Rec, ethernet, ipv4, tcp, write_pcap


@cache
def iphone() -> AnalysisResult:
    """ndpi_iphone.pcap: an iPhone behind a Mac that shares its internet connection (192.168.2.1)."""
    return analyse(fixture_path("ndpi_iphone.pcap"))


# --- columns and dtypes ---------------------------------------------------------------------------------


def is_utc(dtype: object) -> bool:
    return isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) == "UTC"


def kinds(frame: pd.DataFrame) -> dict[str, str]:
    """Each column's kind: time, int, float, bool, str, or list (Python lists in object columns)."""

    def kind(column: str) -> str:
        series = frame[column]
        if types.is_datetime64_any_dtype(series.dtype):
            assert is_utc(series.dtype), column
            return "time"
        if types.is_bool_dtype(series.dtype):
            return "bool"
        if types.is_integer_dtype(series.dtype):
            return "int"
        if types.is_float_dtype(series.dtype):
            return "float"
        values = series.dropna().tolist()
        if values and all(isinstance(v, list) for v in values):
            return "list"
        assert all(isinstance(v, str) for v in values), column
        return "str"

    return {column: kind(column) for column in frame.columns}


def test_devices_frame() -> None:
    assert kinds(iphone().devices) == {
        "key": "str",
        "name": "str",
        "label": "str",
        "hostname": "str",
        "mac": "str",
        "vendor": "str",
        "randomized_mac": "bool",
        "router": "bool",
        "ipv4": "list",
        "ipv6": "list",
        "uses_ipv6": "bool",
        "first_seen": "time",
        "last_seen": "time",
        "packets_up": "int",
        "bytes_up": "int",
        "packets_down": "int",
        "bytes_down": "int",
        "internet_bytes_up": "int",
        "internet_bytes_down": "int",
        "lan_bytes_up": "int",
        "lan_bytes_down": "int",
        "internet_peers": "int",
        "top_protocol": "str",
    }


def test_flows_frame() -> None:
    flows = iphone().flows
    assert kinds(flows) == {
        "first_ts": "time",
        "last_ts": "time",
        "client": "str",
        "client_port": "int",
        "server": "str",
        "server_port": "int",
        "transport": "str",
        "protocol": "str",
        "protection": "str",
        "server_name": "str",
        "client_device": "str",
        "server_device": "str",
        "packets_up": "int",
        "bytes_up": "int",
        "packets_down": "int",
        "bytes_down": "int",
        "bytes": "int",
    }
    assert len(flows) == 51
    assert int(flows.bytes.sum()) == int((flows.bytes_up + flows.bytes_down).sum())


def test_dns_remotes_protocols_and_timeline_frames() -> None:
    result = iphone()
    assert kinds(result.dns) == {
        "ts": "time",
        "kind": "str",
        "transport": "str",
        "client": "str",
        "client_device": "str",
        "resolver": "str",
        "name": "str",
        "type": "str",
        "rcode": "str",
        "answers": "list",
        "latency": "float",
    }
    assert kinds(result.remotes) == {
        "ip": "str",
        "name": "str",
        "names": "list",
        "bytes_in": "int",
        "bytes_out": "int",
        "packets_in": "int",
        "packets_out": "int",
        "flows": "int",
        "devices": "list",
        "protocols": "list",
        "first_ts": "time",
        "last_ts": "time",
    }
    assert kinds(result.protocols) == {
        "protocol": "str",
        "protection": "str",
        "packets": "int",
        "bytes": "int",
        "flows": "int",
        "share": "float",
    }
    timeline = result.timeline
    assert kinds(timeline) == {"bytes": "int", "packets": "int"}
    assert timeline.index.name == "time"
    assert is_utc(timeline.index.dtype)
    assert kinds(result.device_timeline(900)) == {
        "time": "time",
        "bytes_up": "int",
        "bytes_down": "int",
        "device": "str",
    }


def test_engine_analyse_is_the_same_entry_point(tmp_path: Path) -> None:
    result = engine.analyse(fixture_path("ndpi_iphone.pcap"))
    assert isinstance(result, AnalysisResult)
    assert result.devices.key.tolist() == iphone().devices.key.tolist()


# --- the classic questions ------------------------------------------------------------------------------


def test_top_talkers() -> None:
    devices = iphone().devices
    talkers = devices[~devices.router].assign(total=lambda d: d.bytes_up + d.bytes_down).nlargest(2, "total")
    assert talkers[["name", "total"]].values.tolist() == [["Lucas-iPhone", 212176], ["Lucas-iMac", 4531]]
    # to the internet, the phone sent 103861 bytes and got 98919
    phone = devices.set_index("name").loc["Lucas-iPhone"]
    assert (phone.internet_bytes_up, phone.internet_bytes_down) == (103861, 98919)


def test_which_devices_use_ipv6() -> None:
    devices = analyse(fixture_path("ndpi_http_ipv6.pcap")).devices
    assert devices[devices.uses_ipv6].key.tolist() == ["78:ac:c0:a7:0d:4c"]
    assert devices[devices.uses_ipv6].ipv6.tolist() == [["2a00:d40:1:3:7aac:c0ff:fea7:d4c"]]
    # link-local addresses alone do not count
    assert iphone().devices.uses_ipv6.tolist() == [False, False, False]


def test_which_resolver_each_device_uses() -> None:
    dns = iphone().dns
    lookups = dns[dns.kind == "dns"]
    resolvers = lookups.groupby("client_device").resolver.unique().map(list).to_dict()
    assert resolvers == {"Lucas-iPhone": ["192.168.2.1"]}
    assert lookups.groupby("client_device").size().to_dict() == {"Lucas-iPhone": 19}  # query and response
    answered = lookups.dropna(subset=["latency"])
    assert len(answered) == 19
    assert answered.latency.between(0, 1).all()


def test_traffic_per_quarter_of_an_hour() -> None:
    result = iphone()
    quarters = result.timeline_at(900)
    assert quarters.index.tolist() == [pd.Timestamp("2020-02-23 10:30", tz="UTC")]
    assert quarters.values.tolist() == [[221902, 500]]
    assert int(quarters.bytes.sum()) == result.snapshot.totals.bytes
    minutes = result.timeline_at(60)
    assert minutes.bytes.tolist() == [7004, 214898]
    with pytest.raises(ValueError, match="no timeline at 300 s"):
        result.timeline_at(300)


def test_protocol_shares() -> None:
    protocols = iphone().protocols.set_index("protocol")
    assert list(protocols.loc["TLS"]) == ["encrypted", 394, 201339, 14, pytest.approx(0.907333, abs=1e-6)]
    by_protection = protocols.groupby("protection").bytes.sum().to_dict()
    assert by_protection["encrypted"] == 201339
    assert sum(by_protection.values()) == iphone().snapshot.totals.bytes


def test_what_the_phone_talked_to() -> None:
    remotes = iphone().remotes
    top = remotes.nlargest(3, "bytes_out")[["ip", "name", "bytes_out"]].values.tolist()
    assert top == [
        ["17.248.185.87", "p26-keyvalueservice.icloud.com", 68759],
        ["17.248.176.75", "gateway.icloud.com", 12619],
        ["92.123.77.26", "play.itunes.apple.com", 4724],
    ]
    assert set(remotes.devices.map(tuple)) == {("Lucas-iPhone",)}


def night_and_day(tmp_path: Path) -> Path:
    """TLS connections at 23:13 and 03:13 Paris time (BASE_TS is 22:13 UTC), and at 11:13 the next day."""
    phone, router = "f0:18:98:aa:bb:01", "b8:27:eb:12:34:56"
    recs = []
    for i, (hours, name, server) in enumerate(
        [
            (0, "tracker.example", "203.0.114.5"),
            (4, "updates.example", "203.0.114.6"),
            (13, "news.example", "203.0.114.7"),
        ]
    ):
        hello = tcp(50000 + i, 443, tls_client_hello(name))
        frame = ethernet(ipv4(hello, 6, src="192.168.1.20", dst=server), src=phone, dst=router)
        recs.append(Rec(frame, sec=BASE_TS + hours * 3600))
    return write_pcap(tmp_path / "night.pcap", recs)


def test_night_time_destinations(tmp_path: Path) -> None:
    flows = analyse(night_and_day(tmp_path)).flows
    local_hour = flows.first_ts.dt.tz_convert("Europe/Paris").dt.hour
    night = flows[(local_hour >= 23) | (local_hour < 6)]
    assert sorted(night.server_name) == ["tracker.example", "updates.example"]
    assert night.client_device.unique().tolist() == ["Apple aa:bb:01"]
    assert flows[~flows.index.isin(night.index)].server_name.tolist() == ["news.example"]


def test_labels_and_home_prefixes(tmp_path: Path) -> None:
    labels = tmp_path / "labels.toml"
    labels.write_text('[labels]\n"c4:61:8b:35:82:a9" = "Luca\'s phone"\n"192.168.2.1" = "Shared Mac"\n')
    result = analyse(fixture_path("ndpi_iphone.pcap"), labels=labels, home_prefixes=["192.168.2.0/24"])
    devices = result.devices.set_index("key")
    assert list(devices.loc["c4:61:8b:35:82:a9", ["name", "label", "hostname"]]) == [
        "Luca's phone",
        "Luca's phone",
        "Lucas-iPhone",
    ]
    assert devices.loc["c6:2c:03:60:6a:64", "name"] == "Shared Mac"
    assert result.flows.client_device.value_counts().to_dict() == {
        "Luca's phone": 43,
        "Shared Mac": 6,
        "Lucas-iMac": 2,
    }
    assert result.snapshot.home is not None
    # the configured prefix; the DHCP acknowledgement's subnet is inside it, so nothing new is learnt
    assert [(str(p.network), p.source) for p in result.snapshot.home.prefixes] == [
        ("192.168.2.0/24", "config")
    ]
