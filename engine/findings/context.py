"""What every rule reads from a snapshot, computed once per evaluation: contacts seen from the home side
(which device, which remote, bytes up and down), device names, remote names, and the time span.

The rules read the contact log (engine/flows/contacts.py) and the active flows, never the closed flows the
snapshot kept: those depend on the retention policy (a report keeps the largest, the monitor the most
recent), the contact log does not, so the findings are the same under every policy.

Flows are turned around so that each row has a *local device* and a *peer* (the other side), whatever the
direction of the connection. The local device is a device that is not a router: the one with a home
address, client first; in a network without NAT, where devices have public addresses, the device that
started the flow. A flow with no such device (transit, or between routers) has none (-1).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.address_scope import HomeNetwork, address_halves
from engine.analysis import AnalysisSnapshot
from engine.config import Settings
from engine.decode.decoder import TS_MAX, TS_MIN
from engine.findings.model import MAX_REFERENCES, FindingDevice, FindingRemote
from engine.flows.contact_table import ContactTable, contact_table
from engine.labels import Labels
from engine.views.devices import DeviceView, device_views

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class HomeFlows:
    """Contacts seen from the home side, one row per contact key of the contact log (the flows of one client
    to one server, port, protocol and server name, folded together: engine/flows/contacts.py), then one row
    per still-active flow. `flows` counts the flows of a row; the flows themselves (start, end, serial) are
    in `FindingContext.contacts`."""

    first_serial: I64  # serial of the row's first flow
    flows: I64  # flows in the row
    first_ts: F64
    last_ts: F64
    device: I64  # the local device, -1 for none
    local: I64  # address id of the home side
    peer: I64  # address id of the other side
    peer_internet: Mask
    outbound: Mask  # the local side started the flows (it is the client)
    server_port: I64
    client_port: I64  # the lowest
    proto: I64
    label: I64
    bytes_up: I64  # from the local side to the peer
    bytes_down: I64
    packets_up: I64
    packets_down: I64
    payload: I64  # application payload bytes both ways
    server_name: I64  # id into the metadata name table, -1 for none
    bytes: I64  # both ways

    def __len__(self) -> int:
        return int(self.flows.shape[0])


def _empty_flows() -> HomeFlows:
    i = np.zeros(0, dtype=np.int64)
    f = np.zeros(0, dtype=np.float64)
    b = np.zeros(0, dtype=bool)
    return HomeFlows(i, i, f, f, i, i, i, b, b, i, i, i, i, i, i, i, i, i, i, i)


class FindingContext:
    """A snapshot prepared for the rules. Everything is computed on first use and kept."""

    def __init__(
        self,
        snapshot: AnalysisSnapshot,
        settings: Settings,
        *,
        geo: Any = None,
        labels: Labels | None = None,
    ) -> None:
        self.snapshot = snapshot
        self.settings = settings
        self.geo = geo
        self.labels = labels
        self._peer_names: dict[int, str] = {}  # address id -> its best name, else its text

    # ---- time --------------------------------------------------------------------------------------

    @property
    def start_ts(self) -> float | None:
        """The first packet of the analysis."""
        return self.snapshot.totals.first_ts

    @property
    def end_ts(self) -> float | None:
        """The newest packet with a plausible timestamp."""
        return self.snapshot.totals.last_ts

    # ---- devices -----------------------------------------------------------------------------------

    @cached_property
    def devices(self) -> dict[int, DeviceView]:
        return {v.id: v for v in device_views(self.snapshot, self.labels)}

    @cached_property
    def routers(self) -> Mask:
        """Per device id: it forwards internet traffic (the home router)."""
        d = self.snapshot.devices
        if d is None:
            return np.zeros(0, dtype=bool)
        routers: Mask = d.columns["router"].astype(bool)
        return routers

    def is_router(self, device: int) -> bool:
        return 0 <= device < self.routers.shape[0] and bool(self.routers[device])

    def device_ref(self, device: int) -> FindingDevice | None:
        view = self.devices.get(device)
        return None if view is None else FindingDevice(view.key, view.name)

    def device_name(self, device: int) -> str:
        view = self.devices.get(device)
        return view.name if view is not None else f"device {device}"

    # ---- addresses and names -----------------------------------------------------------------------

    def address(self, address_id: int) -> str:
        book = self.snapshot.book
        return book.text(address_id) if book is not None else str(address_id)

    def is_internet(self, address: str) -> bool:
        """Whether an address (text) is outside the home network; False for text that is no address."""
        try:
            hi, lo = address_halves(address)
        except ValueError:
            return False
        home = self.snapshot.home or HomeNetwork()
        return bool(home.is_internet(np.array([hi], dtype=np.uint64), np.array([lo], dtype=np.uint64))[0])

    @cached_property
    def name_table(self) -> list[str]:
        meta = self.snapshot.metadata
        return meta.name_table if meta is not None else []

    def server_name(self, name_id: int) -> str | None:
        table = self.name_table
        return table[name_id] if 0 <= name_id < len(table) else None

    def passive_name(self, address: str) -> str | None:
        """The best name seen for an address (a server name a client asked for, else a DNS answer)."""
        meta = self.snapshot.metadata
        if meta is None:
            return None
        names = meta.remote_names.get(address)
        return names[0].name if names else None

    def dns_names_of(self, address: str) -> list[str]:
        """Every name seen for an address, best first."""
        meta = self.snapshot.metadata
        if meta is None:
            return []
        return [n.name for n in meta.remote_names.get(address, [])]

    # ---- flows -------------------------------------------------------------------------------------

    @cached_property
    def contacts(self) -> ContactTable:
        """Every contact of the analysis: the contact log (all closed flows, whatever the closed-flow
        retention kept) and the active flows; without a log, the flows the snapshot holds."""
        snap = self.snapshot
        if snap.flows is None:
            return contact_table(None)
        active = (snap.flows.active, snap.flows.active_labels)
        if snap.contacts is not None:
            return contact_table(snap.contacts, [active], clock=snap.clock)
        return contact_table(None, [(snap.flows.closed, snap.flows.closed_labels), active], clock=snap.clock)

    @cached_property
    def flows(self) -> HomeFlows:
        snap = self.snapshot
        if snap.flows is None or snap.book is None:
            return _empty_flows()
        c = self.contacts
        if not len(c):
            return _empty_flows()
        client_id, server_id = c.client_id, c.server_id
        client_dev, server_dev = c.client_dev, c.server_dev
        internet = snap.book.internet
        client_inet = internet[client_id]
        server_inet = internet[server_id]
        # the local side: a device (not a router) with a home address, else a device with any address (a
        # network without NAT gives devices public addresses); the client first
        routers = self.routers
        if routers.shape[0]:
            client_ok = (client_dev >= 0) & ~routers[np.clip(client_dev, 0, routers.shape[0] - 1)]
            server_ok = (server_dev >= 0) & ~routers[np.clip(server_dev, 0, routers.shape[0] - 1)]
        else:
            client_ok, server_ok = client_dev >= 0, server_dev >= 0
        server_home = server_ok & ~server_inet
        outbound = (client_ok & ~client_inet) | (client_ok & ~server_home)
        device = np.where(outbound, client_dev, np.where(server_ok, server_dev, -1))
        return HomeFlows(
            first_serial=c.first_serial,
            flows=c.flows,
            first_ts=c.first_ts,
            last_ts=c.last_ts,
            device=device.astype(np.int64),
            local=np.where(outbound, client_id, server_id).astype(np.int64),
            peer=np.where(outbound, server_id, client_id).astype(np.int64),
            peer_internet=np.where(outbound, server_inet, client_inet).astype(bool),
            outbound=outbound.astype(bool),
            server_port=c.server_port,
            client_port=c.client_port,
            proto=c.proto,
            label=c.label,
            bytes_up=np.where(outbound, c.bytes_c2s, c.bytes_s2c).astype(np.int64),
            bytes_down=np.where(outbound, c.bytes_s2c, c.bytes_c2s).astype(np.int64),
            packets_up=np.where(outbound, c.packets_c2s, c.packets_s2c).astype(np.int64),
            packets_down=np.where(outbound, c.packets_s2c, c.packets_c2s).astype(np.int64),
            payload=c.payload,
            server_name=c.server_name,
            bytes=(c.bytes_c2s + c.bytes_s2c).astype(np.int64),
        )

    def device_flows(self) -> Mask:
        """Rows whose local device is a known device that is not the router."""
        f = self.flows
        known = f.device >= 0
        routers = self.routers
        if routers.shape[0]:
            known &= ~routers[np.clip(f.device, 0, routers.shape[0] - 1)]
        return known

    def _peer_name(self, address_id: int) -> str:
        found = self._peer_names.get(address_id)
        if found is None:
            address = self.address(address_id)
            found = self._peer_names[address_id] = self.passive_name(address) or address
        return found

    def endpoints(self, rows: I64) -> tuple[I64, list[str]]:
        """Per row, an endpoint id, and the endpoint names by id: the server name the device asked for,
        else the best passive name of the peer address, else the address (names compared ignoring case),
        so a service behind rotating addresses stays one endpoint."""
        f = self.flows
        ids: dict[str, int] = {}
        spelling: list[str] = []

        def key_of(text: str) -> int:
            lowered = text.lower()
            found = ids.get(lowered)
            if found is None:
                found = ids[lowered] = len(spelling)
                spelling.append(text)
            return found

        sn_ids, sn_inverse = np.unique(f.server_name[rows], return_inverse=True)
        sn_key = np.array(
            [key_of(n) if (n := self.server_name(int(s))) else -1 for s in sn_ids.tolist()], dtype=np.int64
        )
        peer_ids, peer_inverse = np.unique(f.peer[rows], return_inverse=True)
        peer_key = np.array([key_of(self._peer_name(int(p))) for p in peer_ids.tolist()], dtype=np.int64)
        by_name = sn_key[sn_inverse.reshape(-1)]
        endpoint: I64 = np.where(by_name >= 0, by_name, peer_key[peer_inverse.reshape(-1)])
        return endpoint, spelling

    def remote_of(self, members: I64, name: str | None = None) -> tuple[FindingRemote, list[str]]:
        """The remote of a group of flow rows (its address when there is one, else None, and its most used
        server port), and every peer address in the group, most bytes first."""
        f = self.flows
        peers, inverse = np.unique(f.peer[members], return_inverse=True)
        by_bytes = np.bincount(inverse.reshape(-1), weights=f.bytes[members], minlength=peers.shape[0])
        addresses = [self.address(int(peers[i])) for i in np.argsort(-by_bytes, kind="stable").tolist()]
        ports, port_inverse = np.unique(f.server_port[members], return_inverse=True)
        counts = np.bincount(port_inverse.reshape(-1), weights=f.flows[members], minlength=ports.shape[0])
        port = int(ports[np.argmax(counts)]) if ports.size else None
        single = addresses[0] if len(addresses) == 1 else None
        label = name or (self.passive_name(single) if single is not None else None)
        return FindingRemote(single, label, port), addresses

    def dns_names_for(self, addresses: Iterable[str], *first: str) -> list[str]:
        """`first`, then the names seen for these addresses (a few addresses at most)."""
        names = [n for n in first if n]
        for address in list(addresses)[:8]:
            names.extend(self.dns_names_of(address))
        return list(dict.fromkeys(names))

    def flow_count(self, members: I64) -> int:
        """How many flows these rows hold."""
        return int(self.flows.flows[members].sum())

    def recent_serials(self, members: I64, limit: int = MAX_REFERENCES) -> list[int]:
        """Serials of the newest flows of these rows (at most `limit`), newest first."""
        c = self.contacts
        idx = c.event_indices(members)
        if idx.size > limit:
            idx = idx[np.argpartition(-c.event_start[idx], limit - 1)[:limit]]
        idx = idx[np.lexsort((-c.event_serial[idx], -c.event_start[idx]))]
        return [int(s) for s in c.event_serial[idx].tolist()]

    def first_serials(self, members: I64, limit: int = MAX_REFERENCES) -> list[int]:
        """Serials of the first flows of these rows (at most `limit`), oldest first: each row's first flow,
        and the flows its ring still holds."""
        c = self.contacts
        idx = c.event_indices(members)
        starts = np.concatenate([c.first_ts[members], c.event_start[idx]])
        serials = np.concatenate([c.first_serial[members], c.event_serial[idx]])
        order = np.lexsort((serials, starts))
        chosen = list(dict.fromkeys(int(s) for s in serials[order].tolist()))
        return chosen[:limit]

    def event_rows(self, rows: I64) -> tuple[I64, I64]:
        """The kept flows of these rows: indices into the contact table's event arrays, and for each the
        position in `rows` of its row."""
        c = self.contacts
        idx = c.event_indices(rows)
        counts = c.event_offsets[rows + 1] - c.event_offsets[rows]
        return idx, np.repeat(np.arange(rows.shape[0], dtype=np.int64), counts)


def plausible(ts: npt.ArrayLike) -> Mask:
    """Per timestamp: inside 1970..2106 (the range the capture readers accept as a real clock)."""
    t = np.asarray(ts, dtype=np.float64)
    result: Mask = (t >= TS_MIN) & (t < TS_MAX)
    return result


def is_plausible(ts: float | None) -> bool:
    return ts is not None and TS_MIN <= ts < TS_MAX


def bins_of(times: Iterable[float], resolution: int) -> list[float]:
    """The start times of the bins `resolution` seconds wide that hold these times."""
    return sorted({float(int(t // resolution) * resolution) for t in times if TS_MIN <= t < TS_MAX})
