"""A change is a commit: its plan.

1. The commit's files, exported from the intent repository, are validated whole (settings,
   intent, templates, policy, catalog): every problem at once, and nothing goes to NetBox when
   there is one.
2. Its intent is applied into a NetBox branch named after it (NetBox Branching): created and
   provisioned the first time, synced with main when planned again, left in NetBox for
   reviewers. NetBox's own record of what the branch changes is the NetBox plan, object by
   object and field by field, with the conflicts where main changed the same fields since.
3. Every device's configuration is rendered from the branch (the proposed state) and compared
   with what it runs: the exact lines a push would send, nothing sent.
4. The compliance policy of the commit runs on the proposed configurations.
5. **Drift**: NetBox's main is compared with the intent of the base commit (``--base``; else the
   head of the protected branch, what was merged last, or for a commit already on it its first
   parent), with sot_sync's own planning functions;
   what differs was changed in NetBox by hand, not from git. The branch undoes it like any
   other difference; the repository's ``drift`` setting says whether that is allowed
   (``overwrite``) or breaks the plan (``refuse``, the default).

The caller gives the repository, the NetBox client (an account that may write and branch) and
how playbooks run (:func:`netoss.domain.jobs.playbooks.run_playbook`'s signature), so tests
and the portal's job run the same steps as the CLI.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ansible_collections.netoss.core.plugins.module_utils import device_data
from ansible_collections.netoss.core.plugins.module_utils.intent_load import load_intent
from ansible_collections.netoss.core.plugins.module_utils.intent_payloads import MANAGED_TAG, build_netbox_objects
from ansible_collections.netoss.core.plugins.module_utils.schema_files import Problem, ProblemsError
from ansible_collections.netoss.core.plugins.module_utils.sot_plan import fetch as sot_fetch
from ansible_collections.netoss.core.plugins.module_utils.sot_plan import plan as sot_plan
from netoss.data.netbox import BRANCH_HEADER, NetBox, NetboxError, failures
from netoss.domain.gitops.repo import Commit, GitError, Repository
from netoss.domain.gitops.settings import Settings
from netoss.domain.gitops.validate import validate
from netoss.domain.jobs.playbooks import PlaybookRun

PUSH_TASK = "The lines a push would send"
COMPLIANCE_TASK = "Check the proposed configurations against the compliance policy"
# Fields of NetBox's serialized objects that every change touches: not part of a plan.
NOISE = frozenset({"created", "last_updated", "id", "url", "display", "display_url"})

Runner = Callable[..., PlaybookRun]


@dataclass
class Change:
    """One NetBox object the branch changes: ``fields`` maps each changed field to (before, after)."""

    kind: str  # dcim.device, ipam.prefix, ...
    action: str  # create, update, delete
    object: str  # NetBox's name of it
    object_id: int
    fields: dict[str, tuple]
    conflicts: list[str]

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "action": self.action,
            "object": self.object,
            "id": self.object_id,
            "fields": {k: list(v) for k, v in self.fields.items()},
            "conflicts": self.conflicts,
        }


def change_of(record: dict) -> Change:
    """A Change from NetBox Branching's ChangeDiff record."""
    action = (record.get("action") or {}).get("value") or str(record.get("action"))
    before = record.get("original_data") or {}
    after = record.get("modified_data") or {}
    if action == "create":
        fields = {k: (None, v) for k, v in after.items() if k not in NOISE and v not in (None, "", [], {})}
    elif action == "delete":
        fields = {}
    else:
        fields = {k: (before.get(k), v) for k, v in after.items() if k not in NOISE and before.get(k) != v}
    return Change(
        kind=str(record.get("object_type")),
        action=action,
        object=str(record.get("object_repr") or ""),
        object_id=int(record.get("object_id") or 0),
        fields=dict(sorted(fields.items())),
        conflicts=list(record.get("conflicts") or []),
    )


