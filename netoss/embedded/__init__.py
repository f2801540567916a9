"""The embedded default deployment, kept apart from the product: the stack manager
(PostgreSQL, Redis, NetBox, supervisord) and the FRR lab."""
