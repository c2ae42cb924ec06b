"""Unusual protocol or port: what a device speaks that the rest of the network does not.

Three kinds, all on connections a device starts:

- industrial: an industrial control protocol by its server port (Modbus/TCP 502, Siemens S7 102, DNP3
  20000, EtherNet/IP 44818, BACnet 47808, OPC UA 4840, IEC 60870-5-104 2404, ...). A warning to the
  internet; a notice inside the home network (solar inverters and heat pumps speak Modbus at home).
- unusual port: a flow no signature or port table recognised (plain TCP/UDP), to a server port that is not
  a well-known service (`common_ports` adds your own), used by at most `max_devices` devices.
  UDP between two high ports (10000 and up on both sides) is peer-to-peer or media (calls, games) and
  ignored, as are server ports from 49152 (ephemeral) when `ignore_ephemeral` is on.
- unusual protocol: a recognised protocol outside the everyday ones (web, DNS, time, calls' STUN; the
  plaintext rule covers HTTP, Telnet, mail and the like), used by at most `max_devices` devices, such as
  SSH, a VPN, BitTorrent or SMB to the internet.

Internet destinations only, unless `include_lan`. A device that started using a port or protocol more than
`sudden_after_s` after it first appeared gets a notice instead of info: "suddenly".
"""

from __future__ import annotations

import numpy as np

from engine.classify.port_table import TCP_PORTS, UDP_PORTS
from engine.classify.protocol_labels import LABELS, Label
from engine.findings.context import FindingContext, HomeFlows, plausible
from engine.findings.groups import Members, group_ids, grouped_max, grouped_min, grouped_sum
from engine.findings.model import Evidence, Finding, FindingRemote, Severity
from engine.findings.options import ENABLED, Option, Options
from engine.findings.rule import Rule
from engine.findings.wording import human_bytes, human_duration, plural
from engine.protocol_numbers import ip_protocol_name

NAME = "unusual_port"
TCP, UDP = 6, 17

INDUSTRIAL_PORTS: dict[int, str] = {
    102: "Siemens S7 (ISO-TSAP)",
    502: "Modbus/TCP",
    789: "Red Lion Crimson",
    1911: "Niagara Fox",
    1962: "PCWorx",
    2222: "EtherNet/IP I/O",
    2404: "IEC 60870-5-104",
    2455: "CODESYS",
    4840: "OPC UA",
    4911: "Niagara Fox (TLS)",
    5007: "Mitsubishi MELSEC",
    5094: "HART-IP",
    9600: "OMRON FINS",
    18245: "GE SRTP",
    20000: "DNP3",
    34962: "PROFINET",
    34963: "PROFINET",
    34964: "PROFINET",
    44818: "EtherNet/IP",
    47808: "BACnet",
}

# Server ports of everyday services that carry no label of their own (push notifications, calls, games,
# casting), so a plain TCP/UDP flow to them is not unusual; with the port tables' ports per transport.
COMMON_PORTS = frozenset(
    {
        80, 443, 53, 853, 123, 8080, 8443, 5228, 5222, 5223, 2195, 2196, 2197, 3478, 3479, 3480, 3481, 5349,
        1935, 3074, 3544, 4070, 5938, 7000, 8009, 8801, 8802, 9001, 9339, 19305, 19306, 19307, 19308, 19309,
        *range(27015, 27051),
    }
)  # fmt: skip

ROUTINE_LABELS = frozenset(
    int(label)
    for label in (
        Label.NONE, Label.TCP, Label.UDP, Label.OTHER_IP, Label.TLS, Label.QUIC, Label.GQUIC, Label.DTLS,
        Label.DNS, Label.DNS_OVER_TLS, Label.HTTP, Label.NTP, Label.STUN, Label.ICMP, Label.ICMPV6,
        Label.IGMP,
        # the plaintext rule speaks for these
        Label.TELNET, Label.FTP, Label.SMTP, Label.POP3, Label.IMAP, Label.MQTT, Label.RTSP, Label.SIP,
        Label.SNMP, Label.SYSLOG, Label.COAP, Label.TPLINK_SHP,
    )
)  # fmt: skip
HIGH_PORT = 10000
P2P_HINT = " Many ports and peers usually mean peer-to-peer software."
EPHEMERAL = 49152


def _sudden(ctx: FindingContext, device: int, since: float, after: float) -> float | None:
    """How long after the device first appeared it started, when that is more than `after`."""
    view = ctx.devices.get(device)
    if view is None or view.first_ts is None:
        return None
    delay = since - view.first_ts
    return delay if delay > after else None


