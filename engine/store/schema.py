"""The history store's tables, and the migrations that bring an older database up to date.

Times are epoch seconds (DOUBLE), as in the engine, so an analysis reads back exactly. Every row of
measured data names its `sensor` (the machine that captured) and `run_id` (one recording: an analysis
from start to stop). Counters are kept per run and per hour of capture time (`bin_start`), so a stored
analysis of any time range is a sum over bins, and a resumed run adds to its predecessor without
counting anything twice. docs/history-store.md describes every table.

The schema version lives in `meta`. `MIGRATIONS[i]` turns version `i` into version `i + 1`; version 0 is
an empty database. A database newer than `SCHEMA_VERSION` is refused: an older homescope must not write
into tables it does not know.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import duckdb

COUNTER_BIN = 3600  # seconds of capture time per counter bin
TIMELINE_RESOLUTIONS = (60, 900, 3600)  # timeline resolutions kept (the 1 s ring stays in memory only)

_RUN = "sensor VARCHAR NOT NULL, run_id INTEGER NOT NULL"
_FLOW_COLUMNS = f"""
    {_RUN},
    seq BIGINT NOT NULL,            -- order in which the run closed its flows
    serial BIGINT NOT NULL,         -- the flow's serial number within its run
    first_ts DOUBLE, last_ts DOUBLE,
    a_address INTEGER NOT NULL, b_address INTEGER NOT NULL,  -- addresses.address_id
    port_a USMALLINT, port_b USMALLINT, proto UTINYINT,
    client TINYINT,                 -- 0: endpoint A is the client, 1: endpoint B, -1: unknown
    label USMALLINT,                -- engine.classify.protocol_labels.Label, resolved
    server_name VARCHAR,            -- TLS/QUIC SNI or HTTP Host the client asked for
    dev_a INTEGER, dev_b INTEGER,   -- devices.device_id, -1 when not a device
    packets_ab BIGINT, bytes_ab BIGINT, packets_ba BIGINT, bytes_ba BIGINT,
    payload_ab BIGINT, payload_ba BIGINT, flags_ab UTINYINT, flags_ba UTINYINT
