"""Running jobs: launch checks, ansible-runner on a real local playbook, events, secrets, locks.

The queue is bypassed (the launch hands the job straight to the runner); the worker and RQ
are exercised against the stack's Redis by the integration tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from netoss.data.db import db
from netoss.data.models import DeviceLock, Job, JobEvent, User
from netoss.domain.jobs import runner
from netoss.domain.jobs.launch import LaunchError, launch
from netoss.web import create_app
from netoss.web.security import hash_password, new_token

SECRET = "Sup3r-Secret-Value-42"
ROOT = Path(__file__).resolve().parents[2]

ECHO_TEMPLATE = """
name: echo
description: says hello on the controller
playbook: playbooks/echo.yml
roles: [operator]
check_mode: allowed
limit: {parameter: devices}
parameters:
  - {name: greeting, type: string, pattern: "[a-z ]+", default: hello, var: echo_greeting}
  - {name: devices, type: multichoice, choices: [localhost, pe1]}
  - {name: api_password, type: secret, var: echo_password}
"""

ECHO_PLAYBOOK = """
- name: Echo
  hosts: all
  gather_facts: false
  tasks:
    - name: Say it
      ansible.builtin.debug:
        msg: "{{ echo_greeting }} from {{ inventory_hostname }}; the password is {{ echo_password | default('unset') }}"
