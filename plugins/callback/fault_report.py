# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reports unreachable hosts and failed tasks of any run to the netoss portal as alarms."""

from __future__ import annotations

DOCUMENTATION = r"""
name: fault_report
type: notification
short_description: Raise netoss alarms for unreachable hosts and failed tasks, clear them when a run succeeds
description:
  - At the end of every playbook run (portal jobs and plain C(ansible-playbook) alike), sends
    the netoss portal one batch of events.
  - A host that was unreachable raises C(device-unreachable) (major, so it opens a ticket that
    names the host and the job or run). A host the run reached clears it.
  - A host with a failed task (not ignored, not rescued) raises C(task-failed) on the playbook
    (minor); a host that ran the playbook without failure clears it.
  - Without O(portal_url) and O(portal_token) it does nothing. A portal that cannot be reached
    gives a warning; the run's result is never changed.
version_added: 0.5.0
requirements:
  - enabled in C(callbacks_enabled)
options:
  portal_url:
    description: The portal's URL.
    type: str
    env:
      - name: PORTAL_URL
  portal_token:
    description: An API token of an account with the operator role (the portal's C(automation) account for jobs).
    type: str
    env:
      - name: PORTAL_TOKEN
  job:
    description: The portal job this run is (set by the portal's workers).
    type: str
    env:
      - name: NETOSS_JOB_ID
  skip_hosts:
    description: Hosts never reported (the controller itself).
    type: list
    elements: str
    default: [localhost, 127.0.0.1]
"""

EXAMPLES = r"""
# ansible.cfg
# [defaults]
# callbacks_enabled = netoss.core.fault_report
#
# eval "$(.venv/bin/netoss env)"        # PORTAL_URL, PORTAL_TOKEN
# ansible-playbook playbooks/config_backup.yml
# -> an unreachable router raises "device-unreachable" on it; the next run that reaches it clears it
"""

import getpass
import os
import socket

from ansible.plugins.callback import CallbackBase

from ansible_collections.netoss.core.plugins.module_utils.portal_client import PortalClient, PortalError

MAX_MESSAGE = 300


def _message(result) -> str:
    res = result._result if isinstance(getattr(result, "_result", None), dict) else {}
    text = res.get("msg") or res.get("stderr") or res.get("reason") or ""
    return " ".join(str(text).split())[:MAX_MESSAGE]


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "netoss.core.fault_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.playbook = "playbook"
        self.unreachable: dict[str, str] = {}
        self.failed: dict[str, str] = {}
        self.reached: set[str] = set()

    def v2_playbook_on_start(self, playbook):
        self.playbook = os.path.basename(getattr(playbook, "_file_name", "") or "playbook")

    def _host(self, result) -> str:
        return result._host.get_name()

    def v2_runner_on_ok(self, result):
        self.reached.add(self._host(result))

    def v2_runner_on_skipped(self, result):
        self.reached.add(self._host(result))

    def v2_runner_on_failed(self, result, ignore_errors=False):
        host = self._host(result)
        self.reached.add(host)
        if not ignore_errors and host not in self.failed:
            self.failed[host] = f"task '{result._task.get_name()}' failed: {_message(result)}"

    def v2_runner_on_unreachable(self, result):
        host = self._host(result)
        self.unreachable.setdefault(host, _message(result) or "unreachable")

    def _run(self) -> str:
        job = self.get_option("job")
        if job:
            return f"job {job} ({self.playbook})"
        return f"ansible-playbook {self.playbook} by {getpass.getuser()}@{socket.gethostname()}"

    def v2_playbook_on_stats(self, stats):
        url, token = self.get_option("portal_url"), self.get_option("portal_token")
        if not (url and token):
            self._display.vv("fault_report: no PORTAL_URL / PORTAL_TOKEN: nothing reported")
            return
        skip = set(self.get_option("skip_hosts") or [])
        rescued = {h for h in self.failed if stats.summarize(h).get("rescued")}
        run = self._run()
        details = {"playbook": self.playbook, "run": run[:200]}
        if self.get_option("job"):
            details["job"] = str(self.get_option("job"))
        events = []

        def event(action, host, **kw):
            events.append({"source": "ansible", "action": action, "device": host, "details": details, **kw})

        for host, message in sorted(self.unreachable.items()):
            if host not in skip:
                event("raise", host, object_type="device", condition="device-unreachable", severity="major",
                      alarm_type="communicationsAlarm", probable_cause="communicationsSubsystemFailure",
                      specific_problem=f"{host} unreachable in {run}: {message}"[:500])  # fmt: skip
        for host in sorted(self.reached - set(self.unreachable) - skip):
            event("clear", host, object_type="device", condition="device-unreachable")
        for host, message in sorted(self.failed.items()):
            if host not in skip and host not in rescued and host not in self.unreachable:
                event("raise", host, object_type="job", object_name=self.playbook, condition="task-failed",
                      severity="minor", alarm_type="processingErrorAlarm", probable_cause="softwareProgramError",
                      specific_problem=f"{message} in {run}"[:500])  # fmt: skip
        for host in sorted(self.reached - set(self.failed) - set(self.unreachable) - skip):
            event("clear", host, object_type="job", object_name=self.playbook, condition="task-failed")
        if not events:
            return
        try:
            client = PortalClient(url, token)
            for i in range(0, len(events), 1000):
                answer = client.events(events[i : i + 1000])
                for r in answer.get("rejected") or []:
                    self._display.warning(f"fault_report: the portal refused an event: {r.get('detail')}")
        except PortalError as exc:
            self._display.warning(f"fault_report: unreachable hosts and failed tasks not reported: {exc}")
