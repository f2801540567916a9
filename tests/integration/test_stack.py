"""The netoss CLI against the running test stack: status, env, and token checks."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import requests

from portal.stack import up
from portal.stack.supervisor import Supervisor

REPO = Path(__file__).resolve().parents[2]
NETOSS = str(REPO / ".venv/bin/netoss")

pytestmark = pytest.mark.integration


def _netoss(nb_env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([NETOSS, *args], env=nb_env, capture_output=True, text=True, timeout=120, check=False)


def test_status_lists_every_service_up(nb_env, stack):
    proc = _netoss(nb_env, "status", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    services = {s["name"]: s for s in json.loads(proc.stdout)["services"]}
    assert set(services) == {
        "supervisord",
        "postgres",
        "redis",
        "netbox-web",
        "netbox-worker",
        "portal-web",
        "portal-worker",
        "fault-receiver",
        "fault-processor",
    }
    assert all(s["healthy"] and s["pid"] for s in services.values())
    assert services["netbox-web"]["port"] == stack.port("netbox")
    text = _netoss(nb_env, "status")
    assert text.returncode == 0 and "netbox-web" in text.stdout


def _uid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid in /proc/{pid}/status")


def test_services_run_unprivileged(stack):
    import pwd

    from portal.stack import accounts

    # NetBox runs as `netoss` unless that account cannot start the virtualenv's Python (pyenv
    # under /root, as on the CI machines); then it runs as root and `up` says so.
    netbox_user = "netoss" if accounts.can_run("netoss", stack.netbox_venv / "bin" / "python") else "root"
    portal_user = "netoss" if accounts.can_run("netoss", stack.venv / "bin" / "python") else "root"
    procs = Supervisor(stack).processes()
    expected = {
        "postgres": "postgres",
        "redis": "redis",
        "netbox-web": netbox_user,
        "netbox-worker": netbox_user,
        "portal-web": portal_user,
        "portal-worker": portal_user,
        "fault-receiver": portal_user,
        "fault-processor": portal_user,
    }
    for name, user in expected.items():
        assert _uid(procs[name]["pid"]) == pwd.getpwnam(user).pw_uid, f"{name} does not run as {user}"
    conf = stack.netbox_root / "conf" / "configuration.py"
    assert conf.stat().st_mode & 0o077 == 0 and conf.stat().st_uid == pwd.getpwnam(netbox_user).pw_uid
    portal_conf = stack.state_dir / "portal" / "portal.json"
    assert portal_conf.stat().st_mode & 0o077 == 0


def test_env_exports_work_with_eval(nb_env, stack):
    proc = subprocess.run(
        ["bash", "-c", f'eval "$({NETOSS} env)" && echo "$NETBOX_API" && echo "$NETBOX_TOKEN"'],
        env=nb_env,
        capture_output=True,
        text=True,
        check=True,
    )
    api, token = proc.stdout.split()
    assert api == stack.netbox_url
    resp = requests.get(f"{api}/api/status/", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert resp.status_code == 200


@pytest.mark.parametrize("header", [None, "Bearer nbt_AAAAAAAAAAAA." + "B" * 40, "Token " + "0" * 40])
def test_netbox_rejects_missing_and_wrong_tokens(stack, header):
    headers = {"Authorization": header} if header else {}
    resp = requests.get(f"{stack.netbox_url}/api/dcim/devices/", headers=headers, timeout=10)
    assert resp.status_code == 403


def test_up_again_changes_nothing(stack):
    conf = stack.supervisor_dir / "supervisord.conf"
    before = (conf.stat().st_mtime, (stack.state_dir / "secrets.json").read_text())
    pids = {name: p["pid"] for name, p in Supervisor(stack).processes().items()}
    up(stack, seed_intent=False, log=lambda m: None)
    after_pids = {name: p["pid"] for name, p in Supervisor(stack).processes().items()}
    assert (conf.stat().st_mtime, (stack.state_dir / "secrets.json").read_text()) == before
    assert after_pids == pids, "a second `up` restarted services"


def test_portal_answers_with_the_env_token_and_refuses_without(nb_env, stack):
    proc = subprocess.run(
        ["bash", "-c", f'eval "$({NETOSS} env)" && echo "$PORTAL_URL" && echo "$PORTAL_TOKEN"'],
        env=nb_env,
        capture_output=True,
        text=True,
        check=True,
    )
    url, token = proc.stdout.split()
    assert url == stack.portal_url
    me = requests.get(f"{url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert me.status_code == 200 and me.json()["role"] == "admin"
    assert requests.get(f"{url}/api/v1/me", timeout=10).status_code == 401
    bad = requests.get(f"{url}/api/v1/me", headers={"Authorization": "Bearer nto_00000000_x"}, timeout=10)
    assert bad.status_code == 401
    # The token is stored hashed: not in the portal's database.
    from portal.stack import postgres

    dump = postgres.psql(stack, "SELECT token_hash || prefix FROM api_tokens", database="netoss_portal")
    assert token not in dump and token.split("_")[1] in dump


def test_portal_sign_in_page_and_session(stack):
    import re

    session = requests.Session()
    page = session.get(f"{stack.portal_url}/login", timeout=10)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    secrets = stack.load_secrets()
    resp = session.post(
        f"{stack.portal_url}/login",
        data={"username": "admin", "password": secrets["portal_admin_password"], "csrf_token": csrf},
        timeout=10,
        allow_redirects=False,
    )
    assert resp.status_code == 302
    assert "Welcome, admin" in session.get(f"{stack.portal_url}/", timeout=10).text
