#!/usr/bin/env python3
"""Write tshark's view of every fixture capture as golden JSON files for homescope's tests.

    python tests/golden/make_golden.py [--only NAME ...] [--shared-dir DIR]

For each capture in `fixtures/` and in `../shared/fixtures/pcaps` (next to the repository root;
covered only when present) this runs tshark and writes `tests/golden/<capture file name>.json`
(sorted keys, indent 1, stable list order). `tests/golden/README.md` explains every fact and the
tshark invocations. Needs tshark on PATH (the files in git were made with the version recorded in
each file); exits with status 2 and a message when it is missing.

Two tshark runs per capture, both single-pass (no -2) with name resolution off and the preferences
of TSHARK_PREFS:
  1. `-T ek -e <FIELDS...>` (one JSON object per frame, all occurrences of each field, properly
     escaped) plus the statistics taps of TAPS, printed after the frames on the same stdout.
  2. only for captures with DNS/mDNS/LLMNR frames: `-Y "dns || mdns || llmnr" -T json -J "frame dns
     mdns llmnr"`, the DNS tree of each message, so answer names can be paired with their values.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
FIXTURES = REPO / "fixtures"

sys.path.insert(0, str(HERE))
import tshark_facts  # type: ignore[import-not-found,unused-ignore]  # noqa: E402

SCHEMA_VERSION = 1

#: Preferences given explicitly with -o, all at their tshark 4.0 defaults, so that a personal
#: preference file cannot change the results (tshark also runs with an empty WIRESHARK_CONFIG_DIR).
TSHARK_PREFS = [
    "tcp.desegment_tcp_streams:TRUE",
    "tcp.reassemble_out_of_order:FALSE",
    "tcp.analyze_sequence_numbers:TRUE",
    "tcp.check_checksum:FALSE",
    "tcp.try_heuristic_first:FALSE",
    "udp.check_checksum:FALSE",
    "udp.try_heuristic_first:FALSE",
    "ip.defragment:TRUE",
    "ip.check_checksum:FALSE",
    "ipv6.defragment:TRUE",
    "tls.desegment_ssl_records:TRUE",
    "tls.desegment_ssl_application_data:TRUE",
    "http.desegment_headers:TRUE",
    "http.desegment_body:TRUE",
    "dns.desegment_dns_messages:TRUE",
    "quic.reassemble_crypto_out_of_order:TRUE",
]

#: Fields of pass 1, in this order (the order does not matter for -T ek, but keeps the command stable).
FIELDS = [
    "frame.number",
    "frame.time_epoch",
    "frame.time_relative",
    "frame.len",
    "frame.cap_len",
    "frame.protocols",
    "eth.src",
    "eth.dst",
    "eth.type",
    "vlan.etype",
    "sll.src.eth",
    "sll.etype",
    "llc.dsap",
    "llc.type",
    "wlan.fc.type",
    "wlan.fc.protected",
    "wlan.sa",
    "wlan.da",
    "ip.src",
    "ip.dst",
    "ip.proto",
    "ipv6.src",
    "ipv6.dst",
    "ipv6.nxt",
    "ipv6.hopopts.nxt",
    "ipv6.dstopts.nxt",
    "ipv6.routing.nxt",
    "ipv6.fraghdr.nxt",
    "arp.src.hw_mac",
    "arp.src.proto_ipv4",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.stream",
    "tcp.segment",
    "udp.srcport",
    "udp.dstport",
    "udp.stream",
    "_ws.malformed",
    "dhcp.hw.mac_addr",
    "dhcp.option.dhcp",
    "dhcp.option.hostname",
    "dhcp.option.requested_ip_address",
    "dhcp.option.vendor_class_id",
    "dhcpv6.msgtype",
    "dhcpv6.option.type",
    "dhcpv6.client_domain",
    "dhcpv6.duid.bytes",
    "tls.handshake.type",
    "tls.handshake.extensions_server_name",
    "quic.version",
    "quic.crypto.fragment",
    "gquic.version",
    "gquic.tag.sni",
    "gquic.tag.uaid",
    "http.request.method",
    "http.host",
    "http.request.uri",
    "http.user_agent",
]
#: -T ek writes field names with "_" instead of "."
_EK_NAME = {f.replace(".", "_"): f for f in FIELDS}
assert len(_EK_NAME) == len(FIELDS)

TAPS = ["endpoints,eth", "endpoints,ip", "endpoints,ipv6", "conv,tcp", "conv,udp"]

DNS_LAYERS = ("dns", "mdns", "llmnr")
DNS_FILTER = "dns || mdns || llmnr"

#: IANA protocol numbers of the tshark layer names that can follow an IPv6 header chain.
IP_PROTOCOL_BY_NAME: dict[str, int] = {
    "icmp": 1,
    "igmp": 2,
    "ip": 4,
    "tcp": 6,
    "egp": 8,
    "igrp": 9,
    "udp": 17,
    "dccp": 33,
    "ipv6": 41,
    "rsvp": 46,
    "gre": 47,
    "esp": 50,
    "ah": 51,
    "icmpv6": 58,
    "eigrp": 88,
    "ospf": 89,
    "etherip": 97,
    "pim": 103,
    "ipcomp": 108,
    "vrrp": 112,
    "l2tp": 115,
    "sctp": 132,
    "udplite": 136,
    "hip": 139,
}
#: ICMP layers: an IP header after them is the quoted header of an error message, not a tunnel.
ICMP_LAYERS = ("icmp", "icmpv6")
IP_LAYERS = ("ip", "ipv6")
EXPERT_SEVERITY = {
    "2097152": "chat",
    "4194304": "note",
    "6291456": "warn",
    "8388608": "error",
    "1048576": "comment",
}

ROOT_WARNING = re.compile(r'^Running as user "root" and group "root"\. This could be dangerous\.$')


class GoldenError(RuntimeError):
    """tshark's output could not be interpreted."""


