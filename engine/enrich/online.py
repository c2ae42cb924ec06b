"""Online lookups, on request only: who holds an address (RDAP, through ipwhois) and its reverse DNS names.

These send the address to outside servers (the regional internet registries' RDAP services, the Team Cymru
ASN service, and your DNS resolver), so they run only when the settings allow it (`lookups.allow_online`)
or when a caller passes `allow=True` for one lookup (the user asked, e.g. `homescope lookup --online`).
Private and local addresses are never sent anywhere.

ipwhois has no overall deadline (offline, one RDAP lookup took 22 s to fail), so every lookup runs in
daemon worker threads and the caller waits at most `deadline_s` in all: a lookup that has not answered by
then is a "timeout", and its thread is left to finish on its own (its answer still lands in the cache).
Answers are cached per address as small JSON files under `cache_dir/lookups/` for `max_age_s`; failures
are not cached.

Results say what happened: "ok", "offline" (not allowed to go online), "timeout", "private" (not an
internet address), "error" (the lookup failed, with the reason).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from engine.config import Settings
from engine.enrich.geo import is_internet_address

LookupStatus = Literal["ok", "offline", "timeout", "private", "error"]
# (address, seconds it may take) -> registry data, normalised (see `rdap_with_ipwhois`)
RdapFunction = Callable[[str, float], Mapping[str, Any]]
# (address, seconds it may take) -> PTR names
ReverseFunction = Callable[[str, float], Sequence[str]]

DEFAULT_MAX_AGE_S = 30 * 86400.0
CACHE_FOLDER = "lookups"
_CACHE_VERSION = 1


@dataclass(frozen=True, slots=True)
class LookupResult:
    """What an online lookup found about one address."""

    address: str
    status: LookupStatus
    message: str  # one line for people: what happened, or why not
    asn: str | None = None  # "15169"
    asn_description: str | None = None  # "GOOGLE, US"
    asn_country: str | None = None
    asn_cidr: str | None = None
    network_name: str | None = None  # the registry's name of the block, e.g. "GOGL"
    network_cidr: str | None = None
    network_country: str | None = None
    organisation: str | None = None  # the registrant's name, when the registry gives one
    registry: str | None = None  # arin, ripencc, apnic, lacnic, afrinic
    reverse_names: tuple[str, ...] = ()
    looked_up_at: float | None = None  # epoch seconds of the answer
    cached: bool = False
    notes: tuple[str, ...] = field(default=())  # partial failures ("reverse DNS timed out")

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["reverse_names"] = list(self.reverse_names)
        data["notes"] = list(self.notes)
        return data

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> LookupResult:
        known = set(LookupResult.__dataclass_fields__)
        values = {k: v for k, v in data.items() if k in known}
        values["reverse_names"] = tuple(values.get("reverse_names") or ())
        values["notes"] = tuple(values.get("notes") or ())
        return LookupResult(**values)


def _text(value: object) -> str | None:
    text = str(value).strip() if value not in (None, "", "NA") else ""
    return text or None


def rdap_with_ipwhois(address: str, timeout: float) -> dict[str, Any]:
    """RDAP through ipwhois, normalised to LookupResult's fields. Raises on failure."""
    from ipwhois import IPWhois

    answer = IPWhois(address, timeout=max(1, round(timeout))).lookup_rdap(
        depth=1, retry_count=0, rate_limit_timeout=0, asn_methods=["dns", "whois", "http"]
    )
    network = answer.get("network") or {}
    organisation = None
    for obj in (answer.get("objects") or {}).values():
        roles = obj.get("roles") or []
        contact = obj.get("contact") or {}
        if "registrant" in roles and contact.get("name"):
            organisation = contact["name"]
            break
    return {
        "asn": _text(answer.get("asn")),
        "asn_description": _text(answer.get("asn_description")),
        "asn_country": _text(answer.get("asn_country_code")),
        "asn_cidr": _text(answer.get("asn_cidr")),
        "network_name": _text(network.get("name")),
        "network_cidr": _text(network.get("cidr")),
        "network_country": _text(network.get("country")),
        "organisation": _text(organisation),
        "registry": _text(answer.get("asn_registry")),
    }


