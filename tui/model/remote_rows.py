"""Remote (internet) address rows: best passive name, traffic each way, which devices talk to it, and
organisation and country when an offline lookup knows them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from engine.analysis import AnalysisSnapshot
from engine.classify.protocol_labels import label_name
from engine.views.remotes import RemoteView
from tui.model.dashboard import TableModel, TableRow
from tui.model.formatting import DASH, bytes_text
from tui.model.geo import GeoLookup

REMOTE_ROWS = 100


def names_text(names: Iterable[str], shown: int = 2) -> str:
    names = list(names)
    text = ", ".join(names[:shown]) or DASH
    return f"{text} +{len(names) - shown}" if len(names) > shown else text


def _geo(geo: GeoLookup | None, address: str) -> tuple[str, str]:
    info = geo(address) if geo is not None else None
    if info is None:
        return DASH, DASH
    return info.organisation or DASH, info.country or DASH


def matches(view: RemoteView, needle: str) -> bool:
    return needle in view.address or any(needle in name.lower() for name, _ in view.names)


def remote_table(
    views: list[RemoteView],
    device_names: Mapping[int, str],
    geo: GeoLookup | None,
    *,
    needle: str = "",
    total: int | None = None,
) -> TableModel:
    """The dashboard's remotes, most bytes first (the views come sorted)."""
    chosen = [v for v in views if matches(v, needle)] if needle else views
    rows = []
    for v in chosen[:REMOTE_ROWS]:
        org, country = _geo(geo, v.address)
        rows.append(
            TableRow(
                key=v.address,
                cells=(
                    v.name or v.address,
                    bytes_text(v.bytes_in),
                    bytes_text(v.bytes_out),
                    names_text(device_names.get(d, str(d)) for d in v.devices),
                    org,
                    country,
                    v.address,
                    names_text(v.protocols, 3),
                ),
            )
        )
    return TableModel(rows=tuple(rows), matched=len(chosen), total=total if total is not None else len(views))


def _labels(lo: int, hi: int) -> list[str]:
    return [label_name(b) for b in range(64) if lo >> b & 1] + [
        label_name(64 + b) for b in range(64) if hi >> b & 1
    ]


def device_remote_table(snapshot: AnalysisSnapshot, device: int, geo: GeoLookup | None) -> TableModel:
    """The internet addresses one device exchanged traffic with, with its own bytes each way, most first."""
    if snapshot.flows is None or snapshot.book is None:
        return TableModel()
    peers = snapshot.flows.summaries.device_peers
    if not len(peers):
        return TableModel()
    c = peers.columns
    mine = np.flatnonzero((peers.keys[:, 0] == device) & c["internet"])
    mine = mine[np.argsort(-(c["bytes_up"][mine] + c["bytes_down"][mine]), kind="stable")]
    names = snapshot.metadata.remote_names if snapshot.metadata is not None else {}
    rows = []
    for i in mine[:REMOTE_ROWS].tolist():
        address = snapshot.book.text(int(peers.keys[i, 1]))
        known = names.get(address)
        org, country = _geo(geo, address)
        rows.append(
            TableRow(
                key=address,
                cells=(
                    known[0].name if known else address,
                    bytes_text(int(c["bytes_down"][i])),
                    bytes_text(int(c["bytes_up"][i])),
                    names_text(_labels(int(c["labels_lo"][i]), int(c["labels_hi"][i])), 3),
                    org,
                    country,
                    address,
                ),
            )
        )
    return TableModel(rows=tuple(rows), matched=len(mine), total=len(mine))
