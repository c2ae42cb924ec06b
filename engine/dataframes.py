"""The analysis as pandas DataFrames, for notebooks: `engine.analyse(paths)`.

pandas is imported only here, when a DataFrame is asked for, so the monitor and the headless report never
pay for it. Times are pandas UTC timestamps; convert with `.dt.tz_convert(...)` for local hours.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.aggregate.timeline import LONG_RESOLUTIONS
from engine.analysis import Analysis, AnalysisSnapshot, inspector_mode, run_capture
from engine.capture.records import SourceStatus
from engine.capture.source import CaptureSet
from engine.classify.protocol_labels import LABELS, PROTECTION_NAMES, label_protection
from engine.home_network import HomeNetwork
from engine.labels import Labels
from engine.protocol_numbers import ip_protocol_name
from engine.views.devices import DeviceView, device_views
from engine.views.protocols import protocol_breakdown
from engine.views.remotes import remote_views

if TYPE_CHECKING:
    import pandas as pd


def _times(values: Any) -> Any:
    """Epoch seconds as UTC timestamps; missing or impossible times (before 1970, after 2106) become NaT."""
    import pandas as pd

    seconds = np.asarray(values, dtype=np.float64)
    seconds = np.where((seconds >= 0) & (seconds < 2.0**32), seconds, np.nan)
    return pd.to_datetime(seconds, unit="s", utc=True)


class AnalysisResult:
    """An analysis of capture files. Every DataFrame is built on first use and kept."""

    def __init__(
        self, snapshot: AnalysisSnapshot, sources: list[SourceStatus], labels: Labels | None
    ) -> None:
        self.snapshot = snapshot
        self.sources = sources
        self._labels = labels

    @cached_property
    def device_views(self) -> list[DeviceView]:
        return device_views(self.snapshot, self._labels)

    @cached_property
    def _device_names(self) -> dict[int, str]:
        return {v.id: v.name for v in self.device_views}

    @cached_property
    def devices(self) -> pd.DataFrame:
        """One row per device: name, vendor, MAC, addresses, traffic up/down (internet and LAN), times."""
        import pandas as pd

        rows = [
            {
                "key": v.key,
                "name": v.name,
                "label": v.label,
                "hostname": v.hostname,
                "mac": v.mac,
                "vendor": v.vendor,
                "randomized_mac": v.randomized_mac,
                "router": v.router,
                "ipv4": list(v.ipv4),
                "ipv6": list(v.ipv6),
                "uses_ipv6": any(not a.startswith("fe80:") for a in v.ipv6),
                "first_seen": v.first_ts,
                "last_seen": v.last_ts,
                "packets_up": v.packets_up,
                "bytes_up": v.bytes_up,
                "packets_down": v.packets_down,
                "bytes_down": v.bytes_down,
                "internet_bytes_up": v.internet_bytes_up,
                "internet_bytes_down": v.internet_bytes_down,
                "lan_bytes_up": v.lan_bytes_up,
                "lan_bytes_down": v.lan_bytes_down,
                "internet_peers": v.internet_peers,
                "top_protocol": v.protocols[0][0] if v.protocols else None,
            }
            for v in self.device_views
        ]
        frame = pd.DataFrame(rows)
        if len(frame):
            frame["first_seen"] = _times(frame["first_seen"].astype(float))
            frame["last_seen"] = _times(frame["last_seen"].astype(float))
        return frame

    @cached_property
    def flows(self) -> pd.DataFrame:
        """Every flow (closed and still active), client to server, with its protocol label and server name."""
        import pandas as pd

        flows = self.snapshot.flows
        if flows is None:
            return pd.DataFrame()
        records, labels = flows.all()
        c = records.columns
        book = self.snapshot.book
        client_is_b = c["client"] == 1
        a = [book.text(int(i)) for i in records.a_id] if book is not None else []
        b = [book.text(int(i)) for i in records.b_id] if book is not None else []
        names = self.snapshot.metadata.name_table if self.snapshot.metadata is not None else []
        dev_names = self._device_names
        server_name = [names[i] if 0 <= i < len(names) else None for i in c["server_name"].tolist()]
        label_names = {int(k): v.name for k, v in LABELS.items()}
        frame = pd.DataFrame(
            {
                "first_ts": _times(c["first_ts"]),
                "last_ts": _times(c["last_ts"]),
                "client": np.where(client_is_b, b, a),
                "client_port": np.where(client_is_b, records.port_b, records.port_a),
                "server": np.where(client_is_b, a, b),
                "server_port": np.where(client_is_b, records.port_a, records.port_b),
                "transport": [ip_protocol_name(int(p)) for p in records.proto],
                "protocol": [label_names.get(int(x), str(x)) for x in labels],
                "protection": [PROTECTION_NAMES[label_protection(int(x))] for x in labels],
                "server_name": server_name,
                "client_device": [
                    dev_names.get(int(d)) for d in np.where(client_is_b, c["dev_b"], c["dev_a"])
                ],
                "server_device": [
                    dev_names.get(int(d)) for d in np.where(client_is_b, c["dev_a"], c["dev_b"])
                ],
                "packets_up": np.where(client_is_b, c["packets_ba"], c["packets_ab"]),
                "bytes_up": np.where(client_is_b, c["bytes_ba"], c["bytes_ab"]),
                "packets_down": np.where(client_is_b, c["packets_ab"], c["packets_ba"]),
                "bytes_down": np.where(client_is_b, c["bytes_ab"], c["bytes_ba"]),
            }
        )
        frame["bytes"] = frame["bytes_up"] + frame["bytes_down"]
        return frame

    @cached_property
    def dns(self) -> pd.DataFrame:
        """The DNS log: one row per lookup (query with its response), mDNS and LLMNR marked by `kind`."""
        import pandas as pd

        meta = self.snapshot.metadata
        if meta is None:
            return pd.DataFrame()
        names = self._device_names
        frame = pd.DataFrame(
            [
                {
                    "ts": e.ts,
                    "kind": e.kind,
                    "transport": e.transport,
                    "client": e.client,
                    "client_device": names.get(e.client_device),
                    "resolver": e.server,
                    "name": e.name,
                    "type": e.qtype_name,
                    "rcode": e.rcode_name,
                    "answers": list(e.answers),
                    "latency": e.latency,
                }
                for e in meta.dns.entries
            ]
        )
        if len(frame):
            frame["ts"] = _times(frame["ts"])
        return frame

    @cached_property
    def remotes(self) -> pd.DataFrame:
        """Internet addresses: best passive name, bytes in/out, flows, devices and protocols."""
        import pandas as pd

        names = self._device_names
        frame = pd.DataFrame(
            [
                {
                    "ip": r.address,
                    "name": r.name,
                    "names": [n for n, _ in r.names],
                    "bytes_in": r.bytes_in,
                    "bytes_out": r.bytes_out,
                    "packets_in": r.packets_in,
                    "packets_out": r.packets_out,
                    "flows": r.flows,
                    "devices": [names.get(d, str(d)) for d in r.devices],
                    "protocols": list(r.protocols),
                    "first_ts": r.first_ts,
                    "last_ts": r.last_ts,
                }
                for r in remote_views(self.snapshot)
            ]
        )
        if len(frame):
            frame["first_ts"] = _times(frame["first_ts"].astype(float))
            frame["last_ts"] = _times(frame["last_ts"].astype(float))
        return frame

    @cached_property
    def protocols(self) -> pd.DataFrame:
        """Bytes, packets and flows per protocol label, with its protection class."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "protocol": p.name,
                    "protection": p.protection,
                    "packets": p.packets,
                    "bytes": p.bytes,
                    "flows": p.flows,
                    "share": p.share,
                }
                for p in protocol_breakdown(self.snapshot).protocols
            ]
        )

    def timeline_at(self, resolution: int = 60) -> pd.DataFrame:
        """Bytes and packets per time bin (resolution 1, 60, 900 or 3600 s; the rings keep recent bins)."""
        import pandas as pd

        tl = self.snapshot.timeline
        if tl is None or resolution not in tl.total_bytes:
            raise ValueError(f"no timeline at {resolution} s; choose one of 1, 60, 900, 3600")
        b, p = tl.total_bytes[resolution], tl.total_packets[resolution]
        frame = pd.DataFrame({"bytes": b.values, "packets": p.values}, index=_times(b.times))
        frame.index.name = "time"
        first = self.snapshot.totals.first_ts
        if first is not None:
            frame = frame[frame.index >= _times([first // resolution * resolution])[0]]
        return frame

    @cached_property
    def timeline(self) -> pd.DataFrame:
        """Bytes and packets per minute."""
        return self.timeline_at(60)

    def device_timeline(self, resolution: int = 900) -> pd.DataFrame:
        """Bytes up and down per device and time bin (60, 900 or 3600 s), long format."""
        import pandas as pd

        tl = self.snapshot.timeline
        if tl is None or resolution not in tl.device_bytes_up:
            raise ValueError(f"no per-device timeline at {resolution} s; choose one of 60, 900, 3600")
        parts = []
        for v in self.device_views:
            up = tl.device_bytes_up[resolution].get(v.id)
            down = tl.device_bytes_down[resolution].get(v.id)
            if up is None or down is None or not (up.values.any() or down.values.any()):
                continue
            part = pd.DataFrame({"time": _times(up.times), "bytes_up": up.values, "bytes_down": down.values})
            part["device"] = v.name
            parts.append(part[(part.bytes_up > 0) | (part.bytes_down > 0)])
        if not parts:
            return pd.DataFrame(columns=["time", "bytes_up", "bytes_down", "device"])
        return pd.concat(parts, ignore_index=True)


def analyse(
    paths: str | Path | Iterable[str | Path],
    *,
    home_prefixes: Iterable[str] = (),
    labels: Labels | str | Path | None = None,
) -> AnalysisResult:
    """Analyse capture files (pcap/pcapng, compressed or not) read in time order as one capture."""
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    capture = CaptureSet([str(p) for p in items])
    analysis = Analysis(
        home=HomeNetwork(home_prefixes),
        dns_log_limit=2_000_000,
        inspector=inspector_mode(capture.paths),
        timeline_bins=LONG_RESOLUTIONS,  # captures of days or weeks: keep their whole timeline
    )
    try:
        run_capture(capture, analysis)
        snapshot = analysis.snapshot()
    finally:
        analysis.close()
    if isinstance(labels, (str, Path)):
        labels = Labels.load(Path(labels))
    return AnalysisResult(snapshot, capture.statuses, labels)
