"""Engine fixes found while building the findings."""

from __future__ import annotations

from pathlib import Path

from tests.investigation.home_traffic import DAY0, PHONE, TV, Home, analyse_home


def test_the_same_bytes_to_mdns_and_ssdp_are_parsed_as_each(tmp_path: Path) -> None:
    """The payload inspector caches parsed discovery messages; the cache is per protocol, so identical
    bytes sent to the mDNS and the SSDP port no longer stop the analysis with an AssertionError."""
    home = Home()
    payload = b"NOTIFY * HTTP/1.1\r\nSERVER: test/1.0\r\n\r\n"
    home.udp_exchange(DAY0, TV, "224.0.0.251", 5353, sport=5353, payload=payload, dst_mac="01:00:5e:00:00:fb")
    home.udp_exchange(DAY0 + 1, PHONE, "239.255.255.250", 1900, payload=payload, dst_mac="01:00:5e:7f:ff:fa")
    result = analyse_home(home, tmp_path)
    meta = result.snapshot.metadata
    assert meta is not None
    traits = meta.device_names.traits
    assert any(v.get("ssdp server") == ["test/1.0"] for v in traits.values())  # read as SSDP
