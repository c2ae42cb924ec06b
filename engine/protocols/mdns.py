"""Names devices announce about themselves over mDNS (RFC 6762/6763) and LLMNR (RFC 4795).

`announced_names` reads a parsed response (see `engine.protocols.dns`) and keeps what identifies the
sender: its host names with their addresses, the service instances it offers, and the few TXT keys that
carry a human-friendly name or a model. Queries are ignored: their known-answer records describe other
devices, not the sender.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.protocols.dns import DnsMessage, DnsRecord
from engine.protocols.dns_names import name_labels
from engine.protocols.dns_records import TYPE_A, TYPE_AAAA, TYPE_PTR, TYPE_SRV, TYPE_TXT, SrvData
from engine.protocols.text import safe_text

__all__ = ["TXT_KEYS", "AnnouncedName", "announced_names", "split_service_instance"]

SOURCE_MDNS_HOST = "mdns-host"
SOURCE_MDNS_SERVICE = "mdns-service"
SOURCE_MDNS_TXT = "mdns-txt"
SOURCE_LLMNR = "llmnr"

# TXT keys worth showing, with what they mean: Google Cast (fn, md), AirPlay/RAOP (am, model),
# printers (ty). Compared case-insensitively, as RFC 6763 6.4 says keys are. "md" counts only for Cast.
TXT_KEYS = {
    "fn": "friendly name",
    "md": "model",
    "am": "model",
    "model": "model",
    "ty": "model",
}


@dataclass(frozen=True, slots=True)
class AnnouncedName:
    """One name a device announced.

    - mdns-host: `name` is the host name without `.local`, `address` one of its addresses.
    - mdns-service: `name` is the instance ("Living Room"), `service` its type ("_googlecast._tcp"),
      `target`/`port` where it is offered when an SRV record said so.
    - mdns-txt: `name`/`service` as above, `key`/`value` one TXT entry (key lower-cased).
    - llmnr: `name` is the name answered for, `address` the address given.
    """

    source: str
    name: str
    address: str | None = None
    service: str | None = None
    target: str | None = None
    port: int | None = None
    key: str | None = None
    value: str | None = None


def _is_service_label(label: bytes) -> bool:
    return label in (b"_tcp", b"_udp")


def split_service_instance(name: str) -> tuple[str, str] | None:
    """`Living Room._googlecast._tcp.local` → ("Living Room", "_googlecast._tcp"), else None.

    The instance label is returned as readable text (it is UTF-8 by RFC 6763 4.1.1); the labels after
    `_tcp`/`_udp` (the domain, usually `local`) are dropped.
    """
    labels = name_labels(name)
    # DNS-SD instance names are exactly <Instance>.<_service>.<_tcp|_udp>.<domain>
    if len(labels) >= 3 and _is_service_label(labels[2].lower()) and labels[1].startswith(b"_"):
        return safe_text(labels[0]), safe_text(labels[1] + b"." + labels[2])
    return None


def _host_label(name: str) -> str | None:
    """The host part of a `.local` name as readable text (`Living-Room.local` → `Living-Room`)."""
    labels = name_labels(name)
    if len(labels) < 2 or labels[-1].lower() != b"local":
        return None
    return ".".join(safe_text(label) for label in labels[:-1])


def _reverse_address(name: str) -> str | None:
    """The IPv4 address of a `d.c.b.a.in-addr.arpa` name (mDNS hosts answer those for themselves)."""
    labels = name_labels(name)
    if len(labels) == 6 and labels[4].lower() == b"in-addr" and labels[5].lower() == b"arpa":
        octets = labels[3::-1]
        if all(o.isdigit() and len(o) <= 3 and int(o) <= 255 for o in octets):
            return ".".join(str(int(o)) for o in octets)
    return None


def _txt_entries(record: DnsRecord, instance: str, service: str) -> list[AnnouncedName]:
    found: list[AnnouncedName] = []
    if not isinstance(record.value, tuple):
        return found
    for entry in record.value:
        key, sep, value = entry.partition("=")
        key = key.lower()
        if not (sep and key in TXT_KEYS and value):
            continue
        # RAOP uses "md" for the metadata types it accepts ("md=0,1,2"): only Cast means a model by it
        if key == "md" and service.lower() != "_googlecast._tcp":
            continue
        found.append(AnnouncedName(SOURCE_MDNS_TXT, instance, service=service, key=key, value=value))
    return found


def announced_names(msg: DnsMessage, *, llmnr: bool = False) -> list[AnnouncedName]:
    """The names the sender of an mDNS (or, with `llmnr=True`, LLMNR) response announces.

    Duplicates (the same fact in the answer and additional sections) are reported once, in order of
    first appearance.
    """
    if not msg.is_response:
        return []
    found: list[AnnouncedName] = []
    records = msg.answers + msg.additionals
    if llmnr:
        for record in records:
            if record.rtype in (TYPE_A, TYPE_AAAA) and isinstance(record.value, str):
                found.append(AnnouncedName(SOURCE_LLMNR, record.name.rstrip("."), address=record.value))
        return list(dict.fromkeys(found))

    for record in records:
        rtype = record.rtype
        if rtype in (TYPE_A, TYPE_AAAA) and isinstance(record.value, str):
            host = _host_label(record.name)
            if host is not None:
                found.append(AnnouncedName(SOURCE_MDNS_HOST, host, address=record.value))
        elif rtype == TYPE_PTR and isinstance(record.value, str):
            instance = split_service_instance(record.value)
            if instance is not None:
                found.append(AnnouncedName(SOURCE_MDNS_SERVICE, instance[0], service=instance[1]))
                continue
            address = _reverse_address(record.name)
            host = _host_label(record.value)
            if address is not None and host is not None:
                found.append(AnnouncedName(SOURCE_MDNS_HOST, host, address=address))
        elif rtype == TYPE_SRV and isinstance(record.value, SrvData):
            instance = split_service_instance(record.name)
            if instance is not None:
                srv = record.value
                target = _host_label(srv.target) or srv.target
                found.append(
                    AnnouncedName(
                        SOURCE_MDNS_SERVICE, instance[0], service=instance[1], target=target, port=srv.port
                    )
                )
        elif rtype == TYPE_TXT:
            instance = split_service_instance(record.name)
            if instance is not None:
                found.extend(_txt_entries(record, *instance))
    # A PTR names an instance that its SRV record (usually in the same packet) describes better
    located = {(a.name, a.service) for a in found if a.source == SOURCE_MDNS_SERVICE and a.target}
    return list(
        dict.fromkeys(
            a
            for a in found
            if not (a.source == SOURCE_MDNS_SERVICE and a.target is None and (a.name, a.service) in located)
        )
    )
