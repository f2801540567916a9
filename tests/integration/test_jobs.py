"""Jobs through the real queue: the test stack's portal, Redis and worker (started by `up`)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import requests

from netoss.embedded.stack import postgres

pytestmark = pytest.mark.integration


def _api(stack):
    token = stack.load_secrets()["portal_admin_token"]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def _wait(session, url, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = session.get(url, timeout=10).json()
        if job["status"] in ("successful", "failed", "canceled", "error"):
            return job
        time.sleep(0.5)
    raise AssertionError(f"job still {job['status']} after {timeout} s: {job}")


def test_a_check_mode_sot_sync_runs_through_the_queue(stack, demo_synced):
    api = _api(stack)
    resp = api.post(f"{stack.portal_url}/api/v1/jobs", json={"template": "sot-sync", "check": True}, timeout=30)
    assert resp.status_code == 202, resp.text
    job = _wait(api, f"{stack.portal_url}/api/v1/jobs/{resp.json()['id']}")
    assert job["status"] == "successful", job
    assert job["check"] and job["worker"] and job["rc"] == 0
    events = api.get(f"{stack.portal_url}/api/v1/jobs/{job['id']}/events?limit=5000", timeout=10).json()
    assert len(events) == job["event_count"] and [e["seq"] for e in events] == list(range(1, len(events) + 1))
    output = "\n".join(e["stdout"] or "" for e in events)
    assert "Plan: " in output and "PLAY RECAP" in output
    # Paging: after=<seq> gives the rest.
    tail = api.get(f"{stack.portal_url}/api/v1/jobs/{job['id']}/events?after=3&limit=2", timeout=10).json()
    assert [e["seq"] for e in tail] == [4, 5]


@pytest.fixture(scope="module")
def jobs_lab(stack, nb, demo_synced):
    """A lab of this module's own names (j*), not configured: enough to log in to its routers."""
    from netoss.embedded import lab
    from netoss.embedded.lab.spec import LabConfig

    spec = lab.up(stack, nb, LabConfig(ns_prefix="j", bridge="netoss-jbr0", user="netopsj"), log=print)
    yield spec
    lab.down(stack, log=print)


