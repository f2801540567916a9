"""Queues by device group (issue 18): a job whose devices other jobs are changing waits out of
the workers (parked: pending, saying since when and for what) and is queued again, first, once
they are free; the worker goes on meanwhile with the jobs for other devices. On the portal's
PostgreSQL and a real Redis with RQ's own queue; the worker's loop is run in this process
(`netoss.daemons.worker.run_job`, what each RQ work horse runs) one queued job at a time.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from rq.job import Job as RQJob
from sqlalchemy import delete, select, text, update

from netoss.daemons.worker import run_job
from netoss.data.db import db
from netoss.data.models import DeviceLock, Job, User, utcnow
from netoss.domain.jobs import queue, runner
from netoss.domain.jobs.launch import launch
from netoss.domain.jobs.queue import wakeable
from netoss.web import create_app
from netoss.web.security import hash_password

PASSWORD = "parking-lot-password"

ROOT = Path(__file__).resolve().parents[2]
DEVICES = ["edge-a", "edge-b", "core-x"]  # any names: none of them the demo's

TEMPLATE = """
name: touch
description: changes the devices named, here a debug message on each
playbook: playbooks/touch.yml
roles: [operator]
changes_devices: true
limit: {parameter: devices}
parameters:
  - {name: devices, type: multichoice, choices: [edge-a, edge-b, core-x]}
  - {name: secret, type: secret, var: touch_secret, required: false}
"""

PLAYBOOK = """
- name: Touch
  hosts: all
  gather_facts: false
  tasks:
    - name: Say it
      ansible.builtin.debug:
        msg: "touched {{ inventory_hostname }}"
