"""Fixtures shared by the unit tests."""

from __future__ import annotations

import pytest
from postgres_cluster import Cluster


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL cluster of the session's own (tests/unit/postgres_cluster.py);
    ``postgres.database()`` is a fresh database with the portal's schema."""
    cluster = Cluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()