def test_credentials_never_reach_events_artifacts_logs_or_the_database(stack, demo_synced, jobs_lab):
    """Runs that logged in to a router with the lab's device password, and used the NetBox token."""
    api = _api(stack)
    url = f"{stack.portal_url}/api/v1/jobs"
    resp = api.post(url, json={"template": "sot-sync", "check": True}, timeout=30)
    job = _wait(api, f"{url}/{resp.json()['id']}")
    assert job["status"] == "successful", job
    # A health check of pe1: SSH login with the device password, then the routing state (not
    # configured here, so the check fails: after logging in and reading the router).
    resp = api.post(
        url, json={"template": "health-check", "parameters": {"devices": ["pe1"], "timeout": 0}}, timeout=30
    )
    assert resp.status_code == 202, resp.text
    health = _wait(api, f"{url}/{resp.json()['id']}")
    events = api.get(f"{url}/{health['id']}/events?limit=5000", timeout=10).json()
    output = "\n".join(e["stdout"] or "" for e in events)
    assert health["status"] == "failed" and "verification failed" in output, output[-2000:]
    assert "pe1" in (health["stats"] or {}).get("failures", {})
    secrets = stack.load_secrets()
    needles = [stack.netbox_token(), secrets["netbox_token_secret"], secrets["portal_admin_token"]]
    creds = stack.state_dir / "lab" / "credentials.json"
    if creds.exists():
        import json

        needles.append(json.loads(creds.read_text())["password"])
    dump = subprocess.run(
        [postgres.bindir() / "pg_dump", "-h", "127.0.0.1", "-p", str(stack.port("postgres")), "-U", "postgres",
         "--data-only", "netoss_portal"],
        env={"PGPASSWORD": secrets["postgres_password"], "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "job_events" in dump
    places = {"portal database": dump}
    for f in [*Path(stack.state_dir / "jobs").rglob("*"), *stack.logs.glob("portal*.log")]:
        if f.is_file():
            places[str(f)] = f.read_text(errors="replace")
    for where, text in places.items():
        for needle in needles:
            assert needle not in text, f"a credential is in {where}"


def test_bad_launches_are_4xx_and_run_nothing(stack):
    api = _api(stack)
    url = f"{stack.portal_url}/api/v1/jobs"
    before = len(api.get(url, timeout=10).json())
    cases = [
        ({"template": "nope"}, 404),
        ({"template": "config-push", "parameters": {"devices": ["no-such-router"]}}, 400),
        ({"template": "backup", "check": True}, 400),
        ({"template": "config-push", "parameters": {"devices": "{{ lookup('pipe', 'id') }}"}}, 400),
        ({"templat": "backup"}, 400),
    ]
    for body, status in cases:
        resp = api.post(url, json=body, timeout=30)
        assert resp.status_code == status, (body, resp.text)
    no_token = requests.post(url, json={"template": "sot-sync"}, timeout=10)
    assert no_token.status_code == 401
    assert len(api.get(url, timeout=10).json()) == before


def _tree(pid: int) -> list[int]:
    """pid and all its descendants."""
    out = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            out += _tree(int(child))
    return out


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:120]
    except OSError:
        return "?"


def test_a_job_whose_worker_is_killed_fails_and_a_relaunch_works(stack, demo_synced):
    import os
    import signal

    from netoss.embedded.stack.supervisor import Supervisor

    api = _api(stack)
    url = f"{stack.portal_url}/api/v1/jobs"
    for _attempt in range(3):
        job = api.post(url, json={"template": "sot-sync", "check": True}, timeout=30).json()
        deadline = time.monotonic() + 60
        while api.get(f"{url}/{job['id']}", timeout=10).json()["status"] == "pending":
            assert time.monotonic() < deadline, "no worker took the job"
            time.sleep(0.1)
        worker = Supervisor(stack).processes()["portal-worker"]["pid"]
        descendants = _tree(worker)[1:]  # its work horse, ansible-runner's ansible-playbook and forks
        os.kill(worker, signal.SIGKILL)  # the worker alone crashes (the OOM killer's choice)
        if api.get(f"{url}/{job['id']}", timeout=10).json()["status"] == "running":
            break  # killed mid-job
    else:
        pytest.skip("the job ended before the worker could be killed, three times")
    lost = _wait(api, f"{url}/{job['id']}", timeout=90)
    assert lost["status"] == "failed" and lost["error"].startswith("worker lost:"), lost
    # The run the dead worker had forked stopped too: nothing goes on changing devices
    # after their locks were released.
    deadline = time.monotonic() + 60
    while [p for p in descendants if _running(p)]:
        assert time.monotonic() < deadline, f"still running: {[_cmdline(p) for p in descendants if _running(p)]}"
        time.sleep(0.5)
    assert postgres.psql(stack, "SELECT count(*) FROM device_locks", database="netoss_portal").strip() == "0"
    # supervisord restarted the worker: a relaunch runs.
    again = api.post(url, json={"template": "sot-sync", "check": True}, timeout=30).json()
    assert _wait(api, f"{url}/{again['id']}")["status"] == "successful"


def test_netoss_job_run_prints_the_live_output_and_exits_by_the_result(stack, nb_env, demo_synced):
    netoss = str(Path(__file__).resolve().parents[2] / ".venv/bin/netoss")
    env = {k: v for k, v in nb_env.items() if k not in ("PORTAL_URL", "PORTAL_TOKEN")}  # found from the stack
    ok = subprocess.run(
        [netoss, "job", "run", "sot-sync", "-p", "prune=false", "--check"],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "queued" in ok.stdout and "PLAY RECAP" in ok.stdout and ok.stdout.rstrip().endswith("successful")
    refused = subprocess.run(
        [netoss, "job", "run", "backup", "--check"], env=env, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 1 and "HTTP 400: template 'backup' cannot run in check mode" in refused.stderr
    bad = subprocess.run(
        [netoss, "job", "run", "sot-sync", "-p", "prune=maybe"], env=env, capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 1 and "-p prune: 'maybe' is not true or false" in bad.stderr


def test_restarting_the_portal_mid_job_loses_nothing(stack, demo_synced):
    from netoss.embedded.stack.supervisor import Supervisor

    api = _api(stack)
    url = f"{stack.portal_url}/api/v1/jobs"
    job = api.post(url, json={"template": "sot-sync", "check": True}, timeout=30).json()
    deadline = time.monotonic() + 60
    while api.get(f"{url}/{job['id']}", timeout=10).json()["status"] == "pending":
        assert time.monotonic() < deadline, "no worker took the job"
        time.sleep(0.1)
    sup = Supervisor(stack)
    sup.stop_program("portal-web")  # the workers keep running and writing
    sup.start_program("portal-web")
    from netoss.embedded.stack import portal_app

    deadline = time.monotonic() + 60
    while not portal_app.healthy(stack):
        assert time.monotonic() < deadline, "the portal did not come back"
        time.sleep(0.2)
    done = _wait(api, f"{url}/{job['id']}")
    assert done["status"] == "successful", done
    events = api.get(f"{url}/{job['id']}/events?limit=5000", timeout=10).json()
    assert [e["seq"] for e in events] == list(range(1, done["event_count"] + 1))
    # The run's end: its recap, then where its time went (netoss.core.timings, after the recap).
    stats = max(i for i, e in enumerate(events) if e["event"] == "playbook_on_stats")
    assert all(e["event"] == "verbose" for e in events[stats + 1 :])
    assert "WHERE THE TIME WENT" in "".join(e["stdout"] or "" for e in events[stats + 1 :])
