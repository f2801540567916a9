# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prints, at the end of a playbook, where its time went: each task's time on each host."""

from __future__ import annotations

DOCUMENTATION = r"""
name: timings
type: aggregate
short_description: Where a playbook's time went, per task and per host
description:
  - At the end of the playbook, prints a table of the tasks that took at least
    O(min_seconds), in the order they ran, each with its wall time (from its first host's
    start to its last host's end) and its time on each host; then the playbook's total.
  - A task whose result says what it waited for (C(timings), a mapping of what to seconds,
    as M(netoss.core.service_verify) and M(netoss.core.config_verify) return) has those
    figures on its line, for its host (for example the seconds until a BGP session was
    Established); a loop's, the longest of its items' for each.
  - Unlike C(ansible.posix.profile_tasks), which gives each task's time as a whole, it says
    which host the time went to (the push to the PE and to the CE, each).
  - Enabled in the project's C(ansible.cfg), so every job's output ends with it. Nothing is
    printed when the output is for a program (the C(json) and C(jsonl) stdout callbacks).
version_added: 0.5.0
requirements:
  - enabled in C(callbacks_enabled)
options:
  min_seconds:
    description: Tasks shorter than this (their wall time) are left out of the table.
    type: float
    default: 0.5
    env:
      - name: NETOSS_TIMINGS_MIN_SECONDS
  enabled:
    description: Print the table (false to keep a playbook's output as it was).
    type: bool
    default: true
    env:
      - name: NETOSS_TIMINGS
"""

EXAMPLES = r"""
# ansible.cfg
# [defaults]
# callbacks_enabled = netoss.core.timings
#
# The end of a service order's output (the per-host figures in brackets; what a task's
# result said it waited for in parentheses):
# WHERE THE TIME WENT (tasks of 0.5 s or more; per host) *************************
#    1.1 s  Reserve the order's resources in NetBox  [pe1 1.1]
#    3.4 s  Push the lines that differ from the running configuration  [pe1 3.4; ce3 2.0]
#    6.3 s  Verify that the device answers and its sessions are up  [pe1 6.3 (sessions up 6.1); ce3 6.2]
#   21.7 s  the playbook, in all
"""

import time

from ansible.plugins.callback import CallbackBase


def _seconds(value) -> str:
    return "%.1f" % value


def _machine_output() -> bool:
    """Whether the playbook's output is for a program (the json stdout callbacks), which a table
    after it would break."""
    try:
        from ansible import constants as C

        name = str(C.config.get_config_value("DEFAULT_STDOUT_CALLBACK") or "")
    except Exception:  # an internal of ansible-core moved: print as before
        return False
    return name.rsplit(".", maxsplit=1)[-1] in ("json", "jsonl")


def _waited(data) -> dict:
    """What a result says it waited for (``timings``); a loop's, its items' (the longest of each)."""
    if not isinstance(data, dict):
        return {}
    found = {k: v for k, v in (data.get("timings") or {}).items() if isinstance(v, (int, float))}
    for item in data.get("results") or []:
        for k, v in _waited(item).items():
            found[k] = max(v, found.get(k, v))
    return found


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "netoss.core.timings"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.started = None
        self.tasks = {}  # task uuid -> {"name", "first", "last", "hosts": {host: [start, end, timings]}}
        self.order = []

    def v2_playbook_on_start(self, playbook):
        self.started = time.monotonic()

    def _task(self, task):
        found = self.tasks.get(task._uuid)
        if found is None:
            found = self.tasks[task._uuid] = {"name": task.get_name().strip(), "first": None, "last": None, "hosts": {}}
            self.order.append(task._uuid)
        return found

    def v2_playbook_on_task_start(self, task, is_conditional):
        record = self._task(task)
        if record["first"] is None:
            record["first"] = time.monotonic()

    def v2_runner_on_start(self, host, task):
        record = self._task(task)
        now = time.monotonic()
        if record["first"] is None:
            record["first"] = now
        record["hosts"].setdefault(host.get_name(), [now, None, None])

    def _end(self, result):
        record = self._task(result._task)
        now = time.monotonic()
        name = result._host.get_name()
        times = record["hosts"].setdefault(name, [record["first"] or now, None, None])
        times[1] = now
        data = getattr(result, "_result", None) or {}
        waited = _waited(data)
        if waited:
            times[2] = dict(times[2] or {}, **waited)
        record["last"] = now

    v2_runner_on_ok = _end
    v2_runner_on_unreachable = _end

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._end(result)

    def v2_runner_on_skipped(self, result):
        record = self._task(result._task)
        record["hosts"].pop(result._host.get_name(), None)

    def v2_playbook_on_stats(self, stats):
        if not self.get_option("enabled") or self.started is None or _machine_output():
            return
        least = float(self.get_option("min_seconds"))
        lines = []
        for uuid in self.order:
            record = self.tasks[uuid]
            ended = [t for t in record["hosts"].values() if t[1] is not None]
            if not ended:
                continue
            wall = max(t[1] for t in ended) - min(t[0] for t in ended)
            if wall < least:
                continue
            per_host = []
            for host, (start, end, waited) in record["hosts"].items():
                if end is None:
                    continue
                text = "%s %s" % (host, _seconds(end - start))
                if waited:
                    text += " (%s)" % ", ".join("%s %s" % (k, _seconds(v)) for k, v in waited.items())
                per_host.append(text)
            lines.append("%6s s  %s  [%s]" % (_seconds(wall), record["name"], "; ".join(per_host)))
        total = time.monotonic() - self.started
        self._display.banner("WHERE THE TIME WENT (tasks of %s s or more; per host)" % _seconds(least))
        for line in lines:
            self._display.display(line)
        self._display.display("%6s s  the playbook, in all" % _seconds(total))
