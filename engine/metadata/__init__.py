"""What the few packets worth reading in Python tell: names, the DNS log, DHCP, TLS/QUIC/HTTP server names."""
