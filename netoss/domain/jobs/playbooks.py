"""Running one of the collection's playbooks and reading its events back: what GitOps (sot_sync
into a NetBox branch, the plan's render-and-diff, the apply's push) and the jobs' own actions
(netoss.domain.jobs.actions) run.

Through :func:`netoss.domain.jobs.ansible.run_ansible`, as the portal's jobs run, with the same
guards: the extra vars are a file of ``!unsafe`` values (a value from a commit is never a
template), and the credentials (the NetBox token, the lab's login) stay out of the command
line, the environment of the ``ansible-playbook`` process as ansible-runner records it, and
every artifact (:func:`netoss.domain.jobs.ansible.hide_credentials`). The events come back to
the caller, who reads each task's results from them; a job's action also has them stored as
the job's output as they come.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from netoss.domain.jobs.ansible import run_ansible

HOST_EVENTS = ("runner_on_ok", "runner_on_failed", "runner_on_unreachable", "runner_on_skipped")


@dataclass
class PlaybookRun:
    playbook: str
    rc: int
    status: str
    seconds: float
    events: list[dict] = field(default_factory=list)

    @property
    def output(self) -> str:
        return "\n".join(e["stdout"] for e in self.events if e.get("stdout"))

    def results(self, task: str) -> dict[str, dict]:
        """Each host's result of the task named ``task`` (its last one), by host."""
        found = {}
        for e in self.events:
            data = e.get("event_data") or {}
            if e.get("event") in HOST_EVENTS and data.get("task") == task:
                found[data.get("host")] = {**(data.get("res") or {}), "_event": e["event"]}
        return found

    def failures(self) -> dict[str, str]:
        """The hosts that failed or were unreachable, with the message of their (last) failure."""
        found = {}
        for e in self.events:
            data = e.get("event_data") or {}
            if e.get("event") in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
                found[data.get("host")] = str((data.get("res") or {}).get("msg") or e["event"])
        return found


def run_playbook(
    project: Path,
    playbook: str,
    *,
    env: dict[str, str],
    extravars: dict | None = None,
    inventory: str | None = None,
    check: bool = False,
    limit: str | None = None,
    timeout: int = 3600,
    event_handler: Callable[[dict], object] | None = None,
    cancel: Callable[[], bool] | None = None,
    private: Path | None = None,
) -> PlaybookRun:
    """Run ``playbook`` (relative to ``project``, the netoss checkout) and return its events.

    ``event_handler`` also gets each event as it comes (a job's store), ``cancel`` stops the run
    when it returns true, ``private`` is the run's directory (default: a temporary one)."""
    events: list[dict] = []

    def keep(event: dict) -> bool:
        events.append(event)
        if event_handler is not None:
            event_handler(event)
        return False  # nothing written to the private directory's artifacts

    t0 = time.monotonic()
    with contextlib.ExitStack() as stack:
        if private is None:
            private = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="netoss-run-")))
        else:
            private.mkdir(mode=0o700, parents=True, exist_ok=True)
        runner = run_ansible(
            private,
            project,
            playbook,
            inventory=inventory,
            env={**env, "ANSIBLE_NOCOLOR": "1"},
            extravars=extravars,
            timeout=timeout,
            event_handler=keep,
            limit=limit,
            check=check,
            cancel=cancel,
        )
    return PlaybookRun(playbook, runner.rc, runner.status, time.monotonic() - t0, events)
