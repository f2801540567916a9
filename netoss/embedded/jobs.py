"""What the embedded deployment gives the jobs a worker runs: the lab's device login and the
stack's intent as recorded now (read at each job: `netoss up --intent` or `netoss lab up` may
have changed them since the worker started). ``netoss worker`` registers :func:`environment`
with ``netoss.domain.jobs.environment``."""

from __future__ import annotations

import getpass
import os

from netoss.embedded import lab
from netoss.embedded.stack import Stack


def environment(env: dict[str, str]) -> dict[str, str]:
    """The variables to add to a job's environment ``env``: none unless it names a stack (NETOSS_STATE)."""
    if not env.get("NETOSS_STATE"):
        return {}
    stack = Stack.from_env()
    extra = lab.device_env(stack)
    # The stack's intent as recorded now: the sot-sync job reads it through playbooks/sot_sync.yml.
    extra["NETOSS_INTENT"] = str(stack.recorded_intent)
    return extra


def worker_environment(stack: Stack) -> dict[str, str]:
    """What a worker of ``stack`` runs with (its directories for Ansible are made here):
    NetBox, the portal, the stack's state and Ansible's own directories for this account."""
    # Ansible's own files (temp dirs, persistent connections) go to a directory of this account:
    # playbooks run by root with the same HOME must not leave the worker unable to write there.
    own = stack.state_dir / "ansible-tmp" / getpass.getuser()
    env = {
        # The credentials `netoss up` gave this worker in its environment (the writer NetBox
        # token, the automation portal token); a worker started by hand reads the stack's.
        "NETBOX_API": stack.netbox_url,
        "NETBOX_TOKEN": os.environ.get("NETBOX_TOKEN") or stack.netbox_writer_token(),
        # The lab's device login is read at each job (environment() above).
        "NETOSS_STATE": str(stack.state_dir),
        # Jobs report unreachable hosts and failed tasks (netoss.core.fault_report) and
        # raise alarms as the automation account (operator), never as the admin.
        "PORTAL_URL": stack.portal_url,
        "PORTAL_TOKEN": os.environ.get("PORTAL_TOKEN") or stack.load_secrets()["portal_automation_token"],
        # network_cli checks the lab routers' host keys against <state>/home/.ssh/known_hosts.
        "HOME": str(stack.ansible_home),
        "ANSIBLE_LOCAL_TEMP": str(own / "local"),
        "ANSIBLE_REMOTE_TEMP": str(own / "remote"),
        "ANSIBLE_PERSISTENT_CONTROL_PATH_DIR": str(own / "pc"),
    }
    stack.ansible_home.mkdir(mode=0o700, parents=True, exist_ok=True)
    own.mkdir(mode=0o700, parents=True, exist_ok=True)
    return env
