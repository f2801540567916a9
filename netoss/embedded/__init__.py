"""The embedded default deployment, kept apart from the product: the stack manager
(PostgreSQL, Redis, NetBox, supervisord), the FRR lab, what acts on both (``deployment``) and
what it gives the jobs a worker runs (``jobs``). The product never imports it."""
