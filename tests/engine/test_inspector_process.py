"""The payload inspector in its own process gives the same analysis as in the analysis process, and its
failure reaches the caller as a clear error."""

from __future__ import annotations

import json
import os
import signal

import pytest

from engine.analysis import Analysis, run_capture
from engine.capture.source import CaptureSet
from engine.metadata.worker import InspectorError, InspectorProcess
from engine.report import build_report
from tests.conftest import fixture_path


def _report(name: str, mode: str) -> str:
    analysis = Analysis(inspector=mode)  # type: ignore[arg-type]
    capture = CaptureSet([str(fixture_path(name))])
    try:
        run_capture(capture, analysis)
        snapshot = analysis.snapshot()
    finally:
        analysis.close()
    doc = build_report(snapshot, capture.statuses)
    doc.pop("generator")
    return json.dumps(doc, sort_keys=True)


@pytest.mark.parametrize(
    "name", ["ndpi_iphone.pcap", "zeek_quic_chromium-google-de-fragmented.pcap", "zeek_dhcp.pcap"]
)
def test_same_report_in_both_modes(name: str) -> None:
    local = _report(name, "local")
    assert '"tls_sni"' in local or '"quic_sni"' in local
    assert _report(name, "process") == local


def test_a_dead_inspector_is_a_clear_error() -> None:
    inspector = InspectorProcess(dns_log_limit=100)
    try:
        os.kill(inspector.pid, signal.SIGKILL)
        with pytest.raises(InspectorError, match="packet inspector stopped"):
            inspector.snapshot(None, None)
    finally:
        inspector.close()


def test_closing_ends_the_process() -> None:
    inspector = InspectorProcess(dns_log_limit=100)
    pid = inspector.pid
    inspector.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
