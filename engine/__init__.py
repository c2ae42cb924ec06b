"""homescope's headless analysis engine: capture reading, decoding, aggregation and reports.

It never imports the TUI, textual or rich (an import-linter contract and a test hold that).
"""

__version__ = "0.1.0"
