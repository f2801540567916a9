"""The rehearsal of a change (``netoss gitops plan --rehearse``): before anyone merges, the
network as the commit would make it, built and run on a twin of the lab, compared with the
network that runs now.

1. The routers as they run now are read (BGP sessions, routing tables): the live network.
2. A twin is built from the plan's NetBox branch (the caller's factory; the embedded lab's is
   netoss.embedded.twin): every router of it, its links, in namespaces and a management subnet
   of its own, beside the running lab.
3. Every router of the twin gets its configuration rendered from the branch, the twin is given
   time to converge, and what runs is read: the health check against what the branch says
   (every interface, OSPF adjacency and BGP session NetBox implies must be up), and the same
   routing state as in 1.
4. **What would break**: each check of the health that fails (a session that does not come
   up...), and each route the live network has that the twin lacks, unless the change removes
   it (a prefix it deletes, an address it changes or deletes): a prefix that would become
   unreachable. Sessions established now and not in the twin are listed, and so are the routes
   the change adds.
5. The twin is taken down, however the rehearsal ends.

Routes to the management subnets (NetBox's and the twin's) are not compared.
"""

from __future__ import annotations

import ipaddress
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ansible_collections.netoss.core.plugins.module_utils.lab_netns import LabError
from netoss.domain.gitops.plan import Plan, Runner, branch_env

PLAYBOOK = "playbooks/gitops_rehearse.yml"
HEALTH_TASK = "Wait for what NetBox expects to be up"
STATE_TASK = "Read the routing state"
PUSH_TASK = "Push the proposed configuration"


@dataclass
class Rehearsal:
    routers: list[str] = field(default_factory=list)  # the twin's
    skipped: dict[str, str] = field(default_factory=dict)  # devices the twin could not build
    push_errors: dict[str, str] = field(default_factory=dict)
    problems: dict[str, list[str]] = field(default_factory=dict)  # router -> failing health checks
    unreachable: dict[str, list[str]] = field(default_factory=dict)  # router -> live routes lost
    sessions_lost: dict[str, list[str]] = field(default_factory=dict)  # established live, not in the twin
    routes_gained: dict[str, list[str]] = field(default_factory=dict)
    expected_lost: list[str] = field(default_factory=list)  # what the change removes
    errors: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.errors or self.push_errors or self.problems or self.unreachable)

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "routers": self.routers,
            "skipped": self.skipped,
            "push_errors": self.push_errors,
            "problems": self.problems,
            "unreachable": self.unreachable,
            "sessions_lost": self.sessions_lost,
            "routes_gained": self.routes_gained,
            "expected_lost": self.expected_lost,
            "errors": self.errors,
            "seconds": {k: round(v, 1) for k, v in self.seconds.items()},
        }


def removed_by(result: Plan) -> list[ipaddress.IPv4Network]:
    """The networks the change takes away: prefixes it deletes, the subnets of addresses it
    deletes or changes (their old value)."""
    found = set()
    for change in result.changes:
        if change.kind == "ipam.prefix" and change.action == "delete":
            candidates = [change.object]
        elif change.kind == "ipam.ipaddress" and change.action in ("delete", "update"):
            old = change.fields.get("address", (None, None))[0]
            candidates = [change.object] if change.action == "delete" else ([old] if old else [])
        else:
            continue
        for text in candidates:
            try:
                found.add(ipaddress.ip_interface(str(text).split()[0]).network)
            except ValueError:
                continue
    return sorted(found, key=lambda n: (int(n.network_address), n.prefixlen))


def _state(run, task: str = STATE_TASK) -> tuple[dict[str, dict], dict[str, str]]:
    """Each router's routing state (bgp, routes) from the run, and the routers that failed."""
    states, failed = {}, {}
    for host, res in run.results(task).items():
        if res["_event"] == "runner_on_ok":
            states[host] = res
    for host, message in run.failures().items():
        if host not in states:
            failed[host] = message
    return states, failed


def _routes(state: dict, management: list[ipaddress.IPv4Network]) -> dict[str, str]:
    out = {}
    for r in state.get("routes") or []:
        try:
            net = ipaddress.ip_network(r["prefix"])
        except ValueError:
            continue
        if net.version == 4 and not any(net.subnet_of(m) for m in management):
            out[r["prefix"]] = r.get("protocol") or ""
    return out


def _established(state: dict) -> set[str]:
    return {f"{s['neighbor']} ({s.get('vrf', 'default')})" for s in state.get("bgp") or [] if s.get("established")}