"""


@pytest.fixture
def repo(tmp_path):
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "echo.yml").write_text(ECHO_TEMPLATE)
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "echo.yml").write_text(ECHO_PLAYBOOK)
    (tmp_path / "ansible.cfg").write_text(
        f"[defaults]\ncollections_path = {ROOT / '.collections'}\ncallbacks_enabled = netoss.core.job_plan\n"
    )
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory" / "netbox.yml").write_text(
        "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
        "      ansible_python_interpreter: '{{ ansible_playbook_python }}'\n"
    )
    return tmp_path


@pytest.fixture
def app(tmp_path, repo):
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'portal.db'}",
            "SECRET_KEY": "test-secret",
            "TESTING": True,
            "JOB_TEMPLATES_DIR": str(repo / "jobs"),
            "JOBS_DIR": str(tmp_path / "runs"),
        }
    )
    with app.app_context():
        upgrade()
        for name, role in (("vera", "viewer"), ("otto", "operator")):
            db.session.add(User(username=name, password_hash=hash_password("x" * 12), role=role))
        db.session.commit()
    return app


def _user(name):
    return db.session.scalar(select(User).where(User.username == name))


def _run_now(app):
    def enqueue(job, sealed):
        runner.execute(job.id, app=app, secrets=runner.unseal(app, sealed), env={"PATH": "/usr/bin:/bin"})

    return enqueue


def test_a_job_runs_with_its_events_stored_and_secrets_masked(app, tmp_path):
    with app.app_context():
        job = launch(
            _user("otto"),
            "echo",
            {"greeting": "good morning", "devices": ["localhost"], "api_password": SECRET},
            False,
            _run_now(app),
        )
        db.session.refresh(job)
        assert job.status == "successful", job.error
        assert job.rc == 0 and job.limit == "localhost" and job.stats["ok"] == {"localhost": 1}
        assert job.parameters == {"greeting": "good morning", "devices": ["localhost"], "api_password": "********"}
        # netoss.core.job_plan told the totals: one play, one host, one task; all done.
        assert job.plan == [{"play": "Echo", "hosts": ["localhost"], "tasks": 1}]
        from netoss.web.api import job_progress

        progress = job_progress(job)
        assert progress["tasks_total"] == 1 and progress["hosts_total"] == 1 and progress["hosts_finished"] == 1
        assert progress["hosts"]["localhost"]["ok"] == 1 and progress["hosts"]["localhost"]["expected"] == 1
        events = db.session.scalars(select(JobEvent).where(JobEvent.job_id == job.id).order_by(JobEvent.seq)).all()
        assert [e.seq for e in events] == list(range(1, len(events) + 1)) and job.event_count == len(events)
        assert events[0].event == "playbook_on_start" and events[-1].event == "playbook_on_stats"
        output = "\n".join(e.stdout or "" for e in events)
        assert "good morning from localhost; the password is ********" in output
        assert SECRET not in output
        assert not db.session.scalars(select(DeviceLock)).all()  # released
    # Nothing of the run keeps the secret: not the database, not the private data directory.
    assert SECRET.encode() not in (tmp_path / "portal.db").read_bytes()
    for f in (tmp_path / "runs").rglob("*"):
        if f.is_file():
            assert SECRET.encode() not in f.read_bytes(), f
    assert not (tmp_path / "runs" / str(job.id) / "env").exists()


def test_check_mode_and_a_failing_run(app, repo):
    (repo / "playbooks" / "echo.yml").write_text(
        ECHO_PLAYBOOK + "    - name: Fail\n      ansible.builtin.fail:\n        msg: broken on purpose\n"
    )
    with app.app_context():
        job = launch(_user("otto"), "echo", {"devices": ["localhost"]}, True, _run_now(app))
        db.session.refresh(job)
        assert job.check_mode and job.status == "failed" and job.rc != 0
        out = "\n".join(e.stdout or "" for e in db.session.scalars(select(JobEvent).where(JobEvent.job_id == job.id)))
        assert "broken on purpose" in out


@pytest.mark.parametrize(
    ("user", "template", "values", "check", "status", "message"),
    [
        ("otto", "nope", {}, False, 404, "no job template 'nope'"),
        ("vera", "echo", {}, False, 403, "template 'echo' is not allowed for the viewer role"),
        ("otto", "echo", {"greeting": "Hi!"}, False, 400, "greeting: 'Hi!' does not match"),
        ("otto", "echo", {"greeting": "{{ lookup('pipe', 'id') }}"}, False, 400, "must not contain template syntax"),
        ("otto", "echo", {"devices": ["p9"]}, False, 400, "devices: 'p9' is not one of"),
    ],
)
def test_bad_launches_run_nothing(app, user, template, values, check, status, message):
    ran = []
    with app.app_context():
        with pytest.raises(LaunchError) as err:
            launch(_user(user), template, values, check, lambda job, sealed: ran.append(job))
        assert err.value.status == status and message in str(err.value)
        assert ran == [] and db.session.scalars(select(Job)).all() == []


def test_a_locked_device_fails_the_second_job_clearly(app):
    with app.app_context():
        holder = Job(template="echo", parameters={}, created_by="otto", status="running", limit="localhost")
        db.session.add(holder)
        db.session.commit()
        db.session.add(DeviceLock(device="localhost", job_id=holder.id))
        db.session.commit()

        def enqueue(job, sealed):
            runner.execute(job.id, app=app, env={"PATH": "/usr/bin:/bin"}, lock_wait=0)

        job = launch(_user("otto"), "echo", {"devices": ["localhost"]}, False, enqueue)
        db.session.refresh(job)
        assert job.status == "failed"
        assert job.error.startswith(f"device localhost is being changed by job {holder.id}")
        # A check-mode run changes nothing: it takes no lock and runs.
        job = launch(_user("otto"), "echo", {"devices": ["localhost"]}, True, _run_now(app))
        db.session.refresh(job)
        assert job.status == "successful"


def test_the_api_launch_answers_4xx_and_503_without_a_queue(app):
    client = app.test_client()
    with app.app_context():
        _row, token = new_token(_user("otto"), "t")
        db.session.commit()
    auth = {"Authorization": f"Bearer {token}"}
    resp = client.post("/api/v1/jobs", headers=auth, json={"template": "echo", "parameters": {"greeting": "X"}})
    assert resp.status_code == 400 and resp.get_json()["problems"] == ["greeting: 'X' does not match [a-z ]+"]
    assert client.post("/api/v1/jobs", headers=auth, json={"template": "echo", "x": 1}).status_code == 400
    resp = client.post("/api/v1/jobs", headers=auth, json={"template": "echo"})
    assert resp.status_code == 503 and "the job queue is unavailable" in resp.get_json()["error"]
    jobs = client.get("/api/v1/jobs", headers=auth).get_json()
    assert [(j["template"], j["status"]) for j in jobs] == [("echo", "error")]
    assert client.get(f"/api/v1/jobs/{jobs[0]['id']}/events", headers=auth).get_json() == []
    assert client.get("/api/v1/jobs/999", headers=auth).status_code == 404


def test_secrets_are_sealed_for_the_queue(app):
    with app.app_context():
        sealed = runner.seal(app, {"api_password": SECRET})
        assert SECRET not in sealed and runner.unseal(app, sealed) == {"api_password": SECRET}


def _token(app, name):
    with app.app_context():
        _row, token = new_token(_user(name), "t")
        db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_a_broken_template_edit_is_a_clear_500_and_logged_with_its_file(app, repo, caplog):
    client = app.test_client()
    otto = _token(app, "otto")
    assert client.get("/api/v1/job-templates", headers=otto).status_code == 200
    (repo / "jobs" / "broken.yml").write_text("name: broken\ndescription: d\nroles: [operator]\n")
    for resp in (
        client.get("/api/v1/job-templates", headers=otto),
        client.post("/api/v1/jobs", json={"template": "echo"}, headers=otto),
    ):
        assert resp.status_code == 500
        assert resp.get_json()["error"].startswith("the job templates have problems")
    assert "jobs/broken.yml: playbook, action: give one of them" in caplog.text
    with app.app_context():
        assert not db.session.scalars(select(Job)).all()  # nothing was queued


def test_cancel_relaunch_and_artifacts(app):
    client = app.test_client()
    otto = _token(app, "otto")
    with app.app_context():
        pending = Job(template="echo", parameters={"devices": ["localhost"]}, created_by="otto", limit="localhost")
        db.session.add(pending)
        db.session.commit()
        job_id = pending.id
    assert client.post(f"/api/v1/jobs/{job_id}/cancel", headers=_token(app, "vera")).status_code == 403
    canceled = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=otto).get_json()
    assert canceled["status"] == "canceled" and canceled["finished_at"]
    assert client.post(f"/api/v1/jobs/{job_id}/cancel", headers=otto).status_code == 409
    runner.execute(job_id, app=app, env={"PATH": "/usr/bin:/bin"})  # a worker picking it up later does nothing
    assert client.get(f"/api/v1/jobs/{job_id}", headers=otto).get_json()["status"] == "canceled"
    # Relaunch needs the queue: without one it is a clear 503, and the new job says why.
    resp = client.post(f"/api/v1/jobs/{job_id}/relaunch", headers=otto)
    assert resp.status_code == 503
    # Artifacts of a job that ran.
    with app.app_context():
        job = launch(_user("otto"), "echo", {"devices": ["localhost"]}, False, _run_now(app))
    tar = client.get(f"/api/v1/jobs/{job.id}/artifacts", headers=otto)
    assert tar.status_code == 200 and tar.mimetype == "application/gzip"
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(tar.data)) as archive:
        names = archive.getnames()
    assert any(n.endswith("/rc") for n in names) and not any(n.endswith("/command") for n in names)


def test_a_run_stops_when_its_worker_is_gone_or_it_was_reaped(app, repo):
    """A work horse whose worker died (its parent changed) stops its run: the locks the reaper
    released must not cover an ansible still changing devices."""
    import os

    (repo / "playbooks" / "echo.yml").write_text(
        ECHO_PLAYBOOK + "    - name: Wait\n      ansible.builtin.pause:\n        seconds: 120\n"
    )
    with app.app_context():
        job = Job(template="echo", parameters={}, created_by="otto", limit="localhost")
        db.session.add(job)
        db.session.commit()
        # A parent pid that is not this process's parent: as if the worker had died.
        runner.execute(job.id, app=app, env={"PATH": "/usr/bin:/bin"}, parent=os.getppid() + 1_000_000)
        db.session.refresh(job)
        assert job.status == "failed" and job.error.startswith("worker lost: its worker process"), job.error
        assert not db.session.scalars(select(DeviceLock)).all()
    # The reaper marked the job failed while it ran: the run stops at the next check.
    check = runner.CancelCheck(job.id)
    with app.app_context():
        assert check() and check.reason == "the job is failed"


HELLO_TEMPLATE = """
name: hello
description: no secrets, schedulable
playbook: playbooks/echo.yml
roles: [operator]
parameters:
  - {name: greeting, type: string, pattern: "[a-z ]+", default: hello, var: echo_greeting}
