"""The order of dump files from their names: dumpcap's ring, tcpdump -G and -C, compressed copies."""

from __future__ import annotations

import time

from engine.capture.dump_order import (
    is_compressed_name,
    name_time,
    natural_key,
    order_key,
    parse_ring_name,
    uncompressed_name,
)


def local(stamp: str) -> float:
    return time.mktime(time.strptime(stamp, "%Y%m%d%H%M%S"))


def test_dumpcap_ring_names() -> None:
    ring = parse_ring_name("hs_00042_20240301120000.pcapng")
    assert ring is not None
    assert (ring.prefix, ring.sequence, ring.started) == ("hs", 42, local("20240301120000"))
    # more than 99999 files: dumpcap just uses more digits; a prefix may contain underscores
    big = parse_ring_name("home_net_123456_20240301120000.pcapng.gz")
    assert big is not None and (big.prefix, big.sequence) == ("home_net", 123456)
    assert parse_ring_name("capture.pcapng") is None
    assert parse_ring_name("hs_00001_20241399999999.pcapng") is None  # not a time


def test_compression_suffixes() -> None:
    assert uncompressed_name("hs_00001_20240301120000.pcapng.gz") == "hs_00001_20240301120000.pcapng"
    assert uncompressed_name("dump.pcap.xz") == "dump.pcap"
    assert uncompressed_name(".gz") == ".gz"
    assert is_compressed_name("a.pcap.zst") and not is_compressed_name("a.pcap")


def test_ring_order_is_time_then_sequence() -> None:
    # a restarted dumpcap numbers from 00001 again, with a later time
    names = [
        "hs_00001_20240301130000.pcapng",
        "hs_00007_20240301120000.pcapng",
        "hs_00008_20240301120000.pcapng.gz",
        "hs_00006_20240301115959.pcapng",
    ]
    ordered = sorted(names, key=lambda n: order_key(n, None, 0.0))
    assert ordered == [names[3], names[1], names[2], names[0]]


def test_tcpdump_strftime_names_with_counts() -> None:
    assert name_time("dump-20240301-120000.pcap") == (local("20240301120000"), 0)
    assert name_time("dump_2024-03-01_12:00:05.pcap3") == (local("20240301120005"), 3)
    assert name_time("dump.pcap7") is None


def test_other_names_go_by_first_packet_then_modification_time() -> None:
    # tcpdump -C: dump, dump1, dump2; the file being started has no packet yet: its mtime counts
    keys = {
        "dump": order_key("dump", 100.0, 500.0),
        "dump1": order_key("dump1", 200.0, 600.0),
        "dump2": order_key("dump2", None, 700.0),
    }
    assert sorted(keys, key=keys.__getitem__) == ["dump", "dump1", "dump2"]


def test_natural_key() -> None:
    names = ["dump10", "dump2", "dump", "dump1"]
    assert sorted(names, key=natural_key) == ["dump", "dump1", "dump2", "dump10"]
