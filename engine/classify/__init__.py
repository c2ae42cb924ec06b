"""Protocol labels for flows: the taxonomy, the port table and payload signatures."""
