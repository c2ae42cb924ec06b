"""Flows as rows: client and server, protocol, server name, device, traffic each way, TCP state."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.analysis import AnalysisSnapshot
from engine.classify.protocol_labels import PROTECTION_NAMES, label_name, label_protection
from engine.decode.packets import ip_to_str
from engine.flows.flow_table import FlowRecords, tcp_state
from engine.protocol_numbers import ip_protocol_name


@dataclass(frozen=True, slots=True)
class FlowView:
    serial: int
    active: bool
    protocol: str  # TCP, UDP, ICMP, ...
    label: str  # the protocol label (TLS, QUIC, DNS, ...)
    protection: str
    client: str
    client_port: int
    server: str
    server_port: int
    server_name: str | None
    client_device: int  # -1 when the client is not a known device
    server_device: int
    first_ts: float | None
    last_ts: float | None
    packets_up: int  # client to server
    bytes_up: int
    packets_down: int
    bytes_down: int
    state: str | None  # TCP only

    @property
    def bytes_total(self) -> int:
        return self.bytes_up + self.bytes_down


def flow_views(
    records: FlowRecords,
    labels: npt.NDArray[np.uint16],
    names: list[str],
    *,
    active: npt.NDArray[np.bool_] | None = None,
    rows: npt.NDArray[np.int64] | None = None,
) -> list[FlowView]:
    c = records.columns
    idx = np.arange(len(records)) if rows is None else rows
    client_is_b = c["client"] == 1
    views = []
    for i in idx.tolist():
        b = bool(client_is_b[i])
        ab = ("ab", "ba") if not b else ("ba", "ab")
        a_addr = ip_to_str(int(records.a_hi[i]), int(records.a_lo[i]))
        b_addr = ip_to_str(int(records.b_hi[i]), int(records.b_lo[i]))
        proto = int(records.proto[i])
        name_id = int(c["server_name"][i])
        flags_client = c[f"flags_{ab[0]}"][i : i + 1]
        flags_server = c[f"flags_{ab[1]}"][i : i + 1]
        views.append(
            FlowView(
                serial=int(c["serial"][i]),
                active=bool(active[i]) if active is not None else False,
                protocol=ip_protocol_name(proto),
                label=label_name(int(labels[i])),
                protection=PROTECTION_NAMES[label_protection(int(labels[i]))],
                client=b_addr if b else a_addr,
                client_port=int(records.port_b[i] if b else records.port_a[i]),
                server=a_addr if b else b_addr,
                server_port=int(records.port_a[i] if b else records.port_b[i]),
                server_name=names[name_id] if 0 <= name_id < len(names) else None,
                client_device=int(c["dev_b"][i] if b else c["dev_a"][i]),
                server_device=int(c["dev_a"][i] if b else c["dev_b"][i]),
                first_ts=float(c["first_ts"][i]) if np.isfinite(c["first_ts"][i]) else None,
                last_ts=float(c["last_ts"][i]) if np.isfinite(c["last_ts"][i]) else None,
                packets_up=int(c[f"packets_{ab[0]}"][i]),
                bytes_up=int(c[f"bytes_{ab[0]}"][i]),
                packets_down=int(c[f"packets_{ab[1]}"][i]),
                bytes_down=int(c[f"bytes_{ab[1]}"][i]),
                state=tcp_state(flags_client, flags_server)[0] if proto == 6 else None,
            )
        )
    return views


def top_flows(snapshot: AnalysisSnapshot, n: int = 50) -> list[FlowView]:
    """The `n` flows with the most bytes, closed and active together."""
    if snapshot.flows is None:
        return []
    records, labels = snapshot.flows.all()
    if not len(records):
        return []
    c = records.columns
    total = c["bytes_ab"] + c["bytes_ba"]
    top = np.argsort(-total, kind="stable")[:n]
    active = np.zeros(len(records), dtype=bool)
    active[len(snapshot.flows.closed) :] = True
    names = snapshot.metadata.name_table if snapshot.metadata is not None else []
    return flow_views(records, labels, names, active=active, rows=top)
