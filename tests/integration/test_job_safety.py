"""Cancel, timeout and kill -9 of a job's processes through the real worker (`netoss worker`) on
the test stack's Redis and PostgreSQL; after each, the artifacts hold no credential, no
``env/`` nor ``command``, and no process of the job is left (issue 13: 1, 9, 10).

The jobs are localhost playbooks of a test-only templates directory: the worker started here
serves a queue of its own (JOB_QUEUE), the API is the portal app in this process with the same
configuration. No lab is built.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from netoss.domain.jobs import processes

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SECRET = "Safety-Secret-Parameter-91"

TEMPLATE = """
name: {name}
description: waits on localhost, with a process of its own session
playbook: playbooks/wait.yml
roles: [operator]
timeout: {timeout}
limit: {{parameter: devices}}
parameters:
  - {{name: devices, type: multichoice, choices: [localhost, elsewhere]}}
  - {{name: password, type: secret, var: wait_password}}
"""

PLAYBOOK = """
- name: Wait
  hosts: all
  gather_facts: false
  tasks:
    - name: Use the secret, then wait in a process of its own session and in the task
      ansible.builtin.shell: "test -n \\"$P\\" && (setsid sleep 300 > /dev/null 2>&1 &) && sleep 120"
      environment:
        P: "{{ wait_password }}"
      changed_when: false
