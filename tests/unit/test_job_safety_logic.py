"""Job runs against hostile values, cancels and dead processes (issue 13: 1, 3, 4, 8, 9, 10).

Real ansible-runner runs of local playbooks: parameter values with template syntax arrive
verbatim; no secret is ever on a command line nor in ansible-runner's ``command``; a cancel
stops every process of the run (Ansible's workers and what they started in sessions of their
own) before the locks go; a job whose process died is ended as lost by a worker's reaper, or
at once when it is cancelled; artifacts are served only once cleaned; only the order's own
running job may report a service order's progress.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from netoss.data.db import db
from netoss.data.models import DeviceLock, Job, ServiceOrder, User
from netoss.domain.jobs import ansible, processes, queue, runner
from netoss.domain.jobs.job_templates import load_templates, validate_launch
from netoss.web import create_app
from netoss.web.security import hash_password, new_token

ROOT = Path(__file__).resolve().parents[2]
SECRET = "Sup3r-Secret-Value-42"
CREDENTIAL = "nbt_credential-of-the-worker-0123456789"

INJECTIONS = [
    "{{ lookup('pipe', 'id') }}",
    "#jinja2:variable_start_string:'[[', variable_end_string:']]'\n[[ lookup('pipe', 'id') ]]",
    "{% raw %}{{ lookup('pipe', 'id') }}{% endraw %}",
    "{% for x in [1] %}{{ lookup('pipe', 'id') }}{% endfor %}",
    "line one\n{{ 7 * 7 }}\nline three {# comment #}",
]

TEMPLATE = """
name: verbatim
description: writes each value it is given to a file
playbook: playbooks/verbatim.yml
roles: [operator]
changes_devices: true
parameters:
  - {name: text, type: string, var: v_text}
  - {name: pick, type: choice, choices: ["a"], var: v_pick}
  - {name: picks, type: multichoice, choices: ["a"], var: v_picks}
  - {name: password, type: secret, var: v_password}
"""

PLAYBOOK = """
- name: Verbatim
  hosts: all
  gather_facts: false
  vars:
    out: "{{ lookup('ansible.builtin.env', 'SAFETY_OUT') }}"
  tasks:
    - name: Write each value
      ansible.builtin.copy:
        content: "{{ item.value }}"
        dest: "{{ out }}/{{ item.name }}"
        mode: "0600"
      loop:
        - {name: text, value: "{{ v_text }}"}
        - {name: pick, value: "{{ v_pick }}"}
        - {name: picks, value: "{{ v_picks | to_json }}"}
        - {name: password, value: "{{ v_password }}"}
      loop_control:
        label: "{{ item.name }}"
    - name: Wait, in a process of its own session that outlives Ansible's worker
      ansible.builtin.shell: "setsid sleep 300 > /dev/null 2>&1 & sleep {{ wait }}"
      vars:
        wait: "{{ lookup('ansible.builtin.env', 'SAFETY_WAIT') }}"
      changed_when: false
