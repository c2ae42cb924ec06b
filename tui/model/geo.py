"""Where a remote address belongs: organisation (or AS) and country, from an offline database when one is
installed. Until then every lookup answers nothing and the tables show a dash."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple


class GeoInfo(NamedTuple):
    organisation: str | None  # the AS organisation, e.g. "GOOGLE" or "AS15169 Google LLC"
    country: str | None  # ISO 3166 code, e.g. "DE"


GeoLookup = Callable[[str], GeoInfo | None]  # address text -> what is known offline, or None