def compare(
    live: dict[str, dict],
    twin: dict[str, dict],
    management: dict[str, list[str]],
    removed: list[ipaddress.IPv4Network],
) -> tuple[dict, dict, dict]:
    """(unreachable, sessions lost, routes gained), each by router, from the routing states."""
    unreachable, lost_sessions, gained = {}, {}, {}
    for router in sorted(set(live) & set(twin)):
        mgmt = [ipaddress.ip_network(n) for n in management.get(router, [])]
        before, after = _routes(live[router], mgmt), _routes(twin[router], mgmt)
        lost = [
            p for p in sorted(set(before) - set(after))
            if not any(ipaddress.ip_network(p).subnet_of(n) or n.subnet_of(ipaddress.ip_network(p)) for n in removed)
        ]  # fmt: skip
        if lost:
            unreachable[router] = lost
        new = sorted(set(after) - set(before))
        if new:
            gained[router] = new
        sessions = sorted(_established(live[router]) - _established(twin[router]))
        if sessions:
            lost_sessions[router] = sessions
    return unreachable, lost_sessions, gained


def read_state(run: Runner, project: Path, *, env: dict, inventory: str | None, limit: str, workdir: Path):
    """The routing state (BGP sessions, routes) of the routers ``limit`` names, as they run now:
    ({router: state}, {router: why it could not be read})."""
    done = run(project, PLAYBOOK, env=env, extravars={"netoss_state_dir": str(workdir)}, inventory=inventory,
               limit=limit)  # fmt: skip
    return _state(done)


def rehearse(
    result: Plan,
    twin_factory: Callable[[str], object],
    run: Runner,
    *,
    project: Path,
    workdir: Path,
    env: dict[str, str],
    templates: str | None = None,
    inventory: str | None = None,
    timeout: int = 90,
    log: Callable[[str], None] = lambda _m: None,
) -> Rehearsal:
    """Rehearse the planned change ``result`` (its branch must be ready) on a twin made by
    ``twin_factory(schema_id)``, a context manager whose value has ``routers``, ``skipped``,
    ``inventory()``, ``env()`` and ``management()`` (netoss.embedded.twin.Twin)."""
    out = Rehearsal()
    if result.branch is None:
        out.errors.append("nothing to rehearse: the change has no NetBox branch (it was not planned)")
        return out
    schema = result.branch["schema_id"]
    main_inventory = inventory or str(project / "inventory" / "netbox.yml")
    extravars = {"netoss_state_dir": str(workdir / "rehearsal")}
    if templates:
        extravars["config_render_templates"] = templates
    removed = removed_by(result)
    out.expected_lost = [str(n) for n in removed]
    t_all = time.monotonic()
    try:
        with twin_factory(schema) as twin:
            out.seconds["twin up"] = time.monotonic() - t_all
            out.routers, out.skipped = list(twin.routers), dict(twin.skipped)
            limit = ",".join(out.routers)
            log(f"rehearsal: twin of {len(out.routers)} router(s) up in {out.seconds['twin up']:.1f} s")
            t0 = time.monotonic()
            live_run = run(project, PLAYBOOK, env=env, extravars=extravars, inventory=main_inventory, limit=limit)
            live, live_failed = _state(live_run)
            out.seconds["live state"] = time.monotonic() - t0
            for host, message in sorted(live_failed.items()):
                out.errors.append(f"the live {host} could not be read: {message}")
            t0 = time.monotonic()
            twin_run = run(
                project,
                PLAYBOOK,
                env={**env, **branch_env(schema), **twin.env()},
                extravars={**extravars, "gitops_rehearse_push": True, "gitops_rehearse_timeout": timeout},
                inventory=[main_inventory, str(twin.inventory())],
                limit=limit,
            )
            out.seconds["push and converge"] = time.monotonic() - t0
            twin_state, _failed = _state(twin_run)
            for host, res in twin_run.results(PUSH_TASK).items():
                if res["_event"] != "runner_on_ok":
                    out.push_errors[host] = str(res.get("msg") or res["_event"])
            for host, res in twin_run.results(HEALTH_TASK).items():
                problems = list(res.get("problems") or [])
                if res["_event"] not in ("runner_on_ok", "runner_on_skipped") and not problems:
                    problems = [str(res.get("msg") or res["_event"])]
                if problems:
                    out.problems[host] = problems
            for host, message in twin_run.failures().items():
                if host not in out.push_errors and host not in out.problems and host not in twin_state:
                    out.problems[host] = [message]
            out.unreachable, out.sessions_lost, out.routes_gained = compare(
                live, twin_state, twin.management(), removed
            )
    except (LabError, OSError, subprocess.CalledProcessError) as exc:  # the twin's own: root, a subnet in use...
        out.errors.append(f"the twin could not be built or run: {exc}")
    out.seconds["total"] = time.monotonic() - t_all
    verdict = "nothing breaks" if out.ok else "it breaks something"
    log(f"rehearsal: {verdict} ({out.seconds['total']:.1f} s)")
    return out
