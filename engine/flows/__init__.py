"""Bidirectional flows: the flow table, its timeouts and closed-flow records."""
