"""Export: every table in every format, the manifest, and anonymisation that leaves no address, MAC or
private name behind and gives the same pseudonyms with the same key."""

from __future__ import annotations

import json
import re
import stat
from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from engine.anonymise import Anonymiser, load_or_create_key
from engine.dataframes import AnalysisResult, analyse
from engine.errors import ConfigError
from engine.export import TABLES, export_tables
from engine.findings import evaluate
from tests.conftest import fixture_path
from tests.investigation.home_traffic import settings_for

CAPTURES = ("zeek_wikipedia.pcap", "nfstream_mdns_sll.pcap")
PSEUDONYM = re.compile(r"^(lan|inet|other)-v[46]-[0-9a-f]{8}$")


@cache
def _result() -> AnalysisResult:
    return analyse([fixture_path(n) for n in CAPTURES])


def _findings() -> list:  # type: ignore[type-arg]
    return evaluate(_result().snapshot, settings_for())


def export(tmp_path: Path, fmt: str = "csv", key: bytes | None = None, **kw: object):  # type: ignore[no-untyped-def]
    result = _result()
    anon = Anonymiser(key, home=result.snapshot.home, **kw) if key is not None else None  # type: ignore[arg-type]
    return export_tables(result, tmp_path, fmt=fmt, findings=_findings(), anonymiser=anon)  # type: ignore[arg-type]


def read(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path)
    if path.suffix == ".json":
        return pd.read_json(path, orient="records")
    return pd.read_parquet(path)


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_every_table_in_every_format(tmp_path: Path, fmt: str) -> None:
    written = export(tmp_path, fmt)
    assert list(written.files) == list(TABLES)
    for name, path in written.files.items():
        assert path.name == f"{name}.{fmt}"
        frame = read(path)
        assert len(frame) == written.rows[name], name
    manifest = json.loads(written.manifest.read_text(encoding="utf-8"))
    assert manifest["schema"] == "homescope.export/1" and manifest["format"] == fmt
    assert manifest["anonymised"] is False
    assert manifest["tables"]["flows"]["rows"] == len(_result().flows)
    assert "server_name" in manifest["tables"]["flows"]["columns"]


def test_lists_in_cells(tmp_path: Path) -> None:
    export(tmp_path / "csv", "csv")
    export(tmp_path / "pq", "parquet")
    csv = pd.read_csv(tmp_path / "csv" / "devices.csv")
    cell = csv.loc[csv["ipv4"] != "[]", "ipv4"].iloc[0]
    assert isinstance(json.loads(cell), list)  # JSON text in CSV
    pq = pd.read_parquet(tmp_path / "pq" / "devices.parquet")
    assert list(pq["ipv4"].iloc[0]) == json.loads(csv["ipv4"].iloc[0])  # real lists in Parquet
    findings = pd.read_parquet(tmp_path / "pq" / "findings.parquet")
    assert findings["severity"].tolist()[0] in ("warning", "notice", "info")