@dataclass
class Plan:
    commit: Commit
    base: Commit | None = None
    settings: Settings | None = None
    problems: list[Problem] = field(default_factory=list)  # the commit is invalid
    branch: dict | None = None  # NetBox's branch record (name, schema_id, status)
    changes: list[Change] = field(default_factory=list)
    lines: dict[str, list[str]] = field(default_factory=dict)  # device -> the lines a push would send
    device_errors: dict[str, str] = field(default_factory=dict)  # device -> why it could not be planned
    compliance: dict[str, list[dict]] = field(default_factory=dict)  # device -> its failing rules
    drift: list[dict] | None = None  # NetBox's main against the base's intent (None: not compared)
    errors: list[str] = field(default_factory=list)  # a step that failed
    notes: list[str] = field(default_factory=list)  # what was not checked, and why
    seconds: dict[str, float] = field(default_factory=dict)  # step -> time
    rehearsal: object | None = None  # netoss.domain.gitops.rehearse.Rehearsal, when rehearsed

    @property
    def conflicts(self) -> list[Change]:
        return [c for c in self.changes if c.conflicts]

    @property
    def touched(self) -> list[str]:
        return sorted(d for d, lines in self.lines.items() if lines)

    @property
    def drift_refused(self) -> bool:
        """Drift the repository's setting does not allow the merge to overwrite."""
        return bool(self.drift) and (self.settings is None or self.settings.drift == "refuse")

    @property
    def ok(self) -> bool:
        """Whether the change may merge: valid, planned to its end, no conflict, compliant, no
        drift the repository refuses to overwrite, and, when it was rehearsed, nothing broken."""
        return not (
            self.problems or self.errors or self.device_errors or self.conflicts or self.compliance
            or self.drift_refused or (self.rehearsal is not None and not self.rehearsal.ok)
        )  # fmt: skip

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "commit": self.commit.to_dict(),
            "base": self.base.to_dict() if self.base else None,
            "problems": [{"file": p.file, "where": p.where, "message": p.message} for p in self.problems],
            "branch": (
                {k: self.branch.get(k) for k in ("id", "name", "schema_id")}
                | {"status": (self.branch.get("status") or {}).get("value")}
                if self.branch
                else None
            ),
            "netbox": [c.to_dict() for c in self.changes],
            "conflicts": [c.to_dict() for c in self.conflicts],
            "devices": {d: {"lines": self.lines.get(d, [])} for d in sorted(self.lines)},
            "touched": self.touched,
            "device_errors": self.device_errors,
            "compliance": self.compliance,
            "drift": self.drift,
            "drift_setting": self.settings.drift if self.settings else None,
            "errors": self.errors,
            "notes": self.notes,
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
            "rehearsal": self.rehearsal.to_dict() if self.rehearsal is not None else None,
        }


def default_base(repo: Repository, commit: Commit, protected_branch: str) -> Commit | None:
    """What a commit is compared with when no base is given: the protected branch's head (what
    was merged last) for a proposed commit; for a commit already on the protected branch, its
    first parent (the state before it). None when there is neither."""
    try:
        head = repo.commit(f"refs/heads/{protected_branch}")
    except GitError:
        return None
    if repo.is_ancestor(commit.sha, head.sha):
        return repo.parent(commit.sha)
    return head


def branch_name(commit: Commit, name: str | None = None) -> str:
    """The NetBox branch of a change: ``name`` (a merge request's, say), else ``gitops-<sha12>``."""
    return name or f"gitops-{commit.short}"


def ensure_branch(netbox: NetBox, name: str, description: str, timeout: float = 600) -> dict:
    """The ready branch ``name``: the existing one (synced with main, so the plan sees main as
    it is now), or a new one provisioned from main."""
    found = [b for b in netbox.branches(name) if b["name"] == name]
    if found:
        branch = found[0]
        status = (branch.get("status") or {}).get("value")
        if status == "merged":
            raise NetboxError(f"NetBox branch {name!r} is already merged: this change was applied")
        branch = netbox.wait_branch(branch["id"], timeout=timeout)
        netbox.branch_action(branch["id"], "sync", timeout=timeout)
        return netbox.wait_branch(branch["id"], timeout=timeout)
    created = netbox.create_branch(name, description)
    return netbox.wait_branch(created["id"], timeout=timeout)


