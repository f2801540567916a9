"""The environment a job runs with: the worker's own, plus what the deployment adds at each job.

A deployment registers a provider (``register``): a function of the worker's environment that
returns the variables to add, read when each job starts (so a lab built, or an intent set, after
the worker started is what the job sees). The embedded deployment registers the lab's device
login and the stack's recorded intent (``netoss.embedded.jobs``); the domain knows none of it.
"""

from __future__ import annotations

import os
from collections.abc import Callable

Provider = Callable[[dict[str, str]], dict[str, str]]

_providers: list[Provider] = []


def register(provider: Provider) -> None:
    """Add ``provider`` to what every job's environment is made of (once: registering it again is a no-op)."""
    if provider not in _providers:
        _providers.append(provider)


def unregister(provider: Provider) -> None:
    if provider in _providers:
        _providers.remove(provider)


def job_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a job: ``base`` (the worker's, by default) updated by each provider in turn."""
    env = dict(os.environ if base is None else base)
    for provider in _providers:
        env.update(provider(dict(env)))
    return env
