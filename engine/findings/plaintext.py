"""Plaintext: devices that send data over the internet in protocols anyone on the way can read: web pages
without TLS (HTTP), DNS lookups to outside resolvers, Telnet, FTP, mail without TLS, MQTT, ...

One finding per device and protocol, listing the destinations. Only flows that carried application data
count (`min_payload_bytes`; read over the flows of one device to one server, port and protocol, on
average); local discovery and housekeeping protocols (mDNS, SSDP, LLMNR, NetBIOS, DHCP, NTP, ICMP, ARP)
never count, since they are not in `protocols`. Traffic inside the home network
counts only with `include_lan`, as info.
"""

from __future__ import annotations

import numpy as np

from engine.classify.protocol_labels import LABELS, Label
from engine.errors import ConfigError
from engine.findings.context import FindingContext
from engine.findings.groups import Members, group_ids, grouped_max, grouped_min, grouped_sum
from engine.findings.model import Evidence, Finding, FindingRemote, Severity
from engine.findings.options import ENABLED, Option, Options
from engine.findings.rule import Rule
from engine.findings.wording import human_bytes

NAME = "plaintext"
_BY_NAME = {info.name.lower(): label for label, info in LABELS.items()}
_MAIL = {Label.SMTP, Label.POP3, Label.IMAP}
_WHY = {
    Label.HTTP: "anyone on the way can read or change the pages",
    Label.DNS: "anyone on the way can see which names it looks up",
    Label.TELNET: "passwords and everything typed travel readable",
    Label.FTP: "passwords and files travel readable",
    Label.MQTT: "its messages travel readable",
}


def _labels(option: str, names: tuple[str, ...]) -> set[int]:
    unknown = [n for n in names if n.lower() not in _BY_NAME]
    if unknown:
        known = ", ".join(sorted(info.name for info in LABELS.values()))
        raise ConfigError(f"findings.{NAME}.{option}: unknown protocol {unknown[0]!r}; known: {known}")
    return {int(_BY_NAME[n.lower()]) for n in names}


def run(ctx: FindingContext, opts: Options) -> list[Finding]:
    f = ctx.flows
    watched = _labels("protocols", opts.strings("protocols"))
    warnings = _labels("warning_protocols", opts.strings("warning_protocols"))
    infos = _labels("info_protocols", opts.strings("info_protocols"))
    include_lan = opts.flag("include_lan")
    wanted = ctx.device_flows() & np.isin(f.label, np.array(sorted(watched), dtype=np.int64))
    # the flows of a row carried application data (or none: rows tell them apart), on average this much
    wanted &= (f.payload > 0) & (f.payload >= opts.integer("min_payload_bytes") * f.flows)
    if not include_lan:
        wanted &= f.peer_internet
    rows = np.flatnonzero(wanted)
    if not rows.size:
        return []
    gid, first_row = group_ids(f.device[rows], f.label[rows], f.peer_internet[rows].astype(np.int64))
    n = first_row.shape[0]
    nbytes = grouped_sum(f.bytes[rows], gid, n)
    first = grouped_min(f.first_ts[rows], gid, n)
    last = grouped_max(f.last_ts[rows], gid, n)
    groups = Members(gid, n)
    findings = []
    for g in range(n):
        members = rows[groups[g]]
        row = members[0]
        device, label = int(f.device[row]), int(f.label[row])
        internet = bool(f.peer_internet[row])
        ref = ctx.device_ref(device)
        who = ref.name if ref is not None else ctx.device_name(device)
        protocol = LABELS[Label(label)].name
        # destinations, most bytes first
        endpoint, spelling = ctx.endpoints(members)
        per_dest = np.bincount(endpoint, weights=f.bytes[members], minlength=len(spelling))
        ranked = [spelling[i] for i in np.argsort(-per_dest, kind="stable").tolist() if per_dest[i] > 0]
        ranked = ranked or spelling
        remote, addresses = ctx.remote_of(members, ranked[0] if len(ranked) == 1 else None)
        if remote.address is None:
            remote = FindingRemote(None, ranked[0], remote.port)
        shown = ", ".join(ranked[:3]) + (f" and {len(ranked) - 3} more" if len(ranked) > 3 else "")
        where = shown if len(ranked) == 1 else f"{len(ranked)} servers ({shown})"
        why = _WHY.get(Label(label), "anyone on the way can read it")
        if label in _MAIL:
            why += " (unless the client switched to TLS with STARTTLS)"
        if not internet:
            severity = Severity.INFO
            place = " inside the home network"
        else:
            place = ""
            severity = (
                Severity.WARNING
                if label in warnings
                else Severity.INFO
                if label in infos
                else Severity.NOTICE
            )
        if label == Label.DNS:
            explanation = f"{who} sent DNS lookups unencrypted to {where}{place}: {why}."
        else:
            explanation = (
                f"{who} used {protocol} without encryption with {where}{place}, "
                f"{human_bytes(nbytes[g])}: {why}."
            )
        findings.append(
            Finding(
                rule=NAME,
                kind="plaintext",
                severity=severity,
                title=f"Unencrypted {protocol}",
                explanation=explanation,
                device=ref,
                remote=remote,
                size=int(nbytes[g]),
                first_ts=float(first[g]),
                last_ts=float(last[g]),
                evidence=Evidence.of(
                    flows=ctx.recent_serials(members),
                    flow_count=ctx.flow_count(members),
                    dns_names=[r for r in ranked if r not in addresses],
                    addresses=addresses,
                ),
                details={"protocol": protocol, "destinations": len(ranked), "internet": internet},
                subject=f"{protocol.lower()}{'' if internet else '/lan'}",
            )
        )
    return findings


RULE = Rule(
    name=NAME,
    title="Plaintext",
    summary="data sent without encryption: HTTP, DNS to outside resolvers, Telnet, FTP, mail without TLS",
    options=(
        ENABLED,
        Option(
            "protocols",
            (
                "HTTP",
                "DNS",
                "Telnet",
                "FTP",
                "SMTP",
                "POP3",
                "IMAP",
                "MQTT",
                "RTSP",
                "SIP",
                "SNMP",
                "Syslog",
                "CoAP",
                "TP-Link SHP",
            ),
            "strings",
            "protocol labels that count (names as in the protocol breakdown)",
        ),
        Option("warning_protocols", ("Telnet", "FTP"), "strings", "protocols that are a warning"),
        Option("info_protocols", ("DNS",), "strings", "protocols that are only info (the rest: notice)"),
        Option("min_payload_bytes", 1, "int", "application bytes a flow must carry to count (on average)", 0),
        Option("include_lan", False, "bool", "also report plaintext inside the home network (as info)"),
    ),
    run=run,
)
