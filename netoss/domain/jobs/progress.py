"""A job's progress from its stored events and its plan (netoss.core.job_plan): pure logic."""

from __future__ import annotations

RESULTS = ("ok", "failed", "unreachable", "skipped")


def summarize(plan: list[dict] | None, hosts: dict[str, dict], tasks_started: int, ended: bool) -> dict:
    """Tasks and hosts done of their totals.

    ``hosts`` maps each host that reported to its result counts (``ok``, ``failed``,
    ``unreachable``, ``skipped``, ``started``). A host is done when it failed or was unreachable
    (Ansible runs nothing more on it), when it has a result for every task of its plays, or
    when the job ended. Totals are None while the plan is unknown (a run that has not started
    its playbook, or a playbook whose hosts are templated until its play starts).
    """
    plays = plan or []
    known = bool(plays) and all(p.get("hosts") is not None and p.get("tasks") is not None for p in plays)
    expected: dict[str, int] = {}
    if known:
        for play in plays:
            for host in play["hosts"]:
                expected[host] = expected.get(host, 0) + play["tasks"]
    out: dict[str, dict] = {}
    for name in sorted(set(hosts) | set(expected)):
        counts = {k: 0 for k in (*RESULTS, "started")}
        counts.update(hosts.get(name, {}))
        counts["done"] = sum(counts[k] for k in RESULTS)
        if counts["unreachable"]:
            state = "unreachable"
        elif counts["failed"]:
            state = "failed"
        elif name not in hosts:
            state = "pending"
        else:
            state = "ok"
        counts["state"] = state
        counts["expected"] = expected.get(name)
        counts["finished"] = bool(
            ended
            or state in ("failed", "unreachable")
            or (name in expected and counts["done"] >= expected[name] and expected[name] > 0)
        )
        out[name] = counts
    tasks_total = sum(p["tasks"] for p in plays) if known else None
    return {
        "tasks_started": tasks_started,
        "tasks_total": tasks_total,
        "hosts_total": len(expected) if known else None,
        "hosts_finished": sum(1 for h in out.values() if h["finished"]),
        "hosts": out,
    }
