"""Run one job with ansible-runner: what an RQ worker executes (``execute(job_id)``).

Each job gets a private data directory (``<jobs dir>/<id>``, mode 0700). Nothing secret is
on a command line nor in ansible-runner's ``command`` artifact: parameter values reach
Ansible in ``env/extravars`` (mode 0600, every string tagged ``!unsafe`` so that no template
syntax in them is ever evaluated), and the run's credentials (environment variables named
like a token, password, secret or key) in ``env/run.json`` (0600), which a small wrapper
loads into the environment of ansible-playbook and deletes as it starts. Every event is
stored as it comes, with the values of secrets replaced by ``********``. A job that changes
devices first takes a lock on each device of its limit (or on every device when it has no
limit), in the commit that marks it running: a second job on the same device is parked (it
waits pending, out of any worker, netoss.domain.jobs.queue) until the device is free, and
fails saying which job holds it only once it waited ``lock_wait`` seconds for a job that has
held the device as long (`stuck`); jobs for other devices go on meanwhile.

However a run ends (done, failed, cancelled, timed out, or found dead by a worker's reaper),
:func:`finish` stops every process of it (netoss.domain.jobs.processes), cleans its directory
(``env/`` and ``command`` removed, secrets masked, then the ``CLEANED`` marker written: the
artifacts are served only with it), marks it ended and frees its device locks, in that order.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets as secrets_module
import shutil
import socket
import sys
import time
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from netoss.data.db import db
from netoss.data.models import DeviceLock, Job, JobEvent, utc, utcnow
from netoss.domain.jobs import actions, processes, signals
from netoss.domain.jobs.ansible import (
    run_ansible,
    sensitive_values,
)
from netoss.domain.jobs.job_templates import JobTemplate, load_templates

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


def overlap(mine: list[str] | set[str], theirs: list[str] | set[str]) -> bool:
    """Whether two jobs' lock names meet (every device meets any)."""
    if not mine or not theirs:
        return False
    return ALL_DEVICES in mine or ALL_DEVICES in theirs or not set(mine).isdisjoint(theirs)


def waiting_jobs():
    """The query of the jobs that wait for devices (pending, parked out of the workers), oldest first."""
    return select(Job).where(Job.status == "pending", Job.waiting_since.is_not(None)).order_by(Job.id)


def _earlier_waiters(job: Job, names: list[str]) -> list[int]:
    """Jobs queued before ``job`` that wait for one of its devices: they go first, so a job never
    takes a free device an older job waits for (the worker that frees a device would otherwise
    take the next queued job, which locks it at once, and the job that waited longest could lose
    every time)."""
    return [other.id for other in db.session.scalars(waiting_jobs().where(Job.id < job.id))
            if overlap(names, lock_names(other))]  # fmt: skip


def blocked(job: Job, names: list[str]) -> str | None:
    """Why ``job`` cannot lock ``names`` now (the holder, or the older jobs waiting for them), or None."""
    holders = [h for h in _holders(names) if h.job_id != job.id]
    if holders:
        h = holders[0]
        what = "every device" if h.device == ALL_DEVICES else f"device {h.device}"
        return f"{what} is being changed by job {h.job_id} (locked since {utc(h.acquired_at):%H:%M:%S} UTC)"
    earlier = _earlier_waiters(job, names)
    if earlier:
        return f"jobs {', '.join(map(str, earlier))} wait for the same devices, first"
    return None


def stuck(job: Job, names: list[str], lock_wait: float, now) -> bool:
    """Whether ``job`` may stop waiting for ``names``: it has waited ``lock_wait`` seconds, and a
    job holding one of them has held it that long too. A line of jobs for one device, each
    changing it in turn, never is: every job waits its turn, however long the line."""
    since = utc(job.waiting_since)
    if since is None or (now - since).total_seconds() < lock_wait:
        return False
    held = [utc(h.acquired_at) for h in _holders(names) if h.job_id != job.id]
    return any((now - t).total_seconds() >= lock_wait for t in held)


def acquire_locks(job: Job, names: list[str]) -> str | None:
    """Add ``job``'s locks on ``names`` to the session (taken by its commit; a unique device
    per lock, so a job that takes one first makes that commit fail: look again), or say why
    they cannot be taken now (``blocked``)."""
    why = blocked(job, names)
    if why is None:
        db.session.add_all([DeviceLock(device=name, job_id=job.id) for name in names])
    return why


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
    return _fernet(app).encrypt(json.dumps(secrets).encode()).decode()