# ---------------------------------------------------------------------------------------------
# Finding captures and tshark
# ---------------------------------------------------------------------------------------------


def shared_pcaps_dir() -> Path | None:
    """`../shared/fixtures/pcaps` next to the repository root.

    In a git worktree the repository root's sibling may not be the one of the main checkout, so
    the main checkout's sibling (found through `.git`'s `commondir`) is tried next.
    """
    candidates = [REPO.parent / "shared" / "fixtures" / "pcaps"]
    git = REPO / ".git"
    if git.is_file():
        text = git.read_text(encoding="utf-8").strip()
        if text.startswith("gitdir:"):
            gitdir = (REPO / text.split(":", 1)[1].strip()).resolve()
            common = gitdir
            commondir = gitdir / "commondir"
            if commondir.exists():
                common = (gitdir / commondir.read_text(encoding="utf-8").strip()).resolve()
            candidates.append(common.parent.parent / "shared" / "fixtures" / "pcaps")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return None


def find_captures(shared: Path | None) -> dict[str, tuple[str, Path]]:
    """Capture file name -> (location, path); `fixtures/` wins over the shared folder."""
    found: dict[str, tuple[str, Path]] = {}
    dirs = [("shared", shared)] if shared else []
    dirs.append(("fixtures", FIXTURES))
    for location, folder in dirs:
        assert folder is not None
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix != ".md" and not path.name.startswith("."):
                found[path.name] = (location, path)
    return dict(sorted(found.items()))


def tshark_binary() -> str:
    tshark = shutil.which("tshark")
    if tshark is None:
        print(
            "make_golden.py: tshark is not installed or not on PATH; install Wireshark's tshark "
            "(Debian/Ubuntu: apt-get install tshark) and run again.",
            file=sys.stderr,
        )
        sys.exit(2)
    return tshark


def tshark_version(tshark: str, env: dict[str, str]) -> str:
    out = subprocess.run([tshark, "--version"], capture_output=True, text=True, env=env, check=True)
    first = out.stdout.splitlines()[0].strip()
    match = re.match(r"TShark \(Wireshark\) (.*?)\.?$", first)
    return match.group(1) if match else first


def base_command(tshark: str, name: str) -> list[str]:
    cmd = [tshark, "-n", "-r", name]
    for pref in TSHARK_PREFS:
        cmd += ["-o", pref]
    return cmd


def pass1_command(tshark: str, name: str) -> list[str]:
    cmd = [*base_command(tshark, name), "-T", "ek"]
    for field in FIELDS:
        cmd += ["-e", field]
    for tap in TAPS:
        cmd += ["-z", tap]
    return cmd


def pass2_command(tshark: str, name: str) -> list[str]:
    return [
        *base_command(tshark, name),
        "-Y",
        DNS_FILTER,
        "-T",
        "json",
        "-J",
        " ".join(("frame", *DNS_LAYERS)),
    ]


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, check=False)
    stdout = proc.stdout.decode("utf-8", errors="backslashreplace")
    stderr = proc.stderr.decode("utf-8", errors="backslashreplace")
    lines = [ln for ln in stderr.splitlines() if ln.strip() and not ROOT_WARNING.match(ln)]
    return proc.returncode, stdout, "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Pass 1 output: frames and taps
# ---------------------------------------------------------------------------------------------


