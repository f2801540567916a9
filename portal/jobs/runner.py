"""Run one job with ansible-runner: what an RQ worker executes (``execute(job_id)``).

Each job gets a private data directory (``<jobs dir>/<id>``, mode 0700). Credentials reach
Ansible as environment variables of the run and secret parameters as extra vars, both
written by ansible-runner into that directory and removed when the run ends; its
``suppress_env_files`` keeps them out of the artifacts. Every event is stored as it comes,
with the values of secrets replaced by ``********``. A job that changes devices first takes
a lock on each device of its limit (or on every device when it has no limit): a second job
on the same device waits up to ``lock_wait`` seconds, then fails saying which job holds it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.app.extensions import db
from portal.app.models import DeviceLock, Job, JobEvent, utcnow

from .job_templates import JobTemplate, load_templates

ALL_DEVICES = "*"
MASK = "********"
COMMIT_EVERY = 25  # events, or COMMIT_SECONDS, whichever comes first
COMMIT_SECONDS = 0.5


class LockError(RuntimeError):
    """The devices of a job are locked by another job."""


def templates(app) -> dict[str, JobTemplate]:
    directory = Path(app.config["JOB_TEMPLATES_DIR"])
    return load_templates(directory, directory.parent)


def changes_devices(template: JobTemplate, job: Job) -> bool:
    return bool(template.changes_devices) and not job.check_mode and template.check_mode != "always"


def lock_names(job: Job) -> list[str]:
    return sorted({d for d in (job.limit or "").split(",") if d}) or [ALL_DEVICES]


def _holders(names: list[str]) -> list[DeviceLock]:
    query = select(DeviceLock)
    if ALL_DEVICES not in names:
        query = query.where(DeviceLock.device.in_([*names, ALL_DEVICES]))
    return list(db.session.scalars(query))


def _earlier_waiters(job: Job, names: list[str]) -> list[int]:
    """Jobs started before ``job`` that still wait for one of its devices: they go first.

    A job waiting for locks is running, changes devices and holds no lock yet. Without this,
    the worker that frees a device takes the next queued job, which locks the device at once,
    while a job that has waited longer polls once a second and can lose every time.
    """
    from flask import current_app

    holding = set(db.session.scalars(select(DeviceLock.job_id)))
    found = []
    for other in db.session.scalars(select(Job).where(Job.status == "running", Job.id < job.id)):
        if other.id in holding:
            continue
        template = templates(current_app).get(other.template)
        theirs = lock_names(other)
        overlap = ALL_DEVICES in theirs or ALL_DEVICES in names or set(theirs) & set(names)
        if template is not None and changes_devices(template, other) and overlap:
            found.append(other.id)
    return found


def acquire_locks(job: Job, wait: float, interval: float = 1.0) -> list[str]:
    """Lock the job's devices, waiting up to ``wait`` seconds, in the order the jobs started;
    LockError names the holder."""
    names = lock_names(job)
    deadline = time.monotonic() + wait
    while True:
        holders = [h for h in _holders(names) if h.job_id != job.id]
        if not holders and not _earlier_waiters(job, names):
            try:
                for name in names:
                    db.session.add(DeviceLock(device=name, job_id=job.id))
                db.session.commit()
                return names
            except IntegrityError:
                db.session.rollback()  # another job took one first: look again
                continue
        if time.monotonic() >= deadline:
            if not holders:
                first = ", ".join(map(str, _earlier_waiters(job, names)))
                raise LockError(f"jobs {first} wait for the same devices, first")
            h = holders[0]
            what = "every device" if h.device == ALL_DEVICES else f"device {h.device}"
            raise LockError(f"{what} is being changed by job {h.job_id} (locked since {h.acquired_at:%H:%M:%S} UTC)")
        time.sleep(interval)


def release_locks(job_id: int) -> None:
    db.session.query(DeviceLock).filter(DeviceLock.job_id == job_id).delete()
    db.session.commit()


def _mask(text: str | None, secrets: list[str]) -> str | None:
    if not text:
        return text
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


def _play(record: dict) -> dict:
    hosts = record.get("hosts")
    tasks = record.get("tasks")
    return {
        "play": str(record.get("play") or "")[:200],
        "hosts": [str(h) for h in hosts] if isinstance(hosts, list) else None,
        "tasks": tasks if isinstance(tasks, int) and tasks >= 0 else None,
    }


def parse_plan(text: str) -> list[dict]:
    """The plays of a run from netoss.core.job_plan's lines: the playbook's estimate of every
    play, each corrected by the play's own line once it starts. Unreadable lines are skipped
    (the last one may be half-written)."""
    plays: list[dict] = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        if record.get("kind") == "playbook" and isinstance(record.get("plays"), list):
            plays = [_play(p) for p in record["plays"] if isinstance(p, dict)]
        elif record.get("kind") == "play" and isinstance(record.get("index"), int) and record["index"] >= 0:
            index = record["index"]
            plays.extend({"play": "", "hosts": None, "tasks": None} for _ in range(index + 1 - len(plays)))
            plays[index] = _play(record)
    return plays


class EventStore:
    """ansible-runner's event_handler: stores each event in order, committing in batches."""

    def __init__(self, job: Job, secrets: list[str], plan_file: Path | None = None):
        self.job = job
        self.secrets = [s for s in secrets if s and len(s) >= 4]
        self.pending = 0
        self.last_commit = time.monotonic()
        self.seq = 0
        self.stats = None
        self.plan_file = plan_file
        self.plan_size = 0

    def read_plan(self) -> None:
        """The plan netoss.core.job_plan wrote so far (see :func:`parse_plan`).

        The callback writes before the play's first task starts, so reading at each play and
        task start is never behind."""
        if self.plan_file is None:
            return
        try:
            size = self.plan_file.stat().st_size
            if size == self.plan_size:
                return
            text = self.plan_file.read_text(encoding="utf-8")
        except OSError:
            return
        self.plan_size = size
        self.job.plan = parse_plan(text)

    def __call__(self, event: dict) -> bool:
        data = event.get("event_data") or {}
        if event.get("event") in ("playbook_on_play_start", "playbook_on_task_start", "playbook_on_stats"):
            self.read_plan()
        if event.get("event") == "playbook_on_stats":
            keys = ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored", "processed")
            self.stats = {k: data.get(k) or {} for k in keys}
        self.seq += 1
        db.session.add(
            JobEvent(
                job_id=self.job.id,
                seq=self.seq,
                event=event.get("event", "unknown")[:64],
                host=(data.get("host") or None),
                task=_mask(data.get("task"), self.secrets),
                stdout=_mask(event.get("stdout"), self.secrets),
            )
        )
        self.job.event_count = self.seq
        self.pending += 1
        if self.pending >= COMMIT_EVERY or time.monotonic() - self.last_commit >= COMMIT_SECONDS:
            self.flush()
        return False  # ansible-runner keeps no event files of its own: they are in the database

    def flush(self) -> None:
        db.session.commit()
        self.pending = 0
        self.last_commit = time.monotonic()


