"""Bidirectional flows: every IP packet belongs to the flow of its 5-tuple (protocols without ports,
such as ICMP, and later fragments: the address pair and protocol).

A flow's key is canonical (endpoint A is the smaller of (address, port)), so both directions land in one
flow; `direction` says which way a packet went. Flows live in numpy columns indexed by interned ids.
Flows idle for longer than their timeout (by packet time) are closed and handed to the sinks, and the
table is compacted, so memory follows the number of active flows, not the length of the capture.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.aggregate.address_book import AddressBook, PacketAddresses
from engine.aggregate.column_table import ColumnTable
from engine.aggregate.interning import KeyInterner
from engine.decode.packets import Fragment, Packets
from engine.decode.transport import SCTP, TCP, UDP, UDPLITE

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
U8 = npt.NDArray[np.uint8]

TCP_FIN, TCP_SYN, TCP_RST, TCP_ACK = 0x01, 0x02, 0x04, 0x10
_PORTED = np.zeros(256, dtype=bool)  # IP protocols whose flows are keyed by ports
_PORTED[[TCP, UDP, SCTP, UDPLITE]] = True


@dataclass(frozen=True, slots=True)
class FlowTimeouts:
    """Idle time (packet clock, seconds) after which a flow is closed."""

    tcp_closed: float = 10.0  # after FIN from both sides or a reset
    tcp: float = 300.0
    udp: float = 120.0
    other: float = 60.0
    check_every: float = 30.0  # how often (packet clock) idle flows are looked for


FLOW_COLUMNS: dict[str, tuple[Any, Any]] = {
    "serial": (np.int64, -1),  # stable number of the flow; ids change when the table is compacted
    "first_ts": (np.float64, np.inf),
    "last_ts": (np.float64, -np.inf),
    "packets_ab": (np.int64, 0),
    "bytes_ab": (np.int64, 0),
    "packets_ba": (np.int64, 0),
    "bytes_ba": (np.int64, 0),
    "payload_ab": (np.int64, 0),  # captured application payload bytes
    "payload_ba": (np.int64, 0),
    "flags_ab": (np.uint8, 0),  # TCP flags seen, OR-ed
    "flags_ba": (np.uint8, 0),
    "client": (np.int8, -1),  # 0: endpoint A is the client, 1: endpoint B
    "label": (np.uint16, 0),  # engine.classify.protocol_labels.Label
    "label_source": (np.uint8, 0),  # 0 none yet, 1 port table, 2 payload
    "inspected": (np.uint8, 0),  # payload packets looked at for a signature so far
    "dev_a": (np.int64, -1),  # device id of endpoint A, -1 when it is not a known device
    "dev_b": (np.int64, -1),
    "server_name": (np.int32, -1),  # id of the name the client asked for (SNI, QUIC SNI, HTTP Host)
    "hello_state": (np.uint8, 0),  # client packets sent to the inspector for a hello (see row_selection)
    "client_isn": (np.int64, -1),  # the client SYN's sequence number: places segments arriving out of order
}


@dataclass(frozen=True, slots=True)
class FlowAssignment:
    """Which flow each packet of a batch belongs to: `flow` (-1 for non-IP packets) is valid for this
    batch only; `from_a` is True when the packet went from endpoint A to endpoint B."""

    flow: I64
    from_a: npt.NDArray[np.bool_]
    new_flows: I64  # ids of the flows created by this batch

    def from_client(self, client: npt.NDArray[np.int8]) -> npt.NDArray[np.bool_]:
        """Per packet: sent by its flow's client (client column: 0 = A, 1 = B)."""
        c = client[np.maximum(self.flow, 0)]
        result: npt.NDArray[np.bool_] = np.where(c == 1, ~self.from_a, self.from_a) & (self.flow >= 0)
        return result


