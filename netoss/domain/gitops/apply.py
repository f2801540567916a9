"""A merge is applied: a deployment of one commit of the protected branch.

1. The commit is read from the worker's mirror of the repository (fetched first), never from a
   webhook's body; it must validate, be on the protected branch, and descend from the last
   commit applied (an older commit is never applied after a newer one). A deployment queued
   after it (a newer merge) supersedes it.
2. It is planned again (:func:`netoss.domain.gitops.plan.plan`: the NetBox branch synced with
   main as it is now, drift checked against the last applied commit); a plan that is not ok
   is refused and nothing changes.
3. The branch is merged into NetBox's main, in one operation (NetBox Branching).
4. The devices the plan touches get their new configuration (config_push: push, verify, and a
   device that fails is rolled back to what it ran before); their routing tables must still
   hold every prefix they held before, but those the change removes (read again until they do,
   within ``verify_timeout``); then the commit's compliance policy runs on them.
5. On failure, the merge is reverted in NetBox and every touched device is pushed back to the
   state NetBox then holds (the last good commit's), and a ticket names the commit, its author
   and the failing devices.

Every step is written to the job's output and to the deployment (status, plan, devices, error).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from netoss.data.db import db
from netoss.data.models import Deployment, utcnow
from netoss.data.netbox import BranchConflict, NetBox, NetboxError, failures
from netoss.domain.faults.incidents import open_incident
from netoss.domain.gitops import deployments, repositories
from netoss.domain.gitops.plan import Plan, Runner, plan
from netoss.domain.gitops.rehearse import compare, read_state, removed_by
from netoss.domain.gitops.repo import GitError, Repository
from netoss.domain.gitops.report import markdown
from netoss.domain.gitops.report import text as plan_text
from netoss.domain.gitops.validate import validate
from netoss.domain.jobs.actions import ActionRun

PUSH = "playbooks/config_push.yml"
COMPLIANCE = "playbooks/compliance.yml"


class _Stop(Exception):
    """The deployment ends here with ``status``; ``ticket``: whether it is a problem to track."""

    def __init__(self, status: str, reason: str, ticket: bool = False, devices: list[str] | None = None):
        super().__init__(reason)
        self.status, self.reason, self.ticket, self.devices = status, reason, ticket, devices or []


def _end(deployment: Deployment, status: str, error: str | None = None) -> str:
    deployment.status, deployment.error, deployment.finished_at = status, error, utcnow()
    db.session.commit()
    return status


def _check_newer(deployment: Deployment, log) -> None:
    found = deployments.newer(deployment)
    if found is not None:
        deployment.superseded_by = found.id
        log(f"deployment {found.id} ({found.sha[:12]}) was queued after this one: it supersedes it")
        raise _Stop("superseded", f"superseded by deployment {found.id} ({found.sha[:12]}), queued after it")


def _failed(run, touched: list[str]) -> dict[str, str]:
    found = run.failures()
    if run.rc != 0 and not found:
        found = {d: f"{run.playbook} ended {run.status} (rc {run.rc})" for d in touched}
    return found


def apply(
    deployment: Deployment,
    repo: Repository,
    netbox: NetBox,
    run: Runner,
    *,
    project: Path,
    workdir: Path,
    env: dict[str, str],
    inventory: str | None = None,
    log: Callable[[str], None] = lambda _m: None,
) -> str:
    """Apply ``deployment`` (its repository's commit ``deployment.sha``); returns its final
    status: succeeded, rolled-back, failed, refused or superseded."""
    deployment.status, deployment.started_at = "running", utcnow()
    db.session.commit()
    merged: dict | None = None
    try:
        try:
            commit = repo.commit(deployment.sha)
        except GitError as exc:
            raise _Stop("refused", str(exc), ticket=True) from None
        deployment.sha, deployment.author, deployment.author_email = commit.sha, commit.author, commit.email
        deployment.subject = commit.subject[:500]
        db.session.commit()
        log(f"deployment {deployment.id}: {commit.short} {commit.subject!r} by {commit.author} <{commit.email}>")
        _check_newer(deployment, log)
        export = repo.export(commit.sha, workdir / "commit")
        settings, problems = validate(export)
        if problems or settings is None:
            listed = "; ".join(f"{p.file}: {p.where}: {p.message}" for p in problems[:5])
            raise _Stop("refused", f"the commit does not validate ({len(problems)} problem(s)): {listed}", ticket=True)
        if not repo.on_branch(commit.sha, settings.protected_branch):
            raise _Stop("refused", f"{commit.short} is not on the protected branch {settings.protected_branch}")
        last = deployments.last_applied(deployment.repository, before=deployment.id)
        if last is not None:
            if last.sha == commit.sha:
                raise _Stop("refused", f"{commit.short} is already applied (deployment {last.id})")
            if not repo.is_ancestor(last.sha, commit.sha):
                raise _Stop(
                    "refused",
                    f"{commit.short} does not descend from {last.sha[:12]}, the last commit applied "
                    f"(deployment {last.id}): an older commit is never applied after a newer one",
                )
            deployment.previous_sha = last.sha
            db.session.commit()
        log(f"planning {commit.short} against NetBox's main as it is now")
        result = plan(
            repo,
            commit.sha,
            netbox,
            run,
            project=project,
            workdir=workdir / "plan",
            env=env,
            base=last.sha if last else None,
            inventory=inventory,
            log=log,
        )
        _record_plan(deployment, result)
        log(plan_text(result))
        if not result.ok:
            raise _Stop("refused", f"the plan of {commit.short} does not allow the merge: {_why(result)}", ticket=True)
        _check_newer(deployment, log)
        t0 = time.monotonic()
        log(f"merging NetBox branch {result.branch['name']} into main")
        try:
            netbox.branch_action(result.branch["id"], "merge")
        except BranchConflict as exc:
            raise _Stop("refused", str(exc), ticket=True) from None
        merged = result.branch
        log(f"merged in {time.monotonic() - t0:.1f} s")
        touched = result.touched
        if not touched:
            log("no device's configuration changes: NetBox only")
            return _end(deployment, "succeeded")
        extravars = {
            "netoss_state_dir": str(workdir / "state"),
            "config_push_verify_timeout": settings.verify_timeout,
        }
        if settings.templates:
            extravars["config_render_templates"] = str(export / settings.templates)
        push_env = {**env, "NETOSS_DEPLOYMENT": str(deployment.id)}
        limit = ",".join(touched)
        before, unread = read_state(run, project, env=env, inventory=inventory, limit=limit, workdir=workdir / "read")
        if unread:
            log(f"routing tables not compared on {', '.join(sorted(unread))} (not read: an FRR state reader only)")
        pushed = run(project, PUSH, env=push_env, extravars=extravars, inventory=inventory, limit=limit)
        failed = _failed(pushed, touched)
        if not failed and before:
            failed = _routes_kept(run, project, before, removed_by(result), settings.verify_timeout,
                                  env=env, inventory=inventory, workdir=workdir / "read", log=log)  # fmt: skip
        if not failed and settings.policy:
            checked = run(
                project,
                COMPLIANCE,
                env=push_env,
                extravars={
                    **extravars,
                    "compliance_policy": str(export / settings.policy),
                    "compliance_fail_on_drift": True,
                },
                inventory=inventory,
                limit=limit,
            )
            failed = {d: f"compliance: {m}" for d, m in _failed(checked, touched).items()}
        if failed:
            deployment.failed_devices = sorted(failed)
            db.session.commit()
            for device, message in sorted(failed.items()):
                log(f"{device}: {message}")
            raise _Stop("failed", "; ".join(f"{d}: {m}" for d, m in sorted(failed.items()))[:1500], ticket=True,
                        devices=sorted(failed))  # fmt: skip
        return _end(deployment, "succeeded")
    except _Stop as stop:
        status, reason = stop.status, stop.reason
        if merged is not None:
            status, reason = _roll_back(deployment, repo, netbox, run, merged, reason, project=project,
                                        workdir=workdir, env=env, inventory=inventory, log=log)  # fmt: skip
        log(f"deployment {deployment.id}: {status}: {reason}")
        if not stop.ticket:
            return _end(deployment, status, reason)
        return _end_with_ticket(deployment, status, reason, stop.devices or deployment.devices or [], log)
    except (GitError, NetboxError, *failures()) as exc:
        reason = f"{type(exc).__name__}: {exc}"
        status = "failed"
        if merged is not None:
            status, reason = _roll_back(deployment, repo, netbox, run, merged, reason, project=project,
                                        workdir=workdir, env=env, inventory=inventory, log=log)  # fmt: skip
        return _end_with_ticket(deployment, status, reason, deployment.failed_devices or deployment.devices or [], log)


def _routes_kept(run, project, before, removed, timeout, *, env, inventory, workdir, log, interval=3.0):
    """{router: why} for the pushed routers that no longer reach a prefix they reached before the
    push and that the change does not remove, read again until none is missing or ``timeout``
    seconds pass (routes come back some seconds after the sessions do)."""
    deadline = time.monotonic() + timeout
    limit = ",".join(sorted(before))
    while True:
        after, _unread = read_state(run, project, env=env, inventory=inventory, limit=limit, workdir=workdir)
        lost, _sessions, _gained = compare(before, after, {}, removed)
        if not lost:
            log(f"routing tables of {limit}: nothing the change does not remove is lost")
            return {}
        if time.monotonic() >= deadline:
            return {router: f"no longer reaches {', '.join(prefixes)}" for router, prefixes in sorted(lost.items())}
        time.sleep(interval)


def _record_plan(deployment: Deployment, result: Plan) -> None:
    deployment.plan = result.to_dict()
    deployment.devices = result.touched
    deployment.netbox_branch = result.branch["name"] if result.branch else None
    db.session.commit()


def _why(result: Plan) -> str:
    parts = []
    if result.problems:
        parts.append(f"{len(result.problems)} problem(s)")
    parts += result.errors
    parts += [f"{d}: {m}" for d, m in sorted(result.device_errors.items())]
    if result.conflicts:
        parts.append(f"{len(result.conflicts)} NetBox conflict(s)")
    if result.compliance:
        parts.append(f"not compliant: {', '.join(sorted(result.compliance))}")
    if result.drift_refused:
        parts.append(f"{len(result.drift)} NetBox object(s) changed by hand (drift: refuse)")
    return "; ".join(parts)[:1500] or "not ok"


def _roll_back(deployment, repo, netbox, run, branch, reason, *, project, workdir, env, inventory, log):
    """Revert the merge in NetBox and push the touched devices back to what NetBox then holds;
    (status, reason) of the deployment."""
    log(f"rolling back: reverting the merge of NetBox branch {branch['name']}")
    try:
        netbox.branch_action(branch["id"], "revert")
    except (NetboxError, *failures()) as exc:
        return "failed", f"{reason}; reverting the merge in NetBox failed too: {exc}"
    touched = list(deployment.devices or [])
    if not touched:
        return "rolled-back", reason
    extravars = {"netoss_state_dir": str(workdir / "rollback-state")}
    back_to = deployment.previous_sha
    if back_to:
        try:
            previous = repo.export(back_to, workdir / "previous")
            settings, _problems = validate(previous)
            if settings is not None and settings.templates:
                extravars["config_render_templates"] = str(previous / settings.templates)
        except GitError as exc:
            log(f"the templates of {back_to[:12]} could not be read ({exc}): the collection's are used")
    where = f"the last good commit {back_to[:12]}" if back_to else "NetBox's state before the merge"
    log(f"pushing {', '.join(touched)} back to {where}")
    back = run(project, PUSH, env={**env, "NETOSS_DEPLOYMENT": str(deployment.id)}, extravars=extravars,
               inventory=inventory, limit=",".join(touched))  # fmt: skip
    left = _failed(back, touched)
    if left:
        return "failed", f"{reason}; pushing back failed on {', '.join(sorted(left))}"
    return "rolled-back", f"{reason}; NetBox's merge reverted and {', '.join(touched)} pushed back to {where}"


def _end_with_ticket(deployment: Deployment, status: str, reason: str, devices: list[str], log) -> str:
    """End the deployment with ``status`` and its ticket in one commit, so whoever watches it (the
    API, a pipeline waiting for it) sees it end with its ticket; a ticket that cannot be opened is
    logged and the deployment ends all the same."""
    deployment.status, deployment.error, deployment.finished_at = status, reason, utcnow()
    try:
        _open_ticket(deployment, reason, devices)
        return status
    except Exception as exc:  # the deployment's end is recorded whatever the ticket did
        db.session.rollback()
        log(f"deployment {deployment.id}: its ticket could not be opened: {type(exc).__name__}: {exc}")
    return _end(deployment, status, reason)


def _open_ticket(deployment: Deployment, reason: str, devices: list[str]) -> None:
    """Open the deployment's ticket, linked in the ticket's own commit (with whatever the
    deployment has pending: its end)."""
    sha = deployment.sha
    who = f"{deployment.author or 'unknown'}" + (f" <{deployment.author_email}>" if deployment.author_email else "")
    what = {"rolled-back": "rolled back", "refused": "refused", "failed": "failed"}.get(deployment.status, "failed")
    lines = [
        f"GitOps deployment {deployment.id} of commit {sha} {what}.",
        f"Repository: {deployment.repository}",
        f"Commit: {sha} {deployment.subject or ''}",
        f"Author: {who}",
    ]
    if deployment.merge_request:
        lines.append(f"Merge request: {deployment.merge_request}")
    if devices:
        lines.append(f"Failing devices: {', '.join(devices)}")
    lines.append(f"Reason: {reason}")
    related = [{"@referredType": "Device", "id": d, "name": d, "role": "affected"} for d in devices]
    related.append({"@referredType": "Deployment", "id": str(deployment.id), "name": deployment.ref, "role": "cause"})
    if deployment.job_id:
        related.append({"@referredType": "Job", "id": str(deployment.job_id), "name": f"job {deployment.job_id} "
                        f"({deployment.created_by})", "role": "execution"})  # fmt: skip
    data = {
        "name": f"GitOps {sha[:12]} by {deployment.author or 'unknown'} {what}"
        + (f" on {', '.join(devices)}" if devices else "")[:200],
        "description": "\n".join(lines),
        "severity": "major",
        "ticketType": "incident",
    }

    def link(ticket) -> None:
        deployment.ticket_id = ticket.id

    open_incident(data, related, reason=f"opened by GitOps deployment {deployment.id}", link=link)


def _netbox(env: dict[str, str]) -> NetBox:
    url, token = env.get("NETBOX_API"), env.get("NETBOX_TOKEN")
    if not url or not token:
        raise NetboxError("the worker has no NETBOX_API and NETBOX_TOKEN (a token that may write and branch)")
    return NetBox(url, token, timeout=60)


def _config(run: ActionRun, name: str) -> repositories.RepositoryConfig:
    found = repositories.load(run.app.config.get("GITOPS_REPOSITORIES_FILE")).get(name)
    if found is None:
        raise repositories.RepositoriesError(f"no repository {name!r} in the GitOps repositories file")
    return found


def _mirror(run: ActionRun, config: repositories.RepositoryConfig) -> Repository:
    settings = run.app.config
    root = Path(settings.get("GITOPS_DIR") or Path(settings["JOBS_DIR"]).parent / "gitops")
    return repositories.mirror(config, root)


def _repository(run: ActionRun, name: str) -> Repository:
    return _mirror(run, _config(run, name))


def run_job(run: ActionRun) -> tuple[str, str | None]:
    """The action of the job template ``gitops-apply``: the deployment of its job."""
    deployment = deployments.of_job(run.job)
    try:
        repo = _repository(run, deployment.repository)
        netbox = _netbox(run.env)
    except (repositories.RepositoriesError, GitError, NetboxError) as exc:
        _end(deployment, "failed", str(exc))
        return "failed", str(exc)
    status = apply(
        deployment,
        repo,
        netbox,
        run.run_playbook,
        project=run.project,
        workdir=run.private / "work",
        env=run.env,
        inventory=run.inventory,
        log=run.log,
    )
    if status in ("succeeded", "superseded"):
        return "successful", None
    return "failed", f"deployment {deployment.id} {status}: {deployment.error}"[:2000]


def run_plan_job(run: ActionRun) -> tuple[str, str | None]:
    """The action of the job template ``gitops-plan``: the plan of a commit (a merge request's),
    its report in the job's output."""
    params = run.job.parameters
    try:
        config = _config(run, str(params.get("repository") or ""))
        repo = _mirror(run, config)
        netbox = _netbox(run.env)
        result = plan(
            repo,
            str(params.get("ref") or ""),
            netbox,
            run.run_playbook,
            project=run.project,
            workdir=run.private / "work",
            env=run.env,
            name=params.get("name") or None,
            inventory=run.inventory,
            log=run.log,
        )
    except (repositories.RepositoriesError, GitError, NetboxError) as exc:
        return "failed", str(exc)
    run.log(plan_text(result))
    merge_request = str(params.get("merge_request") or "")
    if config.comment_url and merge_request:
        try:
            answer = config.comment(merge_request, markdown(result))
            run.log(f"the plan posted on merge request {merge_request}: {answer}")
        except repositories.RepositoriesError as exc:
            run.log(f"the plan could not be posted on merge request {merge_request}: {exc}")
    return ("successful", None) if result.ok else ("failed", f"the plan does not allow the merge: {_why(result)}")
