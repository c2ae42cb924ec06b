"""Linux NFLOG frames: a 4-byte header and a list of attributes, one of which holds the IP packet.

The attribute list has variable-length entries, so it is walked per packet in Python; NFLOG captures are
small (they are written by an iptables/nftables log rule), so this costs little.
"""

from __future__ import annotations

import struct

import numpy as np

from engine.decode.columns import DecodeState, Rows
from engine.decode.malformed import Malformed
from engine.decode.packets import ETH_IPV4, ETH_IPV6, LinkClass

_PAYLOAD = 9  # NFULA_PAYLOAD
_FAMILY_TO_ETHERTYPE = {2: ETH_IPV4, 10: ETH_IPV6}


def _payload_offset(data: bytes, start: int, end: int) -> tuple[int, int] | None:
    """(offset of the logged packet, its family) or None when the attribute list is damaged."""
    if end - start < 4:
        return None
    family = data[start]
    pos = start + 4
    # attribute lengths and types are in the host byte order of the logging machine: try both
    for order in ("<HH", ">HH"):
        p = pos
        while p + 4 <= end:
            length, kind = struct.unpack_from(order, data, p)
            if length < 4:
                break
            if kind & 0x7FFF == _PAYLOAD:
                # the logged packet may run past the captured bytes (snap length): the network decoder
                # judges what is there
                return p + 4, family
            if p + length > end:
                break
            p += (length + 3) & ~3
    return None


def decode_nflog(st: DecodeState, rows: Rows) -> None:
    idx = np.arange(st.n)[rows] if isinstance(rows, slice) else rows
    data = st.batch.data
    ethertype = np.zeros(idx.shape[0], dtype=np.uint16)
    l3 = np.full(idx.shape[0], -1, dtype=np.int64)
    bad = np.zeros(idx.shape[0], dtype=bool)
    for i, row in enumerate(idx.tolist()):
        found = _payload_offset(data, int(st.start[row]), int(st.end[row]))
        if found is None:
            bad[i] = True
            continue
        offset, family = found
        ethertype[i] = _FAMILY_TO_ETHERTYPE.get(family, 0)
        l3[i] = offset
    st.flag(idx, bad, Malformed.NFLOG_BAD_TLV)
    st.ethertype[idx] = ethertype
    st.l3[idx] = np.where(ethertype != 0, l3, -1)
    st.link_class[idx] = np.where(
        bad, LinkClass.MALFORMED, np.where(ethertype != 0, 0, LinkClass.NO_NETWORK_LAYER)
    )