def _rare(f: HomeFlows, rows: np.ndarray, key: np.ndarray, max_devices: int) -> np.ndarray:
    """Per row: its key is used by at most `max_devices` distinct devices."""
    if not rows.size:
        return np.zeros(0, dtype=bool)
    pairs = np.unique(np.stack([key, f.device[rows]]), axis=1)
    keys, counts = np.unique(pairs[0], return_counts=True)
    rare_keys = keys[counts <= max_devices]
    result: np.ndarray = np.isin(key, rare_keys)
    return result


def run(ctx: FindingContext, opts: Options) -> list[Finding]:
    f = ctx.flows
    base = ctx.device_flows() & f.outbound & plausible(f.first_ts)
    scope = base if opts.flag("include_lan") else base & f.peer_internet
    max_devices = opts.integer("max_devices")
    min_bytes = opts.integer("min_bytes")
    sudden_after = opts.number("sudden_after_s")
    ported = (f.proto == TCP) | (f.proto == UDP)
    findings: list[Finding] = []

    # industrial protocols, inside the home too
    if opts.flag("industrial"):
        industrial = np.array(sorted(INDUSTRIAL_PORTS), dtype=np.int64)
        rows = np.flatnonzero(base & ported & np.isin(f.server_port, industrial))
        findings += _report(ctx, rows, f.server_port[rows], "industrial", min_bytes, sudden_after)

    # plain TCP/UDP to an uncommon server port that no other device uses
    everyday = COMMON_PORTS | set(opts.ints("common_ports"))
    tcp_common = np.array(sorted(everyday | set(TCP_PORTS)), dtype=np.int64)
    udp_common = np.array(sorted(everyday | set(UDP_PORTS)), dtype=np.int64)
    common = np.where(f.proto == TCP, np.isin(f.server_port, tcp_common), np.isin(f.server_port, udp_common))
    generic = (f.label == Label.TCP) | (f.label == Label.UDP)
    candidate = scope & ported & generic & (f.server_port > 0) & ~common
    candidate &= ~np.isin(f.server_port, np.array(sorted(INDUSTRIAL_PORTS), dtype=np.int64))
    candidate &= ~((f.proto == UDP) & (f.server_port >= HIGH_PORT) & (f.client_port >= HIGH_PORT))
    if opts.flag("ignore_ephemeral"):
        candidate &= f.server_port < EPHEMERAL
    rows = np.flatnonzero(candidate)
    port_key = (f.proto[rows] << 16) + f.server_port[rows]
    rare = _rare(f, rows, port_key, max_devices)
    findings += _report(ctx, rows[rare], port_key[rare], "unusual-port", min_bytes, sudden_after)

    # recognised protocols outside the everyday ones, that no other device speaks
    routine = np.array(sorted(ROUTINE_LABELS), dtype=np.int64)
    rows = np.flatnonzero(scope & ~np.isin(f.label, routine))
    labels = f.label[rows]
    rare = _rare(f, rows, labels, max_devices)
    findings += _report(ctx, rows[rare], labels[rare], "unusual-protocol", min_bytes, sudden_after)
    return findings


def _describe_group(
    ctx: FindingContext, members: np.ndarray
) -> tuple[str, list[str], list[str], FindingRemote]:
    """Where a group of flows went: text for a sentence, destinations (most bytes first), addresses, and
    the remote."""
    f = ctx.flows
    endpoint, spelling = ctx.endpoints(members)
    per_dest = np.bincount(endpoint, weights=f.bytes[members], minlength=len(spelling))
    ranked = [spelling[i] for i in np.argsort(-per_dest, kind="stable").tolist()]
    remote, addresses = ctx.remote_of(members, ranked[0] if len(ranked) == 1 else None)
    where = ranked[0] if len(ranked) == 1 else f"{len(ranked):,} destinations ({', '.join(ranked[:3])})"
    return where, ranked, addresses, remote