"""


@pytest.fixture
def repo(tmp_path):
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "verbatim.yml").write_text(TEMPLATE)
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "verbatim.yml").write_text(PLAYBOOK)
    (tmp_path / "ansible.cfg").write_text(f"[defaults]\ncollections_path = {ROOT / '.collections'}\n")
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory" / "netbox.yml").write_text(
        "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
        "      ansible_python_interpreter: '{{ ansible_playbook_python }}'\n"
    )
    (tmp_path / "out").mkdir()
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


def _auth(app, name):
    with app.app_context():
        _row, token = new_token(db.session.scalar(select(User).where(User.username == name)), "t")
        db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def _job(app, parameters, **fields) -> int:
    with app.app_context():
        job = Job(template="verbatim", parameters=parameters, created_by="otto", limit="localhost", **fields)
        db.session.add(job)
        db.session.commit()
        return job.id


def _env(repo, wait=0):
    return {
        "PATH": "/usr/bin:/bin",
        "SAFETY_OUT": str(repo / "out"),
        "SAFETY_WAIT": str(wait),
        "NETBOX_TOKEN": CREDENTIAL,
    }


def _kill_marked(directory):
    for pid in processes.find(directory):
        os.kill(pid, signal.SIGKILL)


def _cmdlines() -> list[bytes]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                out.append((entry / "cmdline").read_bytes())
            except OSError:
                continue
    return out


def _artifacts(app, job_id):
    resp = app.test_client().get(f"/api/v1/jobs/{job_id}/artifacts", headers=_auth(app, "vera"))
    if resp.status_code != 200:
        return resp.status_code, {}
    files = {}
    with tarfile.open(fileobj=io.BytesIO(resp.data)) as tar:
        for member in tar.getmembers():
            if member.isfile():
                files[member.name] = tar.extractfile(member).read()
    return 200, files


def _assert_clean(app, job_id, private):
    status, files = _artifacts(app, job_id)
    assert status == 200
    assert files and not any(name.endswith("/command") or "/env/" in name for name in files), sorted(files)
    for name, data in files.items():
        assert SECRET.encode() not in data and CREDENTIAL.encode() not in data, name
    assert not (private / "env").exists() and not list(private.glob("artifacts/*/command"))
    assert processes.find(private) == []


@pytest.mark.parametrize("value", INJECTIONS)
def test_values_reach_ansible_verbatim_never_templated(app, repo, value):
    """String, choice, multichoice (nested) and secret values: not one is evaluated."""
    params = {"text": value, "pick": value, "picks": [value, "plain"], "password": "********"}
    job_id = _job(app, params)
    runner.execute(job_id, app=app, secrets={"password": value}, env=_env(repo))
    with app.app_context():
        job = db.session.get(Job, job_id)
        assert job.status == "successful", job.error
    out = repo / "out"
    assert (out / "text").read_text() == value
    assert (out / "pick").read_text() == value
    assert json.loads((out / "picks").read_text()) == [value, "plain"]
    assert (out / "password").read_text() == value
    assert "uid=" not in "".join(p.read_text() for p in out.iterdir())
    _kill_marked(Path(app.config["JOBS_DIR"]) / str(job_id))


def test_the_refusal_of_template_syntax_catches_the_jinja2_header(repo):
    template = load_templates(repo / "jobs", repo)["verbatim"]
    for value in [*INJECTIONS, "#jinja2: trim_blocks:False\nok", "x\n#JINJA2:variable_start_string:'<<'"]:
        _clean, problems = validate_launch(template, {"text": value})
        assert problems and "must not contain template syntax" in problems[0], value


def test_extra_vars_are_written_unsafe():
    text = ansible.unsafe_yaml({"a": "{{ x }}", "b": ["{% raw %}", {"c": "#jinja2:x"}], "n": 3, "t": True})
    assert text.count("!unsafe") == 3 and "n: 3" in text and "t: true" in text


def test_no_secret_on_any_command_line_nor_in_the_command_artifact_during_a_run(app, repo):
    job_id = _job(app, {"text": "hello", "pick": "a", "picks": ["a"], "password": "********"})
    private = Path(app.config["JOBS_DIR"]) / str(job_id)
    thread = threading.Thread(
        target=runner.execute,
        args=(job_id,),
        kwargs={"app": app, "secrets": {"password": SECRET}, "env": _env(repo, 4)},
    )
    thread.start()
    seen_playbook = seen_command = False
    while thread.is_alive():
        for cmdline in _cmdlines():
            assert SECRET.encode() not in cmdline and CREDENTIAL.encode() not in cmdline, cmdline[:200]
            seen_playbook = seen_playbook or b"ansible-playbook" in cmdline
        for command in private.glob("artifacts/*/command"):
            try:
                text = command.read_text()
            except OSError:
                continue
            seen_command = True
            assert SECRET not in text and CREDENTIAL not in text and "run.json" in text
        time.sleep(0.05)
    thread.join()
    assert seen_playbook and seen_command
    with app.app_context():
        assert db.session.get(Job, job_id).status == "successful"
    assert (repo / "out" / "password").read_text() == SECRET  # it did reach the playbook
    _assert_clean(app, job_id, private)


def _wait_for(predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


def _cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _sleepers(private):
    return [p for p in processes.find(private) if b"sleep\x00300" in _cmdline(p)]


def test_cancel_stops_every_process_of_the_run_before_its_locks_go(app, repo, monkeypatch):
    job_id = _job(app, {"text": "hello", "pick": "a", "picks": ["a"], "password": "********"})
    private = Path(app.config["JOBS_DIR"]) / str(job_id)
    at_release = []
    release = runner.release_locks

    def checked_release(jid):
        at_release.append(processes.find(private))
        release(jid)

    monkeypatch.setattr(runner, "release_locks", checked_release)
    thread = threading.Thread(
        target=runner.execute,
        args=(job_id,),
        kwargs={"app": app, "secrets": {"password": SECRET}, "env": _env(repo, 120)},
    )
    thread.start()
    try:
        _wait_for(lambda: _sleepers(private))
        with app.app_context():
            assert db.session.scalars(select(DeviceLock.device)).all() == ["localhost"]
        resp = app.test_client().post(f"/api/v1/jobs/{job_id}/cancel", headers=_auth(app, "otto"))
        assert resp.status_code == 200
        thread.join(60)
        assert not thread.is_alive()
    finally:
        _kill_marked(private)
    assert at_release == [[]]  # nothing of the run was left when its locks went
    with app.app_context():
        job = db.session.get(Job, job_id)
        assert job.status == "canceled" and job.finished_at is not None and job.token_hash is None
        assert not db.session.scalars(select(DeviceLock)).all()
    _assert_clean(app, job_id, private)


class FakeRedis:
    def __init__(self, *workers):
        self.workers = workers

    def scan_iter(self, match):
        return [f"{queue.BEAT_PREFIX}{w}".encode() for w in self.workers]


def _dead_run(app, repo, status="running"):
    """A job as a killed work horse leaves it: running, its lock held, credentials in its files,
    a process of its run still there (an Ansible worker in a session of its own)."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    job_id = _job(
        app,
        {"text": "x"},
        status=status,
        started_at=dt_now(),
        worker="w1",
        host=socket.gethostname(),
        pid=dead.pid,
        pid_started=1,
    )
    with app.app_context():
        db.session.add(DeviceLock(device="localhost", job_id=job_id))
        db.session.commit()
    private = Path(app.config["JOBS_DIR"]) / str(job_id)
    (private / "env").mkdir(parents=True)
    (private / "env" / "extravars").write_text(f"v_password: {SECRET}\n")
    (private / "artifacts" / "uuid").mkdir(parents=True)
    (private / "artifacts" / "uuid" / "command").write_text(json.dumps({"env": {"NETBOX_TOKEN": CREDENTIAL}}))
    (private / "artifacts" / "uuid" / "rc").write_text("0")
    (private / "artifacts" / "uuid" / "status").write_text(f"token {CREDENTIAL}")
    orphan = subprocess.Popen(
        ["sleep", "300"], env={"PATH": "/usr/bin:/bin", processes.MARK: str(private)}, start_new_session=True
    )
    return job_id, private, orphan


