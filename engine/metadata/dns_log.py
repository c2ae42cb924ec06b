"""The DNS log: every query and response (DNS over UDP and TCP; mDNS and LLMNR marked apart), queries
matched with their responses for the answer and the latency, per-name statistics, and which resolver
each device uses."""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field, replace
from functools import lru_cache

from engine.protocols.dns import DnsMessage
from engine.protocols.dns_names import name_labels
from engine.protocols.dns_records import MxData, RawData, SoaData, SrvData, SvcbData, rcode_name, type_name

LOG_LIMIT = 50_000  # entries kept in the log (the statistics keep counting past it)
PENDING_LIMIT = 20_000  # queries waiting for their response
MAX_DEVICES_PER_NAME = 64
MAX_ANSWERS_PER_NAME = 32


@dataclass(slots=True)
class DnsEntry:
    """One lookup: a query and, once seen, its response."""

    ts: float
    kind: str  # dns, mdns, llmnr
    transport: str  # udp, tcp
    client_device: int
    client: str
    server: str
    name: str
    qtype: int
    query_seen: bool
    rcode: int | None = None
    answers: tuple[str, ...] = ()  # "A 93.184.216.34", "CNAME example.net", ...
    latency: float | None = None

    @property
    def qtype_name(self) -> str:
        return type_name(self.qtype)

    @property
    def rcode_name(self) -> str | None:
        return None if self.rcode is None else rcode_name(self.rcode)

    def copy(self) -> DnsEntry:
        return replace(self)


@dataclass(slots=True)
class NameStats:
    """Everything asked about one (name, type)."""

    name: str
    qtype: int
    kind: str
    queries: int = 0
    responses: int = 0
    devices: set[int] = field(default_factory=set)
    rcodes: dict[int, int] = field(default_factory=dict)
    answers: dict[str, None] = field(default_factory=dict)
    first_ts: float = 0.0
    last_ts: float = 0.0

    def copy(self) -> NameStats:
        return replace(self, devices=set(self.devices), rcodes=dict(self.rcodes), answers=dict(self.answers))


@dataclass(slots=True)
class ResolverUse:
    """How often a device asked one resolver."""

    device: int
    client: str
    server: str
    queries: int = 0
    first_ts: float = 0.0
    last_ts: float = 0.0

    def copy(self) -> ResolverUse:
        return replace(self)


@dataclass(frozen=True, slots=True)
class DnsSnapshot:
    entries: list[DnsEntry]  # oldest first
    total_entries: int  # entries ever logged (the log keeps the newest LOG_LIMIT)
    names: list[NameStats]
    resolvers: list[ResolverUse]
    malformed: dict[str, int]


@lru_cache(maxsize=8192)
def readable_name(name: str) -> str:
    """A DNS name for people: escaped UTF-8 (mDNS instance names like "Luca’s iMac") decoded back."""
    if "\\" not in name:
        return name
    try:
        labels = name_labels(name)
    except ValueError:
        return name
    return ".".join(label.decode("utf-8", "backslashreplace").replace(".", "\\.") for label in labels)


def answer_text(record_type: int, value: object) -> str:
    """A record's type and data in presentation form: "A 93.184.216.34", "MX 10 mail.example.com"."""
    if isinstance(value, SvcbData):
        parts = [f"{value.priority} {value.target}"]
        if value.alpn:
            parts.append("alpn=" + ",".join(value.alpn))
        return f"{type_name(record_type)} " + " ".join(parts)
    if isinstance(value, tuple):
        value = " ".join(str(v) for v in value)
    elif isinstance(value, MxData):
        value = f"{value.preference} {value.exchange}"
    elif isinstance(value, SrvData):
        value = f"{value.priority} {value.weight} {value.port} {value.target}"
    elif isinstance(value, SoaData):
        value = (
            f"{value.mname} {value.rname} {value.serial} {value.refresh} {value.retry} {value.expire} "
            f"{value.minimum}"
        )
    elif isinstance(value, RawData):
        value = f"\\# {len(value.hex) // 2} {value.hex}".rstrip()  # RFC 3597 for unknown types
    return f"{type_name(record_type)} {value}"


