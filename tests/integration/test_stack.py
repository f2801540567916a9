"""The netoss CLI against the running test stack: status, env, and token checks."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import requests

from netoss.embedded.stack import up
from netoss.embedded.stack.supervisor import Supervisor

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
        "lab-helper",
        "portal-worker",
        "fault-receiver",
        "fault-processor",
        "prometheus",
        "alertmanager",
        "snmp-exporter",
        "assurance",
    }
    assert all(s["healthy"] and s["pid"] for s in services.values())
    # Each service's account (issue 13, 12): root only where root is needed.
    assert {n: s["user"] for n, s in services.items()} == {
        "supervisord": "root",
        "postgres": "postgres",
        "redis": "redis",
        "netbox-web": "netoss",
        "netbox-worker": "netoss",
        "portal-web": "netoss",
        "lab-helper": "root",
        "portal-worker": "netoss",
        "fault-receiver": "netoss",
        "fault-processor": "netoss",
        "prometheus": "netoss",
        "alertmanager": "netoss",
        "snmp-exporter": "netoss",
        "assurance": "netoss",
    }
    assert services["netbox-web"]["port"] == stack.port("netbox")
    text = _netoss(nb_env, "status")
    assert text.returncode == 0 and "netbox-web" in text.stdout


def _uid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid in /proc/{pid}/status")


def test_services_run_unprivileged(stack):
    """On a default machine (Python under /root) NetBox and the portal run as `netoss`: no
    fallback to root without NETOSS_ALLOW_ROOT=1 (issue 13, 12)."""
    import pwd

    procs = Supervisor(stack).processes()
    expected = {
        "postgres": "postgres",
        "redis": "redis",
        "netbox-web": "netoss",
        "netbox-worker": "netoss",
        "portal-web": "netoss",
        "portal-worker": "netoss",
        "fault-receiver": "netoss",
        "fault-processor": "netoss",
        "lab-helper": "root",
    }
    for name, user in expected.items():
        assert _uid(procs[name]["pid"]) == pwd.getpwnam(user).pw_uid, f"{name} does not run as {user}"
    netoss = pwd.getpwnam("netoss").pw_uid
    conf = stack.netbox_root / "conf" / "configuration.py"
    assert conf.stat().st_mode & 0o077 == 0 and conf.stat().st_uid == netoss
    portal_conf = stack.state_dir / "portal" / "portal.json"
    assert portal_conf.stat().st_mode & 0o077 == 0 and portal_conf.stat().st_uid == netoss
    # The services never read the stack's secrets file; `netoss` cannot.
    secrets = stack.state_dir / "secrets.json"
    assert secrets.stat().st_uid == 0 and secrets.stat().st_mode & 0o077 == 0
    denied = subprocess.run(["runuser", "-u", "netoss", "--", "cat", str(secrets)], capture_output=True, check=False)
    assert denied.returncode != 0
    for name in ("jobs", "home", "ansible-tmp"):
        assert (stack.state_dir / name).stat().st_uid == netoss, f"{name} is not the portal account's"
    # The lab helper's socket: root's, for group netoss only.
    sock = stack.state_dir / "lab-helper" / "helper.sock"
    st = sock.stat()
    assert st.st_uid == 0 and st.st_gid == pwd.getpwnam("netoss").pw_gid and st.st_mode & 0o777 == 0o660


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_each_daemon_env_holds_only_its_own_credentials(stack):
    """Issue 13, 14: the worker has the writer's NetBox token and the automation portal token,
    the fault processor and the web tier each its own NetBox token, the receiver none; no daemon
    holds the admin's NetBox or portal token."""
    s = stack.load_secrets()
    names = {
        stack.netbox_token(): "netbox admin",
        s["portal_admin_token"]: "portal admin",
        s["admin_password"]: "netbox admin password",
        stack.netbox_reader_token(): "netbox reader",
        stack.netbox_web_token(): "netbox web",
        stack.netbox_faults_token(): "netbox faults",
        stack.netbox_writer_token(): "netbox writer",
        s["portal_automation_token"]: "portal automation",
    }
    expected = {
        "portal-web": {"netbox web"},
        "fault-receiver": set(),
        "fault-processor": {"netbox faults"},
        "portal-worker": {"netbox writer", "portal automation"},
        "lab-helper": set(),
        "netbox-web": set(),
    }
    procs = Supervisor(stack).processes()
    for name, own in expected.items():
        env = _environ(procs[name]["pid"])
        held = {names[v] for v in env.values() if v in names}
        assert held == own, f"{name} holds {sorted(held)}"
    portal_conf = json.loads((stack.state_dir / "portal" / "portal.json").read_text())
    assert portal_conf["NETBOX_TOKEN"] == stack.netbox_reader_token()


