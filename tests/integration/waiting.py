"""Waiting in integration tests, shared by the fixtures and the test modules (import waiting)."""

from __future__ import annotations

import time


def wait_for(what: str, predicate, timeout: float, interval: float = 0.2):
    """The first truthy value of ``predicate()`` within ``timeout`` seconds, else AssertionError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{what}: not after {timeout} s")
