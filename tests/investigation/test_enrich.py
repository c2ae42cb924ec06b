"""Enrichment: offline geo (lazy, thread-safe, cached) and online lookups (only when allowed, with a deadline
and a cache). No test reaches the network: online lookups get fake RDAP and reverse-DNS functions, and the
conftest makes any real connection fail the test."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from engine.enrich.geo import GeoDatabase, shared_geo
from engine.enrich.online import LookupResult, OnlineLookups
from tests.investigation.home_traffic import settings_for

# ---- offline geo ------------------------------------------------------------------------------------------


class FakeDetail:
    def __init__(self, code: str, name: str, org: str, cidr: str) -> None:
        self.country_code, self.country_name, self.asn_name, self.asn_cidr = code, name, org, cidr


class FakeGeoIP:
    def __init__(self) -> None:
        self.lookups: list[str] = []

    def get_database_info(self) -> dict[str, Any]:
        return {"source_info": "MAXMIND:GeoLite2-CountryASN-IPv4IPv6-en-20240618"}

    def lookup(self, address: str) -> FakeDetail:
        self.lookups.append(address)
        if address == "52.1.1.1":
            return FakeDetail("--", "<not found in database>", "", "")
        return FakeDetail("US", "United States", "EXAMPLE-NET", "8.8.8.0/24")


class CountingLoader:
    def __init__(self, delay: float = 0.0) -> None:
        self.calls = 0
        self.delay = delay
        self.db = FakeGeoIP()

    def __call__(self) -> FakeGeoIP:
        self.calls += 1
        time.sleep(self.delay)
        return self.db


def test_local_addresses_never_load_the_data() -> None:
    loader = CountingLoader()
    geo = GeoDatabase(loader=loader)
    for address in ("192.168.1.5", "10.0.0.1", "fe80::1", "ff02::fb", "100.64.0.1", "::1", "fd00::5"):
        assert geo.lookup(address).status == "local", address
    assert geo.lookup("not-an-ip").status == "invalid"
    assert loader.calls == 0 and not geo.loaded
    assert geo.status().message.startswith("not loaded yet")


def test_lookups_load_once_and_are_cached() -> None:
    loader = CountingLoader()
    geo = GeoDatabase(loader=loader)
    result = geo.lookup("8.8.8.8")
    assert result.status == "ok" and result.info is not None
    assert (result.info.country_code, result.info.organisation, result.info.network) == (
        "US",
        "EXAMPLE-NET",
        "8.8.8.0/24",
    )
    geo.lookup("8.8.8.8")
    assert loader.calls == 1 and loader.db.lookups == ["8.8.8.8"]
    assert geo.lookup("52.1.1.1").status == "not-found"
    status = geo.status()
    assert status.loaded and status.data_date == "2024-06-18"


def test_loading_is_thread_safe() -> None:
    loader = CountingLoader(delay=0.2)
    geo = GeoDatabase(loader=loader)
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(geo.lookup("8.8.8.8").status)) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["ok"] * 8 and loader.calls == 1


def test_lookup_many() -> None:
    loader = CountingLoader()
    geo = GeoDatabase(loader=loader)
    out = geo.lookup_many(["8.8.8.8", "192.168.1.1", "8.8.8.8", "bogus", "2001:4860:4860::8888"])
    assert list(out) == ["8.8.8.8", "192.168.1.1", "bogus", "2001:4860:4860::8888"]
    assert [r.status for r in out.values()] == ["ok", "local", "invalid", "ok"]
    assert loader.db.lookups == ["8.8.8.8", "2001:4860:4860::8888"]
    assert GeoDatabase(loader=CountingLoader()).lookup_many(["10.0.0.1"])["10.0.0.1"].status == "local"


def test_missing_package_or_data_says_unavailable() -> None:
    def no_package() -> Any:
        raise ImportError("No module named 'geoip2fast'")

    def no_data() -> Any:
        raise FileNotFoundError("geoip2fast-asn-ipv6.dat.gz")

    geo = GeoDatabase(loader=no_package)
    result = geo.lookup("8.8.8.8")
    assert result.status == "unavailable" and "not installed" in result.message
    assert not geo.status().available
    broken = GeoDatabase(loader=no_data).lookup_many(["8.8.8.8", "192.168.1.1"])
    assert broken["8.8.8.8"].status == "unavailable" and "could not be loaded" in broken["8.8.8.8"].message
    assert broken["192.168.1.1"].status == "local"


def test_the_bundled_data_offline() -> None:
    """The real geoip2fast data (offline: the conftest refuses any connection)."""
    pytest.importorskip("geoip2fast")
    geo = shared_geo()
    assert geo is shared_geo()
    google = geo.lookup("8.8.8.8")
    assert google.status == "ok" and google.info is not None
    assert google.info.country_code == "US" and "GOOGLE" in (google.info.organisation or "")
    v6 = geo.lookup("2a00:1450:4001:80b::200e")
    assert v6.status == "ok" and v6.info is not None and "GOOGLE" in (v6.info.organisation or "")
    status = geo.status()
    assert status.loaded and status.data_date is not None and status.data_date.startswith("20")


# ---- online lookups ---------------------------------------------------------------------------------------

RDAP_ANSWER = {
    "asn": "15169",
    "asn_description": "GOOGLE, US",
    "asn_country": "US",
    "asn_cidr": "8.8.8.0/24",
    "network_name": "GOGL",
    "network_cidr": "8.8.8.0/24",
    "network_country": "US",
    "organisation": "Google LLC",
    "registry": "arin",
}


class Fakes:
    def __init__(
        self, *, rdap_delay: float = 0.0, reverse_delay: float = 0.0, fail: Exception | None = None
    ) -> None:
        self.rdap_calls: list[tuple[str, float]] = []
        self.reverse_calls: list[str] = []
        self.rdap_delay, self.reverse_delay, self.fail = rdap_delay, reverse_delay, fail

    def rdap(self, address: str, timeout: float) -> dict[str, Any]:
        self.rdap_calls.append((address, timeout))
        time.sleep(self.rdap_delay)
        if self.fail is not None:
            raise self.fail
        return dict(RDAP_ANSWER)

    def reverse(self, address: str, timeout: float) -> list[str]:
        self.reverse_calls.append(address)
        time.sleep(self.reverse_delay)
        return ["dns.google"]


def lookups(tmp_path: Path, fakes: Fakes, **kw: Any) -> OnlineLookups:
    return OnlineLookups(tmp_path / "cache", rdap=fakes.rdap, reverse=fakes.reverse, **kw)


def test_offline_unless_allowed(tmp_path: Path) -> None:
    fakes = Fakes()
    result = lookups(tmp_path, fakes).lookup("8.8.8.8")
    assert result.status == "offline" and "--online" in result.message
    assert fakes.rdap_calls == [] and fakes.reverse_calls == []


def test_allowed_per_call_or_by_settings(tmp_path: Path) -> None:
    fakes = Fakes()
    result = lookups(tmp_path, fakes).lookup("8.8.8.8", allow=True)
    assert result.status == "ok" and result.asn == "15169" and result.organisation == "Google LLC"
    assert result.reverse_names == ("dns.google",) and not result.cached
    fakes2 = Fakes()
    assert lookups(tmp_path / "b", fakes2, allow_online=True).lookup("1.1.1.1").status == "ok"
    assert (
        lookups(tmp_path / "c", Fakes(), allow_online=True).lookup("1.1.1.1", allow=False).status == "offline"
    )


def test_answers_are_cached_on_disk(tmp_path: Path) -> None:
    fakes = Fakes()
    first = lookups(tmp_path, fakes).lookup("2001:4860:4860::8888", allow=True)
    files = list((tmp_path / "cache" / "lookups").glob("*.json"))
    assert [f.name for f in files] == ["2001-4860-4860--8888.json"]
    again = lookups(tmp_path, Fakes()).lookup("2001:4860:4860::8888")  # not allowed, but cached
    assert again.status == "ok" and again.cached and again.asn == first.asn
    assert len(fakes.rdap_calls) == 1


def test_the_cache_expires_and_survives_damage(tmp_path: Path) -> None:
    now = [1_700_000_000.0]
    fakes = Fakes()
    online = lookups(tmp_path, fakes, clock=lambda: now[0], max_age_s=3600)
    online.lookup("8.8.8.8", allow=True)
    now[0] += 7200
    assert online.cached("8.8.8.8") is None
    path = tmp_path / "cache" / "lookups" / "8.8.8.8.json"
    path.write_text("{not json", encoding="utf-8")
    assert online.cached("8.8.8.8") is None
    assert online.lookup("8.8.8.8", allow=True).status == "ok"
    assert json.loads(path.read_text(encoding="utf-8"))["result"]["asn"] == "15169"


def test_private_and_invalid_addresses_are_never_sent(tmp_path: Path) -> None:
    fakes = Fakes()
    online = lookups(tmp_path, fakes, allow_online=True)
    assert online.lookup("192.168.1.20").status == "private"
    assert online.lookup("fe80::1").status == "private"
    bad = online.lookup("example.com")
    assert bad.status == "error" and "not an IP address" in bad.message
    assert fakes.rdap_calls == []


def test_the_overall_deadline(tmp_path: Path) -> None:
    fakes = Fakes(rdap_delay=3.0, reverse_delay=3.0)
    online = lookups(tmp_path, fakes, deadline_s=0.3)
    started = time.monotonic()
    result = online.lookup("8.8.8.8", allow=True)
    elapsed = time.monotonic() - started
    assert result.status == "timeout" and "0.3 s" in result.message
    assert elapsed < 1.5
    assert fakes.rdap_calls[0][1] == 0.3  # the fake was told its budget


def test_a_late_answer_lands_in_the_cache(tmp_path: Path) -> None:
    fakes = Fakes(rdap_delay=0.4)
    online = lookups(tmp_path, fakes, deadline_s=0.1)
    assert online.lookup("8.8.8.8", allow=True).status == "timeout"
    deadline = time.monotonic() + 5
    while online.cached("8.8.8.8") is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert online.cached("8.8.8.8") is not None


def test_failures_are_errors_and_not_cached(tmp_path: Path) -> None:
    class ASNRegistryError(Exception):
        pass

    online = lookups(tmp_path, Fakes(fail=ASNRegistryError("ASN lookup failed")), allow_online=True)
    result = online.lookup("8.8.8.8")
    assert result.status == "error" and "no registry could be reached" in result.message
    assert result.reverse_names == ("dns.google",)
    assert online.cached("8.8.8.8") is None


def test_a_reverse_dns_failure_is_a_note(tmp_path: Path) -> None:
    def reverse(address: str, timeout: float) -> list[str]:
        raise OSError("resolver unreachable")

    online = OnlineLookups(tmp_path, rdap=Fakes().rdap, reverse=reverse, allow_online=True)
    result = online.lookup("8.8.8.8")
    assert result.status == "ok" and result.reverse_names == ()
    assert any("reverse DNS failed" in n for n in result.notes)


def test_submit_runs_in_the_background_and_shares_a_lookup(tmp_path: Path) -> None:
    fakes = Fakes(rdap_delay=1.5)
    online = lookups(tmp_path, fakes, allow_online=True)
    seen: list[LookupResult] = []
    started = time.monotonic()
    first = online.submit("8.8.8.8", callback=seen.append)
    second = online.submit("8.8.8.8")
    assert time.monotonic() - started < 1.0  # returned before the lookup could have finished
    assert first is second
    assert first.result(timeout=5).status == "ok"
    deadline = time.monotonic() + 2
    while not seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [r.status for r in seen] == ["ok"] and len(fakes.rdap_calls) == 1
    assert online.submit("10.0.0.1").result(timeout=1).status == "private"


def test_from_settings(tmp_path: Path) -> None:
    settings = settings_for(**{"lookups.cache_dir": str(tmp_path / "c"), "lookups.timeout_s": 3})
    online = OnlineLookups.from_settings(settings, rdap=Fakes().rdap, reverse=Fakes().reverse)
    assert online.cache_dir == tmp_path / "c" / "lookups" and online.deadline_s == 3.0
    assert not online.allow_online


def test_results_round_trip_as_json() -> None:
    result = LookupResult("8.8.8.8", "ok", "found", asn="15169", reverse_names=("dns.google",), notes=("x",))
    assert LookupResult.from_dict(json.loads(json.dumps(result.as_dict()))) == result
