"""Use cases. Each service owns its transactions, allocates pts inside them, and pushes to
the hub only after the commit."""
