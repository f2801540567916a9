"""A plan as people read it: text for a terminal, Markdown for a merge request's comment, JSON
for a pipeline. The same facts in each, in the same order: verdict, problems, NetBox plan and
conflicts, the lines per device, compliance."""

from __future__ import annotations

import json

from netoss.domain.gitops.plan import Change, Plan

MAX_VALUE = 80  # characters of a field's value shown in a line


def _value(v) -> str:
    if isinstance(v, dict):
        v = v.get("name") or v.get("slug") or v.get("address") or v.get("prefix") or v.get("value") or v.get("id") or v
    text = json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 3] + "..."


def verdict(plan: Plan) -> str:
    c = plan.commit
    if plan.problems:
        return f"{c.short} is invalid: {len(plan.problems)} problem(s); nothing was planned"
    if plan.errors:
        return f"{c.short} could not be planned: {plan.errors[0]}"
    parts = [f"{len(plan.changes)} NetBox object(s)", f"{len(plan.touched)} device(s) to push"]
    bad = []
    if plan.conflicts:
        bad.append(f"{len(plan.conflicts)} conflict(s) with main")
    if plan.device_errors:
        bad.append(f"{len(plan.device_errors)} device(s) not planned")
    if plan.compliance:
        bad.append(f"{len(plan.compliance)} device(s) not compliant")
    if plan.drift_refused:
        bad.append(f"{len(plan.drift)} NetBox object(s) changed by hand, which the repository refuses to overwrite")
    r = plan.rehearsal
    if r is not None and not r.ok:
        broken = len(set(r.problems) | set(r.unreachable) | set(r.push_errors))
        bad.append(f"the rehearsal breaks {broken} router(s)" if broken else "the rehearsal could not run")
    state = "breaks: " + ", ".join(bad) if bad else "OK to merge"
    return f"{c.short} {state} ({', '.join(parts)})"


def _change_lines(change: Change) -> list[str]:
    head = f"{change.action} {change.kind} {change.object}"
    if change.conflicts:
        head += f"  CONFLICT with main on {', '.join(change.conflicts)}"
    lines = [head]
    for name, (before, after) in change.fields.items():
        if change.action == "create":
            lines.append(f"    {name}: {_value(after)}")
        else:
            lines.append(f"    {name}: {_value(before)} -> {_value(after)}")
    return lines


def _drift_lines(plan: Plan) -> list[str]:
    """The objects NetBox's main holds otherwise than the base commit's intent says."""
    lines = []
    for d in plan.drift or []:
        fields = ", ".join(f"{k}: {_value(v[0])} (intent: {_value(v[1])})" for k, v in (d.get("fields") or {}).items())
        lines.append(f"{d.get('action')} {d.get('kind')} {d.get('object')}" + (f": {fields}" if fields else ""))
    return lines


def _drift_heading(plan: Plan) -> str:
    base = plan.base.short if plan.base else "the base"
    setting = plan.settings.drift if plan.settings else "refuse"
    what = "the merge overwrites it" if setting == "overwrite" else "the repository refuses to overwrite it"
    count = len(plan.drift or [])
    return f"drift: NetBox's main differs from {base}'s intent in {count} object(s) ({what}: drift: {setting})"


def _rehearsal_lines(plan: Plan) -> list[str]:
    """What the rehearsal on the twin found, router by router."""
    r = plan.rehearsal
    lines = [f"on a twin of {len(r.routers)} router(s) in {r.seconds.get('total', 0):.0f} s: "
             + ("nothing breaks" if r.ok else "it breaks")]  # fmt: skip
    lines += [f"ERROR: {e}" for e in r.errors]
    for router, message in sorted(r.push_errors.items()):
        lines.append(f"{router}: the push failed: {message}")
    for router, problems in sorted(r.problems.items()):
        lines += [f"{router}: {p}" for p in problems]
    for router, prefixes in sorted(r.unreachable.items()):
        lines.append(f"{router}: no longer reaches {', '.join(prefixes)}")
    for router, sessions in sorted(r.sessions_lost.items()):
        lines.append(f"{router}: BGP sessions up now and not after: {', '.join(sessions)}")
    for router, prefixes in sorted(r.routes_gained.items()):
        lines.append(f"{router}: new routes {', '.join(prefixes)}")
    for device, why in sorted(r.skipped.items()):
        lines.append(f"{device}: not in the twin: {why}")
    return lines