"""
_ENDPOINT = "tx_packets BIGINT, tx_bytes BIGINT, rx_packets BIGINT, rx_bytes BIGINT"
_META = f"{_RUN}, key VARCHAR NOT NULL, ordinal INTEGER NOT NULL"

VERSION_1: tuple[str, ...] = (
    "CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    f"""CREATE TABLE runs (
        {_RUN}, started DOUBLE, updated DOUBLE, mode VARCHAR, depth VARCHAR, engine_version VARCHAR,
        flushes BIGINT, clock DOUBLE, finished BOOLEAN, dns_lost BIGINT, cgnat_is_local BOOLEAN)""",
    """CREATE TABLE sources (
        sensor VARCHAR NOT NULL, path VARCHAR NOT NULL, device UBIGINT, inode UBIGINT,
        head_size BIGINT, head_hash VARCHAR, end_offset BIGINT, packets BIGINT, bytes BIGINT,
        captured_bytes BIGINT, format VARCHAR, size BIGINT, first_ts DOUBLE, last_ts DOUBLE,
        complete BOOLEAN, run_id INTEGER, updated DOUBLE, linktypes VARCHAR, problems VARCHAR)""",
    "CREATE TABLE addresses (address_id INTEGER NOT NULL, hi UBIGINT, lo UBIGINT, address VARCHAR)",
    """CREATE TABLE devices (
        device_id INTEGER NOT NULL, sensor VARCHAR NOT NULL, kind UTINYINT, key_hi UBIGINT,
        key_lo UBIGINT, key VARCHAR, mac VARCHAR, hostname VARCHAR,
        first_ts DOUBLE, last_ts DOUBLE)""",
    f"CREATE TABLE home_prefixes ({_RUN}, prefix VARCHAR, source VARCHAR)",
    f"CREATE TABLE flows ({_FLOW_COLUMNS})",
    f"CREATE TABLE open_flows ({_FLOW_COLUMNS})",
    f"""CREATE TABLE traffic_bins (
        {_RUN}, bin_start DOUBLE NOT NULL, first_ts DOUBLE, last_ts DOUBLE, packets BIGINT, bytes BIGINT,
        captured_bytes BIGINT, untimed_packets BIGINT, snaplen_cut_packets BIGINT)""",
    f"""CREATE TABLE traffic_counters (
        {_RUN}, bin_start DOUBLE NOT NULL, kind VARCHAR NOT NULL, code BIGINT NOT NULL,
        packets BIGINT, bytes BIGINT)""",
    f"""CREATE TABLE mac_counters (
        {_RUN}, bin_start DOUBLE NOT NULL, mac UBIGINT NOT NULL, {_ENDPOINT},
        ordinal BIGINT)                 -- order in which the run first saw the MAC""",
    f"""CREATE TABLE host_counters (
        {_RUN}, bin_start DOUBLE NOT NULL, address_id INTEGER NOT NULL, {_ENDPOINT})""",
    f"""CREATE TABLE device_counters (
        {_RUN}, bin_start DOUBLE NOT NULL, device_id INTEGER NOT NULL, first_ts DOUBLE, last_ts DOUBLE,
        packets_up BIGINT, bytes_up BIGINT, packets_down BIGINT, bytes_down BIGINT,
        internet_packets_up BIGINT, internet_bytes_up BIGINT, internet_packets_down BIGINT,
        internet_bytes_down BIGINT, router BOOLEAN)""",
    f"""CREATE TABLE device_addresses (
        {_RUN}, device_id INTEGER NOT NULL, address_id INTEGER NOT NULL, first_ts DOUBLE, last_ts DOUBLE,
        packets BIGINT, ordinal BIGINT)""",
    f"""CREATE TABLE timeline (
        {_RUN}, resolution INTEGER NOT NULL, bin_start DOUBLE NOT NULL, bytes BIGINT, packets BIGINT)""",
    f"""CREATE TABLE device_timeline (
        {_RUN}, resolution INTEGER NOT NULL, bin_start DOUBLE NOT NULL, device_id INTEGER NOT NULL,
        bytes_up BIGINT, bytes_down BIGINT)""",
    f"""CREATE TABLE dns_log (
        {_RUN}, seq BIGINT NOT NULL, ts DOUBLE, kind VARCHAR, transport VARCHAR, device_id INTEGER,
        client VARCHAR, server VARCHAR, name VARCHAR, qtype INTEGER, query_seen BOOLEAN, rcode INTEGER,
        answers VARCHAR[], latency DOUBLE)""",
    f"""CREATE TABLE dns_names (
        {_META}, name VARCHAR, qtype INTEGER, kind VARCHAR, queries BIGINT, responses BIGINT,
        devices INTEGER[], rcodes VARCHAR, answers VARCHAR[], first_ts DOUBLE, last_ts DOUBLE)""",
    f"""CREATE TABLE dns_resolvers (
        {_META}, device_id INTEGER, client VARCHAR, server VARCHAR, queries BIGINT, first_ts DOUBLE,
        last_ts DOUBLE)""",
    f"""CREATE TABLE remote_names (
        {_META}, address VARCHAR, name VARCHAR, sources VARCHAR[], count BIGINT, first_ts DOUBLE,
        last_ts DOUBLE)""",
    f"""CREATE TABLE device_names (
        {_META}, device_id INTEGER, name VARCHAR, source VARCHAR, detail VARCHAR, count BIGINT,
        first_ts DOUBLE, last_ts DOUBLE)""",
    f"CREATE TABLE device_traits ({_META}, device_id INTEGER, trait VARCHAR, trait_values VARCHAR[])",
    f"""CREATE TABLE dhcp_clients (
        {_META}, client VARCHAR, device_id INTEGER, hostnames VARCHAR[], fqdns VARCHAR[],
        vendor_classes VARCHAR[], requested VARCHAR[], assigned VARCHAR[], fingerprint VARCHAR,
        messages VARCHAR, servers VARCHAR[], first_ts DOUBLE, last_ts DOUBLE)""",
    f"""CREATE TABLE server_names (
        {_META}, name VARCHAR, source VARCHAR, count BIGINT, devices INTEGER[], servers VARCHAR[],
        details VARCHAR[], first_ts DOUBLE, last_ts DOUBLE)""",
    f"""CREATE TABLE doh (
        {_META}, device_id INTEGER, client VARCHAR, server VARCHAR, name VARCHAR, count BIGINT)""",
    f"CREATE TABLE malformed ({_META}, scope VARCHAR, reason VARCHAR, count BIGINT)",
)

Migration = Callable[[duckdb.DuckDBPyConnection], None]


def _create_version_1(con: duckdb.DuckDBPyConnection) -> None:
    for statement in VERSION_1:
        con.execute(statement)


# MIGRATIONS[i] turns a database of version i into version i + 1
MIGRATIONS: Sequence[Migration] = (_create_version_1,)
SCHEMA_VERSION = len(MIGRATIONS)

# tables of measured data (every one has sensor, run_id); retention and export go through these
RUN_TABLES = (
    "flows",
    "open_flows",
    "traffic_bins",
    "traffic_counters",
    "mac_counters",
    "host_counters",
    "device_counters",
    "device_addresses",
    "timeline",
    "device_timeline",
    "dns_log",
    "dns_names",
    "dns_resolvers",
    "remote_names",
    "device_names",
    "device_traits",
    "dhcp_clients",
    "server_names",
    "doh",
    "malformed",
    "home_prefixes",
)