class Frame:
    """One frame of pass 1: every occurrence of every field, plus its protocol path."""

    __slots__ = ("f", "layers", "number")

    def __init__(self, layers: dict[str, list[str]]) -> None:
        self.f: dict[str, list[str]] = {}
        for ek_name, values in layers.items():
            name = _EK_NAME.get(ek_name)
            if name is None:
                raise GoldenError(f"unexpected field {ek_name!r} in tshark's output")
            self.f[name] = values if isinstance(values, list) else [values]
        self.number = int(self.first("frame.number") or 0)
        protocols = self.first("frame.protocols") or ""
        self.layers = protocols.split(":") if protocols else []

    def all(self, field: str) -> list[str]:
        return self.f.get(field, [])

    def first(self, field: str) -> str | None:
        values = self.f.get(field)
        return values[0] if values else None

    def nth(self, field: str, index: int) -> str | None:
        values = self.f.get(field, [])
        return values[index] if 0 <= index < len(values) else None

    @property
    def protocols(self) -> str:
        return ":".join(self.layers)

    @property
    def length(self) -> int:
        return int(self.first("frame.len") or 0)

    def icmp_cut(self) -> int:
        """Index of the first ICMP/ICMPv6 layer after an IP layer (len(layers) if none).

        Layers from there on belong to the quoted packet of an ICMP error (or to ICMP's payload);
        they are not real encapsulation.
        """
        seen_ip = False
        for i, name in enumerate(self.layers):
            if name in IP_LAYERS:
                seen_ip = True
            elif name in ICMP_LAYERS and seen_ip:
                return i
        return len(self.layers)

    def ordinal(self, pos: int) -> int:
        """How many layers of the same name come before position pos (the index of its fields)."""
        return self.layers[:pos].count(self.layers[pos])

    def last_before(self, pos: int, names: Iterable[str]) -> int | None:
        wanted = set(names)
        for i in range(pos - 1, -1, -1):
            if self.layers[i] in wanted:
                return i
        return None

    def endpoints_of(self, pos: int) -> dict[str, Any]:
        """src/dst of the IP layer and ports of the TCP/UDP layer that carry the layer at pos."""
        out: dict[str, Any] = {"src": None, "dst": None, "sport": None, "dport": None, "transport": None}
        ip_pos = self.last_before(pos, IP_LAYERS)
        if ip_pos is not None:
            prefix = "ip" if self.layers[ip_pos] == "ip" else "ipv6"
            k = self.ordinal(ip_pos)
            out["src"] = self.nth(f"{prefix}.src", k)
            out["dst"] = self.nth(f"{prefix}.dst", k)
        tp_pos = self.last_before(pos, ("tcp", "udp"))
        if tp_pos is not None:
            proto = self.layers[tp_pos]
            k = self.ordinal(tp_pos)
            out["transport"] = proto
            sport = self.nth(f"{proto}.srcport", k)
            dport = self.nth(f"{proto}.dstport", k)
            out["sport"] = int(sport) if sport is not None else None
            out["dport"] = int(dport) if dport is not None else None
        return out


def parse_pass1(stdout: str) -> tuple[list[Frame], dict[str, list[str]]]:
    """Frames (the ek lines) and the tap sections (title -> table lines) of pass 1's stdout."""
    frames: list[Frame] = []
    lines = stdout.splitlines()
    i = 0
    while i < len(lines) and lines[i].startswith("{"):
        obj = json.loads(lines[i])
        if "layers" in obj:
            frames.append(Frame(obj["layers"]))
        i += 1
    sections: dict[str, list[str]] = {}
    title: str | None = None
    for line in lines[i:]:
        if line.startswith("====="):
            title = None
            continue
        if title is None:
            if line.strip() and not line.startswith("Filter:"):
                title = line.strip()
                sections[title] = []
            continue
        if line.startswith("Filter:") or line.lstrip().startswith("|"):
            continue
        if line.strip():
            sections[title].append(line)
    return frames, sections


def parse_endpoints(lines: list[str]) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    for line in lines:
        parts = line.split()
        if len(parts) != 7:
            raise GoldenError(f"unexpected endpoints line: {line!r}")
        addr = parts[0]
        nums = [int(p) for p in parts[1:]]
        table[addr] = dict(
            zip(("packets", "bytes", "tx_packets", "tx_bytes", "rx_packets", "rx_bytes"), nums, strict=True)
        )
    return table