def text(plan: Plan) -> str:
    c = plan.commit
    out = [f"commit {c.sha} by {c.author} <{c.email}>: {c.subject}", f"result: {verdict(plan)}"]
    if plan.branch:
        out.append(f"NetBox branch: {plan.branch['name']} (schema {plan.branch['schema_id']})")
    if plan.problems:
        out += ["", "problems:"] + [f"  {p}" for p in plan.problems]
    if plan.errors:
        out += ["", "errors:"] + [f"  {e}" for e in plan.errors]
    if plan.changes:
        out += ["", "NetBox:"] + [f"  {line}" for ch in plan.changes for line in _change_lines(ch)]
    if plan.lines or plan.device_errors:
        out += ["", "devices:"]
        for device in sorted(set(plan.lines) | set(plan.device_errors)):
            if device in plan.device_errors:
                out.append(f"  {device}: NOT PLANNED: {plan.device_errors[device]}")
            elif plan.lines[device]:
                out.append(f"  {device}: {len(plan.lines[device])} line(s)")
                out += [f"    {line}" for line in plan.lines[device]]
        unchanged = [d for d in sorted(plan.lines) if not plan.lines[d]]
        if unchanged:
            out.append(f"  unchanged: {', '.join(unchanged)}")
    if plan.compliance:
        out += ["", "compliance of the proposed configurations:"]
        for device, rules in sorted(plan.compliance.items()):
            for r in rules:
                out.append(f"  {device}: {r['feature']}/{r['rule']} {r['status']} {r['message']}".rstrip())
    if plan.drift:
        out += ["", _drift_heading(plan) + ":"] + [f"  {line}" for line in _drift_lines(plan)]
    if plan.rehearsal is not None:
        out += ["", "rehearsal:"] + [f"  {line}" for line in _rehearsal_lines(plan)]
    if plan.notes:
        out += ["", "notes:"] + [f"  {n}" for n in plan.notes]
    return "\n".join(out) + "\n"


def markdown(plan: Plan) -> str:
    c = plan.commit
    icon = "✅" if plan.ok else "❌"
    out = [f"### {icon} netoss plan for `{c.short}`", "", f"**{verdict(plan)}**", ""]
    out.append(f"Commit `{c.sha}` by {c.author}: {c.subject}")
    if plan.branch:
        out.append(
            f"NetBox branch `{plan.branch['name']}` (schema `{plan.branch['schema_id']}`), open it in NetBox to review."
        )
    if plan.problems:
        out += ["", "#### Problems", "", "| file | where | problem |", "|---|---|---|"]
        out += [f"| `{p.file}` | {p.where} | {p.message} |" for p in plan.problems]
    if plan.errors:
        out += ["", "#### Errors", ""] + [f"- {e}" for e in plan.errors]
    if plan.changes:
        out += ["", f"#### NetBox ({len(plan.changes)} objects)", "", "```diff"]
        for ch in plan.changes:
            sign = {"create": "+", "delete": "-"}.get(ch.action, "!")
            lines = _change_lines(ch)
            out.append(f"{sign} {lines[0]}")
            out += [f"  {line.strip()}" for line in lines[1:]]
        out.append("```")
    touched = plan.touched
    if touched or plan.device_errors:
        out += ["", f"#### Devices ({len(touched)} to push)", ""]
        for device in touched:
            out += [
                "<details>",
                f"<summary><code>{device}</code>: {len(plan.lines[device])} line(s)</summary>",
                "",
                "```",
            ]
            out += plan.lines[device] + ["```", "</details>"]
        for device, message in sorted(plan.device_errors.items()):
            out.append(f"- `{device}`: not planned: {message}")
    if plan.compliance:
        out += ["", "#### Compliance of the proposed configurations", "", "| device | rule | status |", "|---|---|---|"]
        for device, rules in sorted(plan.compliance.items()):
            out += [f"| `{device}` | {r['feature']}/{r['rule']} | {r['status']} |" for r in rules]
    if plan.drift:
        out += ["", "#### Drift", "", _drift_heading(plan) + ".", "", "```", *_drift_lines(plan), "```"]
    if plan.rehearsal is not None:
        out += ["", "#### Rehearsal on a twin of the lab", "", *[f"- {line}" for line in _rehearsal_lines(plan)]]
    if plan.notes:
        out += ["", "#### Notes", ""] + [f"- {n}" for n in plan.notes]
    return "\n".join(out) + "\n"


def as_json(plan: Plan) -> str:
    return json.dumps(plan.to_dict(), indent=2, default=str) + "\n"


FORMATS = {"text": text, "markdown": markdown, "json": as_json}