def dt_now():
    from netoss.data.models import utcnow

    return utcnow()


def test_a_job_whose_process_died_is_ended_as_lost_by_the_reaper(app, repo, monkeypatch):
    monkeypatch.setenv("NETBOX_TOKEN", CREDENTIAL)  # the worker's own credential, as its runs had it
    job_id, private, orphan = _dead_run(app, repo)
    try:
        assert _artifacts(app, job_id)[0] == 409  # not ended
        assert queue.reap_lost_jobs(app, FakeRedis("w1")) == [job_id]  # its worker lives: its process died
        assert orphan.wait(10) is not None  # the run's last process was stopped
        with app.app_context():
            job = db.session.get(Job, job_id)
            assert job.status == "failed" and job.error.startswith("lost: its process") and job.finished_at
            assert not db.session.scalars(select(DeviceLock)).all()
        _assert_clean(app, job_id, private)
        assert queue.reap_lost_jobs(app, FakeRedis("w1")) == []
    finally:
        orphan.kill()


def test_cancelling_a_dead_job_ends_it_and_frees_its_locks(app, repo, monkeypatch):
    monkeypatch.setenv("NETBOX_TOKEN", CREDENTIAL)
    job_id, private, orphan = _dead_run(app, repo)
    try:
        resp = app.test_client().post(f"/api/v1/jobs/{job_id}/cancel", headers=_auth(app, "otto"))
        assert resp.status_code == 200 and resp.get_json()["status"] == "canceled"
        assert resp.get_json()["finished_at"]
        assert orphan.wait(10) is not None
        with app.app_context():
            assert not db.session.scalars(select(DeviceLock)).all()
        _assert_clean(app, job_id, private)
    finally:
        orphan.kill()
    # One already canceled whose process then died (the case of the issue): a worker ends it.
    job_id, private, orphan = _dead_run(app, repo, status="canceled")
    try:
        assert queue.reap_lost_jobs(app, FakeRedis("w1")) == [job_id]
        with app.app_context():
            job = db.session.get(Job, job_id)
            assert job.status == "canceled" and job.finished_at and not db.session.scalars(select(DeviceLock)).all()
        _assert_clean(app, job_id, private)
    finally:
        orphan.kill()