def reverse_with_dnspython(address: str, timeout: float) -> list[str]:
    """PTR names of an address through the system's resolver (dnspython). No name: an empty list."""
    import dns.exception
    import dns.resolver

    resolver = dns.resolver.Resolver()
    resolver.lifetime = timeout
    try:
        answer = resolver.resolve_address(address, lifetime=timeout)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.Timeout:
        raise TimeoutError("reverse DNS timed out") from None
    return [str(r.target).rstrip(".") for r in answer]


def _describe_error(err: BaseException) -> str:
    name = type(err).__name__
    text = str(err).strip()
    if name == "IPDefinedError":
        return "the registries do not hold this address (reserved or private)"
    if name == "ASNRegistryError":
        return "no registry could be reached for the address's network (offline, or blocked?)"
    return f"{name}: {text}" if text else name


class _Call:
    """One function run in a daemon thread; `wait(deadline)` returns (done, value, error)."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self._done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.value = fn()
            except BaseException as err:  # reported to the caller, never raised in the thread
                self.error = err
            finally:
                self._done.set()

        threading.Thread(target=run, name="homescope-lookup", daemon=True).start()

    def wait(self, until: float) -> bool:
        return self._done.wait(max(0.0, until - time.monotonic()))


class OnlineLookups:
    """RDAP and reverse-DNS lookups with an overall deadline and a per-address JSON cache.

    `rdap` and `reverse` are injectable (tests pass fakes: nothing here may reach the network in tests).
    """

    def __init__(
        self,
        cache_dir: Path | None,
        *,
        allow_online: bool = False,
        deadline_s: float = 8.0,
        rdap: RdapFunction | None = None,
        reverse: ReverseFunction | None = None,
        max_age_s: float = DEFAULT_MAX_AGE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cache_dir = cache_dir / CACHE_FOLDER if cache_dir is not None else None
        self.allow_online = allow_online
        self.deadline_s = deadline_s
        self._rdap = rdap or rdap_with_ipwhois
        self._reverse = reverse or reverse_with_dnspython
        self.max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[str, Future[LookupResult]] = {}

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> OnlineLookups:
        """Allowed per `lookups.allow_online`, a deadline of `lookups.timeout_s`, cached in
        `lookups.cache_dir`."""
        return cls(
            settings.lookups.cache_dir,
            allow_online=settings.lookups.allow_online,
            deadline_s=settings.lookups.timeout_s,
            **kwargs,
        )

    # ---- the cache ---------------------------------------------------------------------------------

    def _cache_file(self, address: str) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / (address.replace(":", "-").replace("%", "_") + ".json")

    def cached(self, address: str) -> LookupResult | None:
        """A cached answer younger than `max_age_s`, or None. Never goes online."""
        path = self._cache_file(address)
        if path is None:
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") != _CACHE_VERSION:
                return None
            result = LookupResult.from_dict(data["result"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if result.looked_up_at is None or self._clock() - result.looked_up_at > self.max_age_s:
            return None
        return replace(result, cached=True)

    def _store(self, result: LookupResult) -> None:
        path = self._cache_file(result.address)
        if path is None or result.status != "ok":
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".lookup-", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"version": _CACHE_VERSION, "result": result.as_dict()}, fh)
            os.replace(tmp, path)
        except OSError:
            pass  # a cache that cannot be written only costs a repeated lookup

    # ---- lookups -----------------------------------------------------------------------------------

    def _precheck(self, address: str, allow: bool | None) -> LookupResult | None:
        """The answer when no network is needed (or allowed): invalid, private, cached, offline."""
        internet = is_internet_address(address)
        if internet is None:
            return LookupResult(address, "error", f"{address!r} is not an IP address")
        if not internet:
            return LookupResult(
                address, "private", "not an internet address: nobody outside knows it, nothing was sent"
            )
        found = self.cached(address)
        if found is not None:
            return found
        if not (self.allow_online if allow is None else allow):
            return LookupResult(
                address,
                "offline",
                "online lookups are off (set lookups.allow_online, or ask for one with --online)",
            )
        return None

    def lookup(self, address: str, *, allow: bool | None = None) -> LookupResult:
        """Look an address up, waiting at most `deadline_s`. `allow` overrides `allow_online` for this
        call. Never raises for a failed lookup: the result says what happened."""
        early = self._precheck(address, allow)
        if early is not None:
            return early
        until = time.monotonic() + self.deadline_s
        budget = self.deadline_s
        rdap = _Call(lambda: self._rdap(address, budget))
        reverse = _Call(lambda: list(self._reverse(address, budget)))
        rdap_done = rdap.wait(until)
        reverse_done = reverse.wait(until)
        notes: list[str] = []
        names: tuple[str, ...] = ()
        if reverse_done and reverse.error is None:
            names = tuple(str(n) for n in reverse.value or ())
        elif reverse_done:
            notes.append(f"reverse DNS failed: {_describe_error(reverse.error)}")  # type: ignore[arg-type]
        else:
            notes.append("reverse DNS did not answer in time")
        if not rdap_done:
            result = LookupResult(
                address,
                "timeout",
                f"no answer within {self.deadline_s:g} s (offline, or the registry is slow)",
                reverse_names=names,
                notes=tuple(notes),
            )
            self._store_late(address, rdap, reverse)
            return result
        if rdap.error is not None:
            return LookupResult(
                address,
                "error",
                f"the registry lookup failed: {_describe_error(rdap.error)}",
                reverse_names=names,
                notes=tuple(notes),
            )
        fields = {k: _text(v) for k, v in dict(rdap.value or {}).items() if k in _RDAP_FIELDS}
        result = LookupResult(
            address,
            "ok",
            "found in the registry",
            reverse_names=names,
            looked_up_at=self._clock(),
            notes=tuple(notes),
            **fields,  # type: ignore[arg-type]
        )
        self._store(result)
        return result

    def _store_late(self, address: str, rdap: _Call, reverse: _Call) -> None:
        """Cache an answer that arrives after the deadline, so the next request finds it."""

        def wait() -> None:
            if not rdap.wait(time.monotonic() + 600) or rdap.error is not None:
                return
            reverse.wait(time.monotonic() + 30)
            names = tuple(reverse.value or ()) if reverse.error is None else ()
            fields = {k: _text(v) for k, v in dict(rdap.value or {}).items() if k in _RDAP_FIELDS}
            self._store(
                LookupResult(
                    address, "ok", "found in the registry", reverse_names=names,
                    looked_up_at=self._clock(), **fields,  # type: ignore[arg-type]
                )
            )  # fmt: skip

        threading.Thread(target=wait, name="homescope-lookup-late", daemon=True).start()

    def submit(
        self,
        address: str,
        *,
        allow: bool | None = None,
        callback: Callable[[LookupResult], None] | None = None,
    ) -> Future[LookupResult]:
        """Start a lookup in the background and return at once (for the TUI). The same address asked for
        while a lookup runs shares that lookup. `callback`, if given, runs in the worker thread."""
        with self._lock:
            running = self._pending.get(address)
            if running is not None and not running.done():
                future = running
            else:
                future = Future()
                self._pending[address] = future
                early = self._precheck(address, allow)
                if early is not None:
                    future.set_result(early)
                else:

                    def work() -> None:
                        try:
                            future.set_result(self.lookup(address, allow=allow))
                        except BaseException as err:  # never leave a future unresolved
                            future.set_exception(err)
                        finally:
                            with self._lock:
                                if self._pending.get(address) is future:
                                    del self._pending[address]

                    threading.Thread(target=work, name="homescope-lookup", daemon=True).start()
        if callback is not None:
            future.add_done_callback(
                lambda done: callback(done.result()) if done.exception() is None else None
            )
        return future


_RDAP_FIELDS = frozenset(
    {
        "asn",
        "asn_description",
        "asn_country",
        "asn_cidr",
        "network_name",
        "network_cidr",
        "network_country",
        "organisation",
        "registry",
    }
)
