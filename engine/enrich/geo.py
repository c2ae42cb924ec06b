"""Offline country and organisation (AS name) of internet addresses, from geoip2fast's bundled data.

Nothing leaves the machine. The data file with AS names for IPv4 and IPv6 costs about 0.2-0.3 s and
~120 MB of memory to load, so it is loaded on first use, once, whichever thread asks first; addresses
that are not on the internet (private, link-local, multicast, documentation, ...) are answered from
homescope's own address table without loading anything. Answers are kept in an LRU cache.

The data are MaxMind GeoLite2-derived (see `GeoDatabase.status().source` and `data_date`): a country and an
AS organisation name, no AS number, no city. When the package or its data file is missing, every lookup
says "unavailable" with the reason, instead of failing.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np

from engine.address_scope import AddressScope, address_halves, classify

DATA_FILE = "geoip2fast-asn-ipv6.dat.gz"  # country + AS name, IPv4 and IPv6
CACHE_SIZE = 65536
_GLOBAL_SCOPES = np.array([AddressScope.GLOBAL, AddressScope.SHARED_TRANSITION], dtype=np.uint8)
_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_NOT_FOUND = ("--", "")

GeoStatusName = Literal["ok", "local", "not-found", "invalid", "unavailable"]


@dataclass(frozen=True, slots=True)
class GeoInfo:
    """Where an address is registered: ISO country code and name, AS organisation and its prefix."""

    country_code: str | None
    country_name: str | None
    organisation: str | None
    network: str | None  # the AS prefix that holds the address, e.g. 8.8.8.0/24


@dataclass(frozen=True, slots=True)
class GeoResult:
    """The answer for one address. `info` is set when `status` is "ok"."""

    address: str
    status: GeoStatusName
    info: GeoInfo | None = None
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        info = self.info
        return {
            "address": self.address,
            "status": self.status,
            "country_code": info.country_code if info else None,
            "country_name": info.country_name if info else None,
            "organisation": info.organisation if info else None,
            "network": info.network if info else None,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class GeoStatus:
    available: bool
    loaded: bool
    source: str | None  # e.g. "MAXMIND:GeoLite2-CountryASN-IPv4IPv6-en-20240618"
    data_date: str | None  # e.g. "2024-06-18"
    message: str


def _default_loader(data_file: str) -> Callable[[], Any]:
    def load() -> Any:
        from geoip2fast import GeoIP2Fast

        return GeoIP2Fast(geoip2fast_data_file=data_file, verbose=False)

    return load


def _data_date(source: str | None) -> str | None:
    if not source:
        return None
    found = _DATE.search(source)
    return f"{found[1]}-{found[2]}-{found[3]}" if found else None


def _clean(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def is_internet_address(address: str) -> bool | None:
    """Whether an address (text) is globally routed; None for text that is no IP address."""
    try:
        hi, lo = address_halves(address)
    except ValueError:
        return None
    return bool(np.isin(classify(np.array([hi], np.uint64), np.array([lo], np.uint64)), _GLOBAL_SCOPES)[0])


class GeoDatabase:
    """Offline geo lookups; thread-safe; loads its data on the first lookup of an internet address.

    `loader` returns an object with geoip2fast's `lookup(address)` and `get_database_info()` (tests pass
    a fake one)."""

    def __init__(
        self,
        data_file: str = DATA_FILE,
        *,
        loader: Callable[[], Any] | None = None,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        self._loader = loader or _default_loader(data_file)
        self._lock = threading.Lock()
        self._db: Any = None
        self._error: str | None = None
        self._source: str | None = None
        self._cached = lru_cache(maxsize=cache_size)(self._lookup_uncached)

    @property
    def loaded(self) -> bool:
        return self._db is not None

    def _database(self) -> Any:
        """The loaded database, or None when it cannot be loaded (the reason is kept in `_error`)."""
        if self._db is not None or self._error is not None:
            return self._db
        with self._lock:
            if self._db is None and self._error is None:
                try:
                    db = self._loader()
                    info = db.get_database_info() if hasattr(db, "get_database_info") else {}
                    self._source = _clean(info.get("source_info")) if isinstance(info, dict) else None
                    self._db = db
                except ImportError:
                    self._error = "the geoip2fast package is not installed (pip install geoip2fast)"
                except Exception as err:  # a missing or damaged data file: say so, never fail the caller
                    self._error = f"the geoip2fast data could not be loaded: {err}"
        return self._db

    def status(self, *, load: bool = False) -> GeoStatus:
        """Whether lookups work, and the date of the data (known once loaded; `load=True` loads now)."""
        if load:
            self._database()
        if self._error is not None:
            return GeoStatus(False, False, None, None, self._error)
        if self._db is None:
            return GeoStatus(True, False, None, None, "not loaded yet (loads on the first lookup)")
        date = _data_date(self._source)
        return GeoStatus(True, True, self._source, date, f"offline data from {date or 'an unknown date'}")

    def lookup(self, address: str) -> GeoResult:
        """Country and organisation of one address (never touches the network)."""
        local = is_internet_address(address)
        if local is None:
            return GeoResult(address, "invalid", message=f"{address!r} is not an IP address")
        if not local:
            return GeoResult(address, "local", message="not an internet address: it has no owner to look up")
        result: GeoResult = self._cached(address)
        return result

    def _lookup_uncached(self, address: str) -> GeoResult:
        db = self._database()
        if db is None:
            return GeoResult(address, "unavailable", message=self._error or "geo data unavailable")
        try:
            found = db.lookup(address)
        except Exception as err:
            return GeoResult(address, "unavailable", message=f"geo lookup failed: {err}")
        code = _clean(getattr(found, "country_code", None))
        org = _clean(getattr(found, "asn_name", None))
        if (code is None or code in _NOT_FOUND) and org is None:
            return GeoResult(address, "not-found", message="not in the offline data")
        return GeoResult(
            address,
            "ok",
            GeoInfo(
                country_code=None if code in _NOT_FOUND else code,
                country_name=_clean(getattr(found, "country_name", None)),
                organisation=org,
                network=_clean(getattr(found, "asn_cidr", None)) or _clean(getattr(found, "cidr", None)),
            ),
        )

    def lookup_many(self, addresses: Iterable[str]) -> dict[str, GeoResult]:
        """Results for many addresses at once: duplicates looked up once, non-internet addresses told apart
        in one vectorised pass, the data loaded only if an internet address is among them."""
        unique = list(dict.fromkeys(addresses))
        results: dict[str, GeoResult] = {}
        halves: list[tuple[int, int]] = []
        valid: list[str] = []
        for address in unique:
            try:
                halves.append(address_halves(address))
                valid.append(address)
            except ValueError:
                results[address] = GeoResult(address, "invalid", message=f"{address!r} is not an IP address")
        if valid:
            hi = np.array([h for h, _ in halves], dtype=np.uint64)
            lo = np.array([lw for _, lw in halves], dtype=np.uint64)
            internet = np.isin(classify(hi, lo), _GLOBAL_SCOPES)
            for address, outside in zip(valid, internet.tolist(), strict=True):
                if not outside:
                    results[address] = GeoResult(address, "local", message="not an internet address")
                else:
                    results[address] = self._cached(address)
        return {a: results[a] for a in unique}


_SHARED: list[GeoDatabase] = []
_SHARED_LOCK = threading.Lock()


def shared_geo() -> GeoDatabase:
    """The process-wide database (so its data are loaded at most once), created on first call."""
    with _SHARED_LOCK:
        if not _SHARED:
            _SHARED.append(GeoDatabase())
        return _SHARED[0]
