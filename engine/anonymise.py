"""Anonymising an analysis for sharing: MAC addresses, IP addresses and private host names replaced by keyed
pseudonyms (HMAC-SHA256 with a per-user key), the same in every table and every export made with the same key:

- IP addresses keep their family and scope: ``lan-v4-3f2a9c1d`` (private, link-local, ULA, loopback, and
  the home's own global prefixes), ``inet-v6-9c1d0e77`` (the internet), ``other-v4-...`` (documentation,
  reserved). Multicast, broadcast and unspecified addresses (224.0.0.251, ff02::fb, 255.255.255.255) name
  protocols, not people, and stay as they are;
- MAC addresses become ``mac-5e0b7a21``; device names ``device-<pseudonym of the device's key>``;
- host names: local names (``.local``, ``.lan``, ``.home.arpa``, single labels, names devices announce) and
  reverse-lookup names become ``host-…`` keeping their suffix and service labels
  (``host-1a2b3c4d._airplay._tcp.local``, ``lan-v4-3f2a9c1d.in-addr.arpa``); public service names
  (``api.example.com``) are kept, since they say what devices talk to and not who lives there. With
  ``names="all"`` every host name is replaced, keeping only its top-level domain;
- free text (finding explanations, DNS answers) has every address, MAC and name above replaced; TXT
  records of local discovery (mDNS, LLMNR) are dropped, since they carry names and models.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import re
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from engine.address_scope import AddressScope, HomeNetwork, address_halves, classify_text
from engine.errors import ConfigError, ExportError

if TYPE_CHECKING:
    import pandas as pd

KEY_FILE = "export.key"
NamePolicy = Literal["local", "all"]


# ---- the key ----------------------------------------------------------------------------------------------


def load_or_create_key(data_dir: Path) -> bytes:
    """The per-user anonymisation key in `data_dir/export.key` (32 random bytes, hex), created on first use
    with permissions 0600."""
    path = data_dir / KEY_FILE
    try:
        text = path.read_text(encoding="ascii").strip()
        if text:
            return bytes.fromhex(text)
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as err:
        raise ConfigError(f"{path}: cannot read the anonymisation key: {err}") from None
    key = secrets.token_bytes(32)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".export-key-")
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(key.hex() + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except OSError as err:
        raise ExportError(f"{path}: cannot store the anonymisation key: {err.strerror or err}") from None
    return key


# ---- pseudonyms -------------------------------------------------------------------------------------------

_KEEP_SCOPES = {
    AddressScope.UNSPECIFIED,
    AddressScope.MULTICAST_LINK,
    AddressScope.MULTICAST_SITE_ORG,
    AddressScope.MULTICAST_GLOBAL,
    AddressScope.BROADCAST,
}
_LAN_SCOPES = {
    AddressScope.LOOPBACK,
    AddressScope.PRIVATE,
    AddressScope.LINK_LOCAL,
    AddressScope.ULA,
}
_INET_SCOPES = {AddressScope.GLOBAL, AddressScope.SHARED_TRANSITION, AddressScope.CGNAT}
LOCAL_SUFFIXES = (
    "local", "lan", "home", "internal", "home.arpa", "localdomain", "intranet", "private", "corp",
    "fritz.box", "box", "localnet", "in-addr.arpa", "ip6.arpa",
)  # fmt: skip
_LOCAL_NAME = re.compile(
    r"(?<![\w.-])(?:[\w-]+\.)+(?:" + "|".join(re.escape(x) for x in LOCAL_SUFFIXES) + r")(?![\w-])",
    re.IGNORECASE,
)
_MAC = re.compile(r"(?<![0-9A-Fa-f:])[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}(?![0-9A-Fa-f:])")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6 = re.compile(
    r"(?<![0-9A-Fa-f:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f.]{0,15}(?:%[\w.]+)?(?![0-9A-Fa-f:])"
)


class Anonymiser:
    """Stable keyed pseudonyms for addresses, MACs, names and device names (see the module docstring)."""

    def __init__(self, key: bytes, *, names: NamePolicy = "local", home: HomeNetwork | None = None) -> None:
        if not key:
            raise ConfigError("the anonymisation key is empty")
        self._key = key
        self.names = names
        self._home = home
        self._replaced: dict[str, str] = {}  # original text -> pseudonym, for free text
        self._pattern: re.Pattern[str] | None = None
        self._private_names: set[str] = set()  # names devices announce (always replaced)

    @property
    def key_id(self) -> str:
        """A short fingerprint of the key: two exports with the same key_id use the same pseudonyms."""
        return self._token("key-id")

    def _token(self, text: str) -> str:
        return hmac.new(self._key, text.encode("utf-8"), hashlib.sha256).hexdigest()[:8]

    def _remember(self, original: str, pseudonym: str) -> str:
        if original and original != pseudonym and original not in self._replaced:
            self._replaced[original] = pseudonym
            self._pattern = None
        return pseudonym

    def ip(self, text: str | None) -> str | None:
        if not isinstance(text, str):  # None, or NaN from an empty cell
            return text
        try:
            address = ipaddress.ip_address(text.split("%")[0])
            scope = classify_text(str(address), home=self._home)
        except ValueError:
            return self.text(text)
        if scope in _KEEP_SCOPES:
            return text
        family = f"v{address.version}"
        if scope in _LAN_SCOPES or self._is_home(str(address)):
            where = "lan"
        elif scope in _INET_SCOPES:
            where = "inet"
        else:
            where = "other"
        return self._remember(text, f"{where}-{family}-{self._token('ip:' + str(address))}")

    def _is_home(self, address: str) -> bool:
        if self._home is None:
            return False
        import numpy as np

        hi, lo = address_halves(address)
        return bool(self._home.is_home(np.array([hi], np.uint64), np.array([lo], np.uint64))[0])

    def mac(self, text: str | None) -> str | None:
        if not isinstance(text, str):
            return text
        canonical = text.strip().lower().replace("-", ":")
        return self._remember(text, f"mac-{self._token('mac:' + canonical)}")

    def ident(self, text: str | None) -> str | None:
        """A device key: a MAC, or an IP address for devices seen without one."""
        if not isinstance(text, str):
            return text
        return self.mac(text) if _MAC.fullmatch(text) else self.ip(text)

    def learn_devices(self, devices: pd.DataFrame) -> None:
        """Device names (and the host names devices announce) from a devices table, so they are replaced
        wherever they appear: a name shared by one device becomes `device-<pseudonym of its key>`."""
        if not len(devices):
            return
        counts = devices["name"].value_counts()
        for name, key, label, hostname in zip(
            devices["name"], devices["key"], devices.get("label", [None] * len(devices)),
            devices.get("hostname", [None] * len(devices)), strict=True,
        ):  # fmt: skip
            basis = f"key:{key}" if counts.get(name, 0) == 1 else f"name:{name}"
            pseudonym = f"device-{self._token(basis)}"
            self._remember(str(name), pseudonym)
            if isinstance(label, str) and label:
                self._remember(label, pseudonym)
            if isinstance(hostname, str) and hostname:
                self._private_names.add(hostname.lower().rstrip("."))

    def device(self, name: str | None) -> str | None:
        if not isinstance(name, str):
            return name
        found = self._replaced.get(name)
        return found if found is not None else self._remember(name, f"device-{self._token('name:' + name)}")

    def _is_private_name(self, name: str) -> bool:
        lowered = name.lower().rstrip(".")
        if lowered in self._private_names or "." not in lowered:
            return True
        return any(lowered.endswith("." + s) for s in LOCAL_SUFFIXES)

    def host(self, name: str | None) -> str | None:
        """A host name: reverse names carry their address's pseudonym; local names become host-…; public
        names stay unless names="all"."""
        if not isinstance(name, str) or not name:
            return name
        lowered = name.lower().rstrip(".")
        reverse = _reverse_address(lowered)
        if reverse is not None:
            pseudonym = self.ip(reverse)
            suffix = "in-addr.arpa" if lowered.endswith("in-addr.arpa") else "ip6.arpa"
            return self._remember(name, f"{pseudonym}.{suffix}")
        if _IPV4.fullmatch(name) or (":" in name and _IPV6.fullmatch(name)):
            return self.ip(name)
        if self.names != "all" and not self._is_private_name(name):
            return name
        labels = lowered.split(".")
        keep_from = len(labels)
        for suffix in (*LOCAL_SUFFIXES, labels[-1]):
            if lowered.endswith("." + suffix):
                keep_from = len(labels) - suffix.count(".") - 1
                break
        # service labels (_airplay._tcp) stay; the rest becomes one token
        services = [i for i, label in enumerate(labels[:keep_from]) if label.startswith("_")]
        first_service = services[0] if services else keep_from
        if first_service == 0:
            return name  # a service type only ("_airplay._tcp.local"): nothing personal in it
        personal = ".".join(labels[:first_service])
        token = f"host-{self._token('host:' + personal)}"
        return self._remember(name, ".".join([token, *labels[first_service:]]))

    def text(self, text: str | None) -> str | None:
        """Free text: every name and address replaced so far, and every MAC and IP address in it."""
        if not isinstance(text, str) or not text:
            return text
        if self._replaced:
            if self._pattern is None:
                keys = sorted(self._replaced, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(k) for k in keys))
            text = self._pattern.sub(lambda m: self._replaced[m.group(0)], text)
        text = _LOCAL_NAME.sub(lambda m: self.host(m.group(0)) or "", text)
        text = _MAC.sub(lambda m: self.mac(m.group(0)) or "", text)
        text = _IPV4.sub(lambda m: _valid_ip(m.group(0), self.ip), text)
        return _IPV6.sub(lambda m: _valid_ip(m.group(0), self.ip), text)

    def answer(self, answer: str, kind: str | None) -> str:
        """A DNS answer such as "A 192.0.2.1", "PTR host.local", "TXT ..."."""
        rtype, _, value = answer.partition(" ")
        if rtype in ("A", "AAAA"):
            return f"{rtype} {self.ip(value)}"
        if rtype in ("PTR", "CNAME", "NS", "DNAME"):
            return f"{rtype} {self.host(value)}"
        if rtype == "TXT" and kind in ("mdns", "llmnr"):
            return "TXT (removed)"
        return self.text(answer) or answer


def _valid_ip(text: str, replace: Callable[[str], str | None]) -> str:
    try:
        ipaddress.ip_address(text.split("%", maxsplit=1)[0])
    except ValueError:
        return text
    return replace(text) or text


def _reverse_address(name: str) -> str | None:
    """The address of a reverse-lookup name ("4.3.2.1.in-addr.arpa", "...ip6.arpa"), or None."""
    try:
        if name.endswith(".in-addr.arpa"):
            parts = name[: -len(".in-addr.arpa")].split(".")
            if len(parts) == 4:
                return str(ipaddress.IPv4Address(".".join(reversed(parts))))
        elif name.endswith(".ip6.arpa"):
            nibbles = name[: -len(".ip6.arpa")].split(".")
            if len(nibbles) == 32:
                return str(ipaddress.IPv6Address(int("".join(reversed(nibbles)), 16)))
    except ValueError:
        return None
    return None


def _map(frame: pd.DataFrame, column: str, fn: Callable[[Any], Any], *, lists: bool = False) -> None:
    if column not in frame.columns:
        return
    if lists:
        frame[column] = [
            [fn(v) for v in cell] if isinstance(cell, list | tuple) else cell for cell in frame[column]
        ]
    else:
        frame[column] = [fn(v) if isinstance(v, str) else v for v in frame[column]]


def anonymise_table(name: str, frame: pd.DataFrame, anon: Anonymiser) -> pd.DataFrame:
    """A table with every column that holds addresses, MACs or names replaced by pseudonyms."""
    frame = frame.copy()
    if name == "devices":
        anon.learn_devices(frame)
        _map(frame, "key", anon.ident)
        _map(frame, "mac", anon.mac)
        _map(frame, "name", anon.device)
        _map(frame, "label", anon.device)
        _map(frame, "hostname", anon.host)
        _map(frame, "ipv4", anon.ip, lists=True)
        _map(frame, "ipv6", anon.ip, lists=True)
    elif name == "flows":
        for column in ("client", "server"):
            _map(frame, column, anon.ip)
        _map(frame, "server_name", anon.host)
        for column in ("client_device", "server_device"):
            _map(frame, column, anon.device)
    elif name == "dns":
        _map(frame, "client", anon.ip)
        _map(frame, "resolver", anon.ip)
        _map(frame, "client_device", anon.device)
        _map(frame, "name", anon.host)
        if "answers" in frame.columns:
            frame["answers"] = [
                [anon.answer(a, kind) for a in cell] if isinstance(cell, list | tuple) else cell
                for cell, kind in zip(frame["answers"], frame["kind"], strict=True)
            ]
    elif name == "remotes":
        _map(frame, "ip", anon.ip)
        _map(frame, "name", anon.host)
        _map(frame, "names", anon.host, lists=True)
        _map(frame, "devices", anon.device, lists=True)
    elif name == "device_timeline":
        _map(frame, "device", anon.device)
    elif name == "findings":
        _map(frame, "device_key", anon.ident)
        _map(frame, "device_name", anon.device)
        _map(frame, "remote_address", anon.ip)
        _map(frame, "remote_name", anon.host)
        _map(frame, "dns_names", anon.host, lists=True)
        _map(frame, "addresses", anon.ip, lists=True)
        for column in ("title", "explanation", "details", "key"):
            _map(frame, column, anon.text)
    return frame
