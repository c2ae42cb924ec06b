"""Display-ready rows built from analysis snapshots, shared by reports, DataFrames and the TUI."""