def unseal(app, token: str | None) -> dict:
    if not token:
        return {}
    return json.loads(_fernet(app).decrypt(token.encode()))


def _fernet(app):
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


# --- the run's token: how its service-order playbook proves which job it is -------------------
TOKEN_PREFIX = "ntj_"  # noqa: S105 - a prefix, not a secret


def new_run_token(job: Job) -> str:
    """A random token for this run of ``job``; only its SHA-256 is stored (``job.token_hash``)."""
    token = f"{TOKEN_PREFIX}{job.id}_{secrets_module.token_urlsafe(32)}"
    job.token_hash = hashlib.sha256(token.encode()).hexdigest()
    return token


def job_of_token(token: str | None) -> Job | None:
    """The running job whose run was given ``token`` (None: no such job, or it is not running)."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    ident = token[len(TOKEN_PREFIX) :].split("_", 1)[0]
    if not ident.isdigit() or int(ident) > 2**31 - 1:
        return None
    job = db.session.get(Job, int(ident))
    if job is None or job.status != "running" or not job.token_hash:
        return None
    if not hmac.compare_digest(job.token_hash, hashlib.sha256(token.encode()).hexdigest()):
        return None
    return job


# --- ending a run, whoever ends it ------------------------------------------------------------
CLEANED = "CLEANED"


def clean(private: Path, hidden: list[str] = ()) -> None:
    """Remove what of a run may hold a credential (``env/``, ``artifacts/*/command``, the
    wrapper), mask known secret values in what is left, then write the CLEANED marker."""
    if not private.is_dir():
        return
    shutil.rmtree(private / "env", ignore_errors=True)  # extra vars, credentials of the run
    for command in private.glob("artifacts/*/command"):
        command.unlink(missing_ok=True)  # ansible-runner records the run's environment there
    (private / "with-credentials").unlink(missing_ok=True)
    scrub(private, list(hidden))
    (private / CLEANED).write_text("")


def cleaned(private: Path) -> bool:
    return (private / CLEANED).is_file()


def job_dir(app, job_id: int) -> Path:
    return Path(app.config["JOBS_DIR"]) / str(job_id)


def finish(app, job: Job, status: str | None, error: str | None, hidden: list[str] = (), roots=()) -> list[int]:
    """End ``job``: stop its processes (all gone, checked), clean its directory, mark it ended
    (``status`` and ``error`` unless it was canceled or ended meanwhile; ``finished_at``
    always), free its device locks, and send ``job_ended``. Returns the pids that
    could not be stopped (named in the job's error; none in practice: SIGKILL)."""
    private = job_dir(app, job.id)
    left = processes.stop(private, roots=tuple(roots))
    clean(private, hidden)
    db.session.commit()
    db.session.refresh(job)
    if job.status == "running":  # not canceled, nor reaped as lost, meanwhile
        job.status, job.error = status, error
    if job.finished_at is None:
        job.finished_at = utcnow()
    if left:
        job.error = f"{job.error or job.status}; processes {', '.join(map(str, left))} could not be stopped"[:2000]
    job.token_hash = None
    db.session.commit()
    release_locks(job.id)
    signals.ended(job)  # its service order, if it left one open, fails with it; never raises
    return left


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


def _run(private: Path, repo: Path, template: JobTemplate, job: Job, env: dict, extravars: dict, store, cancel):
    """A job's run of its template's playbook, on the project's NetBox inventory."""
    return run_ansible(
        private,
        repo,
        template.playbook,
        inventory=str(repo / "inventory" / "netbox.yml"),
        env=env,
        extravars=extravars,
        timeout=template.timeout,
        event_handler=store,
        limit=job.limit,
        check=job.check_mode or template.check_mode == "always",
        cancel=cancel,
    )


def _act(app, private: Path, repo: Path, template: JobTemplate, job: Job, env: dict, store, cancel):
    """A job's run of its template's action (netoss.domain.jobs.actions): (outcome, error)."""
    run = actions.ActionRun(
        job=job,
        app=app,
        private=private,
        project=repo,
        env=env,
        store=store,
        cancel=cancel,
        timeout=template.timeout,
        inventory=str(repo / "inventory" / "netbox.yml"),
    )
    try:
        outcome, error = actions.get(template.action)(run)
    except actions.ActionError as exc:
        outcome, error = "failed", str(exc)
    store.flush()
    job.stats = store.stats
    if cancel.reason:
        return "canceled", error or f"stopped: {cancel.reason}"
    job.rc = 0 if outcome == "successful" else 1
    return outcome, error


def _claim(app, job_id: int, lock_wait: float, park) -> tuple[Job | None, str, str | None]:
    """Take pending job ``job_id`` for this process, its device locks and its run token with it
    in one commit: (the job now running, its run token, None); (None, "", None) when it is not
    pending any more (taken, canceled) or was parked; (the job now running, its token, why) when
    it may not wait any longer for its devices.

    A job whose devices are locked (or that older waiting jobs wait for) is parked: it stays
    pending, says since when and what it waits for, and ``park(job)`` puts it where it waits
    (netoss.domain.jobs.queue: out of every worker until the devices are free), before that is
    committed. Without ``park``, or once it waited ``lock_wait`` seconds for a job that has held
    its devices that long (`stuck`), it does not wait."""
    while True:
        job = db.session.get(Job, job_id, with_for_update=True, populate_existing=True)
        if job is None or job.status != "pending":
            db.session.rollback()
            return None, "", None
        template = templates(app).get(job.template)
        names = lock_names(job)
        why = acquire_locks(job, names) if template is not None and changes_devices(template, job) else None
        now = utcnow()
        if why is not None and park is not None and not stuck(job, names, lock_wait, now):
            job.waiting_since, job.waiting_for = utc(job.waiting_since) or now, why[:500]
            park(job)
            db.session.commit()
            return None, "", None
        job.status, job.started_at = "running", now
        job.worker = os.environ.get("NETOSS_WORKER_NAME") or f"{socket.gethostname()}:{os.getpid()}"
        job.host, job.pid, job.pid_started = socket.gethostname(), os.getpid(), processes.started(os.getpid())
        token = new_run_token(job)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()  # another job took one of the devices first: look again
            continue
        changing = template is not None and changes_devices(template, job)
        signals.started(job, names if changing else [], bool(changing and template.maintenance_window))
        return job, token, why


def execute(
    job_id: int,
    app,
    secrets: dict | None = None,
    env: dict | None = None,
    lock_wait: float | None = None,
    parent: int | None = None,
    park=None,
):
    """Run job ``job_id`` to its end; the job row says how it went.

    ``secrets`` are the values of its secret parameters (never stored), ``env`` the
    environment of the run (credentials); both default to what the worker was started with.
    ``parent`` is the pid of the worker that forked this process: the run stops if it dies.
    A job whose devices other jobs are changing is parked by ``park`` (see `_claim`) until they
    are free, or until it is `stuck` (``lock_wait``, the app's JOB_LOCK_WAIT, seconds).
    """
    with app.app_context():
        wait = app.config.get("JOB_LOCK_WAIT", 300) if lock_wait is None else lock_wait
        job, token, refused = _claim(app, job_id, float(wait), park)
        if job is None:
            return
        private = job_dir(app, job.id)
        hidden = [*(secrets or {}).values(), token]
        outcome, error = "error", "the run stopped before it ended"
        try:
            if refused:
                raise LockError(refused)
            template = templates(app)[job.template]
            private.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(private, 0o700)
            (private / CLEANED).unlink(missing_ok=True)
            extravars = extra_vars(template, job.parameters, secrets or {})
            run_env = run_environment(job, env if env is not None else dict(os.environ))
            # The run's own credential (its service order's progress), and the mark of its processes.
            run_env["NETOSS_JOB_TOKEN"] = token
            run_env[processes.MARK] = str(private.resolve())
            hidden = [*(secrets or {}).values(), *sensitive_values(run_env)]
            run_env["NETOSS_JOB_PLAN"] = str(private / "plan.jsonl")
            store = EventStore(job, hidden, Path(run_env["NETOSS_JOB_PLAN"]))
            repo = Path(app.config["JOB_TEMPLATES_DIR"]).parent
            cancel = CancelCheck(job.id, parent)
            if template.action:
                outcome, error = _act(app, private, repo, template, job, run_env, store, cancel)
            else:
                runner = _run(private, repo, template, job, run_env, extravars, store, cancel)
                store.flush()
                job.rc = runner.rc
                job.stats = store.stats
                outcome = {"successful": "successful", "canceled": "canceled"}.get(runner.status, "failed")
                error = f"timed out after {template.timeout} s" if runner.status == "timeout" else None
            if cancel.reason and cancel.reason.startswith("worker lost"):
                outcome, error = "failed", cancel.reason
        except LockError as exc:
            db.session.rollback()
            outcome, error = "failed", str(exc)
        except Exception as exc:  # a bug or an unusable template: the job says so
            db.session.rollback()
            outcome, error = "error", f"{type(exc).__name__}: {exc}"
        finally:
            finish(app, job, outcome, error, hidden)