"""


@pytest.fixture(scope="module")
def app(postgres, redis_url, tmp_path_factory):
    repo = tmp_path_factory.mktemp("parking-repo")
    (repo / "jobs").mkdir()
    (repo / "jobs" / "touch.yml").write_text(TEMPLATE)
    (repo / "playbooks").mkdir()
    (repo / "playbooks" / "touch.yml").write_text(PLAYBOOK)
    (repo / "ansible.cfg").write_text(f"[defaults]\ncollections_path = {ROOT / '.collections'}\n")
    (repo / "inventory").mkdir()
    local = "      ansible_connection: local\n      ansible_python_interpreter: '{{ ansible_playbook_python }}'\n"
    hosts = "".join(f"    {d}:\n{local}" for d in DEVICES)
    (repo / "inventory" / "netbox.yml").write_text("all:\n  hosts:\n" + hosts)
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": postgres.database(),
            "SECRET_KEY": "t",
            "TESTING": True,
            "REDIS_URL": redis_url,
            "JOB_QUEUE": "parking-test",
            "JOB_TEMPLATES_DIR": str(repo / "jobs"),
            "JOBS_DIR": str(repo / "runs"),
        }
    )
    with app.app_context():
        db.session.add(User(username="otto", password_hash=hash_password(PASSWORD), role="operator"))
        db.session.commit()
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def clean(app):
    with app.app_context():
        db.session.rollback()
        for table in ("device_locks", "job_events", "jobs"):
            db.session.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - our own table names
        db.session.commit()
    queue.connection(app).flushdb()
    yield


def _user():
    return db.session.scalar(select(User).where(User.username == "otto"))


def _launch(app, *devices, secret=None) -> int:
    values = {"devices": list(devices), **({"secret": secret} if secret else {})}
    return launch(_user(), "touch", values, False, queue.enqueuer(app)).id


def _queued(app) -> list[str]:
    return queue.rq_queue(app).job_ids


def _work(app) -> int:
    """What a worker does with the first job of the queue (RQ's work horse: run_queued)."""
    rq_id = queue.rq_queue(app).pop_job_id()
    assert rq_id, "the queue is empty"
    job_id, sealed = RQJob.fetch(rq_id, connection=queue.connection(app)).args
    run_job(app, job_id, sealed, {"PATH": "/usr/bin:/bin"})
    return job_id


def _job(job_id) -> Job:
    db.session.rollback()
    return db.session.get(Job, job_id, populate_existing=True)


def _page(app, job_id) -> str:
    """The job's page, as the operator signed in sees it (an app context of its own: a fresh ``g``)."""
    with app.app_context():
        client = app.test_client()
        login = client.get("/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
        resp = client.post("/login", data={"username": "otto", "password": PASSWORD, "csrf_token": csrf})
        assert resp.status_code == 302, resp.get_data(as_text=True)[-600:]
        return client.get(f"/jobs/{job_id}").get_data(as_text=True)


def _holder(*devices) -> Job:
    """A job of another worker changing ``devices`` (running, holding their locks)."""
    job = Job(template="touch", parameters={}, created_by="otto", status="running", limit=",".join(devices),
              started_at=utcnow())  # fmt: skip
    db.session.add(job)
    db.session.commit()
    db.session.add_all([DeviceLock(device=d, job_id=job.id) for d in devices])
    db.session.commit()
    return job


def _ends(job: Job) -> None:
    job.status, job.finished_at = "successful", utcnow()
    db.session.commit()
    runner.release_locks(job.id)


def test_a_job_on_a_locked_device_waits_out_of_the_worker_and_goes_first_once_free(app):
    with app.app_context():
        holder = _holder("edge-a")
        first = _launch(app, "edge-a", secret="Parked-Secret-7")
        other = _launch(app, "edge-b")
        assert _queued(app) == [f"netoss-job-{first}", f"netoss-job-{other}"]
        # The worker takes the job for the locked device: it parks, and the worker is free at once.
        assert _work(app) == first
        job = _job(first)
        assert job.status == "pending" and job.started_at is None and job.waiting_since is not None
        assert job.waiting_for.startswith(f"device edge-a is being changed by job {holder.id} (locked since ")
        assert job.to_dict()["waiting_for"] == job.waiting_for
        page = _page(app, first)
        assert "waiting, out of the workers, since" in page and f"edge-a is being changed by job {holder.id}" in page
        assert _queued(app) == [f"netoss-job-{other}"]
        # ... and runs the job for another device meanwhile.
        assert _work(app) == other and _job(other).status == "successful"
        # A newer job for the same device waits behind; one for a free device is not held back.
        second = _launch(app, "edge-a")
        assert _work(app) == second and _job(second).status == "pending"
        third = _launch(app, "core-x")
        # The holder ends: the job that waited longest is queued again, first, once; the newer
        # one still waits (behind it).
        _ends(holder)
        assert queue.wake(app) == [first]
        assert queue.wake(app) == []  # woken already: not queued twice
        assert _queued(app) == [f"netoss-job-{first}-wake-1", f"netoss-job-{third}"]
        assert _work(app) == first
        job = _job(first)
        assert job.status == "successful", job.error
        assert job.started_at >= job.waiting_since and "edge-a" in job.waiting_for  # it says it waited
        assert re.search(r"waited \d+ s for its devices \(device edge-a is being changed by job", _page(app, first))
        # Its end woke the next one (run_job wakes after each job), first in the queue.
        assert _queued(app) == [f"netoss-job-{second}-wake-1", f"netoss-job-{third}"]
        assert [_work(app), _work(app)] == [second, third]
        assert _job(second).status == "successful" and _job(third).status == "successful"
        assert db.session.scalars(select(DeviceLock)).all() == []


def test_the_job_that_waited_longest_takes_the_device_first(app):
    with app.app_context():
        holder = _holder("edge-a")
        older = _launch(app, "edge-a")
        _work(app)
        _ends(holder)
        # The device is free, but an older job waits for it: a newer one lets it go first.
        newer = _launch(app, "edge-a")
        assert _queued(app) == [f"netoss-job-{newer}"]
        assert _work(app) == newer
        assert _job(newer).status == "pending"
        assert _job(newer).waiting_for == f"jobs {older} wait for the same devices, first"
        # Both are woken in their order: the older one runs, then the newer.
        assert _queued(app) == [f"netoss-job-{older}-wake-1"]
        assert _work(app) == older and _job(older).status == "successful"
        assert _work(app) == newer and _job(newer).status == "successful"


def test_wakeable_follows_the_age_of_the_jobs_and_every_device():
    assert wakeable([(1, ["a"]), (2, ["a"]), (3, ["b"])], set()) == [1, 3]
    assert wakeable([(1, ["a"]), (2, ["b"])], {"a"}) == [2]
    assert wakeable([(1, ["a", "b"]), (2, ["b"]), (3, ["c"])], {"a"}) == [3]  # 2 waits behind 1
    assert wakeable([(1, ["*"]), (2, ["c"])], set()) == [1]  # every device: nothing after it
    assert wakeable([(1, ["*"])], {"a"}) == []
    assert wakeable([(1, ["a"])], {"*"}) == []
    assert wakeable([], {"a"}) == []


def test_a_job_that_waits_too_long_fails_saying_what_it_waited_for(app):
    with app.app_context():
        holder = _holder("edge-b")
        job_id = _launch(app, "edge-b")
        _work(app)
        key = queue.parked_key(app, job_id)
        assert queue.connection(app).exists(key)
        conn = queue.connection(app)
        conn.expire(key, 5)
        assert queue.expire_parked(app, conn) == []  # not yet
        assert conn.ttl(key) > 5  # its place kept while it waits its turn, however long the line
        long_ago = utcnow() - dt.timedelta(seconds=app.config["JOB_LOCK_WAIT"] + 1)
        job = _job(job_id)
        job.waiting_since = long_ago
        db.session.commit()
        # Waited long, but for a job that took the device a moment ago: its turn comes (a long
        # line of jobs for one device, each changing it in turn, never fails its last ones).
        assert queue.expire_parked(app, conn) == []
        db.session.execute(update(DeviceLock).where(DeviceLock.job_id == holder.id).values(acquired_at=long_ago))
        db.session.commit()
        # The holder has held it as long: stuck; the waiting job fails saying which job holds it.
        assert queue.expire_parked(app, conn) == [job_id]
        job = _job(job_id)
        assert job.status == "failed" and job.finished_at is not None
        assert job.error.startswith(f"device edge-b is being changed by job {holder.id} (locked since ")
        assert not conn.exists(key)


def test_a_woken_job_past_its_wait_fails_when_a_worker_takes_it(app):
    with app.app_context():
        holder = _holder("edge-b")
        job_id = _launch(app, "edge-b")
        _work(app)
        long_ago = utcnow() - dt.timedelta(seconds=app.config["JOB_LOCK_WAIT"] + 1)
        job = _job(job_id)
        job.waiting_since = long_ago
        db.session.execute(update(DeviceLock).where(DeviceLock.job_id == holder.id).values(acquired_at=long_ago))
        db.session.commit()
        queue.connection(app).hdel(queue.parked_key(app, job_id), "woken")
        # Still locked when a worker takes it again: it has waited long enough, it fails.
        queue.enqueue(app, job, queue.connection(app).hget(queue.parked_key(app, job_id), "sealed").decode(), 60,
                      again=1)  # fmt: skip
        _work(app)
        job = _job(job_id)
        assert job.status == "failed" and job.error.startswith(f"device edge-b is being changed by job {holder.id}")


def test_a_waiting_job_whose_place_is_lost_fails_saying_so(app):
    with app.app_context():
        _holder("core-x")
        job_id = _launch(app, "core-x")
        _work(app)
        queue.connection(app).delete(queue.parked_key(app, job_id))  # Redis emptied, say
        assert queue.expire_parked(app, queue.connection(app)) == [job_id]
        job = _job(job_id)
        assert job.status == "failed" and job.error.startswith("lost: its place among the jobs waiting for devices")


def test_cancelling_a_waiting_job_lets_the_younger_ones_go(app):
    with app.app_context():
        holder = _holder("edge-a")
        older = _launch(app, "edge-a")
        _work(app)
        _ends(holder)
        newer = _launch(app, "edge-a")
        _work(app)  # parks behind the older one
        queue.connection(app).delete(queue.rq_queue(app).key)  # the older one's wake is lost
        assert _queued(app) == []
        queue.cancel_pending(app, _job(older))
        assert _job(older).status == "canceled"
        assert not queue.connection(app).exists(queue.parked_key(app, older))
        assert _queued(app) == [f"netoss-job-{newer}-wake-1"]
        assert _work(app) == newer and _job(newer).status == "successful"


def test_check_mode_and_device_free_jobs_never_wait(app):
    with app.app_context():
        _holder("edge-a")
        job = launch(_user(), "touch", {"devices": ["edge-a"]}, True, queue.enqueuer(app))
        assert _work(app) == job.id and _job(job.id).status == "successful"
        assert _job(job.id).waiting_since is None
        db.session.execute(delete(DeviceLock))
        db.session.commit()


def test_a_wake_whose_run_was_lost_is_made_again(app):
    """A woken job's queued run that disappeared (a worker that died taking it, a queue emptied)
    does not leave the job parked: the next wake (every job's end, every reap) queues it again."""
    with app.app_context():
        holder = _holder("edge-a")
        job_id = _launch(app, "edge-a")
        _work(app)
        _ends(holder)
        assert queue.wake(app) == [job_id]
        assert queue.wake(app) == []  # its run is queued: not twice
        lost = queue.rq_queue(app).pop_job_id()
        RQJob.fetch(lost, connection=queue.connection(app)).delete()
        assert queue.wake(app) == [job_id]
        assert _queued(app) == [f"netoss-job-{job_id}-wake-2"]
        assert _work(app) == job_id and _job(job_id).status == "successful"


def test_a_job_waiting_in_another_queue_is_left_to_its_workers(app):
    with app.app_context():
        _holder("core-x")
        job_id = _launch(app, "core-x")
        _work(app)
        conn = queue.connection(app)
        conn.rename(queue.parked_key(app, job_id), f"{queue.PARKED_PREFIX}another-queue:{job_id}")
        db.session.execute(delete(DeviceLock))
        db.session.commit()
        assert queue.wake(app) == [] and _queued(app) == []  # not this queue's to wake
        assert queue.expire_parked(app, conn) == []  # nor lost
        conn.delete(f"{queue.PARKED_PREFIX}another-queue:{job_id}")
        assert queue.expire_parked(app, conn) == [job_id]
