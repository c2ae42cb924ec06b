"""Capture inputs: pcap and pcapng files (optionally compressed), streams, and sets of files."""

from engine.capture.records import InterfaceStats, Problem, RecordBatch, SourceStatus
from engine.capture.source import CaptureFile, CaptureSet, open_capture

__all__ = [
    "CaptureFile",
    "CaptureSet",
    "InterfaceStats",
    "Problem",
    "RecordBatch",
    "SourceStatus",
    "open_capture",
]
