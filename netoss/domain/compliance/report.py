"""Compliance reports as text: a run as CSV, and the fleet's overview as the terminal table of
``netoss compliance report``. Pure functions over the JSON the API returns."""

from __future__ import annotations

import csv
import io

MARKS = {"compliant": "C", "non-compliant": "NC", "exempt": "EX", "error": "ERR"}
CSV_COLUMNS = (
    "run", "device", "platform", "device_status", "feature", "feature_status", "rule", "kind", "rule_status",
    "missing", "extra", "remediation", "message", "error",
)  # fmt: skip


def _cell(value) -> str:
    """A CSV cell that a spreadsheet shows as text: configuration lines come from the devices,
    and one starting with = + - @ would otherwise be run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def run_csv(report: dict) -> str:
    """One row per device, feature and rule that is not plainly compliant; one row with empty
    rule columns per feature without such rules, and per device that could not be checked."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for d in report["devices"]:
        base = [report["id"], d["device"], d["platform"], d["status"]]
        if not d["features"]:
            writer.writerow([_cell(v) for v in [*base, "", "", "", "", "", "", "", "", "", d["error"]]])
        for feature, status in d["features"].items():
            rules = [r for r in d["rules"] if r["feature"] == feature] or [None]
            for r in rules:
                if r is None:
                    detail = ["", "", "", "", "", "", ""]
                else:
                    detail = [r["rule"], r.get("kind", ""), r["status"], r.get("missing", ""), r.get("extra", ""),
                              "\n".join(r.get("remediation") or []), r.get("message", "")]  # fmt: skip
                writer.writerow([_cell(v) for v in [*base, feature, status, *detail, d["error"]]])
    return out.getvalue()


def _indented(label: str, text: str, indent: str = "      ") -> list[str]:
    lines = [line for line in text.splitlines() if line.strip()]
    return [f"    {label}:", *(indent + line for line in lines)] if lines else []


def text_report(overview: dict) -> str:
    """The fleet's compliance for a terminal: the percentage, the latest run, a device x
    feature table of marks, then each device that is not compliant with its rules' missing
    and extra lines and the commands that fix them."""
    if not overview["devices"]:
        return "no compliance run recorded yet (run the compliance job template)"
    lines = [
        f"compliance: {overview['percent']:.2f}% of the checked device features are compliant "
        f"({overview['devices_total']} devices: "
        + ", ".join(f"{n} {s}" for s, n in overview["by_status"].items() if n)
        + ")"
    ]
    run = overview.get("latest_run")
    if run:
        job = f", job {run['job_id']}" if run.get("job_id") else ""
        lines.append(
            f"latest run: {run['id']} at {run['started_at'][:19].replace('T', ' ')} UTC ({run['source']}{job})"
        )
    features = overview["features"]
    width = max([len(d["device"]) for d in overview["devices"]] + [6])
    columns = [max(len(f), 3) for f in features]
    lines.append("")
    lines.append("  ".join(["DEVICE".ljust(width), *(f.ljust(w) for f, w in zip(features, columns, strict=True))]))
    for d in overview["devices"]:
        if not d["features"]:
            cells = [MARKS.get(d["status"], d["status"]).ljust(w) for w in columns]
        else:
            cells = [MARKS.get(d["features"].get(f, ""), "-").ljust(w) for f, w in zip(features, columns, strict=True)]
        lines.append("  ".join([d["device"].ljust(width), *cells]).rstrip())
    lines.append("(C compliant, NC non-compliant, EX exempt, ERR error, - not checked)")
    for d in overview["devices"]:
        if d["status"] in ("compliant", "exempt"):
            continue
        lines.append("")
        lines.append(f"{d['device']} ({d['platform'] or 'no platform'}): {d['status']}, run {d['run']}")
        if d["error"]:
            lines.append(f"  error: {d['error']}")
        for r in d["rules"]:
            if r["status"] in ("compliant", "exempt"):
                continue
            lines.append(f"  {r['feature']}/{r['rule']} ({r.get('kind') or 'rule'}): {r['status']}")
            lines += _indented("missing", r.get("missing") or "")
            lines += _indented("extra", r.get("extra") or "")
            lines += _indented("fix", "\n".join(r.get("remediation") or []))
            if r.get("message"):
                lines.append(f"    {r['message']}")
    return "\n".join(lines)
