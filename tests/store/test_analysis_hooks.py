"""The analysis hooks the history store relies on: snapshots without the closed flows, server names by flow
serial, and closed flows a consumer holds keeping their server names whatever the retention."""

from __future__ import annotations

import numpy as np

from engine.analysis import Analysis, fill_server_names
from engine.capture.source import CaptureSet
from engine.flows.flow_table import FlowRecords
from tests.conftest import fixture_path


def _run(analysis: Analysis, name: str) -> None:
    for batch in CaptureSet([str(fixture_path(name))]).batches(8192):
        analysis.ingest_batch(batch)
    analysis.finish()


def test_snapshot_without_closed_flows() -> None:
    analysis = Analysis()
    try:
        _run(analysis, "ndpi_iphone.pcap")
        full = analysis.snapshot()
        light = analysis.snapshot(closed_flows=False)
    finally:
        analysis.close()
    assert full.flows is not None and light.flows is not None
    assert len(full.flows.closed) > 10
    assert len(light.flows.closed) == 0
    assert light.flows.summaries.flows == full.flows.summaries.flows  # every flow is closed: same totals
    assert light.flow_server_names == full.flow_server_names
    assert light.flow_server_names


def test_held_flows_keep_their_server_names() -> None:
    """Under the "largest" retention, flows let go lose their server names unless a consumer holds them."""
    for hold in (False, True):
        analysis = Analysis(closed_flow_limit=1, closed_flow_retention="largest")
        closed: list[FlowRecords] = []
        analysis.flows.on_close.append(closed.append)
        if hold:

            def held(flows: list[FlowRecords] = closed) -> list[int]:
                return [int(s) for r in flows for s in r.columns["serial"]]

            analysis.held_serials.append(held)
        try:
            capture = CaptureSet([str(fixture_path("ndpi_iphone.pcap"))])
            for i, batch in enumerate(capture.batches(2048)):
                analysis.ingest_batch(batch)
                if i % 8 == 0:
                    analysis.flows.expire(analysis.flows.now, everything=True)
            # 64 batches later the inspector is told which flows are still held
            for _ in range(70):
                analysis.ingest_batch(batch)
            snap = analysis.snapshot(closed_flows=False)
        finally:
            analysis.close()
        records = FlowRecords.concat(closed)
        assert snap.flow_server_names is not None
        fill_server_names(records, snap.flow_server_names)
        named = int((records.columns["server_name"] >= 0).sum())
        if hold:
            assert named > 5
        else:
            assert named < 5
        assert np.all(records.columns["serial"] >= 0)