def test_chosen_tables_only(tmp_path: Path) -> None:
    written = export_tables(_result(), tmp_path, fmt="json", tables=["dns", "devices"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["devices.json", "dns.json", "manifest.json"]
    assert list(written.files) == ["dns", "devices"]
    with pytest.raises(ConfigError, match="no table 'packets'"):
        export_tables(_result(), tmp_path, tables=["packets"])


def _originals() -> tuple[set[str], set[str], set[str]]:
    """MACs, non-group IP addresses and private host names of the analysis."""
    r = _result()
    macs = set(r.devices["mac"].dropna())
    ips: set[str] = set()
    for column in ("ipv4", "ipv6"):
        for cell in r.devices[column]:
            ips |= set(cell)
    ips |= set(r.flows["client"]) | set(r.flows["server"]) | set(r.remotes["ip"])
    group = re.compile(r"^(22[4-9]|23\d|255)\.|^ff0")
    ips = {ip for ip in ips if not group.match(ip)}
    names = {h for h in r.devices["hostname"].dropna()} | {"Cs-iPhone", "gemini"}
    return macs, ips, names


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_anonymised_exports_leave_nothing_behind(tmp_path: Path, fmt: str) -> None:
    export(tmp_path, fmt, key=b"test key")
    macs, ips, names = _originals()
    assert macs and ips and names
    text = "\n".join(p.read_text(encoding="utf-8") for p in tmp_path.iterdir())
    for mac in macs:
        assert mac not in text.lower(), mac
    for ip in ips:
        assert not re.search(rf"(?<![\w.:]){re.escape(ip)}(?![\w.:])", text), ip
    for name in names:  # as a word: "_airport._tcp" is a service type, not the device "airport"
        assert not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text, re.IGNORECASE), name
    for device_name in _result().devices["name"]:
        assert f'"{device_name}"' not in text and f",{device_name}," not in text, device_name
    # public services and protocol addresses stay readable
    assert "upload.wikimedia.org" in text and "224.0.0.251" in text and "ff02::fb" in text


def test_pseudonyms_keep_family_and_scope(tmp_path: Path) -> None:
    export(tmp_path, "json", key=b"test key")
    devices = pd.read_json(tmp_path / "devices.json")
    flows = pd.read_json(tmp_path / "flows.json")
    assert all(k.startswith(("mac-", "lan-", "inet-")) for k in devices["key"])
    addresses = [a for cell in devices["ipv4"] for a in cell] + [a for cell in devices["ipv6"] for a in cell]
    assert addresses and all(PSEUDONYM.match(a) for a in addresses)
    assert {a.split("-")[0] for a in addresses} == {"lan", "inet"}  # the wikipedia LAN has public addresses
    assert any(a.startswith("lan-v6-") for a in addresses)
    assert all(PSEUDONYM.match(s) or s.startswith(("224.", "239.", "ff0", "255.")) for s in flows["server"])
    assert all(n.startswith("device-") for n in devices["name"])
    dns = pd.read_json(tmp_path / "dns.json")
    local = [n for n in dns["name"] if n.endswith(".local")]
    assert local and all(
        n.startswith(("host-", "_")) or ".host-" in n or n.split(".")[0].startswith("_") for n in local
    )
    assert any(
        n.endswith(".in-addr.arpa") and PSEUDONYM.match(n.removesuffix(".in-addr.arpa")) for n in dns["name"]
    )


def test_the_same_key_gives_the_same_pseudonyms(tmp_path: Path) -> None:
    export(tmp_path / "a", "csv", key=b"k1")
    export(tmp_path / "b", "csv", key=b"k1")
    export(tmp_path / "c", "csv", key=b"k2")
    a, b, c = (pd.read_csv(tmp_path / x / "devices.csv") for x in "abc")
    assert a["key"].tolist() == b["key"].tolist() and a["name"].tolist() == b["name"].tolist()
    assert set(a["key"]).isdisjoint(set(c["key"]))
    # and consistently across tables: flows name devices as the devices table does
    flows = pd.read_csv(tmp_path / "a" / "flows.csv")
    assert set(flows["client_device"].dropna()) <= set(a["name"])
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["anonymised"] and manifest["key_id"] == Anonymiser(b"k1").key_id


def test_findings_free_text_is_anonymised(tmp_path: Path) -> None:
    export(tmp_path, "json", key=b"k")
    findings = pd.read_json(tmp_path / "findings.json")
    devices = pd.read_json(tmp_path / "devices.json")
    assert len(findings)
    for text, name in zip(findings["explanation"], findings["device_name"], strict=True):
        assert name in text and name in set(devices["name"])
    assert all(PSEUDONYM.match(a) for cell in findings["addresses"] for a in cell)


def test_all_names_policy(tmp_path: Path) -> None:
    export(tmp_path, "json", key=b"k", names="all")
    flows = pd.read_json(tmp_path / "flows.json")
    named = flows["server_name"].dropna()
    assert len(named) and all(n.startswith("host-") for n in named)
    assert "wikimedia" not in (tmp_path / "dns.json").read_text(encoding="utf-8")


def test_the_key_file(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path / "data")
    path = tmp_path / "data" / "export.key"
    assert len(key) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(tmp_path / "data") == key
    path.write_text("zz-not-hex", encoding="ascii")
    with pytest.raises(ConfigError, match="cannot read the anonymisation key"):
        load_or_create_key(tmp_path / "data")


def test_anonymiser_pieces() -> None:
    a = Anonymiser(b"k")
    assert a.ip("192.168.1.5") == a.ip("192.168.1.5") and PSEUDONYM.match(a.ip("192.168.1.5") or "")
    assert (a.ip("192.168.1.5") or "").startswith("lan-v4-") and (a.ip("8.8.8.8") or "").startswith(
        "inet-v4-"
    )
    assert (a.ip("fe80::1%wlan0") or "").startswith("lan-v6-") and (a.ip("2001:db8::1") or "").startswith(
        "other-v6-"
    )
    assert a.ip("ff02::fb") == "ff02::fb" and a.ip("255.255.255.255") == "255.255.255.255"
    assert a.mac("AA-BB-CC-DD-EE-FF") == a.mac("aa:bb:cc:dd:ee:ff")
    assert a.host("Lucas-iPhone.local") == a.host("lucas-iphone.local.")
    assert (a.host("Lucas's MacBook._airplay._tcp.local") or "").endswith("._airplay._tcp.local")
    assert a.host("5.1.168.192.in-addr.arpa") == f"{a.ip('192.168.1.5')}.in-addr.arpa"
    assert a.host("www.example.com") == "www.example.com"
    assert a.answer("TXT model=MacBookPro", "mdns") == "TXT (removed)"
    assert a.answer("A 192.168.1.5", "dns") == f"A {a.ip('192.168.1.5')}"
    assert a.text("seen at 00:01:10, from 10.0.0.1 and fe80::1") == (
        f"seen at 00:01:10, from {a.ip('10.0.0.1')} and {a.ip('fe80::1')}"
    )
    with pytest.raises(ConfigError):
        Anonymiser(b"")