def _report(
    ctx: FindingContext, rows: np.ndarray, key: np.ndarray, kind: str, min_bytes: int, sudden_after: float
) -> list[Finding]:
    """One finding per device, inside or outside, and key (a port or a label); for unusual ports, one per
    device with every port listed (peer-to-peer software uses hundreds)."""
    if not rows.size:
        return []
    f = ctx.flows
    per_device = kind == "unusual-port"
    group_key = np.zeros_like(key) if per_device else key
    gid, first_row = group_ids(f.device[rows], group_key, f.peer_internet[rows].astype(np.int64))
    n = first_row.shape[0]
    nbytes = grouped_sum(f.bytes[rows], gid, n)
    first = grouped_min(f.first_ts[rows], gid, n)
    last = grouped_max(f.last_ts[rows], gid, n)
    groups = Members(gid, n)
    findings = []
    for g in np.flatnonzero(nbytes >= min_bytes).tolist():
        positions = groups[g]
        members = rows[positions]
        row = int(members[0])
        device = int(f.device[row])
        internet = bool(f.peer_internet[row])
        ref = ctx.device_ref(device)
        who = ref.name if ref is not None else ctx.device_name(device)
        where, ranked, addresses, remote = _describe_group(ctx, members)
        place = "" if internet else " inside the home network"
        port = int(f.server_port[row])
        transport = ip_protocol_name(int(f.proto[row]))
        delay = _sudden(ctx, device, float(first[g]), sudden_after)
        suddenly = f" It started {human_duration(delay)} after the device first appeared." if delay else ""
        flow_count = ctx.flow_count(members)
        connections = plural(flow_count, "connection")
        details: dict[str, object] = {"connections": flow_count, "internet": internet}
        if kind == "industrial":
            what = INDUSTRIAL_PORTS[port]
            severity = Severity.WARNING if internet else Severity.NOTICE
            title = f"Industrial protocol: {what}"
            explanation = (
                f"{who} speaks {what} ({transport} port {port}), an industrial control protocol, with "
                f"{where}{place}: {human_bytes(nbytes[g])} in {connections}.{suddenly}"
            )
            subject = f"{transport}/{port}"
            details |= {"transport": transport, "port": port, "protocol": what}
        elif kind == "unusual-port":
            severity = Severity.NOTICE if delay else Severity.INFO
            ports, inverse = np.unique(key[positions], return_inverse=True)
            port_bytes = np.bincount(inverse.reshape(-1), weights=f.bytes[members], minlength=ports.shape[0])
            named = [
                f"{ip_protocol_name(int(k) >> 16)} {int(k) & 0xFFFF}"
                for k in ports[np.argsort(-port_bytes, kind="stable")].tolist()
            ]
            if len(named) == 1:
                title = f"Unusual port {named[0]}"
                explanation = (
                    f"{who} uses {transport} port {port}, which no other device here uses and no known "
                    f"service explains, with {where}{place}: {human_bytes(nbytes[g])} in {connections}."
                    f"{suddenly}"
                )
            else:
                shown = ", ".join(named[:5]) + (", ..." if len(named) > 5 else "")
                title = f"{len(named):,} unusual ports"
                explanation = (
                    f"{who} uses {len(named):,} ports that no other device here uses and no known service "
                    f"explains ({shown}), with {where}{place}: {human_bytes(nbytes[g])} in {connections}."
                    f"{P2P_HINT if len(named) >= 10 else ''}{suddenly}"
                )
            subject = "ports"
            details |= {"ports": named[:100], "port_count": len(named)}
        else:
            label = int(f.label[row])
            info = LABELS[Label(label)]
            severity = Severity.NOTICE if delay else Severity.INFO
            same = info.description.lower() == info.name.lower()
            about = "" if same else f", {info.description},"
            title = f"Unusual protocol: {info.name}"
            explanation = (
                f"{who} speaks {info.name}{about} with {where}{place}, which no other device "
                f"here does: {human_bytes(nbytes[g])} in {connections}.{suddenly}"
            )
            subject = info.name.lower()
            details |= {"protocol": info.name}
        details["started_after_s"] = None if delay is None else round(delay, 1)
        findings.append(
            Finding(
                rule=NAME,
                kind=kind,
                severity=severity,
                title=title,
                explanation=explanation,
                device=ref,
                remote=remote,
                size=int(nbytes[g]),
                first_ts=float(first[g]),
                last_ts=float(last[g]),
                evidence=Evidence.of(
                    flows=ctx.recent_serials(members),
                    flow_count=flow_count,
                    dns_names=[r for r in ranked if r not in addresses],
                    addresses=addresses,
                ),
                details=details,
                subject=subject + ("" if internet else "/lan"),
            )
        )
    return findings


RULE = Rule(
    name=NAME,
    title="Unusual protocol or port",
    summary="industrial protocols, and ports or protocols that only one device uses",
    options=(
        ENABLED,
        Option("max_devices", 1, "int", "a port or protocol used by at most this many devices is unusual", 1),
        Option("min_bytes", 0, "int", "bytes (per device and port) to report", 0),
        Option("common_ports", (), "ints", "more server ports that are never unusual"),
        Option("industrial", True, "bool", "report industrial control protocols"),
        Option("ignore_ephemeral", True, "bool", "ignore server ports from 49152 up"),
        Option("sudden_after_s", 3600.0, "float", "started this long after the device appeared: a notice", 0),
        Option("include_lan", False, "bool", "also look at destinations in the home network"),
    ),
    run=run,
)