def extra_vars(template: JobTemplate, parameters: dict, secrets: dict) -> dict:
    """The extra vars of the run: each parameter that names a ``var``, secrets from ``secrets``."""
    out = {}
    for p in template.parameters:
        if p.var is None:
            continue  # it shapes the limit (site, devices): not a variable of the playbook
        if p.type == "secret":
            if p.name in secrets:
                out[p.extra_var] = secrets[p.name]
        elif p.name in parameters:
            out[p.extra_var] = parameters[p.name]
    return out


def seal(app, secrets: dict) -> str | None:
    """Secret parameter values encrypted with a key derived from the portal's SECRET_KEY, for
    the trip through the queue (Redis never holds them in clear)."""
    if not secrets:
        return None
    import json

    return _fernet(app).encrypt(json.dumps(secrets).encode()).decode()


def unseal(app, token: str | None) -> dict:
    if not token:
        return {}
    import json

    return json.loads(_fernet(app).decrypt(token.encode()))


def _fernet(app):
    import base64
    import hashlib

    from cryptography.fernet import Fernet

    key = hashlib.sha256(b"netoss job secrets\0" + app.config["SECRET_KEY"].encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def scrub(directory: Path, secrets: list[str]) -> None:
    """Mask secret values in every file the run left (artifacts), should any hold one."""
    values = [s.encode() for s in secrets if s and len(s) >= 4]
    if not values or not directory.exists():
        return
    for path in directory.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if any(v in data for v in values):
                for v in values:
                    data = data.replace(v, MASK.encode())
                path.write_bytes(data)


SENSITIVE = ("TOKEN", "PASSWORD", "SECRET", "PASS", "KEY")


def sensitive_values(env: dict[str, str]) -> list[str]:
    """Values of the run's environment that are credentials (by their variable's name)."""
    return [v for k, v in env.items() if any(word in k.upper() for word in SENSITIVE) and v and len(v) >= 6]


class CancelCheck:
    """ansible-runner's cancel_callback: true once the run must stop (checked at most every second).

    It stops when the job was canceled, when it is no longer running (the reaper marked it
    failed because its worker was lost), or when the worker process that forked this run is
    gone. RQ's work horse is in a session of its own, so it outlives a worker killed with
    SIGKILL; without this check its ansible would go on changing devices whose locks the
    reaper has released."""

    def __init__(self, job_id: int, parent: int | None = None):
        self.job_id = job_id
        self.parent = parent
        self.next_check = 0.0
        self.reason: str | None = None

    def __call__(self) -> bool:
        if self.parent is not None and os.getppid() != self.parent:
            self.reason = f"worker lost: its worker process {self.parent} stopped; the run was stopped"
            return True
        if time.monotonic() < self.next_check:
            return False
        self.next_check = time.monotonic() + 1
        status = db.session.scalar(
            select(Job.status).where(Job.id == self.job_id).execution_options(populate_existing=True)
        )
        db.session.commit()
        if status != "running":
            self.reason = f"the job is {status}"
            return True
        return False


def run_environment(job: Job, base: dict[str, str]) -> dict[str, str]:
    """The environment of the run: the worker's credentials plus who and which job, for the journal."""
    env = {k: v for k, v in base.items() if v is not None}
    env.update({"NETOSS_USER": job.created_by, "NETOSS_JOB_ID": str(job.id), "ANSIBLE_NOCOLOR": "1"})
    # ansible-playbook of the virtualenv that runs this worker.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH") or "/usr/bin:/bin"])
    return env


def execute(
    job_id: int,
    app=None,
    secrets: dict | None = None,
    env: dict | None = None,
    lock_wait: float = 300,
    parent: int | None = None,
):
    """Run job ``job_id`` to its end; the job row says how it went.

    ``secrets`` are the values of its secret parameters (never stored), ``env`` the
    environment of the run (credentials); both default to what the worker was started with.
    ``parent`` is the pid of the worker that forked this process: the run stops if it dies.
    """
    import ansible_runner

    if app is None:
        from portal.app import create_app

        app = create_app()
    with app.app_context():
        job = db.session.get(Job, job_id)
        if job is None or job.status != "pending":
            return
        job.status, job.started_at = "running", utcnow()
        job.worker = os.environ.get("NETOSS_WORKER_NAME") or f"{socket.gethostname()}:{os.getpid()}"
        db.session.commit()
        private = Path(app.config["JOBS_DIR"]) / str(job.id)
        locked = False
        hidden = list((secrets or {}).values())
        outcome, error = "error", "the run stopped before it ended"
        try:
            template = templates(app)[job.template]
            if changes_devices(template, job):
                acquire_locks(job, lock_wait)
                locked = True
            private.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(private, 0o700)
            extravars = extra_vars(template, job.parameters, secrets or {})
            run_env = run_environment(job, env if env is not None else dict(os.environ))
            hidden = [*(secrets or {}).values(), *sensitive_values(run_env)]
            run_env["NETOSS_JOB_PLAN"] = str(private / "plan.jsonl")
            store = EventStore(job, hidden, Path(run_env["NETOSS_JOB_PLAN"]))
            cmdline = []
            if job.limit:
                cmdline += ["--limit", job.limit]
            if job.check_mode or template.check_mode == "always":
                cmdline += ["--check", "--diff"]
            repo = Path(app.config["JOB_TEMPLATES_DIR"]).parent
            cancel = CancelCheck(job.id, parent)
            runner = ansible_runner.run(
                cancel_callback=cancel,
                private_data_dir=str(private),
                project_dir=str(repo),
                playbook=template.playbook,
                inventory=str(repo / "inventory" / "netbox.yml"),
                envvars=run_env,
                extravars=extravars,
                cmdline=" ".join(cmdline) if cmdline else None,
                event_handler=store,
                quiet=True,
                timeout=template.timeout,
                suppress_env_files=True,
                suppress_output_file=True,  # the output is in the database, masked
                settings={"suppress_ansible_output": True},
            )
            store.flush()
            job.rc = runner.rc
            job.stats = store.stats
            outcome = {"successful": "successful", "canceled": "canceled"}.get(runner.status, "failed")
            error = f"timed out after {template.timeout} s" if runner.status == "timeout" else None
            if runner.status == "canceled" and cancel.reason and cancel.reason.startswith("worker lost"):
                outcome, error = "failed", cancel.reason
        except LockError as exc:
            db.session.rollback()
            outcome, error = "failed", str(exc)
        except Exception as exc:  # a bug or an unusable template: the job says so
            db.session.rollback()
            outcome, error = "error", f"{type(exc).__name__}: {exc}"
        finally:
            db.session.commit()
            db.session.refresh(job)
            if job.status == "running":  # not canceled, nor reaped as "worker lost", meanwhile
                job.status, job.error, job.finished_at = outcome, error, utcnow()
            elif job.finished_at is None:
                job.finished_at = utcnow()
            db.session.commit()
            if locked:
                release_locks(job.id)
            shutil.rmtree(private / "env", ignore_errors=True)  # extra vars and environment of the run
            for command in private.glob("artifacts/*/command"):
                command.unlink()  # ansible-runner records the run's environment there
            scrub(private, hidden)
            from portal.services.orders import job_finished

            job_finished(job)  # a service order its job left open fails (or is cancelled); never raises
