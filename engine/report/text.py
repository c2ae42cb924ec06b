"""The readable form of a report: what `homescope report` prints without --json."""

from __future__ import annotations

from typing import Any

from engine.report.formatting import human_bytes, human_count, human_duration, local_time
from engine.report.text_semantic import render_semantic


def _table(rows: list[list[str]], right: set[int]) -> list[str]:
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(r)]
        out.append("  " + "  ".join(cells).rstrip())
    return out


def render_text(report: dict[str, Any], top: int = 10) -> str:
    lines: list[str] = []
    t = report["totals"]
    n_sources = len(report["sources"])
    span = ""
    if t["first_ts"] is not None:
        span = (
            f", {local_time(t['first_ts'])} to {local_time(t['last_ts'])} ({human_duration(t['duration'])})"
        )
    lines.append(
        f"homescope report: {n_sources} capture{'s' if n_sources != 1 else ''}, "
        f"{human_count(t['packets'])} packets, {human_bytes(t['bytes'])}{span}"
    )
    lines += ["", "Sources"]
    rows = []
    notes = []
    for s in report["sources"]:
        links = ", ".join(lt["name"] for lt in s["link_types"]) or "-"
        state = "complete" if s["complete"] else "INCOMPLETE"
        rows.append(
            [s["path"], s["format"], links, human_count(s["packets"]), human_bytes(s["bytes"]), state]
        )
        for p in s["problems"]:
            where = f" (byte {p['offset']})" if p["offset"] is not None else ""
            notes.append(f"  ! {s['path']}: {p['kind']}{where}: {p['message']}")
    lines += _table(rows, {3, 4})
    lines += notes
    if t["untimed_packets"]:
        lines.append(f"  {human_count(t['untimed_packets'])} packets have no usable timestamp")
    if t["snaplen_cut_packets"]:
        lines.append(
            f"  {human_count(t['snaplen_cut_packets'])} packets were cut by the capture's snap length"
        )

    def endpoints(title: str, key: str, items: list[dict[str, Any]]) -> None:
        if not items:
            return
        lines.extend(["", f"{title} (top {min(top, len(items))} of {len(items)}, by bytes)"])
        rows = [["", "sent", "received", "packets sent", "packets received"]]
        for e in items[:top]:
            rows.append(
                [
                    e[key],
                    human_bytes(e["tx_bytes"]),
                    human_bytes(e["rx_bytes"]),
                    human_count(e["tx_packets"]),
                    human_count(e["rx_packets"]),
                ]
            )
        lines.extend(_table(rows, {1, 2, 3, 4}))

    endpoints("MAC addresses", "mac", report["macs"])
    endpoints("IP addresses", "ip", report["hosts"])

    def breakdown(title: str, items: list[dict[str, Any]], label: Any) -> None:
        if not items:
            return
        lines.extend(["", title])
        total = max(t["bytes"], 1)
        rows = [
            [
                label(e),
                human_count(e["packets"]),
                human_bytes(e["bytes"]),
                f"{100 * e['bytes'] / total:.1f} %",
            ]
            for e in items
        ]
        lines.extend(_table(rows, {1, 2, 3}))

    breakdown(
        "Network protocols (EtherType)", report["ethertypes"], lambda e: f"{e['name']} ({e['ethertype']})"
    )
    breakdown("Frames without a network layer", report["link_layer"], lambda e: e["name"])
    breakdown("IP protocols", report["ip_protocols"], lambda e: f"{e['name']} ({e['protocol']})")
    lines.extend(render_semantic(report, top))
    m = report["malformed"]
    if m["packets"]:
        lines.extend(
            ["", f"Malformed packets: {human_count(m['packets'])} (counted; decoded up to the damage)"]
        )
        lines.extend(
            _table([[r["reason"], human_count(r["packets"]), r["description"]] for r in m["reasons"]], {1})
        )
    return "\n".join(lines) + "\n"