"""


@pytest.fixture(scope="module")
def safety(stack, tmp_path_factory):
    """A templates directory of its own, a worker on a queue of its own, and the portal app."""
    from netoss.embedded.stack import portal_app
    from netoss.web import create_app

    repo = tmp_path_factory.mktemp("safety-repo")
    (repo / "jobs").mkdir()
    (repo / "jobs" / "wait.yml").write_text(TEMPLATE.format(name="wait", timeout=600))
    (repo / "jobs" / "wait-short.yml").write_text(TEMPLATE.format(name="wait-short", timeout=10))
    (repo / "playbooks").mkdir()
    (repo / "playbooks" / "wait.yml").write_text(PLAYBOOK)
    (repo / "inventory").mkdir()
    local = "      ansible_connection: local\n      ansible_python_interpreter: '{{ ansible_playbook_python }}'\n"
    (repo / "inventory" / "netbox.yml").write_text(f"all:\n  hosts:\n    localhost:\n{local}    elsewhere:\n{local}")
    settings = {
        "NETOSS_PORTAL_JOB_TEMPLATES_DIR": str(repo / "jobs"),
        "NETOSS_PORTAL_JOB_QUEUE": f"netoss-jobs-safety-{os.getpid()}",
    }
    env = {**os.environ, **portal_app.env(stack), **settings}
    workers = []

    def start_worker():
        log = open(repo / f"worker-{len(workers)}.log", "w")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [str(REPO / ".venv" / "bin" / "netoss"), "worker", "--name", f"safety-{os.getpid()}-{len(workers)}"],
            env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        workers.append(proc)
        return proc

    old = {k: os.environ.get(k) for k in ("NETOSS_PORTAL_CONFIG", *settings)}
    os.environ.update({"NETOSS_PORTAL_CONFIG": portal_app.env(stack)["NETOSS_PORTAL_CONFIG"], **settings})
    try:
        app = create_app()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    start_worker()
    yield app, start_worker, workers
    for proc in workers:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _client(stack, app):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {stack.load_secrets()['portal_admin_token']}"
    return client


def _wait(what, predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _job_row(app, job_id):
    from netoss.data.db import db
    from netoss.data.models import Job

    with app.app_context():
        job = db.session.get(Job, job_id)
        db.session.expunge(job)
        return job


def _locks(app, job_id):
    from sqlalchemy import select

    from netoss.data.db import db
    from netoss.data.models import DeviceLock

    with app.app_context():
        return list(db.session.scalars(select(DeviceLock.device).where(DeviceLock.job_id == job_id)))


def _launch(stack, app, template="wait", device="localhost"):
    client = _client(stack, app)
    resp = client.post(
        "/api/v1/jobs", json={"template": template, "parameters": {"devices": [device], "password": SECRET}}
    )
    assert resp.status_code == 202, resp.get_json()
    return client, resp.get_json()["id"]


def _wait_running(app, job_id, device="localhost", timeout=120):
    private = Path(app.config["JOBS_DIR"]) / str(job_id)

    def sleeping():
        return [p for p in processes.find(private) if b"sleep\x00300" in _cmdline(p)]

    _wait(f"job {job_id}'s playbook to run", sleeping, timeout)
    assert _locks(app, job_id) == [device]
    return private


def _launch_and_wait_running(stack, app, template="wait", device="localhost"):
    client, job_id = _launch(stack, app, template, device)
    return client, job_id, _wait_running(app, job_id, device)


def _cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _ended(app, job_id, timeout):
    return _wait(f"job {job_id} to end", lambda: (j := _job_row(app, job_id)).finished_at is not None and j, timeout)


def _assert_nothing_left(stack, app, client, job_id, private):
    assert processes.find(private) == [], "a process of the job is left"
    assert _locks(app, job_id) == []
    resp = client.get(f"/api/v1/jobs/{job_id}/artifacts")
    assert resp.status_code == 200, resp.get_json()
    secrets = stack.load_secrets()
    needles = [SECRET, stack.netbox_token(), secrets["portal_admin_token"], secrets["portal_automation_token"]]
    with tarfile.open(fileobj=io.BytesIO(resp.data)) as tar:
        members = [m for m in tar.getmembers() if m.isfile()]
        assert members
        for member in members:
            assert not member.name.endswith("/command") and "/env/" not in member.name, member.name
            data = tar.extractfile(member).read()
            for needle in needles:
                assert needle.encode() not in data, f"a credential is in {member.name}"
    assert not (private / "env").exists() and not list(private.glob("artifacts/*/command"))


def test_cancel_stops_every_process_then_frees_the_locks(stack, safety):
    app, _start, _workers = safety
    client, job_id, private = _launch_and_wait_running(stack, app)
    assert client.post(f"/api/v1/jobs/{job_id}/cancel").status_code == 200
    job = _ended(app, job_id, 60)
    assert job.status == "canceled"
    _assert_nothing_left(stack, app, client, job_id, private)


def test_a_timed_out_run_is_stopped_and_cleaned(stack, safety):
    app, _start, _workers = safety
    client, job_id, private = _launch_and_wait_running(stack, app, "wait-short")
    job = _ended(app, job_id, 90)
    assert job.status == "failed" and job.error.startswith("timed out after 10 s"), job.error
    _assert_nothing_left(stack, app, client, job_id, private)


def test_kill_9_of_the_work_horse_and_ansible_playbook_ends_the_job_as_lost(stack, safety):
    app, _start, _workers = safety
    client, job_id, private = _launch_and_wait_running(stack, app)
    horse = _job_row(app, job_id).pid
    playbook = [p for p in processes.find(private) if b"ansible-playbook" in _cmdline(p)]
    assert horse and playbook
    for pid in [horse, *playbook]:
        os.kill(pid, signal.SIGKILL)
    job = _ended(app, job_id, 60)  # found by the worker's reaper (every 10 s)
    assert job.status == "failed" and job.error.startswith("lost: its process"), job.error
    _assert_nothing_left(stack, app, client, job_id, private)


def test_kill_9_of_the_worker_ends_the_job_and_a_new_worker_runs_the_next(stack, safety):
    app, start_worker, workers = safety
    client, job_id, private = _launch_and_wait_running(stack, app)
    [worker] = [w for w in workers if w.poll() is None]
    assert _job_row(app, job_id).worker.startswith("safety-")
    worker.kill()
    worker.wait()
    job = _ended(app, job_id, 60)  # its work horse sees its worker gone and stops the run
    assert job.status == "failed" and "worker lost" in job.error, job.error
    _assert_nothing_left(stack, app, client, job_id, private)
    start_worker()
    client, job_id, private = _launch_and_wait_running(stack, app)
    assert client.post(f"/api/v1/jobs/{job_id}/cancel").status_code == 200
    _ended(app, job_id, 60)
    _assert_nothing_left(stack, app, client, job_id, private)


def _two_workers(workers, start_worker):
    while len([w for w in workers if w.poll() is None]) < 2:
        start_worker()


def _parked(app, job_id, holder):
    def waiting():
        job = _job_row(app, job_id)
        return job.status == "pending" and (job.waiting_for or "").startswith(f"device localhost is being changed "
                                                                              f"by job {holder}") and job  # fmt: skip

    return _wait(f"job {job_id} to wait for job {holder}'s device", waiting, 60)


def test_a_job_waiting_for_a_device_holds_no_worker_and_runs_once_it_is_free(stack, safety):
    """Queues by device group: with two workers, one running a job on a device, a second job on
    that device waits out of the workers, so a third job, on another device, runs at once (it
    waited for the second job's lock wait, 5 minutes, before); the waiting job runs as soon as
    the device is free."""
    app, start_worker, workers = safety
    _two_workers(workers, start_worker)
    client, holder, holder_dir = _launch_and_wait_running(stack, app)
    _, waiting = _launch(stack, app)
    _parked(app, waiting, holder)
    _, other = _launch(stack, app, device="elsewhere")
    other_dir = _wait_running(app, other, "elsewhere", timeout=60)
    assert _job_row(app, waiting).status == "pending"
    assert client.post(f"/api/v1/jobs/{holder}/cancel").status_code == 200
    _ended(app, holder, 60)
    waiting_dir = _wait_running(app, waiting, timeout=60)  # woken by the holder's end, first in the queue
    job = _job_row(app, waiting)
    assert job.status == "running" and job.started_at >= job.waiting_since
    for job_id, private in ((waiting, waiting_dir), (other, other_dir)):
        assert client.post(f"/api/v1/jobs/{job_id}/cancel").status_code == 200
        _ended(app, job_id, 60)
        _assert_nothing_left(stack, app, client, job_id, private)
    _assert_nothing_left(stack, app, client, holder, holder_dir)


def test_kill_9_of_the_worker_changing_a_device_lets_the_survivor_run_the_job_waiting_for_it(stack, safety):
    app, start_worker, workers = safety
    _two_workers(workers, start_worker)
    client, holder, holder_dir = _launch_and_wait_running(stack, app)
    _, waiting = _launch(stack, app)
    _parked(app, waiting, holder)
    name = _job_row(app, holder).worker
    dead = workers[int(name.rsplit("-", 1)[1])]
    dead.kill()
    dead.wait()
    lost = _ended(app, holder, 90)
    assert lost.status == "failed" and "worker lost" in lost.error, lost.error
    private = _wait_running(app, waiting, timeout=90)
    job = _job_row(app, waiting)
    assert job.status == "running" and job.worker != name
    assert client.post(f"/api/v1/jobs/{waiting}/cancel").status_code == 200
    _ended(app, waiting, 60)
    _assert_nothing_left(stack, app, client, waiting, private)
    _assert_nothing_left(stack, app, client, holder, holder_dir)