def branch_env(schema_id: str) -> dict[str, str]:
    """What points the playbooks at a branch: netoss's modules (NETBOX_BRANCH) and netbox.netbox's
    inventory and lookups (NETBOX_HEADERS)."""
    return {"NETBOX_BRANCH": schema_id, "NETBOX_HEADERS": json.dumps({BRANCH_HEADER: schema_id})}


def drift(repo: Repository, base: Commit, netbox: NetBox, workdir: Path) -> tuple[list[dict] | None, str | None]:
    """What NetBox's main holds that the intent of ``base`` does not say: sot_sync's own plan of
    that intent against main (the collection's sot_plan, read only). Each entry: action, kind,
    object, fields (NetBox's value, the intent's); an empty list is no drift. (None, why) when
    it cannot be told: the base does not validate, or NetBox could not be read."""
    export = repo.export(base.sha, workdir / "base")
    settings, problems = validate(export)
    if problems or settings is None:
        return None, f"drift not checked: the base commit {base.short} does not validate ({len(problems)} problem(s))"
    try:
        objects = build_netbox_objects(load_intent(str(export / settings.intent)), managed_tag=MANAGED_TAG)
        records = sot_fetch(netbox.api(), MANAGED_TAG)
    except (ProblemsError, *failures()) as exc:
        return None, f"drift not checked: comparing NetBox with {base.short}'s intent failed: {exc}"
    return [
        {"action": c.get("action"), "kind": c.get("kind"), "object": c.get("object"), "fields": c.get("fields") or {}}
        for c in sot_plan(records, objects)["changes"]
    ], None


