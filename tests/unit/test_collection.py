"""The repository as the Ansible collection netoss.core: metadata and documentation."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
MODULES = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py") if p.stem != "__init__")


def test_galaxy_and_runtime_metadata():
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text())
    assert (galaxy["namespace"], galaxy["name"]) == ("netoss", "core")
    for private in ("netoss", "tests", "bench", ".collections"):
        assert private in galaxy["build_ignore"]
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    assert runtime["requires_ansible"].startswith(">=")
    # Every module that talks to NetBox is in the action group, so module_defaults reach it.
    assert set(runtime["action_groups"]["netbox"]) <= set(MODULES)


def test_collection_resolves_from_the_working_tree():
    link = REPO / ".collections" / "ansible_collections" / "netoss" / "core"
    assert link.is_symlink() and link.resolve() == REPO


@pytest.mark.skipif(not (VENV_BIN / "ansible-doc").exists(), reason="no .venv with ansible")
@pytest.mark.parametrize(
    ("kind", "folder"),
    [
        ("module", "modules"),
        ("callback", "callback"),
        ("cliconf", "cliconf"),
        ("connection", "connection"),
        ("inventory", "inventory"),
    ],
)
def test_every_plugin_has_documentation(tmp_path, kind, folder):
    env = dict(os.environ, PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}", ANSIBLE_LOCAL_TEMP=str(tmp_path))
    names = sorted(p.stem for p in (REPO / "plugins" / folder).glob("*.py") if p.stem != "__init__")
    assert names
    proc = subprocess.run(
        ["ansible-doc", "-t", kind, *(f"netoss.core.{n}" for n in names)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    for name in names:
        assert f"netoss.core.{name}" in proc.stdout
    assert "EXAMPLES" in proc.stdout
    if kind == "module":
        assert "RETURN VALUES" in proc.stdout
    assert "[WARNING]" not in proc.stderr, proc.stderr


def test_a_sync_without_a_chosen_intent_stops_before_reading_anything(tmp_path):
    """No NETOSS_INTENT and no -e: the run names what to set, it never falls back to a network."""
    import os
    import subprocess
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k != "NETOSS_INTENT"}
    env.update(NETBOX_API="http://127.0.0.1:9", NETBOX_TOKEN="x", ANSIBLE_LOCAL_TEMP=str(tmp_path))
    run = subprocess.run(
        [str(repo / ".venv/bin/ansible-playbook"), "playbooks/sot_sync.yml", "--check"],
        cwd=repo, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode != 0
    assert "no intent to apply: set NETOSS_INTENT" in run.stdout + run.stderr