_SIZE_UNITS = {"bytes": 1, "kB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4}


def format_size(size: int) -> str:
    """tshark 4.0's format_size(size, FORMAT_SIZE_UNIT_BYTES, 0), as the conversation tables print bytes."""
    for unit, power in (("TB", 1000**4), ("GB", 1000**3), ("MB", 1000**2), ("kB", 1000)):
        if size // power >= 10:
            return f"{size // power} {unit}"
    return f"{size} bytes"


def split_addr_port(text: str) -> tuple[str, int]:
    addr, port = text.rsplit(":", 1)
    return addr, int(port)


def parse_conversations(lines: list[str]) -> list[dict[str, Any]]:
    rows = []
    for line in lines:
        if "<->" not in line:
            raise GoldenError(f"unexpected conversation line: {line!r}")
        left, right = line.split("<->", 1)
        tokens = right.split()
        if len(tokens) != 12 or any(tokens[i] not in _SIZE_UNITS for i in (3, 6, 9)):
            raise GoldenError(f"unexpected conversation line: {line!r}")
        addr_a, port_a = split_addr_port(left.strip())
        addr_b, port_b = split_addr_port(tokens[0])
        rows.append(
            {
                "address_a": addr_a,
                "port_a": port_a,
                "address_b": addr_b,
                "port_b": port_b,
                # tshark prints "<-" (B to A) before "->" (A to B)
                "frames_b_to_a": int(tokens[1]),
                "bytes_text_b_to_a": f"{tokens[2]} {tokens[3]}",
                "frames_a_to_b": int(tokens[4]),
                "bytes_text_a_to_b": f"{tokens[5]} {tokens[6]}",
                "frames": int(tokens[7]),
                "bytes_text": f"{tokens[8]} {tokens[9]}",
                "rel_start": tokens[10],
                "duration": tokens[11],
            }
        )
    return rows


# ---------------------------------------------------------------------------------------------
# Facts
# ---------------------------------------------------------------------------------------------


def count_add(table: dict[str, dict[str, int]], key: str, length: int) -> None:
    entry = table.setdefault(key, {"packets": 0, "bytes": 0})
    entry["packets"] += 1
    entry["bytes"] += length


def fact_totals(frames: list[Frame]) -> dict[str, Any]:
    stamps = [s for s in (f.first("frame.time_epoch") for f in frames) if s is not None]
    return {
        "packets": len(frames),
        "bytes": sum(f.length for f in frames),
        "captured_bytes": sum(int(f.first("frame.cap_len") or 0) for f in frames),
        "first_ts": min(stamps, key=Decimal) if stamps else None,
        "last_ts": max(stamps, key=Decimal) if stamps else None,
    }


def link_of(frame: Frame) -> str | None:
    for name in frame.layers:
        if name in ("eth", "sll", "wlan"):
            return name
    return None


def fact_macs(frames: list[Frame]) -> dict[str, dict[str, int]]:
    macs: dict[str, dict[str, int]] = {}

    def add(mac: str | None, direction: str, length: int) -> None:
        if not mac:
            return
        entry = macs.setdefault(mac.lower(), {"tx_packets": 0, "tx_bytes": 0, "rx_packets": 0, "rx_bytes": 0})
        entry[f"{direction}_packets"] += 1
        entry[f"{direction}_bytes"] += length

    for f in frames:
        link = link_of(f)
        if link == "eth":
            add(f.first("eth.src"), "tx", f.length)
            add(f.first("eth.dst"), "rx", f.length)
        elif link == "sll":
            add(f.first("sll.src.eth"), "tx", f.length)
        elif link == "wlan" and f.first("wlan.fc.type") in ("0", "2"):
            add(f.first("wlan.sa"), "tx", f.length)
            add(f.first("wlan.da"), "rx", f.length)
    return macs


def fact_frames_by_protocols(frames: list[Frame]) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    for f in frames:
        count_add(table, f.protocols, f.length)
    return table


def ethertype_from_fields(f: Frame) -> str:
    """The innermost EtherType (or link-level name) of a frame classify_protocols cannot decide."""
    link = link_of(f)
    if link == "wlan" and "llc" not in f.layers:
        ftype = f.first("wlan.fc.type")
        if ftype == "0":
            return "wlan-mgmt"
        if ftype == "1":
            return "wlan-ctrl"
        if ftype == "2":
            return "wlan-protected" if f.first("wlan.fc.protected") in ("1", "True") else "wlan-null"
        return "wlan-other"
    if "llc" in f.layers and f.first("llc.dsap") is not None:
        if f.first("llc.dsap") != "0xaa":
            return "llc"
        llc_type = f.first("llc.type")
        return f"0x{int(llc_type, 16):04x}" if llc_type else "llc-snap"
    for field, pick in (("vlan.etype", -1), ("eth.type", 0), ("sll.etype", 0)):
        values = f.all(field)
        if values:
            return f"0x{int(values[pick], 16):04x}"
    return "unknown"


def fact_ethertypes_from_fields(frames: list[Frame]) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    for f in frames:
        if tshark_facts.classify_protocols(f.protocols) is None:
            count_add(table, ethertype_from_fields(f), f.length)
    return table


def innermost_ip_protocol(f: Frame) -> tuple[str | None, str | None]:
    """(protocol key, unmapped layer name) of the innermost real IP layer; (None, None) without IP."""
    cut = f.icmp_cut()
    ip_positions = [i for i, name in enumerate(f.layers[:cut]) if name in IP_LAYERS]
    if not ip_positions:
        return None, None
    pos = ip_positions[-1]
    k = f.ordinal(pos)
    if f.layers[pos] == "ip":
        proto = f.nth("ip.proto", k)
        return (proto if proto is not None else "(none)"), None
    j = pos + 1
    while j < len(f.layers) and f.layers[j].startswith("ipv6."):
        j += 1
    name = f.layers[j] if j < len(f.layers) else None
    if name in IP_PROTOCOL_BY_NAME:
        return str(IP_PROTOCOL_BY_NAME[name]), None
    # Not named (fragment payload "data", nothing dissected, unknown protocol): the Next Header
    # field of the last header of the chain.
    last = f.layers[j - 1]
    field = "ipv6.nxt" if last == "ipv6" else f"{last}.nxt"
    value = f.nth(field, f.layers[: j - 1].count(last)) if field in _EK_NAME.values() else None
    label = name if name is not None else "(none)"
    return (value if value is not None else label), label


def fact_ip_protocols(frames: list[Frame]) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, Any]]]:
    table: dict[str, dict[str, int]] = {}
    unmapped: dict[str, dict[str, Any]] = {}
    for f in frames:
        key, label = innermost_ip_protocol(f)
        if key is None:
            continue
        count_add(table, key, f.length)
        if label is not None:
            entry = unmapped.setdefault(label, {"packets": 0, "counted_as": {}})
            entry["packets"] += 1
            entry["counted_as"][key] = entry["counted_as"].get(key, 0) + 1
    return table, unmapped