def test_worker_start_cleans_what_dead_runs_left_and_releases_ended_jobs_locks(app, repo, monkeypatch):
    monkeypatch.setenv("NETBOX_TOKEN", CREDENTIAL)
    job_id, private, orphan = _dead_run(app, repo, status="failed")
    orphan.kill()
    with app.app_context():
        db.session.get(Job, job_id).finished_at = dt_now()
        db.session.commit()
    assert _artifacts(app, job_id)[0] == 409  # ended, but not cleaned: never served
    with app.app_context():
        assert queue.release_ended_locks() == 1
    assert queue.clean_ended_runs(app) == [job_id]
    _assert_clean(app, job_id, private)


def test_a_run_directory_the_worker_may_not_read_is_skipped_not_a_crash(app, repo, monkeypatch, caplog):
    """Another account's run directory (a root terminal's run in a shared JOBS_DIR) must not
    stop the worker's start-up clean: it crashed on its 0700 directory, in a loop."""
    from pathlib import Path

    theirs = Path(app.config["JOBS_DIR"]) / "7"
    (theirs / "artifacts").mkdir(parents=True)
    ours = _job(app, {"text": "x"}, status="failed", finished_at=dt_now())
    (Path(app.config["JOBS_DIR"]) / str(ours) / "env").mkdir(parents=True)
    real_exists = Path.exists

    def exists(self, *args, **kwargs):
        if self.parent == theirs:
            raise PermissionError(13, "Permission denied", str(self))
        return real_exists(self, *args, **kwargs)

    monkeypatch.setattr(Path, "exists", exists)
    with caplog.at_level("WARNING"):
        assert queue.clean_ended_runs(app) == [ours]
    assert "job directory 7 cannot be cleaned by this account" in caplog.text


def test_a_lost_worker_whose_work_horse_still_runs_here_is_left_to_it(app, repo):
    job_id = _job(app, {"text": "x"}, status="running", worker="gone", host=socket.gethostname(), pid=os.getpid(),
                  pid_started=processes.started(os.getpid()), started_at=dt_now())  # fmt: skip
    assert queue.reap_lost_jobs(app, FakeRedis("w1")) == []
    with app.app_context():
        db.session.get(Job, job_id).host = "another-host"
        db.session.commit()
    assert queue.reap_lost_jobs(app, FakeRedis("w1")) == [job_id]  # elsewhere: the old rule
    with app.app_context():
        assert db.session.get(Job, job_id).error.startswith("worker lost: gone stopped")


def test_a_reused_pid_is_not_taken_for_the_job_process():
    assert processes.alive(os.getpid(), processes.started(os.getpid()))
    assert not processes.alive(os.getpid(), processes.started(os.getpid()) + 1)
    assert not processes.alive(None)


def test_only_the_orders_own_running_job_may_report_its_progress(app):
    client = app.test_client()
    otto = _auth(app, "otto")
    with app.app_context():
        mine = Job(template="service-order", parameters={"order": 1}, created_by="otto", status="running")
        other = Job(template="service-order", parameters={"order": 2}, created_by="otto", status="running")
        db.session.add_all([mine, other])
        db.session.flush()
        db.session.add(ServiceOrder(requested_by="otto", job_id=mine.id, items=[], state_changes=[]))
        mine_token, other_token = runner.new_run_token(mine), runner.new_run_token(other)
        db.session.commit()
        mine_id = mine.id
    url = "/api/v1/service-orders/1/progress"
    body = {"state": "inProgress", "step": "reserve"}
    for headers in (
        otto,
        {**otto, "X-Netoss-Job-Token": other_token},
        {**otto, "X-Netoss-Job-Token": mine_token + "x"},
    ):
        resp = client.post(url, json=body, headers=headers)
        assert resp.status_code == 403 and "only its own running job" in resp.get_json()["error"]
    assert client.post(url, json=body, headers={**otto, "X-Netoss-Job-Token": mine_token}).status_code == 200
    with app.app_context():
        db.session.get(Job, mine_id).status = "successful"  # valid only while the job runs
        db.session.commit()
    resp = client.post(url, json={"state": "completed"}, headers={**otto, "X-Netoss-Job-Token": mine_token})
    assert resp.status_code == 403
    assert client.post("/api/v1/service-orders/9/progress", json=body, headers=otto).status_code == 404
