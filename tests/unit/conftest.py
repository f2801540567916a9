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


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A Redis server of the session's own (Debian's redis-server, as the stack runs), on a Unix
    socket in a fresh directory only (no TCP port), with nothing saved to disk; its URL."""
    import contextlib
    import subprocess
    import time

    from redis import Redis
    from redis.exceptions import RedisError

    directory = tmp_path_factory.mktemp("redis")
    sock = directory / "redis.sock"
    proc = subprocess.Popen(
        ["redis-server", "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700", "--save", "",
         "--appendonly", "no", "--dir", str(directory)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"unix://{sock}"
    deadline = time.monotonic() + 20
    while True:
        with contextlib.suppress(OSError, RedisError):  # until the socket answers
            if Redis.from_url(url).ping():
                break
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"redis-server did not start on {sock}")
        time.sleep(0.05)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