@dataclass(frozen=True, slots=True)
class FlowRecords:
    """A set of flows as columns: endpoint addresses (as address-book ids and as (hi, lo) halves), ports,
    protocol, and FLOW_COLUMNS."""

    a_id: I64
    b_id: I64
    a_hi: U64
    a_lo: U64
    b_hi: U64
    b_lo: U64
    port_a: npt.NDArray[np.uint16]
    port_b: npt.NDArray[np.uint16]
    proto: U8
    columns: dict[str, npt.NDArray[Any]]

    def __len__(self) -> int:
        return int(self.a_hi.shape[0])

    @staticmethod
    def concat(parts: list[FlowRecords]) -> FlowRecords:
        if not parts:
            return _empty_records()
        return FlowRecords(
            a_id=np.concatenate([p.a_id for p in parts]),
            b_id=np.concatenate([p.b_id for p in parts]),
            a_hi=np.concatenate([p.a_hi for p in parts]),
            a_lo=np.concatenate([p.a_lo for p in parts]),
            b_hi=np.concatenate([p.b_hi for p in parts]),
            b_lo=np.concatenate([p.b_lo for p in parts]),
            port_a=np.concatenate([p.port_a for p in parts]),
            port_b=np.concatenate([p.port_b for p in parts]),
            proto=np.concatenate([p.proto for p in parts]),
            columns={k: np.concatenate([p.columns[k] for p in parts]) for k in FLOW_COLUMNS},
        )


def _empty_records() -> FlowRecords:
    return FlowRecords(
        a_id=np.zeros(0, np.int64),
        b_id=np.zeros(0, np.int64),
        a_hi=np.zeros(0, np.uint64),
        a_lo=np.zeros(0, np.uint64),
        b_hi=np.zeros(0, np.uint64),
        b_lo=np.zeros(0, np.uint64),
        port_a=np.zeros(0, np.uint16),
        port_b=np.zeros(0, np.uint16),
        proto=np.zeros(0, np.uint8),
        columns={k: np.zeros(0, dtype=dt) for k, (dt, _f) in FLOW_COLUMNS.items()},
    )


