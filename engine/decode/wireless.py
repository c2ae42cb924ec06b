"""802.11 frames, with or without a radiotap header: data frames through LLC/SNAP to their EtherType;
management, control, null-data and protected frames are classified at the link layer."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.decode.columns import DecodeState, Rows
from engine.decode.link_layer import set_network
from engine.decode.malformed import Malformed
from engine.decode.packets import LinkClass

I64 = npt.NDArray[np.int64]
_SHIFT = np.uint64(16)


def decode_radiotap(st: DecodeState, rows: Rows) -> None:
    start, end = st.start[rows], st.end[rows]
    v = st.v
    ok = end - start >= 8
    rtlen = v.le16_at(start + 2, ok).astype(np.int64)
    ok &= (rtlen >= 8) & (start + rtlen <= end)
    st.flag(rows, ~ok, Malformed.RADIOTAP_BAD_LENGTH)
    # Flags (present bit 1) tell whether the frame ends with its 4-byte FCS. The flags byte follows the
    # presence words and the 8-byte, 8-aligned TSFT field when that one is present.
    present = v.le32_at(start + 4, ok)
    words = np.ones(present.shape[0], dtype=np.int64)
    last = present
    for _ in range(8):
        more = ok & ((last >> np.uint32(31)) & 1).astype(bool)
        if not more.any():
            break
        pos = start + 4 + 4 * words
        more &= pos + 4 <= start + rtlen
        last = np.where(more, v.le32_at(pos, more), 0)
        words = words + more
    fields = 4 + 4 * words
    has_tsft = (present & 1).astype(bool)
    tsft_at = (fields + 7) // 8 * 8
    flags_at = np.where(has_tsft, tsft_at + 8, fields)
    has_flags = ok & ((present >> np.uint32(1)) & 1).astype(bool) & (flags_at < rtlen)
    flags = v.u8_at(start + flags_at, has_flags)
    fcs = has_flags & ((flags & 0x10) != 0)
    frame_end = np.where(fcs, end - 4, end)
    st.link_class[rows] = np.where(ok, st.link_class[rows], LinkClass.MALFORMED)
    decode_80211_at(st, rows, np.where(ok, start + rtlen, -1), frame_end)


def decode_80211(st: DecodeState, rows: Rows) -> None:
    decode_80211_at(st, rows, st.start[rows].copy(), st.end[rows])


def decode_80211_at(st: DecodeState, rows: Rows, pos: I64, frame_end: I64) -> None:
    v = st.v
    idx = np.arange(st.n)[rows] if isinstance(rows, slice) else rows
    live = pos >= 0
    has_fc = live & (pos + 2 <= frame_end)
    fc = v.be16_at(pos, has_fc)
    fc0 = (fc >> 8).astype(np.uint8)
    fc1 = (fc & 0xFF).astype(np.uint8)
    ftype = (fc0 >> 2) & 3
    subtype = fc0 >> 4
    to_ds = (fc1 & 1).astype(bool)
    from_ds = (fc1 & 2).astype(bool)
    klass = np.full(idx.shape[0], LinkClass.WLAN_OTHER, dtype=np.uint8)
    klass[ftype == 0] = LinkClass.WLAN_MANAGEMENT
    klass[ftype == 1] = LinkClass.WLAN_CONTROL
    is_data = ftype == 2
    four = to_ds & from_ds
    qos = (subtype & 8) != 0
    order = (fc1 & 0x80) != 0
    header = 24 + 6 * four + 2 * (is_data & qos) + 4 * (is_data & qos & order)
    has_addrs = has_fc & (ftype != 1) & (pos + 24 + 6 * four <= frame_end)
    short = live & ~has_fc | (has_fc & (ftype != 1) & ~has_addrs)
    st.flag(idx, short, Malformed.WLAN_TRUNCATED)
    klass[short | ~live] = LinkClass.MALFORMED
    a1 = v.be64_at(pos + 4, has_addrs) >> _SHIFT
    a2 = v.be64_at(pos + 10, has_addrs) >> _SHIFT
    a3 = v.be64_at(pos + 16, has_addrs) >> _SHIFT
    a4 = v.be64_at(pos + 24, has_addrs & four) >> _SHIFT
    # Source and destination by the DS bits (management frames: DA = addr1, SA = addr2)
    data_addrs = has_addrs & is_data
    da = np.where(data_addrs & to_ds, a3, a1)
    sa = np.where(data_addrs & from_ds, np.where(to_ds, a4, a3), a2)
    with_macs = has_addrs & ((ftype == 0) | is_data)
    st.src_mac[idx] = np.where(with_macs, sa, 0)
    st.dst_mac[idx] = np.where(with_macs, da, 0)
    st.has_src_mac[idx] = with_macs
    st.has_dst_mac[idx] = with_macs
    null = is_data & ((subtype & 4) != 0)
    protected = is_data & ~null & ((fc1 & 0x40) != 0)
    klass[has_addrs & null] = LinkClass.WLAN_NULL_DATA
    klass[has_addrs & protected] = LinkClass.WLAN_PROTECTED
    plain = has_addrs & is_data & ~null & ~protected
    llc_at = pos + header
    snap = plain & (llc_at + 8 <= frame_end)
    head = v.be32_at(llc_at, snap) >> np.uint32(8)
    snap &= head == 0xAAAA03
    klass[plain & ~snap] = LinkClass.LLC
    klass[snap] = LinkClass.NETWORK
    ethertype = v.be16_at(llc_at + 6, snap)
    st.link_class[idx] = np.maximum(st.link_class[idx], klass)
    sel = np.flatnonzero(snap)
    if sel.size:
        set_network(st, idx[sel], ethertype[sel], (llc_at + 8)[sel])