"""


def test_schedules_are_checked_then_fired_by_a_worker(app, repo):
    import datetime as dt

    from netoss.data.models import Schedule
    from netoss.domain.jobs.schedules import fire_due

    (repo / "jobs" / "hello.yml").write_text(HELLO_TEMPLATE)
    client = app.test_client()
    otto = _token(app, "otto")
    url = "/api/v1/schedules"
    bad_cron = client.post(url, headers=otto, json={"name": "n", "template": "hello", "cron": "61 * * * *"})
    assert bad_cron.status_code == 400 and "is not a cron expression" in bad_cron.get_json()["error"]
    secrets = client.post(url, headers=otto, json={"name": "n", "template": "echo", "cron": "0 2 * * *"})
    assert secrets.status_code == 400 and "takes secrets" in secrets.get_json()["error"]
    bad_value = client.post(
        url, headers=otto, json={"name": "n", "template": "hello", "cron": "0 2 * * *", "parameters": {"greeting": "X"}}
    )
    assert bad_value.status_code == 400 and "greeting: 'X' does not match" in bad_value.get_json()["error"]
    assert (
        client.post(
            url, headers=_token(app, "vera"), json={"name": "n", "template": "hello", "cron": "0 2 * * *"}
        ).status_code
        == 403
    )
    made = client.post(url, headers=otto, json={"name": "nightly", "template": "hello", "cron": "0 2 * * *"})
    assert made.status_code == 201, made.get_json()
    schedule = made.get_json()
    assert schedule["next_run_at"].endswith("02:00:00+00:00") and schedule["parameters"] == {"greeting": "hello"}

    def launch_as(user, s):
        return launch(user, s.template, dict(s.parameters), s.check_mode, _run_now(app))

    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    fired = fire_due(app, None, launch_as, now=later)
    assert [outcome.startswith("job ") for _id, outcome in fired] == [True]
    with app.app_context():
        row = db.session.get(Schedule, schedule["id"])
        job = db.session.get(Job, row.last_job_id)
        assert job.status == "successful" and job.created_by == "otto" and row.last_error is None
        assert row.next_run_at.replace(tzinfo=dt.UTC) > later
        # Its owner disabled: the schedule records why and tries again next time.
        _user("otto").active = False
        db.session.commit()
    fired = fire_due(app, None, launch_as, now=later + dt.timedelta(days=2))
    assert fired == [(schedule["id"], "error: its user otto is gone or disabled")]
    assert fire_due(app, None, launch_as, now=later) == []  # not due again yet


def test_dashboard_figures(app):
    import datetime as dt

    from netoss.domain.jobs import dashboard

    now = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)
    with app.app_context():
        rows = [
            ("successful", now, {"processed": {"pe1": 1, "p1": 1}, "failures": {}, "dark": {}}),
            (
                "failed",
                now - dt.timedelta(days=1),
                {"processed": {"pe1": 1, "ce1": 1}, "failures": {"pe1": 1}, "dark": {"ce1": 1}},
            ),
            ("failed", now - dt.timedelta(days=1), {"processed": {"ce2": 1}, "failures": {"ce2": 1}, "dark": {}}),
            ("successful", now - dt.timedelta(days=1), None),
        ]
        for status, created, stats in rows:
            db.session.add(
                Job(template="echo", parameters={}, created_by="otto", status=status, created_at=created, stats=stats)
            )
        db.session.commit()
        days = dashboard.success_by_day(days=3, now=now)
        assert [(d["day"], d["successful"], d["failed"], d["rate"]) for d in days] == [
            ("2026-11-24", 0, 0, None),
            ("2026-11-25", 1, 2, 0.333),
            ("2026-11-26", 1, 0, 1.0),
        ]
        # pe1 failed, then succeeded later: not failing. ce1 unreachable and ce2 failed: failing.
        assert [(f["device"], f["how"]) for f in dashboard.failing_devices()] == [
            ("ce1", "unreachable"),
            ("ce2", "failed"),
        ]
    client = app.test_client()
    page = client.get("/", headers=_token(app, "otto")).get_data(as_text=True)
    assert 'id="success-chart"' in page and "ce2" in page


def test_the_launch_form_creates_a_schedule_with_a_cron(app, repo):
    import re

    from netoss.data.models import Schedule

    (repo / "jobs" / "hello.yml").write_text(HELLO_TEMPLATE)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": "otto", "password": "x" * 12, "csrf_token": csrf})
    form = client.get("/jobs/new/hello").get_data(as_text=True)
    assert 'name="cron"' in form
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    bad = client.post("/jobs/new/hello", data={"csrf_token": csrf, "cron": "every night"})
    assert bad.status_code == 400 and "is not a cron expression" in bad.get_data(as_text=True)
    ok = client.post("/jobs/new/hello", data={"csrf_token": csrf, "cron": "0 3 * * *", "greeting": "good night"})
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/schedules")
    with app.app_context():
        schedule = db.session.scalar(select(Schedule))
        assert (schedule.cron, schedule.parameters, schedule.created_by) == (
            "0 3 * * *",
            {"greeting": "good night"},
            "otto",
        )
    assert "hello (0 3 * * *)" in client.get("/schedules").get_data(as_text=True)


PROBE_TEMPLATE = """
name: probe
description: an action of netoss's own that runs two playbooks and decides on what the first said
action: probe
roles: [operator]
check_mode: never
changes_devices: true
parameters:
  - {name: greeting, type: string, pattern: "[a-z ]+", default: hello}
