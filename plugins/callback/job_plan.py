# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writes, at the start of each play, how many tasks it has and which hosts it runs on."""

from __future__ import annotations

DOCUMENTATION = r"""
name: job_plan
type: aggregate
short_description: Record each play's hosts and task count, for a progress bar
description:
  - Appends JSON lines to the file named by O(plan_file) (environment variable
    E(NETOSS_JOB_PLAN)). At the start of the playbook, one line (C(kind=playbook)) lists every
    play with the hosts it runs on (after C(--limit)) and the number of tasks it has. At the
    start of each play, one line (C(kind=play), with the play's C(index)) gives the same for
    the play as it runs, its host pattern templated.
  - Tasks of roles and imports are counted; an C(include_tasks) counts as one task; implicit
    C(meta) tasks, C(rescue) sections and handlers are not counted.
  - The netoss portal sets E(NETOSS_JOB_PLAN) for each job and reads the file to show
    "task N of M" and "hosts done of total". Without it, the callback does nothing, so it
    can stay enabled for runs from a terminal.
version_added: 0.4.0
requirements:
  - enabled in C(callbacks_enabled)
options:
  plan_file:
    description: The file (JSON lines) to append each play's plan to. Nothing is written when unset.
    type: path
    env:
      - name: NETOSS_JOB_PLAN
"""

EXAMPLES = r"""
# ansible.cfg
# [defaults]
# callbacks_enabled = netoss.core.job_plan
#
# NETOSS_JOB_PLAN=/tmp/plan.jsonl ansible-playbook site.yml --limit pe1,pe2
# /tmp/plan.jsonl then holds:
# {"kind": "playbook", "plays": [{"play": "Back up", "hosts": ["pe1", "pe2"], "tasks": 6}]}
# {"kind": "play", "index": 0, "play": "Back up", "hosts": ["pe1", "pe2"], "tasks": 6}
"""

import json

from ansible.playbook.block import Block
from ansible.plugins.callback import CallbackBase


def count_tasks(blocks) -> int:
    """Tasks a host runs through ``blocks`` when nothing fails (``rescue`` is not counted)."""
    total = 0
    for item in blocks:
        if isinstance(item, Block):
            total += count_tasks(item.block) + count_tasks(item.always)
        elif not (item.action in ("meta", "ansible.builtin.meta") and getattr(item, "implicit", False)):
            total += 1
    return total


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "netoss.core.job_plan"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.play_index = -1

    def _plan(self, play) -> dict:
        plan = {"play": play.get_name(), "hosts": None, "tasks": None}
        try:
            # The hosts the strategy runs the play on: its pattern with --limit applied.
            inventory = play._variable_manager._inventory
            plan["hosts"] = sorted(h.name for h in inventory.get_hosts(play.hosts))
        except Exception as exc:  # a templated pattern, or an internal of ansible-core moved
            self._display.vvv(f"job_plan: no host list for play {plan['play']!r} yet: {exc}")
        try:
            plan["tasks"] = count_tasks(play.compile())
        except Exception as exc:
            self._display.vvv(f"job_plan: no task count for play {plan['play']!r} yet: {exc}")
        return plan

    def _write(self, record: dict) -> None:
        with open(self.get_option("plan_file"), "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def v2_playbook_on_start(self, playbook):
        """Every play of the playbook, as far as it is known before the run (totals from the start)."""
        if self.get_option("plan_file"):
            self._write({"kind": "playbook", "plays": [self._plan(p) for p in playbook.get_plays()]})

    def v2_playbook_on_play_start(self, play):
        """The play as it runs (its pattern templated): corrects the playbook's estimate."""
        self.play_index += 1
        if self.get_option("plan_file"):
            self._write(dict(self._plan(play), kind="play", index=self.play_index))
