"""Per-packet parsers for the application protocols homescope reads names and metadata from.

Each protocol has a module named after it (`dns`, `tls`, `quic`, ...). The larger ones keep their separate
subjects in modules beside it (`dns_names`, `tls_hello`, `quic_crypto`, `gquic`, ...), and the protocol's
module still exports every public name it ever had. Parsers never raise on bad input except their own
`MalformedMessage`; the few packets that need them are handed over by the vectorised decoder.
"""