def fact_mac_ip(frames: list[Frame]) -> dict[str, dict[str, dict[str, int]]]:
    ip_source: dict[str, dict[str, int]] = defaultdict(Counter)
    arp_sender: dict[str, dict[str, int]] = defaultdict(Counter)
    for f in frames:
        if f.layers and f.layers[0] == "eth" and f.first("eth.src"):
            for pos, name in enumerate(f.layers):
                if name in IP_LAYERS:
                    src = f.nth("ip.src" if name == "ip" else "ipv6.src", f.ordinal(pos))
                    if src:
                        ip_source[f.first("eth.src").lower()][src] += 1  # type: ignore[union-attr]
                    break
        mac, ip = f.first("arp.src.hw_mac"), f.first("arp.src.proto_ipv4")
        if mac and ip:
            arp_sender[mac.lower()][ip] += 1
    return {
        "ip_source": {mac: dict(ips) for mac, ips in ip_source.items()},
        "arp_sender": {mac: dict(ips) for mac, ips in arp_sender.items()},
    }


def malformed_labels(f: Frame) -> list[str]:
    return [v for v in f.all("_ws.malformed") if v.startswith("[")]


def fact_dhcp(frames: list[Frame]) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    records = []
    hostnames: dict[str, set[str]] = defaultdict(set)
    for f in frames:
        if "dhcp" not in f.layers:
            continue
        pos = f.layers.index("dhcp")
        mac = f.first("dhcp.hw.mac_addr")
        msg_type = f.first("dhcp.option.dhcp")
        hostname = f.first("dhcp.option.hostname")
        ep = f.endpoints_of(pos)
        records.append(
            {
                "frame": f.number,
                "src": ep["src"],
                "dst": ep["dst"],
                "client_mac": mac.lower() if mac else None,
                "message_type": int(msg_type) if msg_type is not None else None,
                "hostname": hostname,
                "requested_ip": f.first("dhcp.option.requested_ip_address"),
                "vendor_class_id": f.first("dhcp.option.vendor_class_id"),
                "in_icmp_error": pos > f.icmp_cut(),
                "malformed": malformed_labels(f),
            }
        )
        if mac and hostname is not None and pos < f.icmp_cut():
            hostnames[mac.lower()].add(hostname)
    return records, {mac: sorted(names) for mac, names in hostnames.items()}


def fact_dhcpv6(frames: list[Frame]) -> list[dict[str, Any]]:
    records = []
    for f in frames:
        if "dhcpv6" not in f.layers:
            continue
        pos = f.layers.index("dhcpv6")
        # Each Client Identifier (1) and Server Identifier (2) option holds one DUID, in option order.
        duids = iter(f.all("dhcpv6.duid.bytes"))
        client_duid = server_duid = None
        for opt in f.all("dhcpv6.option.type"):
            if opt in ("1", "2"):
                duid = next(duids, None)
                if duid is not None:
                    duid = duid.replace(":", "").lower()
                if opt == "1" and client_duid is None:
                    client_duid = duid
                elif opt == "2" and server_duid is None:
                    server_duid = duid
        ep = f.endpoints_of(pos)
        msg_types = [int(v) for v in f.all("dhcpv6.msgtype")]
        records.append(
            {
                "frame": f.number,
                "src": ep["src"],
                "dst": ep["dst"],
                "message_type": msg_types[0] if msg_types else None,
                "message_types": msg_types,
                "client_fqdn": f.first("dhcpv6.client_domain"),
                "client_duid": client_duid,
                "server_duid": server_duid,
                "malformed": malformed_labels(f),
            }
        )
    return records


def _frames_list(values: list[str]) -> list[int]:
    return sorted({int(v) for v in values})


