"""Job actions: a job template may name an action of netoss's own instead of a playbook.

An action is Python that runs the collection's playbooks itself, several of them and in an
order that depends on what the first ones found (a GitOps apply: plan, merge in NetBox, push,
compliance, and on failure revert and push back). It runs as any job does: queued, run by a
worker with the job's device locks, its output stored as the job's events (live in the portal,
secrets masked), cancellable, and ended by :func:`netoss.domain.jobs.runner.finish`.

The rooms that provide actions register them in ``netoss.domain.wiring.connect`` (the jobs
room does not import them): ``register("gitops-apply", apply.run_job)``. An action gets an
:class:`ActionRun` and returns ``(outcome, error)``: outcome ``successful`` or ``failed``, the
error (None when it went well) as the job's error.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from netoss.domain.jobs.playbooks import PlaybookRun, run_playbook

Action = Callable[["ActionRun"], tuple[str, str | None]]
_ACTIONS: dict[str, Action] = {}


class ActionError(Exception):
    """An action's run cannot go on; the message is the job's error."""


def register(name: str, action: Action) -> None:
    _ACTIONS[name] = action


def get(name: str) -> Action:
    try:
        return _ACTIONS[name]
    except KeyError:
        known = ", ".join(sorted(_ACTIONS)) or "none"
        raise ActionError(f"no job action {name!r} in this worker (known: {known})") from None


def names() -> list[str]:
    return sorted(_ACTIONS)


@dataclass
class ActionRun:
    """What an action runs with: its job, the app (its configuration), its private directory,
    the project (the collection's playbooks), the run's environment (credentials included: pass
    it to playbooks, never show it), and where its output goes."""

    job: object  # netoss.data.models.Job
    app: object
    private: Path
    project: Path
    env: dict[str, str]
    store: object  # runner.EventStore: each event stored as the job's output
    cancel: Callable[[], bool]
    timeout: int
    inventory: str
    started: float = field(default_factory=time.monotonic)
    runs: int = 0

    def log(self, text: str) -> None:
        """A line of the job's output (an event ``netoss_action``), masked like any event."""
        self.store({"event": "netoss_action", "stdout": text, "event_data": {}})
        self.store.flush()

    def left(self) -> int:
        """Seconds left of the job's timeout (at least 10)."""
        return max(10, int(self.timeout - (time.monotonic() - self.started)))

    def run_playbook(
        self,
        project: Path,
        playbook: str,
        *,
        env: dict[str, str],
        extravars: dict | None = None,
        inventory: str | None = None,
        check: bool = False,
        limit: str | None = None,
        timeout: int | None = None,
    ) -> PlaybookRun:
        """:func:`netoss.domain.jobs.playbooks.run_playbook` in a directory of the job's, its
        events stored as the job's output, stopped when the job is."""
        self.runs += 1
        self.log(f"--- {playbook}" + (f" (limit {limit})" if limit else "") + (" in check mode" if check else ""))
        return run_playbook(
            project,
            playbook,
            env=env,
            extravars=extravars,
            inventory=inventory,
            check=check,
            limit=limit,
            timeout=min(timeout or self.left(), self.left()),
            event_handler=self.store,
            cancel=self.cancel,
            private=self.private / f"run-{self.runs}",
        )
