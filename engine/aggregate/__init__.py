"""Incremental aggregators: each has `ingest(packets)` and `snapshot()`; state grows with the number of
distinct things (devices, addresses, flows), never with the number of packets."""