def fact_tls_quic(
    frames: list[Frame],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    tls_sni: list[dict[str, Any]] = []
    quic_sni: list[dict[str, Any]] = []
    gquic: list[dict[str, Any]] = []
    for f in frames:
        is_client_hello = "1" in f.all("tls.handshake.type")
        snis = f.all("tls.handshake.extensions_server_name")
        if "quic" in f.layers and is_client_hello:
            pos = f.layers.index("quic")
            ep = f.endpoints_of(pos)
            crypto = _frames_list(f.all("quic.crypto.fragment"))
            quic_sni.append(
                {
                    "frame": f.number,
                    "src": ep["src"],
                    "dst": ep["dst"],
                    "sport": ep["sport"],
                    "dport": ep["dport"],
                    "sni": snis[0] if snis else None,
                    "versions": list(dict.fromkeys(f.all("quic.version"))),
                    "crypto_frames": crypto,
                    "reassembled": bool(crypto) and crypto != [f.number],
                }
            )
        elif "tls" in f.layers and is_client_hello:
            pos = f.layers.index("tls")
            ep = f.endpoints_of(pos)
            segments = _frames_list(f.all("tcp.segment"))
            tls_sni.append(
                {
                    "frame": f.number,
                    "src": ep["src"],
                    "dst": ep["dst"],
                    "sport": ep["sport"],
                    "dport": ep["dport"],
                    "transport": ep["transport"],
                    "sni": snis[0] if snis else None,
                    "reassembled": len(segments) > 1,
                    "segments": segments,
                    "first_frame": segments[0] if segments else f.number,
                }
            )
        if "gquic" in f.layers and (f.all("gquic.version") or f.all("gquic.tag.sni")):
            pos = f.layers.index("gquic")
            ep = f.endpoints_of(pos)
            gquic.append(
                {
                    "frame": f.number,
                    "src": ep["src"],
                    "dst": ep["dst"],
                    "sport": ep["sport"],
                    "dport": ep["dport"],
                    "version": f.first("gquic.version"),
                    "sni": f.first("gquic.tag.sni"),
                    "uaid": f.first("gquic.tag.uaid"),
                }
            )
    return tls_sni, quic_sni, gquic


def _pick(f: Frame, field: str, i: int, n: int) -> str | None:
    """The value of `field` for the i-th of n requests in a frame (None when they cannot be paired)."""
    values = f.all(field)
    if len(values) == n:
        return values[i]
    return values[0] if n == 1 and values else None


def fact_http(frames: list[Frame]) -> list[dict[str, Any]]:
    records = []
    for f in frames:
        methods = f.all("http.request.method")
        if not methods:
            continue
        proto = "ssdp" if "ssdp" in f.layers else "http"
        pos = f.layers.index(proto) if proto in f.layers else len(f.layers)
        ep = f.endpoints_of(pos)
        for i, method in enumerate(methods):
            records.append(
                {
                    "frame": f.number,
                    "src": ep["src"],
                    "dst": ep["dst"],
                    "sport": ep["sport"],
                    "dport": ep["dport"],
                    "transport": ep["transport"],
                    "protocol": proto,
                    "method": method,
                    "host": _pick(f, "http.host", i, len(methods)),
                    "uri": _pick(f, "http.request.uri", i, len(methods)),
                    "user_agent": _pick(f, "http.user_agent", i, len(methods)),
                }
            )
    return records


def fact_conversations(
    frames: list[Frame], sections: dict[str, list[str]]
) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for proto, title in (("tcp", "TCP Conversations"), ("udp", "UDP Conversations")):
        rows = parse_conversations(sections.get(title, []))
        streams = reconstruct_streams(frames, proto)
        match_streams(rows, streams)
        rows.sort(
            key=lambda r: (Decimal(r["rel_start"]), r["address_a"], r["port_a"], r["address_b"], r["port_b"])
        )
        out[proto] = rows
    return out


def reconstruct_streams(frames: list[Frame], proto: str) -> dict[Any, dict[str, Any]]:
    """Conversations as tshark's tap keys them, with frames/bytes per direction.

    tshark's conversation tap is keyed by the two address/port endpoints (in either order) and the
    tcp.stream / udp.stream index, and counts one frame per real TCP/UDP layer (not those quoted in
    ICMP errors); address A is the source of the conversation's first frame.
    """
    streams: dict[Any, dict[str, Any]] = {}
    for f in frames:
        cut = f.icmp_cut()
        for pos, name in enumerate(f.layers[:cut]):
            if name != proto:
                continue
            k = f.ordinal(pos)
            stream = f.nth(f"{proto}.stream", k)
            if stream is None:
                continue
            ep = f.endpoints_of(pos + 1)
            key = (ep["src"], ep["sport"], ep["dst"], ep["dport"])
            conv = (stream, frozenset((key[:2], key[2:])))
            s = streams.get(conv)
            if s is None:
                s = streams[conv] = {
                    "a": key[:2],
                    "b": key[2:],
                    "ab": [0, 0],
                    "ba": [0, 0],
                    "start": f.first("frame.time_relative"),
                }
            direction = "ab" if key[:2] == s["a"] and key[2:] == s["b"] else "ba"
            s[direction][0] += 1
            s[direction][1] += f.length
    return streams


def match_streams(rows: list[dict[str, Any]], streams: dict[Any, dict[str, Any]]) -> None:
    """Give each tshark conversation row exact byte counts from the reconstructed streams.

    A row gets bytes_a_to_b/bytes_b_to_a/bytes when exactly one unused stream has its 4-tuple, the
    same frame counts and bytes that tshark prints the same way; otherwise they are null.
    """
    by_tuple: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for s in sorted(streams.values(), key=lambda s: Decimal(s["start"] or "0")):
        by_tuple[(s["a"][0], s["a"][1], s["b"][0], s["b"][1])].append(s)
    for row in rows:
        key = (row["address_a"], row["port_a"], row["address_b"], row["port_b"])
        row["bytes_a_to_b"] = row["bytes_b_to_a"] = row["bytes"] = None
        for s in by_tuple.get(key, []):
            if s.get("used"):
                continue
            ab, ba = s["ab"], s["ba"]
            if (ab[0], ba[0]) != (row["frames_a_to_b"], row["frames_b_to_a"]):
                continue
            if (format_size(ab[1]), format_size(ba[1]), format_size(ab[1] + ba[1])) != (
                row["bytes_text_a_to_b"],
                row["bytes_text_b_to_a"],
                row["bytes_text"],
            ):
                continue
            s["used"] = True
            row["bytes_a_to_b"], row["bytes_b_to_a"], row["bytes"] = ab[1], ba[1], ab[1] + ba[1]
            break


# ---------------------------------------------------------------------------------------------
# DNS (pass 2)
# ---------------------------------------------------------------------------------------------

Pairs = list[tuple[str, Any]]
DNS_SECTIONS = {
    "Answers": "answer",
    "Authoritative nameservers": "authority",
    "Additional records": "additional",
}
DNS_VALUE_FIELD = {1: "dns.a", 28: "dns.aaaa", 5: "dns.cname", 12: "dns.ptr.domain_name"}


def first(pairs: Any, key: str) -> Any:
    if isinstance(pairs, list):
        for k, v in pairs:
            if k == key:
                return v
    return None


def expert_messages(pairs: Any) -> list[str]:
    found: list[str] = []
    if isinstance(pairs, list):
        for k, v in pairs:
            if k == "_ws.expert" and isinstance(v, list):
                severity = EXPERT_SEVERITY.get(str(first(v, "_ws.expert.severity")), "?")
                found.append(f"{severity}: {first(v, '_ws.expert.message')}")
            elif isinstance(v, list):
                found.extend(expert_messages(v))
    return found


def parse_dns_message(msg: Pairs) -> dict[str, Any]:
    flags = first(msg, "dns.flags_tree")
    response = first(flags, "dns.flags.response")
    rcode = first(flags, "dns.flags.rcode")
    queries = []
    records = []
    for key, value in msg:
        if key == "Queries" and isinstance(value, list):
            for _summary, q in value:
                qtype = first(q, "dns.qry.type")
                queries.append(
                    {"name": first(q, "dns.qry.name"), "type": int(qtype) if qtype is not None else None}
                )
        elif key in DNS_SECTIONS and isinstance(value, list):
            for summary, rr in value:
                # NSEC type bitmaps repeat dns.resp.type inside the record; the first one is the RR's type
                rtype = first(rr, "dns.resp.type")
                rtype_num = int(rtype) if rtype is not None else None
                name = first(rr, "dns.resp.name")
                if name is None:  # SRV: tshark splits the owner name into dns.srv.service/proto/name
                    name = summary.split(": type ", 1)[0]
                record = {"section": DNS_SECTIONS[key], "name": name, "type": rtype_num}
                if rtype_num in DNS_VALUE_FIELD:
                    record["value"] = first(rr, DNS_VALUE_FIELD[rtype_num])
                records.append(record)
    counts = {k: first(msg, f"dns.count.{k}") for k in ("queries", "answers", "auth_rr", "add_rr")}
    dns_id = first(msg, "dns.id")  # tshark prints it in hex: 0x56bb
    return {
        "id": int(dns_id, 16) if dns_id is not None else None,
        "response": response == "1" if response is not None else None,
        "rcode": int(rcode) if rcode is not None else None,
        "counts": {k: int(v) if v is not None else None for k, v in counts.items()},
        "queries": queries,
        "records": records,
        "expert": expert_messages(msg),
    }


def parse_pass2(stdout: str) -> dict[int, list[dict[str, Any]]]:
    text = stdout.strip()
    if not text:
        return {}
    try:
        packets = json.loads(text, object_pairs_hook=list)
    except json.JSONDecodeError:
        packets = json.loads(text.rstrip().rstrip(",") + "\n]", object_pairs_hook=list)
    messages: dict[int, list[dict[str, Any]]] = {}
    for packet in packets:
        layers = first(first(packet, "_source"), "layers")
        number = int(first(first(layers, "frame"), "frame.number"))
        messages[number] = [
            parse_dns_message(v) for k, v in layers if k in DNS_LAYERS and isinstance(v, list)
        ]
    return messages


def fact_dns(frames: list[Frame], messages: dict[int, list[dict[str, Any]]]) -> dict[str, Any]:
    records = []
    query_names: set[str] = set()
    a_answers: dict[str, set[str]] = defaultdict(set)
    for f in frames:
        positions = [i for i, name in enumerate(f.layers) if name in DNS_LAYERS]
        if not positions:
            continue
        parsed = messages.get(f.number, [])
        if len(parsed) != len(positions):
            raise GoldenError(f"frame {f.number}: {len(positions)} DNS layers but {len(parsed)} DNS trees")
        cut = f.icmp_cut()
        for pos, msg in zip(positions, parsed, strict=True):
            ep = f.endpoints_of(pos)
            record = {
                "frame": f.number,
                "time": f.first("frame.time_epoch"),
                "protocol": f.layers[pos],
                "src": ep["src"],
                "dst": ep["dst"],
                "sport": ep["sport"],
                "dport": ep["dport"],
                "transport": ep["transport"],
                "in_icmp_error": pos > cut,
                "malformed": malformed_labels(f),
                **msg,
            }
            records.append(record)
            if pos > cut:
                continue
            for q in msg["queries"]:
                if q["name"] is not None:
                    query_names.add(q["name"])
            if msg["response"]:
                for rr in msg["records"]:
                    if rr["section"] == "answer" and rr["type"] == 1 and rr.get("value"):
                        a_answers[rr["name"]].add(rr["value"])
    return {
        "dns": records,
        "dns_query_names": sorted(query_names),
        "dns_a_answers": {name: sorted(addrs, key=_ipv4_key) for name, addrs in a_answers.items()},
    }


def _ipv4_key(addr: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in addr.split("."))
    except ValueError:
        return (999,)


# ---------------------------------------------------------------------------------------------
# Per capture
# ---------------------------------------------------------------------------------------------


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def golden_for(tshark: str, version: str, env: dict[str, str], location: str, path: Path) -> dict[str, Any]:
    cmd = pass1_command(tshark, path.name)
    status, stdout, stderr = run(cmd, path.parent, env)
    frames, sections = parse_pass1(stdout)
    golden: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "capture": {
            "name": path.name,
            "location": location,
            "size": path.stat().st_size,
            "sha256": sha256(path),
        },
        "tshark": {"version": version, "exit_status": status, "error": stderr or None},
        "readable": bool(frames),
        "complete": status == 0,
    }
    if not frames:
        golden["complete"] = False
        if not stderr:
            golden["tshark"]["error"] = None
            golden["unreadable_reason"] = "tshark read no packets and printed no error (empty capture)"
        else:
            golden["unreadable_reason"] = "tshark could not read any packet"
        return golden
    totals = fact_totals(frames)
    if totals["packets"] != len({f.number for f in frames}):
        raise GoldenError("duplicate frame numbers in tshark's output")
    golden["totals"] = totals
    golden["macs"] = fact_macs(frames)
    golden["eth_endpoints"] = parse_endpoints(sections.get("Ethernet Endpoints", []))
    hosts = parse_endpoints(sections.get("IPv4 Endpoints", []))
    hosts.update(parse_endpoints(sections.get("IPv6 Endpoints", [])))
    golden["hosts"] = hosts
    golden["frames_by_protocols"] = fact_frames_by_protocols(frames)
    golden["ethertypes_from_fields"] = fact_ethertypes_from_fields(frames)
    golden["ip_protocols"], golden["ip_protocols_unmapped"] = fact_ip_protocols(frames)

    messages: dict[int, list[dict[str, Any]]] = {}
    if any(name in DNS_LAYERS for f in frames for name in f.layers):
        _status2, stdout2, _stderr2 = run(pass2_command(tshark, path.name), path.parent, env)
        messages = parse_pass2(stdout2)
    golden.update(fact_dns(frames, messages))
    golden["dhcp"], golden["dhcp_hostnames"] = fact_dhcp(frames)
    golden["dhcpv6"] = fact_dhcpv6(frames)
    golden["tls_sni"], golden["quic_sni"], golden["gquic"] = fact_tls_quic(frames)
    golden["http"] = fact_http(frames)
    golden["mac_ip"] = fact_mac_ip(frames)
    golden["conversations"] = fact_conversations(frames, sections)
    return golden