class DnsLog:
    def __init__(self, limit: int = LOG_LIMIT) -> None:
        self.entries: deque[DnsEntry] = deque(maxlen=limit)
        self.total_entries = 0
        self._pending: OrderedDict[tuple[object, ...], DnsEntry] = OrderedDict()
        self._names: dict[tuple[str, int, str], NameStats] = {}
        self._resolvers: dict[tuple[int, str, str], ResolverUse] = {}
        self.malformed: dict[str, int] = {}

    def count_malformed(self, reason: str) -> None:
        self.malformed[reason] = self.malformed.get(reason, 0) + 1

    def add(
        self,
        msg: DnsMessage,
        *,
        ts: float,
        kind: str,
        transport: str,
        src: str,
        sport: int,
        dst: str,
        dport: int,
        src_device: int,
        dst_device: int,
    ) -> None:
        if kind != "dns":
            # multicast name resolution has no client and server: the sender is the one that speaks
            client, client_port, server, device = src, sport, dst, src_device
        elif msg.is_response:
            client, client_port, server, device = dst, dport, src, dst_device
        else:
            client, client_port, server, device = src, sport, dst, src_device
        questions = msg.questions or ()
        answers = tuple(answer_text(r.rtype, r.value) for r in msg.answers if r.rtype != 41)
        if kind == "mdns" and msg.is_response and not questions:
            # an mDNS announcement answers no question: log each record name once
            groups: dict[str, tuple[int, list[str]]] = {}
            for record, text in zip((r for r in msg.answers if r.rtype != 41), answers, strict=True):
                groups.setdefault(record.name, (record.rtype, []))[1].append(text)
            for raw, (rtype, texts) in groups.items():
                name = readable_name(raw)
                mine = tuple(texts)
                entry = DnsEntry(
                    ts, kind, transport, device, client, server, name, rtype, False, msg.rcode, mine
                )
                self._log(entry)
                self._stats(name, rtype, kind, ts, device, msg.rcode, mine, response=True)
            return
        for q in questions:
            qname = readable_name(q.name)
            key = (client, client_port, server, msg.id, qname.lower(), q.qtype)
            if not msg.is_response:
                entry = DnsEntry(ts, kind, transport, device, client, server, qname, q.qtype, True)
                self._log(entry)
                if kind == "dns":
                    self._pending[key] = entry
                    if len(self._pending) > PENDING_LIMIT:
                        self._pending.popitem(last=False)
                    self._resolver(device, client, server, ts)
                self._stats(qname, q.qtype, kind, ts, device, None, (), response=False)
                continue
            pending = self._pending.pop(key, None) if kind == "dns" else None
            if pending is not None:
                pending.rcode = msg.rcode
                pending.answers = answers
                pending.latency = max(ts - pending.ts, 0.0)
            else:  # the query was not captured (or is multicast): the response stands alone
                entry = DnsEntry(
                    ts, kind, transport, device, client, server, qname, q.qtype, False, msg.rcode
                )
                entry.answers = answers
                self._log(entry)
            self._stats(qname, q.qtype, kind, ts, device, msg.rcode, answers, response=True)

    def _log(self, entry: DnsEntry) -> None:
        self.entries.append(entry)
        self.total_entries += 1

    def _resolver(self, device: int, client: str, server: str, ts: float) -> None:
        key = (device, client, server)
        use = self._resolvers.get(key)
        if use is None:
            use = self._resolvers[key] = ResolverUse(device, client, server, first_ts=ts)
        use.queries += 1
        use.last_ts = ts

    def _stats(
        self,
        name: str,
        qtype: int,
        kind: str,
        ts: float,
        device: int,
        rcode: int | None,
        answers: tuple[str, ...],
        *,
        response: bool,
    ) -> None:
        key = (name.lower(), qtype, kind)
        st = self._names.get(key)
        if st is None:
            st = self._names[key] = NameStats(name, qtype, kind, first_ts=ts, last_ts=ts)
        if response:
            st.responses += 1
        else:
            st.queries += 1
        if device >= 0 and len(st.devices) < MAX_DEVICES_PER_NAME:
            st.devices.add(device)
        if rcode is not None:
            st.rcodes[rcode] = st.rcodes.get(rcode, 0) + 1
        for a in answers:
            if len(st.answers) >= MAX_ANSWERS_PER_NAME:
                break
            st.answers[a] = None
        st.first_ts = min(st.first_ts, ts)
        st.last_ts = max(st.last_ts, ts)

    def snapshot(self, last: int | None = None) -> DnsSnapshot:
        entries = list(self.entries) if last is None else list(self.entries)[-last:]
        return DnsSnapshot(
            entries=[e.copy() for e in entries],
            total_entries=self.total_entries,
            names=[s.copy() for s in self._names.values()],
            resolvers=[r.copy() for r in self._resolvers.values()],
            malformed=dict(self.malformed),
        )
