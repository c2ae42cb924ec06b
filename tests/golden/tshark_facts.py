"""Read the tshark golden files in `tests/golden/` and derive counts from them.

The golden files are written by `tests/golden/make_golden.py` (see `tests/golden/README.md` for every fact).
Tests compare homescope's results with them::

    golden = load_golden("joy_firefox58.pcap")
    if golden is None:
        pytest.skip("no golden file")
    innermost_ethertype_counts(golden)   # {0x0800: 700, 0x0806: 42, 0x86DD: 9, ...}
    innermost_ip_protocol_counts(golden) # {6: 640, 17: 80, 58: 1, ...}

Only the standard library is used, so `make_golden.py` can import this module too (it uses
`classify_protocols` to decide which frames need the field-based fallback described below).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

GOLDEN_DIR = Path(__file__).resolve().parent

# ---------------------------------------------------------------------------------------------
# EtherTypes
# ---------------------------------------------------------------------------------------------

#: tshark protocol names (as they appear in `frame.protocols`) of layers that an EtherType (or the
#: equivalent type field of SLL, SNAP, PPP, raw/null/NFLOG link types) selects, with that EtherType.
ETHERTYPE_BY_NAME: dict[str, int] = {
    "ip": 0x0800,
    "arp": 0x0806,
    "wol": 0x0842,
    "dec_dna": 0x6003,
    "lat": 0x6004,
    "rarp": 0x8035,
    "ddp": 0x809B,  # AppleTalk (reaches LLC only through SNAP)
    "aarp": 0x80F3,
    "ipx": 0x8137,  # ambiguous after "llc" (802.2 SAP 0xE0 or SNAP): see classify_protocols
    "ipv6": 0x86DD,
    "slow": 0x8809,
    "pppoed": 0x8863,
    "pppoes": 0x8864,
    "mpls": 0x8847,
    "homeplug": 0x887B,
    "eapol": 0x888E,
    "lldp": 0x88CC,
    "homeplug-av": 0x88E1,
    "macsec": 0x88E5,
    "ptp": 0x88F7,
    "cfm": 0x8902,
    "fcoe": 0x8906,
    "ieee1905": 0x893A,
    "loop": 0x9000,
}

#: Names that reach an LLC header only through SNAP (OUI 00-00-00 or 08-00-07), so "llc:<name>" means SNAP.
_SNAP_ONLY = {"ip", "ipv6", "arp", "rarp", "aarp", "ddp", "eapol", "lldp", "pppoed", "pppoes", "mpls"}
#: Names that can follow LLC with or without SNAP; `frame.protocols` cannot tell which.
_LLC_AMBIGUOUS = {"ipx"}
#: Layers that are link-level framing or capture pseudo-headers: skipped on the way to the network layer.
_SKIP = {
    "ethertype",
    "sll",
    "raw",
    "null",
    "nflog",
    "radiotap",
    "wlan_radio",
    "ppi",
    "prism",
    "wlancap",
    "pktap",
    "pwethheuristic",
    "pwethcw",
    "pwethnocw",
}
#: VLAN tags (skipped; their own EtherType is not the innermost one).
_TAGS = {"vlan", "ieee8021ad"}
#: PPP control protocols: frames carrying them count under the PPPoE session EtherType (0x8864), or as
#: "ppp-control" on a PPP link type.
PPP_CONTROL = {"lcp", "ipcp", "ipv6cp", "chap", "pap", "ccp", "cdpcp", "mplscp", "bacp", "bap", "osinlcp"}

#: Link-level names used instead of an EtherType.
LINK_LEVEL_NAMES = {
    "llc": "802.2 LLC frame without SNAP (STP, NetBIOS, IPX over SAP 0xE0, ...)",
    "llc-snap": "802.2 LLC + SNAP with a non-zero OUI and no further dissector",
    "802.3-raw": "Novell raw 802.3: IPX directly in an 802.3 length frame",
    "wlan-mgmt": "802.11 management frame",
    "wlan-ctrl": "802.11 control frame",
    "wlan-null": "802.11 data frame without payload (null / QoS null)",
    "wlan-protected": "802.11 protected (encrypted) data frame",
    "wlan-other": "802.11 frame of another kind",
    "ppp-control": "PPP control protocol (LCP, IPCP, ...) on a PPP link type",
    "unknown": "no EtherType could be found (truncated or empty frame)",
}


def classify_protocols(protocols: str) -> int | str | None:
    """The innermost EtherType of a frame, from its `frame.protocols` path alone.

    Walks the path from the link layer, skipping capture pseudo-headers, Ethernet, SLL, VLAN tags
    (802.1Q/802.1ad), PPPoE session + PPP and MPLS, and returns the EtherType of the first network
    layer reached (ETHERTYPE_BY_NAME). The L3 payload of link types without an EtherType (raw IP,
    BSD null/loopback, NFLOG, PPP) maps the same way: `raw:ip` is 0x0800. Frames whose innermost
    EtherType carries no further network layer count under that EtherType: ARP, LLDP, EAPOL, PPPoE
    discovery (0x8863), PPP control over PPPoE (0x8864), MPLS with an undissected payload (0x8847).
    802.2 LLC frames without SNAP are "llc"; `llc:<name>` for a protocol that only SNAP carries is the
    EtherType of <name>. Novell raw 802.3 (`eth:ipx`) is "802.3-raw"; 802.11 management frames are
    "wlan-mgmt".

    Returns None when the path does not say: an EtherType without a dissector (`eth:ethertype:data`,
    or a bare `eth`), LLC followed by IPX (SAP 0xE0 or SNAP), 802.11 frames without an LLC payload
    (control, null-data, protected). make_golden.py resolves those frames from header fields
    (eth.type, vlan.etype, sll.etype, llc.dsap/llc.type, wlan.fc.type/wlan.fc.protected) and stores
    them in the golden fact `ethertypes_from_fields`.
    """
    layers = protocols.split(":") if protocols else []
    container: int | str | None = None
    for i, name in enumerate(layers):
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        if name == "eth":
            if nxt is None:
                return None
            if nxt not in ("ethertype", "llc"):
                return "802.3-raw" if nxt == "ipx" else None
            continue
        if name in _SKIP:
            continue
        if name in _TAGS:
            container = None
            continue
        if name == "pppoes":
            container = 0x8864
            continue
        if name == "ppp":
            if container is None:
                container = "ppp-control"
            continue
        if name == "mpls":
            container = 0x8847
            continue
        if name == "llc":
            if nxt in _SNAP_ONLY:
                continue
            if nxt in _LLC_AMBIGUOUS or nxt is None:
                return None
            return "llc"
        if name == "wlan":
            if nxt == "wlan.mgt":
                return "wlan-mgmt"
            if nxt == "llc":
                continue
            return None
        if name in ETHERTYPE_BY_NAME:
            return ETHERTYPE_BY_NAME[name]
        if name in PPP_CONTROL:
            return container if container is not None else "ppp-control"
        if container in (0x8864, 0x8847):
            return container
        return None
    return None


# ---------------------------------------------------------------------------------------------
# Loading and deriving
# ---------------------------------------------------------------------------------------------


def golden_path(name: str) -> Path:
    """Where the golden file of capture `name` (a file name such as "zeek_dhcp.pcap") lives."""
    return GOLDEN_DIR / f"{name}.json"


def load_golden(name: str) -> dict[str, Any] | None:
    """The golden facts of capture `name`, or None when there is no golden file for it.

    Golden files are committed only for the redistributable captures of `fixtures/`. For a capture that
    exists only in `../shared` (not redistributable, so neither are facts derived from it), the file is made
    on demand with make_golden.py into the folder named by HOMESCOPE_TEST_GOLDEN_CACHE, when that variable,
    the shared capture and tshark are all present.
    """
    path = golden_path(name)
    if not path.exists():
        path = _generated_golden(name)
    if path is None or not path.exists():
        return None
    with path.open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def _generated_golden(name: str) -> Path | None:
    cache = os.environ.get("HOMESCOPE_TEST_GOLDEN_CACHE")
    if not cache or shutil.which("tshark") is None:
        return None
    target = Path(cache) / f"{name}.json"
    if not target.exists():
        result = subprocess.run(
            [sys.executable, str(GOLDEN_DIR / "make_golden.py"), "--only", name, "--out", cache],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            return None
    return target


def _type_key(key: str) -> int | str:
    return int(key, 16) if key.startswith("0x") else key


def innermost_ethertype_counts(golden: dict[str, Any], what: str = "packets") -> dict[int | str, int]:
    """Frames (what="packets") or frame bytes (what="bytes") per innermost EtherType.

    Keys are EtherType numbers (int) or the link-level names of LINK_LEVEL_NAMES (str). Frames whose
    `frame.protocols` path decides it are counted with classify_protocols; the others come from the
    golden fact `ethertypes_from_fields` (keys "0x88cc"-style EtherTypes or link-level names). The
    values add up to totals.packets (or totals.bytes).
    """
    counts: dict[int | str, int] = {}
    for protocols, entry in golden.get("frames_by_protocols", {}).items():
        key = classify_protocols(protocols)
        if key is None:
            continue
        counts[key] = counts.get(key, 0) + entry[what]
    for raw_key, entry in golden.get("ethertypes_from_fields", {}).items():
        key = _type_key(raw_key)
        counts[key] = counts.get(key, 0) + entry[what]
    return counts


def innermost_ip_protocol_counts(golden: dict[str, Any], what: str = "packets") -> dict[int | str, int]:
    """Frames (or frame bytes) per upper-layer protocol number of the innermost real IP layer.

    From the golden fact `ip_protocols` (see the README): keys are IANA protocol numbers (int); a
    key that stays a string is a layer name tshark showed after IPv6 that neither the name mapping
    nor the next-header fields resolved (or "(none)"). Frames without IP are not counted.
    """
    counts: dict[int | str, int] = {}
    for raw_key, entry in golden.get("ip_protocols", {}).items():
        key: int | str = int(raw_key) if raw_key.isdigit() else raw_key
        counts[key] = counts.get(key, 0) + entry[what]
    return counts