def dump(golden: dict[str, Any]) -> str:
    return json.dumps(golden, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="only these capture file names")
    parser.add_argument(
        "--shared-dir",
        type=Path,
        help="folder of the shared captures "
        "(default: ../shared/fixtures/pcaps next to the repository root, if present)",
    )
    parser.add_argument(
        "--out", type=Path, default=HERE, help="where to write the JSON files (default: %(default)s)"
    )
    args = parser.parse_args(argv)

    tshark = tshark_binary()
    shared = args.shared_dir if args.shared_dir else shared_pcaps_dir()
    if shared is not None and not shared.is_dir():
        parser.error(f"--shared-dir {shared} is not a folder")
    captures = find_captures(shared)
    if args.only:
        missing = sorted(set(args.only) - set(captures))
        if missing:
            parser.error(f"no such capture: {', '.join(missing)}")
        captures = {name: captures[name] for name in args.only}

    with tempfile.TemporaryDirectory(prefix="golden-wsconfig-") as config_dir:
        env = dict(os.environ)
        env.update({"WIRESHARK_CONFIG_DIR": config_dir, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", "TZ": "UTC"})
        env.pop("SSLKEYLOGFILE", None)
        version = tshark_version(tshark, env)
        print(
            f"tshark {version}; {len(captures)} captures; shared folder: {shared or 'absent'}",
            file=sys.stderr,
        )
        args.out.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        for name, (location, path) in captures.items():
            t0 = time.monotonic()
            golden = golden_for(tshark, version, env, location, path)
            (args.out / f"{name}.json").write_text(dump(golden), encoding="utf-8")
            state = (
                "unreadable" if not golden["readable"] else ("partial" if not golden["complete"] else "ok")
            )
            print(
                f"  {name}: {state}, {golden.get('totals', {}).get('packets', 0)} packets, "
                f"{time.monotonic() - t0:.2f} s",
                file=sys.stderr,
            )
        print(f"done in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
