"""What an IP address is: its scope (private, link-local, multicast scope, documentation, ...), whether it
belongs to the home network, and which way a packet crosses the home's edge.

The public face of two modules, whose names are all importable from here: `engine.scope_table` (the
special-purpose prefixes, `AddressScope`, `classify` and `classify_text`) and `engine.home_network`
(`HomeNetwork`, home prefixes, `TrafficClass` and `traffic_class`).
"""

from __future__ import annotations

from engine.home_network import HomeNetwork, HomePrefix, TrafficClass, check_home_prefix, traffic_class
from engine.scope_table import (
    MULTICAST_SCOPES,
    RULES,
    U8,
    U64,
    AddressScope,
    Bool,
    IPNetwork,
    S,
    address_halves,
    classify,
    classify_text,
)

__all__ = [
    "MULTICAST_SCOPES",
    "RULES",
    "U8",
    "U64",
    "AddressScope",
    "Bool",
    "HomeNetwork",
    "HomePrefix",
    "IPNetwork",
    "S",
    "TrafficClass",
    "address_halves",
    "check_home_prefix",
    "classify",
    "classify_text",
    "traffic_class",
]
