"""`homescope lookup ADDRESS [--online] [--capture FILE...]`: who an address belongs to.

Offline: its scope, and the country and AS organisation from the bundled geo data; with captures, the names
devices used for it and who talked to it. With --online (and only then): RDAP/whois and reverse DNS, which
send the address to outside servers, as the command says before it does so. Answers are cached.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
from typing import Any

from tui.subcommands.common import (
    EXIT_CODES_EPILOG,
    add_settings_options,
    analyse_captures,
    exit_code_for,
    load_settings_and_labels,
    report_problems,
    usage_error,
)

ONLINE_NOTICE = (
    "homescope: looking {address} up online: the address is sent to the regional internet registries "
    "(RDAP, Team Cymru for its AS) and to your DNS resolver (reverse DNS)."
)


def register(subparsers: Any) -> None:
    """Add `lookup` to the command's subparsers."""
    parser = subparsers.add_parser(
        "lookup",
        help="who an address belongs to: offline geo, names in captures, RDAP and reverse DNS on request",
        description="Show what is known about an IP address: offline country and AS organisation, the names "
        "devices used for it in captures (--capture), and with --online its registry entry (RDAP) and "
        "reverse DNS names. Only --online sends anything out; answers are cached in the data folder.",
        epilog=EXIT_CODES_EPILOG,
    )
    parser.add_argument("address", metavar="ADDRESS", help="an IPv4 or IPv6 address")
    parser.add_argument(
        "--online", action="store_true", help="also ask RDAP and reverse DNS (sends the address out)"
    )
    parser.add_argument(
        "--capture",
        action="append",
        default=[],
        metavar="FILE",
        help="a capture to take passive names and traffic from (repeatable)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_settings_options(parser)
    parser.set_defaults(subcommand_run=run)


def _passive(address: str, captures: list[str], settings: Any, labels: Any) -> tuple[dict[str, Any], int]:
    """What captures say about an address: names with their sources, traffic, devices."""
    from engine.views.devices import device_views
    from engine.views.remotes import remote_views

    snapshot, statuses = analyse_captures(captures, settings)
    report_problems(statuses)
    code = int(exit_code_for(statuses))
    devices = {v.id: v for v in device_views(snapshot, labels)}
    info: dict[str, Any] = {"captures": captures, "names": [], "device": None, "traffic": None}
    meta = snapshot.metadata
    if meta is not None:
        info["names"] = [
            {"name": n.name, "sources": sorted(n.sources), "count": n.count}
            for n in meta.remote_names.get(address, [])
        ]
    for view in devices.values():
        if address in view.addresses:
            info["device"] = {"key": view.key, "name": view.name, "vendor": view.vendor}
    for remote in remote_views(snapshot):
        if remote.address == address:
            info["traffic"] = {
                "bytes_in": remote.bytes_in,
                "bytes_out": remote.bytes_out,
                "flows": remote.flows,
                "protocols": list(remote.protocols),
                "devices": [devices[d].name for d in remote.devices if d in devices],
                "first_ts": remote.first_ts,
                "last_ts": remote.last_ts,
            }
    return info, code


def _text(
    address: str, scope: str, geo: Any, status: Any, passive: dict[str, Any] | None, online: Any
) -> str:
    from engine.report.formatting import human_bytes

    lines = [address, f"  scope:        {scope}"]
    if geo.status == "ok" and geo.info is not None:
        i = geo.info
        where = f"{i.country_name} ({i.country_code})" if i.country_code else (i.country_name or "-")
        lines.append(f"  country:      {where}")
        lines.append(
            f"  organisation: {i.organisation or '-'}" + (f", network {i.network}" if i.network else "")
        )
        lines.append(
            f"  geo data:     offline, {status.source or 'geoip2fast'} ({status.data_date or 'date unknown'})"
        )
    else:
        lines.append(f"  offline geo:  {geo.message or geo.status}")
    if passive is not None:
        names = passive["names"]
        if names:
            shown = ", ".join(f"{n['name']} ({'/'.join(n['sources'])})" for n in names[:8])
            lines.append(f"  seen as:      {shown}")
        else:
            lines.append("  seen as:      no name in the captures")
        if passive["device"]:
            d = passive["device"]
            lines.append(f"  device:       {d['name']} ({d['key']})")
        t = passive["traffic"]
        if t:
            lines.append(
                f"  traffic:      {human_bytes(t['bytes_out'])} sent to it, {human_bytes(t['bytes_in'])} "
                f"received, {t['flows']:,} flows ({', '.join(t['protocols'])})"
            )
            lines.append(f"  devices:      {', '.join(t['devices']) or '-'}")
    if online is None:
        lines.append("  online:       not asked (add --online: sends the address to RDAP and reverse DNS)")
    else:
        cached = " (cached)" if online.cached else ""
        lines.append(f"  online:       {online.status}{cached}: {online.message}")
        if online.status == "ok":
            asn = f"AS{online.asn}" if online.asn else "AS ?"
            lines.append(f"  AS:           {asn} {online.asn_description or ''}".rstrip())
            if online.network_name or online.network_cidr:
                lines.append(
                    f"  network:      {online.network_name or '-'} {online.network_cidr or ''} "
                    f"{online.network_country or ''}".rstrip()
                )
            if online.organisation:
                lines.append(f"  registrant:   {online.organisation}")
        if online.reverse_names:
            lines.append(f"  reverse DNS:  {', '.join(online.reverse_names)}")
        for note in online.notes:
            lines.append(f"  note:         {note}")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    from engine.address_scope import classify_text
    from engine.enrich.geo import shared_geo
    from engine.enrich.online import OnlineLookups

    try:
        address = str(ipaddress.ip_address(args.address.strip()))
    except ValueError:
        return usage_error(f"{args.address!r} is not an IPv4 or IPv6 address")
    settings, labels = load_settings_and_labels(args)
    scope = classify_text(address).name.lower().replace("_", " ")
    geo_db = shared_geo()
    geo = geo_db.lookup(address)
    status = geo_db.status()
    passive, code = (None, 0)
    if args.capture:
        passive, code = _passive(address, args.capture, settings, labels)
    lookups = OnlineLookups.from_settings(settings)
    online = None
    if args.online:
        early = lookups.cached(address)
        if early is None and geo.status not in ("local", "invalid"):
            print(ONLINE_NOTICE.format(address=address), file=sys.stderr, flush=True)
        online = early or lookups.lookup(address, allow=True)
    else:
        online = lookups.cached(address)
    if args.json:
        document = {
            "address": address,
            "scope": scope,
            "geo": geo.as_dict(),
            "geo_data": {"source": status.source, "date": status.data_date},
            "passive": passive,
            "online": online.as_dict() if online is not None else None,
        }
        sys.stdout.write(json.dumps(document, indent=1) + "\n")
    else:
        sys.stdout.write(_text(address, scope, geo, status, passive, online))
    return code
