"""Remote (internet) addresses: their best passive name with its sources, traffic in and out, which
devices talk to them, and over which protocols."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.analysis import AnalysisSnapshot
from engine.classify.protocol_labels import label_name


@dataclass(frozen=True, slots=True)
class RemoteView:
    address: str
    name: str | None  # the best passive name (see engine.metadata.remote_names)
    names: tuple[tuple[str, tuple[str, ...]], ...]  # (name, its sources), best first
    bytes_in: int  # from the remote into the home network
    bytes_out: int  # from the home network to the remote
    packets_in: int
    packets_out: int
    flows: int
    devices: tuple[int, ...]  # device ids that exchanged traffic with it
    first_ts: float | None
    last_ts: float | None
    protocols: tuple[str, ...]

    @property
    def bytes_total(self) -> int:
        return self.bytes_in + self.bytes_out


def _labels_from_bits(lo: int, hi: int) -> tuple[str, ...]:
    labels = [label_name(b) for b in range(64) if lo >> b & 1]
    labels += [label_name(64 + b) for b in range(64) if hi >> b & 1]
    return tuple(labels)


def remote_views(snapshot: AnalysisSnapshot, limit: int | None = None) -> list[RemoteView]:
    """Internet addresses the home network exchanged traffic with, most bytes first."""
    if snapshot.flows is None or snapshot.book is None:
        return []
    book = snapshot.book
    r = snapshot.flows.summaries.remotes
    if not len(r):
        return []
    c = r.columns
    total = c["bytes_in"] + c["bytes_out"]
    order = np.argsort(-total, kind="stable")
    if limit is not None:
        order = order[:limit]
    devices_of: dict[int, list[int]] = {}
    dp = snapshot.flows.summaries.device_peers
    for dev, peer in dp.keys.tolist():
        devices_of.setdefault(int(peer), []).append(int(dev))
    names = snapshot.metadata.remote_names if snapshot.metadata is not None else {}
    views = []
    for i in order.tolist():
        addr_id = int(r.keys[i, 0])
        address = book.text(addr_id)
        known = names.get(address, [])
        views.append(
            RemoteView(
                address=address,
                name=known[0].name if known else None,
                names=tuple((n.name, tuple(sorted(n.sources))) for n in known),
                bytes_in=int(c["bytes_in"][i]),
                bytes_out=int(c["bytes_out"][i]),
                packets_in=int(c["packets_in"][i]),
                packets_out=int(c["packets_out"][i]),
                flows=int(c["flows"][i]),
                devices=tuple(sorted(set(devices_of.get(addr_id, [])))),
                first_ts=float(c["first_ts"][i]) if np.isfinite(c["first_ts"][i]) else None,
                last_ts=float(c["last_ts"][i]) if np.isfinite(c["last_ts"][i]) else None,
                protocols=_labels_from_bits(int(c["labels_lo"][i]), int(c["labels_hi"][i])),
            )
        )
    return views