"""


def test_a_job_action_runs_playbooks_with_the_jobs_locks_output_and_credentials_hidden(app, repo):
    """A template's ``action``: the worker calls the registered action, which runs playbooks of
    the project through the job (their events are the job's output, in order, secrets masked),
    holds the job's device locks while it runs, and its (outcome, error) ends the job."""
    from netoss.domain.jobs import actions

    (repo / "jobs" / "probe.yml").write_text(PROBE_TEMPLATE)
    seen = {}

    def probe(run: actions.ActionRun):
        seen["locks"] = [lock.device for lock in db.session.scalars(select(DeviceLock))]
        run.log(f"probing with {run.job.parameters['greeting']!r}")
        greeting = {"echo_greeting": run.job.parameters["greeting"]}
        first = run.run_playbook(run.project, "playbooks/echo.yml", env=run.env, extravars=greeting,
                                 inventory=run.inventory)  # fmt: skip
        said = first.results("Say it")["localhost"]["msg"]
        seen["said"] = said
        second = run.run_playbook(run.project, "playbooks/echo.yml", env=run.env,
                                  extravars={"echo_greeting": "again"}, inventory=run.inventory)  # fmt: skip
        return ("successful", None) if second.rc == 0 else ("failed", "the second run failed")

    actions.register("probe", probe)
    with app.app_context():

        def enqueue(job, sealed):
            runner.execute(job.id, app=app, env={"PATH": "/usr/bin:/bin", "NETBOX_TOKEN": "nb-" + SECRET})

        job = launch(_user("otto"), "probe", {"greeting": "good day"}, False, enqueue)
        db.session.refresh(job)
        assert job.status == "successful", job.error
        assert job.rc == 0 and seen["locks"] == ["*"]  # every device: an action says nothing of its limit
        assert seen["said"].startswith("good day from localhost")
        assert not db.session.scalars(select(DeviceLock)).all()  # freed at the end
        events = db.session.scalars(select(JobEvent).where(JobEvent.job_id == job.id).order_by(JobEvent.seq)).all()
        output = "\n".join(e.stdout or "" for e in events)
        assert (
            output.index("probing with 'good day'")
            < output.index("good day from localhost")
            < output.index("again from localhost")
        )
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert SECRET not in output
        private = runner.job_dir(app, job.id)
        assert runner.cleaned(private)
        assert not any(SECRET in p.read_text(errors="replace") for p in private.rglob("*") if p.is_file())

    (repo / "jobs" / "probe.yml").write_text(PROBE_TEMPLATE.replace("action: probe", "action: nothing-of-the-kind"))
    with app.app_context():
        job = launch(_user("otto"), "probe", {}, False, lambda job, sealed: runner.execute(job.id, app=app, env={}))
        db.session.refresh(job)
        assert job.status == "failed" and "no job action 'nothing-of-the-kind'" in job.error


def test_every_request_of_an_app_shares_one_redis_client():
    """A launch enqueues through the app's one Redis client and its connection pool: not a new
    client, connection and handshake per request (4 of the 6 ms a launch took)."""
    from flask import Flask

    from netoss.domain.jobs import queue

    app, other = Flask("a"), Flask("b")
    app.config["REDIS_URL"] = other.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # never connected here
    assert queue.connection(app) is queue.connection(app)
    assert queue.connection(other) is not queue.connection(app)
    assert queue.rq_queue(app).connection is queue.connection(app)
    with pytest.raises(RuntimeError, match="no REDIS_URL"):
        queue.connection(Flask("c"))