def changed_devices(netbox: NetBox, schema: str) -> tuple[list[str], set[str]]:
    """(every device of the branch, the devices the change can alter): those whose structured
    data (what their configuration is rendered from) differs between NetBox's main and the
    branch, the new ones, and those the branch breaks. A device's configuration is a function
    of its data and the templates, so the others render as they would from main: the change
    sends them nothing."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        main = pool.submit(device_data.fetch, netbox.clone().api())
        branch = pool.submit(device_data.fetch, netbox.in_branch(schema).api())
        main_records, branch_records = main.result(), branch.result()
    names = sorted({d["name"] for d in branch_records["devices"] if d.get("name")})
    before, before_bad = device_data.build_all(
        device_data.Snapshot(**main_records), sorted({d["name"] for d in main_records["devices"] if d.get("name")})
    )
    after, after_bad = device_data.build_all(device_data.Snapshot(**branch_records), names)
    changed = {
        n for n in names
        if (n in after and after[n] != before.get(n)) or (n in after_bad and after_bad[n] != before_bad.get(n))
    }  # fmt: skip
    return names, changed


def _failed_output(run: PlaybookRun) -> str:
    failures = run.failures()
    if failures:
        return "; ".join(f"{host}: {msg}" for host, msg in sorted(failures.items()))
    return run.output[-2000:] or f"{run.playbook} ended {run.status} (rc {run.rc})"


def plan(
    repo: Repository,
    ref: str,
    netbox: NetBox,
    run: Runner,
    *,
    project: Path,
    workdir: Path,
    env: dict[str, str],
    base: str | None = None,
    name: str | None = None,
    inventory: str | None = None,
    log: Callable[[str], None] = lambda _m: None,
) -> Plan:
    """The plan of the commit ``ref`` (see the module's docstring). ``workdir``: an empty
    directory of the caller's (the commit's files, the rendered configurations); ``env``: the
    playbooks' environment (NetBox's URL and a token that may write, the devices' login)."""
    commit = repo.commit(ref)
    result = Plan(commit=commit, base=repo.commit(base) if base else None)
    t0 = time.monotonic()
    export = repo.export(commit.sha, workdir / "commit")
    result.settings, result.problems = validate(export)
    result.seconds["validate"] = time.monotonic() - t0
    if result.problems:
        log(f"{commit.short}: {len(result.problems)} problem(s); nothing planned in NetBox")
        return result
    settings = result.settings
    if result.base is None:
        result.base = default_base(repo, commit, settings.protected_branch)
    t0 = time.monotonic()
    description = f"netoss GitOps: {commit.short} {commit.subject} ({commit.author})"[:200]
    with ThreadPoolExecutor(max_workers=1) as pool:
        # Drift reads NetBox's main while NetBox provisions or syncs the branch: a client of its own.
        drifting = None
        if result.base is not None:
            drifting = pool.submit(drift, repo, result.base, netbox.clone(), workdir)
        result.branch = ensure_branch(netbox, branch_name(commit, name), description)
        result.seconds["branch"] = time.monotonic() - t0
        if drifting is not None:
            result.drift, note = drifting.result()
            result.seconds["drift"] = time.monotonic() - t0
            if note:
                result.notes.append(note)
            if result.drift:
                log(f"{commit.short}: {len(result.drift)} NetBox object(s) differ from {result.base.short}'s intent")
    schema = result.branch["schema_id"]
    log(f"{commit.short}: NetBox branch {result.branch['name']} ({schema}) ready")
    t0 = time.monotonic()
    sync = run(
        project,
        "playbooks/sot_sync.yml",
        env={**env, **branch_env(schema)},
        extravars={"sot_sync_intent_dir": str(export / settings.intent), "sot_sync_netbox_branch": schema},
    )
    result.seconds["sot_sync"] = time.monotonic() - t0
    if sync.rc != 0:
        result.errors.append(f"applying the intent into the branch failed: {_failed_output(sync)}")
        return result
    result.changes = [change_of(r) for r in netbox.branch_changes(result.branch["id"])]
    result.changes.sort(key=lambda c: (c.kind, c.object, c.action))
    log(f"{commit.short}: {len(result.changes)} NetBox object(s) change, {len(result.conflicts)} conflict(s)")
    t0 = time.monotonic()
    # Only the devices the change can alter are rendered and compared with what they run, unless
    # it changes the templates or the policy (then every device's configuration or verdict can).
    touched_files = repo.changed_files(result.base.sha, commit.sha) if result.base is not None else None
    everything = touched_files is None or any(
        path and any(f == path or f.startswith(path.rstrip("/") + "/") for f in touched_files)
        for path in (settings.templates, settings.policy)
    )  # fmt: skip
    names, changed = changed_devices(netbox, schema)
    if everything:
        changed = set(names)
    result.seconds["devices"] = time.monotonic() - t0
    log(f"{commit.short}: {len(changed)} of {len(names)} device(s) can change; they are rendered and compared")
    result.lines = {name: [] for name in names if name not in changed}
    t0 = time.monotonic()
    extravars = {
        "gitops_plan_policy": str(export / settings.policy) if settings.policy else "",
        "netoss_state_dir": str(workdir / "state"),
    }
    if settings.templates:
        extravars["config_render_templates"] = str(export / settings.templates)
    if not changed:
        result.seconds["render"] = 0.0
        return result
    rendered = run(
        project,
        "playbooks/gitops_plan.yml",
        env={**env, **branch_env(schema)},
        extravars=extravars,
        inventory=inventory or str(project / "inventory" / "netbox.yml"),
        limit=",".join(sorted(changed)),
    )
    result.seconds["render"] = time.monotonic() - t0
    for host, res in rendered.results(PUSH_TASK).items():
        if res["_event"] == "runner_on_ok":
            result.lines[host] = list(res.get("commands") or [])
    result.device_errors = {h: m for h, m in rendered.failures().items() if h not in result.lines}
    if rendered.rc != 0 and not result.device_errors:
        result.errors.append(f"rendering from the branch failed: {_failed_output(rendered)}")
    for res in rendered.results(COMPLIANCE_TASK).values():
        if res["_event"] != "runner_on_ok":
            continue
        for device in res.get("devices") or []:
            if device.get("status") not in ("compliant", "exempt"):
                result.compliance[device["device"]] = [
                    {"feature": r["feature"], "rule": r["rule"], "status": r["status"], "message": r.get("message", "")}
                    for r in device.get("rules") or []
                ] or [{"feature": "", "rule": "", "status": device.get("status"), "message": device.get("error", "")}]
    return result
