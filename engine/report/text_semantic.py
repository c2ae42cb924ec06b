"""The readable form of the home-network sections: devices, protocols, DNS, names and timelines."""

from __future__ import annotations

from typing import Any

from engine.report.formatting import human_bytes, human_count, local_time

SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: list[int], width: int = 48) -> str:
    """Values folded into at most `width` buckets and drawn with block characters."""
    if not values:
        return ""
    step = max(1, -(-len(values) // width))
    buckets = [sum(values[i : i + step]) for i in range(0, len(values), step)]
    top = max(buckets) or 1
    return "".join(
        SPARK[min(len(SPARK) - 1, int(v * (len(SPARK) - 1) / top + 0.5))] if v else " " for v in buckets
    )


def table(rows: list[list[str]], right: set[int]) -> list[str]:
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(r)]
        out.append("  " + "  ".join(cells).rstrip())
    return out


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def render_findings(findings: list[dict[str, Any]], top: int = 10) -> list[str]:
    """The findings, most severe first: severity, title and device, then the one-line explanation."""
    if not findings:
        return ["", "Findings: none"]
    counts = {
        name: sum(1 for f in findings if f["severity"] == name) for name in ("warning", "notice", "info")
    }
    summary = ", ".join(
        f"{n} {name}{'s' if n != 1 and name != 'info' else ''}" for name, n in counts.items() if n
    )
    lines = ["", f"Findings ({summary}; most severe first)"]
    for f in findings[:top]:
        who = f" - {f['device']['name']}" if f.get("device") else ""
        lines.append(f"  {f['severity'].upper():8} {f['title']}{who}")
        lines.append(f"           {f['explanation']}")
    if len(findings) > top:
        lines.append(f"  ... and {len(findings) - top} more (homescope findings, or --json)")
    return lines


def render_semantic(report: dict[str, Any], top: int = 10) -> list[str]:
    lines: list[str] = []
    devices = report.get("devices")
    if devices is None:
        return lines
    if "findings" in report:
        lines += render_findings(report["findings"], top)
    lines += ["", f"Devices (top {min(top, len(devices))} of {len(devices)}, by bytes)"]
    rows = [["name", "vendor", "address", "down", "up", "to internet", "last seen"]]
    for d in devices[:top]:
        name = d["name"] + (" (router)" if d["router"] else "")
        address = (d["ipv4"] or d["ipv6"] or [d["key"]])[0]
        rows.append(
            [
                _cut(name, 28),
                _cut(d["vendor"] or ("private MAC" if d["randomized_mac"] else "-"), 22),
                address,
                human_bytes(d["bytes_down"]),
                human_bytes(d["bytes_up"]),
                human_bytes(d["internet_bytes_up"]),
                local_time(d["last_ts"], with_date=False),
            ]
        )
    lines += table(rows, {3, 4, 5})

    protocols = report["protocols"]
    total = max(sum(protocols["protection_bytes"].values()), 1)
    shares = ", ".join(f"{k} {100 * v / total:.0f} %" for k, v in protocols["protection_bytes"].items() if v)
    lines += ["", f"Protocols ({shares})"]
    rows = [
        [
            p["label"],
            p["protection"],
            human_count(p["packets"]),
            human_bytes(p["bytes"]),
            f"{100 * p['share']:.1f} %",
        ]
        for p in protocols["labels"][:top]
    ]
    lines += table(rows, {2, 3, 4})

    dns = report["dns"]
    names = [n for n in dns["names"] if n["kind"] == "dns"]
    if names:
        lines += [
            "",
            f"DNS names (top {min(top, len(names))} of {len(names)}, "
            f"{human_count(dns['messages'])} messages)",
        ]
        rows = [
            [_cut(n["name"], 48), n["type"], human_count(n["queries"]), _cut(", ".join(n["devices"]), 30)]
            for n in names[:top]
        ]
        lines += table(rows, {2})
    if dns["resolvers"]:
        lines += ["", "Resolvers"]
        rows = [
            [
                (r["device"] or {}).get("name", r["client"]),
                r["server"],
                r["kind"],
                human_count(r.get("queries", r.get("flows", r.get("connections", 0)))),
            ]
            for r in dns["resolvers"][:top]
        ]
        lines += table(rows, {3})

    remotes = report.get("remotes", [])
    if remotes:
        lines += ["", f"Top remotes (top {min(top, len(remotes))} by bytes)"]
        rows = [
            [
                r["ip"],
                _cut(r["name"] or "-", 40),
                human_bytes(r["bytes_in"]),
                human_bytes(r["bytes_out"]),
                _cut(", ".join(r["protocols"]), 16),
                _cut(", ".join(r["devices"]), 24),
            ]
            for r in remotes[:top]
        ]
        lines += table(rows, {2, 3})

    for key, title in (
        ("tls_sni", "TLS server names"),
        ("quic_sni", "QUIC server names"),
        ("http_hosts", "HTTP hosts"),
    ):
        items = report.get(key, [])
        if items:
            lines += ["", f"{title} (top {min(top, len(items))} of {len(items)})"]
            lines += table(
                [
                    [_cut(i["name"], 56), human_count(i["count"]), _cut(", ".join(i["devices"]), 30)]
                    for i in items[:top]
                ],
                {1},
            )

    dhcp = report.get("dhcp", [])
    if dhcp:
        lines += ["", "DHCP clients"]
        rows = [
            [
                c["client"],
                ", ".join(c["hostnames"] or c["fqdns"]) or "-",
                _cut(", ".join(c["vendor_classes"]) or "-", 28),
                ", ".join(c["assigned"] or c["requested"]) or "-",
            ]
            for c in dhcp[:top]
        ]
        lines += table(rows, set())

    series = report["timeline"]["series"]
    for res, title in (("900", "Traffic per 15 minutes"), ("3600", "Traffic per hour")):
        s = series.get(res)
        if s and len(s["bytes"]) > 1:
            lines += ["", f"{title} from {local_time(s['start'])}: peak {human_bytes(max(s['bytes']))}"]
            lines.append("  " + sparkline(s["bytes"], 72))
            break
    return lines