def _nb(stack, token: str, method: str, path: str, **kw) -> requests.Response:
    return requests.request(
        method, f"{stack.netbox_url}/api/{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30, **kw
    )


def test_netbox_machine_users_have_only_their_permissions(stack):
    """Issue 13, 14: the read-only token cannot write (403), the writer can; none of them can
    read or make users or permissions, nor see other users' tokens; the fault processor and the
    web tier add journal entries only."""
    import uuid

    reader, faults, writer = stack.netbox_reader_token(), stack.netbox_faults_token(), stack.netbox_writer_token()
    for token in (reader, faults, writer, stack.netbox_web_token()):
        assert _nb(stack, token, "GET", "dcim/sites/").status_code == 200
        assert _nb(stack, token, "GET", "users/users/").status_code == 403
        assert _nb(stack, token, "GET", "users/permissions/").status_code == 403
        assert _nb(stack, token, "GET", "users/tokens/").json()["count"] == 1  # its own only (NetBox's rule)
        made = _nb(stack, token, "POST", "users/users/", json={"username": f"x{uuid.uuid4().hex[:8]}", "password": "x"})
        assert made.status_code == 403
    tag = {"name": f"lp-{uuid.uuid4().hex[:8]}", "slug": f"lp-{uuid.uuid4().hex[:8]}"}
    assert _nb(stack, reader, "POST", "extras/tags/", json=tag).status_code == 403
    assert _nb(stack, faults, "POST", "extras/tags/", json=tag).status_code == 403
    created = _nb(stack, writer, "POST", "extras/tags/", json=tag)
    assert created.status_code == 201, created.text[:300]
    tag_id = created.json()["id"]
    assert _nb(stack, reader, "DELETE", f"extras/tags/{tag_id}/").status_code == 403
    assert _nb(stack, writer, "DELETE", f"extras/tags/{tag_id}/").status_code == 204
    # The fault processor's journal entry (what netoss.domain.faults.outbound writes) on a site.
    site = _nb(stack, writer, "POST", "dcim/sites/", json={"name": tag["name"], "slug": tag["slug"]})
    assert site.status_code == 201, site.text[:300]
    entry = {"assigned_object_type": "dcim.site", "assigned_object_id": site.json()["id"], "comments": "lp test"}
    assert _nb(stack, reader, "POST", "extras/journal-entries/", json=entry).status_code == 403
    assert _nb(stack, faults, "POST", "extras/journal-entries/", json=entry).status_code == 201
    assert _nb(stack, writer, "DELETE", f"dcim/sites/{site.json()['id']}/").status_code == 204


def test_up_refuses_root_without_the_opt_in(stack, monkeypatch):
    """A state directory the service account cannot reach: `up` stops and names the directory."""
    import shutil

    from netoss.embedded.stack import StackError, service_users

    monkeypatch.delenv("NETOSS_ALLOW_ROOT", raising=False)
    private = stack.state_dir / "private-test"
    private.mkdir(mode=0o700, exist_ok=True)
    try:
        other = type(stack)(state_dir=private / "state", port_base=stack.port_base, repo=stack.repo)
        (private / "state").mkdir(exist_ok=True)
        with pytest.raises(StackError) as err:
            service_users(other, log=lambda m: None)
        assert f"{private} (owner root, mode 0700) is not searchable by netoss" in str(err.value)
        assert "NETOSS_ALLOW_ROOT=1" in str(err.value)
        monkeypatch.setenv("NETOSS_ALLOW_ROOT", "1")
        said = []
        assert service_users(other, log=said.append)["portal"] == "root" and said
    finally:
        shutil.rmtree(private)


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
    from netoss.embedded.stack import postgres

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
