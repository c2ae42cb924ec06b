"""Names and traits devices announce about themselves: DHCP host names and vendor classes, mDNS host and
service names, NetBIOS and LLMNR names, DHCPv6 FQDNs, SSDP server strings, HTTP user agents."""

from __future__ import annotations

from dataclasses import dataclass

# Which kind of name makes the best label for a device, best first.
NAME_PRIORITY = (
    "dhcp-hostname",
    "mdns-host",
    "dhcp-fqdn",
    "dhcpv6-fqdn",
    "nbns",
    "llmnr",
    "mdns-friendly-name",
    "mdns-service",
)
_RANK = {source: i for i, source in enumerate(NAME_PRIORITY)}
MAX_NAMES_PER_DEVICE = 32
# A device id, or "mac:aa:bb:..." for a device known only by the MAC a protocol names (DHCP's client
# hardware address): the analysis turns those into device ids in its snapshots.
DeviceRef = int | str
MAX_VALUES_PER_TRAIT = 8


@dataclass(slots=True)
class DeviceName:
    name: str
    source: str
    detail: str | None  # e.g. the mDNS service type, the NetBIOS suffix meaning
    count: int
    first_ts: float
    last_ts: float

    def copy(self) -> DeviceName:
        return DeviceName(self.name, self.source, self.detail, self.count, self.first_ts, self.last_ts)


@dataclass(frozen=True, slots=True)
class DeviceNamesSnapshot:
    names: dict[DeviceRef, list[DeviceName]]  # device -> names, best first
    traits: dict[DeviceRef, dict[str, list[str]]]  # device -> trait -> values (vendor class, user agent...)

    def best(self, device: DeviceRef) -> str | None:
        found = self.names.get(device)
        return found[0].name if found else None


class DeviceNames:
    def __init__(self) -> None:
        self._names: dict[DeviceRef, dict[tuple[str, str], DeviceName]] = {}
        self._traits: dict[DeviceRef, dict[str, dict[str, None]]] = {}

    def add_name(
        self, device: DeviceRef, name: str, source: str, ts: float, detail: str | None = None
    ) -> None:
        name = name.strip().rstrip(".")
        if device == -1 or not name:
            return
        names = self._names.setdefault(device, {})
        key = (source, name.lower())
        seen = names.get(key)
        if seen is None:
            if len(names) >= MAX_NAMES_PER_DEVICE:
                return
            names[key] = DeviceName(name, source, detail, 1, ts, ts)
            return
        seen.count += 1
        seen.first_ts = min(seen.first_ts, ts)
        seen.last_ts = max(seen.last_ts, ts)

    def add_trait(self, device: DeviceRef, trait: str, value: str) -> None:
        value = value.strip()
        if device == -1 or not value:
            return
        values = self._traits.setdefault(device, {}).setdefault(trait, {})
        if value not in values and len(values) < MAX_VALUES_PER_TRAIT:
            values[value] = None

    def snapshot(self) -> DeviceNamesSnapshot:
        names = {
            dev: sorted((n.copy() for n in found.values()), key=name_rank)
            for dev, found in self._names.items()
        }
        traits = {dev: {k: list(v) for k, v in found.items()} for dev, found in self._traits.items()}
        return DeviceNamesSnapshot(names, traits)


def name_rank(n: DeviceName) -> tuple[int, int, float]:
    """Sort key: the best label for a device first (see NAME_PRIORITY), then the most seen."""
    return (_RANK.get(n.source, len(_RANK)), -n.count, -n.last_ts)
