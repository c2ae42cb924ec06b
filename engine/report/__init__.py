"""Reports of an analysis: a versioned JSON document and a readable text summary."""

from engine.report.document import SCHEMA, build_report
from engine.report.text import render_text

__all__ = ["SCHEMA", "build_report", "render_text"]
