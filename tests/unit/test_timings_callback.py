"""netoss.core.timings: the end of a playbook's output says where its time went, per task and per
host, with what a task's result says it waited for (``timings``). A real ansible-playbook run on
localhost-like hosts of any names."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PLAYBOOK = """
- name: Two routers, one slower
  hosts: all
  gather_facts: false
  tasks:
    - name: Quick
      ansible.builtin.debug:
        msg: hi
    - name: Wait, longer on the slow one
      ansible.builtin.command: "sleep {{ 2 if inventory_hostname == 'slow-router' else 0.2 }}"
      changed_when: false
    - name: A result that says what it waited for
      waits:
        seconds: 0.6
      run_once: true
    - name: A loop whose items say what they waited for
      waits:
        seconds: "{{ item }}"
      loop: [0.3, 0.4]
      run_once: true
    - name: A failure, rescued
      block:
        - name: Fails after a while
          ansible.builtin.command: "sh -c 'sleep 0.7; exit 3'"
          changed_when: false
      rescue:
        - name: Rescued
          ansible.builtin.debug:
            msg: rescued
"""

# A module of the test's own (library/): waits, and says what it waited for, as
# netoss.core.config_verify and service_verify do.
MODULE = """
import time
from ansible.module_utils.basic import AnsibleModule

module = AnsibleModule(argument_spec={"seconds": {"type": "float"}})
time.sleep(module.params["seconds"])
module.exit_json(changed=False, timings={"session up": module.params["seconds"], "note": "not a number"})
"""


def _run(tmp_path: Path, env: dict[str, str]) -> str:
    (tmp_path / "site.yml").write_text(PLAYBOOK)
    (tmp_path / "library").mkdir(exist_ok=True)
    (tmp_path / "library" / "waits.py").write_text(MODULE)
    local = f"ansible_connection=local ansible_python_interpreter={sys.executable}"
    (tmp_path / "hosts").write_text(f"slow-router {local}\nquick-router {local}\n")
    (tmp_path / "ansible.cfg").write_text(
        f"[defaults]\ncollections_path = {ROOT / '.collections'}\ncallbacks_enabled = netoss.core.timings\n"
    )
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "hosts", "site.yml"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "ANSIBLE_CONFIG": str(tmp_path / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1", **env},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_the_output_ends_with_each_tasks_time_per_host(tmp_path):
    out = _run(tmp_path, {})
    table = out.split("WHERE THE TIME WENT (tasks of 0.5 s or more; per host)", 1)[1]
    lines = [line for line in table.splitlines() if line.strip() and not line.startswith("*")]
    wait = next(line for line in lines if "Wait, longer on the slow one" in line)
    slow = float(re.search(r"slow-router (\d+\.\d)", wait).group(1))
    quick = float(re.search(r"quick-router (\d+\.\d)", wait).group(1))
    assert slow >= 2.0 and quick < slow, wait
    assert float(wait.split()[0]) >= slow  # the task's wall time: first start to last end
    assert not any("Quick" in line for line in lines)  # under 0.5 s: left out
    said = next(line for line in lines if "A result that says what it waited for" in line)
    assert re.search(r"\[slow-router \d+\.\d \(session up 0\.6\)\]$", said), said  # numbers only
    looped = next(line for line in lines if "A loop whose items say" in line)
    assert re.search(r"\[slow-router \d+\.\d \(session up 0\.4\)\]$", looped), looped  # the longest item's
    assert re.search(r"^\s*\d+\.\d s  the playbook, in all$", lines[-1]), lines[-1]
    failed = next(line for line in lines if "Fails after a while" in line)  # a failure's time counts too
    assert re.search(r"\[slow-router \d+\.\d; quick-router \d+\.\d\]$", failed), failed
    assert "Callback dispatch" not in out, out


def test_it_can_be_turned_off_or_made_finer(tmp_path):
    assert "WHERE THE TIME WENT" not in _run(tmp_path, {"NETOSS_TIMINGS": "false"})
    # Output for a program (the json stdout callback): nothing after the JSON.
    data = json.loads(_run(tmp_path, {"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"}))
    assert data["stats"]["slow-router"]["ok"] == 5 and data["stats"]["slow-router"]["rescued"] == 1
    out = _run(tmp_path, {"NETOSS_TIMINGS_MIN_SECONDS": "0"})
    assert "WHERE THE TIME WENT (tasks of 0.0 s or more; per host)" in out
    assert re.search(r"Quick  \[slow-router \d+\.\d; quick-router \d+\.\d\]", out), out