class FlowTable:
    """The active flows. `ingest` assigns packets to flows; closed flows go to `on_close` callbacks."""

    def __init__(self, book: AddressBook, timeouts: FlowTimeouts | None = None) -> None:
        self.book = book
        self.timeouts = timeouts or FlowTimeouts()
        self._keys = KeyInterner(3)  # (address id of A, address id of B, ports and protocol)
        self.cols = ColumnTable(FLOW_COLUMNS)
        self._serials = itertools.count()
        self._now = -np.inf
        self._next_check = -np.inf
        self.on_close: list[Callable[[FlowRecords], None]] = []
        self.closed_count = 0

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def now(self) -> float:
        """The packet clock: the latest timestamp seen."""
        return float(self._now)

    def ingest(self, p: Packets, addrs: PacketAddresses) -> FlowAssignment:
        n = len(p)
        flow = np.full(n, -1, dtype=np.int64)
        from_a = np.zeros(n, dtype=bool)
        # Close idle flows first, by the clock as it stood before this batch: the ids handed out below
        # then stay valid until the next call.
        if self._now >= self._next_check:
            self._next_check = self._now + self.timeouts.check_every
            self.expire(self._now)
        rows = np.flatnonzero(addrs.src >= 0)
        if not rows.size:
            return FlowAssignment(flow, from_a, np.zeros(0, dtype=np.int64))
        proto = p.ip_proto[rows]
        ported = _PORTED[proto] & (p.fragment[rows] != Fragment.LATER)
        sport = np.where(ported, p.sport[rows], 0).astype(np.uint64)
        dport = np.where(ported, p.dport[rows], 0).astype(np.uint64)
        s_id = addrs.src[rows].astype(np.uint64)
        d_id = addrs.dst[rows].astype(np.uint64)
        # endpoint A is the smaller (address id, port): both directions get the same key
        src_first = (s_id < d_id) | ((s_id == d_id) & (sport <= dport))
        a_id = np.where(src_first, s_id, d_id)
        b_id = np.where(src_first, d_id, s_id)
        pa = np.where(src_first, sport, dport)
        pb = np.where(src_first, dport, sport)
        packed = ((pa << np.uint64(32)) | (pb << np.uint64(16)) | proto.astype(np.uint64)).astype(np.uint64)
        before = len(self._keys)
        ids = self._keys.intern(a_id, b_id, packed)
        size = len(self._keys)
        self.cols.ensure(size)
        new_flows = np.arange(before, size, dtype=np.int64)
        if new_flows.size:
            self.cols["serial"][before:size] = np.fromiter(
                itertools.islice(self._serials, new_flows.size), dtype=np.int64, count=new_flows.size
            )
        flow[rows] = ids
        from_a[rows] = src_first
        self._accumulate(p, rows, ids, src_first)
        if new_flows.size:
            self._set_clients(p, rows, ids, src_first, before)
        self._note_syns(p, rows, ids)
        ts = p.ts[rows]
        finite = ts[np.isfinite(ts)]
        if finite.size:
            self._now = max(self._now, float(finite.max()))
        return FlowAssignment(flow, from_a, new_flows)

    def _accumulate(self, p: Packets, rows: I64, ids: I64, src_first: npt.NDArray[np.bool_]) -> None:
        c = self.cols
        wl = p.wirelen[rows]
        ts = p.ts[rows]
        finite = np.isfinite(ts)
        np.minimum.at(c["first_ts"], ids, np.where(finite, ts, np.inf))
        np.maximum.at(c["last_ts"], ids, np.where(finite, ts, -np.inf))
        payload = p.payload_len[rows]
        flags = p.tcp_flags[rows]
        for sel, side in ((src_first, "ab"), (~src_first, "ba")):
            f = ids[sel]
            np.add.at(c[f"packets_{side}"], f, 1)
            np.add.at(c[f"bytes_{side}"], f, wl[sel])
            np.add.at(c[f"payload_{side}"], f, payload[sel])
            np.bitwise_or.at(c[f"flags_{side}"], f, flags[sel])

    def _note_syns(self, p: Packets, rows: I64, ids: I64) -> None:
        """Remember the initial sequence number of each SYN (without ACK): the client's."""
        flags = p.tcp_flags[rows]
        syn = (
            (p.ip_proto[rows] == TCP)
            & ((flags & TCP_SYN) != 0)
            & ((flags & TCP_ACK) == 0)
            & (p.l4[rows] >= 0)
        )
        if not syn.any():
            return
        at = p.l4[rows][syn] + 4
        data = np.frombuffer(p.data, dtype=np.uint8)
        seq = np.zeros(at.shape[0], dtype=np.int64)
        for k in range(4):
            seq = (seq << 8) | data[at + k].astype(np.int64)
        self.cols["client_isn"][ids[syn]] = seq

    def _set_clients(
        self, p: Packets, rows: I64, ids: I64, src_first: npt.NDArray[np.bool_], before: int
    ) -> None:
        """Decide which endpoint started each new flow, from its first packet in this batch."""
        is_new = ids >= before
        r = rows[is_new]
        fid = ids[is_new]
        # the first packet of each new flow (rows are in capture order)
        _, first_idx = np.unique(fid, return_index=True)
        fr = r[first_idx]
        ff = fid[first_idx]
        sent_by_a = src_first[is_new][first_idx]
        flags = p.tcp_flags[fr]
        tcp = p.ip_proto[fr] == TCP
        syn = tcp & ((flags & TCP_SYN) != 0)
        ack = (flags & TCP_ACK) != 0
        sport, dport = p.sport[fr], p.dport[fr]
        # A SYN comes from the client and a SYN-ACK from the server. Without the handshake in view, the
        # endpoint with the higher (ephemeral) port is the client; on equal ports, the first sender.
        sender_is_client = np.where(syn, ~ack, sport >= dport)
        client_is_a = sender_is_client == sent_by_a
        self.cols["client"][ff] = np.where(client_is_a, 0, 1).astype(np.int8)

    def set_devices(self, assignment: FlowAssignment, src_device: I64, dst_device: I64) -> None:
        """Record which devices each flow's endpoints are, from the packets of a batch."""
        rows = np.flatnonzero(assignment.flow >= 0)
        if not rows.size:
            return
        f = assignment.flow[rows]
        a_side = assignment.from_a[rows]
        dev_a = np.where(a_side, src_device[rows], dst_device[rows])
        dev_b = np.where(a_side, dst_device[rows], src_device[rows])
        c = self.cols
        for col, dev in (("dev_a", dev_a), ("dev_b", dev_b)):
            known = dev >= 0
            unset = known & (c[col][f] < 0)
            c[col][f[unset]] = dev[unset]

    def records(self, ids: I64 | None = None) -> FlowRecords:
        """The given flows (default: all active flows) as records."""
        size = len(self._keys)
        if ids is None:
            ids = np.arange(size, dtype=np.int64)
        keys = self._keys.keys[ids]
        a_id = keys[:, 0].astype(np.int64)
        b_id = keys[:, 1].astype(np.int64)
        packed = keys[:, 2]
        hi, lo = self.book.hi, self.book.lo
        return FlowRecords(
            a_id=a_id,
            b_id=b_id,
            a_hi=hi[a_id],
            a_lo=lo[a_id],
            b_hi=hi[b_id],
            b_lo=lo[b_id],
            port_a=((packed >> np.uint64(32)) & np.uint64(0xFFFF)).astype(np.uint16),
            port_b=((packed >> np.uint64(16)) & np.uint64(0xFFFF)).astype(np.uint16),
            proto=(packed & np.uint64(0xFF)).astype(np.uint8),
            columns=self.cols.rows(size, ids),
        )

    def expire(self, now: float, everything: bool = False) -> int:
        """Close flows idle past their timeout (or all flows); returns how many were closed."""
        size = len(self._keys)
        if not size:
            return 0
        c = self.cols
        if everything:
            closing = np.ones(size, dtype=bool)
        else:
            proto = (self._keys.column(2) & np.uint64(0xFF)).astype(np.uint8)
            flags = c["flags_ab"][:size] | c["flags_ba"][:size]
            both_fin = ((c["flags_ab"][:size] & TCP_FIN) != 0) & ((c["flags_ba"][:size] & TCP_FIN) != 0)
            finished = (proto == TCP) & (both_fin | ((flags & TCP_RST) != 0))
            t = self.timeouts
            timeout = np.where(
                proto == TCP,
                np.where(finished, t.tcp_closed, t.tcp),
                np.where((proto == UDP) | (proto == UDPLITE), t.udp, t.other),
            )
            closing = (now - c["last_ts"][:size]) > timeout
        count = int(closing.sum())
        if not count:
            return 0
        closed = self.records(np.flatnonzero(closing))
        for sink in self.on_close:
            sink(closed)
        self.closed_count += count
        new_of_old = self._keys.compact(~closing)
        c.compact(new_of_old)
        return count


def tcp_state(flags_client: npt.NDArray[np.uint8], flags_server: npt.NDArray[np.uint8]) -> list[str]:
    """A short TCP state per flow from the flags each side sent."""
    out = []
    for fc, fs in zip(flags_client.tolist(), flags_server.tolist(), strict=True):
        if (fc | fs) & TCP_RST:
            out.append("reset")
        elif fc & TCP_FIN and fs & TCP_FIN:
            out.append("closed")
        elif (fc | fs) & TCP_FIN:
            out.append("closing")
        elif fc & TCP_SYN and fs & TCP_SYN:
            out.append("established")
        elif fc & TCP_SYN:
            out.append("syn-sent")
        else:
            out.append("established (joined late)")
    return out
