"""One run of ansible-playbook through ansible-runner, with the guards every run of netoss has:
a job's run of its playbook, a job action's playbooks, GitOps' plan.

The extra vars are a file (0600) of ``!unsafe`` values: nothing given by a user or a commit is
ever evaluated as a template. The credentials of the run (environment variables named like a
token, password, secret or key) stay out of its command line and of ansible-runner's
``command`` artifact: they go to ``env/run.json`` (0600), which a small wrapper loads into the
environment of ansible-playbook and deletes as it starts.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import yaml


class _Unsafe(str):
    """A value Ansible must never template: dumped with the ``!unsafe`` tag."""


class _UnsafeDumper(yaml.SafeDumper):
    pass


_UnsafeDumper.add_representer(_Unsafe, lambda dumper, value: dumper.represent_scalar("!unsafe", str(value), style='"'))


def _unsafe(value):
    if isinstance(value, str):
        return _Unsafe(value)
    if isinstance(value, list | tuple):
        return [_unsafe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _unsafe(v) for k, v in value.items()}
    return value  # integers, booleans, None: nothing to template


def unsafe_yaml(extravars: dict) -> str:
    """The extra vars as YAML, every string (nested ones too) tagged ``!unsafe``: Ansible takes
    it verbatim, whatever it looks like ({{ }}, {% %}, a #jinja2: header, newlines)."""
    return yaml.dump(_unsafe(extravars), Dumper=_UnsafeDumper, default_flow_style=False, allow_unicode=True)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a new file readable by its owner only (0600 from the start)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


SENSITIVE = ("TOKEN", "PASSWORD", "SECRET", "PASS", "KEY")


def sensitive(name: str) -> bool:
    """Whether the environment variable ``name`` holds a credential (by its name)."""
    return any(word in name.upper() for word in SENSITIVE)


def sensitive_values(env: dict[str, str]) -> list[str]:
    """Values of the run's environment that are credentials (by their variable's name)."""
    return [v for k, v in env.items() if sensitive(k) and v and len(v) >= 6]


ENV_FILE = "NETOSS_JOB_ENV_FILE"
WRAPPER = """#!{python}
# Written by netoss (netoss.domain.jobs.runner) for one job run: puts the run's credentials, from the
# 0600 file named by {var}, into the environment, deletes the file, then runs the command. The
# credentials are thus in no command line and in no artifact of ansible-runner.
import json, os, sys
path = os.environ.pop("{var}", None)
if path:
    with open(path, encoding="utf-8") as f:
        os.environ.update(json.load(f))
    os.unlink(path)
os.execvp(sys.argv[1], sys.argv[1:])
"""


def hide_credentials(config, private: Path) -> None:
    """Move the credentials out of a prepared RunnerConfig's environment into ``env/run.json``
    (0600), and start its command through the wrapper that loads and deletes that file."""
    env_dir = private / "env"
    env_dir.mkdir(mode=0o700, exist_ok=True)
    hidden = {k: str(v) for k, v in config.env.items() if sensitive(k)}
    config.env = {k: v for k, v in config.env.items() if k not in hidden}
    wrapper = private / "with-credentials"
    wrapper.write_text(WRAPPER.format(python=sys.executable, var=ENV_FILE))
    wrapper.chmod(0o700)
    if hidden:
        write_private(env_dir / "run.json", json.dumps(hidden))
        config.env[ENV_FILE] = str(env_dir / "run.json")
    config.command = [str(wrapper), *config.command]


def run_ansible(
    private: Path,
    project: Path,
    playbook: str,
    *,
    inventory: str | None,
    env: dict,
    extravars: dict | None,
    timeout: int,
    event_handler,
    limit: str | None = None,
    check: bool = False,
    cancel=None,
):
    """ansible-runner's run of ``playbook`` (relative to ``project``) in the private directory
    ``private``, with the extra vars in a file of !unsafe values and the credentials kept out of
    its command line and its ``command`` artifact (see :func:`hide_credentials`); the portal's
    jobs and GitOps run their playbooks through it. Returns the finished Runner."""
    # Start-up time: ansible-runner is loaded by the work horse that runs a job (or the command
    # that runs a playbook), never by the portal's web processes, which import this module for
    # the templates.
    from ansible_runner.config.runner import RunnerConfig
    from ansible_runner.runner import Runner

    (private / "env").mkdir(mode=0o700, exist_ok=True)
    if extravars:
        write_private(private / "env" / "extravars", unsafe_yaml(extravars))
    cmdline = []
    if limit:
        cmdline += ["--limit", limit]
    if check:
        cmdline += ["--check", "--diff"]
    config = RunnerConfig(
        private_data_dir=str(private),
        project_dir=str(project),
        playbook=playbook,
        inventory=inventory,
        envvars=env,
        cmdline=" ".join(cmdline) if cmdline else None,
        quiet=True,
        timeout=timeout,
        suppress_env_files=True,
        suppress_output_file=True,  # the output goes to the event handler (a job's: the database, masked)
        settings={"suppress_ansible_output": True},
    )
    config.prepare()
    hide_credentials(config, private)
    runner = Runner(config, event_handler=event_handler, cancel_callback=cancel)
    runner.run()
    return runner
