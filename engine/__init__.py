"""homescope's headless analysis engine: capture reading, decoding, aggregation and reports.

It never imports the TUI, textual or rich (an import-linter contract and a test hold that).
"""

__version__ = "0.1.0"


def analyse(*args: object, **kwargs: object) -> object:
    """Analyse capture files into pandas DataFrames; see `engine.dataframes.analyse`."""
    from engine.dataframes import analyse as _analyse

    return _analyse(*args, **kwargs)  # type: ignore[arg-type]
