"""Running the collection's playbooks for GitOps: sot_sync into a NetBox branch, the plan's
render-and-diff, the apply's push.

Through :func:`netoss.domain.jobs.runner.run_ansible`, as the portal's jobs run, with the same
guards: the extra vars are a file of ``!unsafe`` values (a value from a commit is never a
template), and the credentials
(the NetBox token, the lab's login) stay out of the command line, the environment of the
``ansible-playbook`` process as ansible-runner records it, and every artifact
(:func:`netoss.domain.jobs.runner.hide_credentials`). The events come back to the caller,
who reads each task's results from them.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from netoss.domain.jobs.runner import run_ansible

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
) -> PlaybookRun:
    """Run ``playbook`` (relative to ``project``, the netoss checkout) and return its events."""
    events: list[dict] = []

    def keep(event: dict) -> bool:
        events.append(event)
        return False  # nothing written to the private directory's artifacts

    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="netoss-gitops-") as tmp:
        runner = run_ansible(
            Path(tmp),
            project,
            playbook,
            inventory=inventory,
            env={**env, "ANSIBLE_NOCOLOR": "1"},
            extravars=extravars,
            timeout=timeout,
            event_handler=keep,
            limit=limit,
            check=check,
        )
    return PlaybookRun(playbook, runner.rc, runner.status, time.monotonic() - t0, events)
