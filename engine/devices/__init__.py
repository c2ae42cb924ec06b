"""Devices on the home network: identity, addresses, traffic and names."""
