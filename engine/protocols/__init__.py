"""Per-packet parsers for the application protocols homescope reads names and metadata from.

Each module parses one protocol from raw payload bytes. Parsers never raise on bad input except their own
`MalformedMessage`; the few packets that need them are handed over by the vectorised decoder.
"""
