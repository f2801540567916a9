"""Compliance in the real lab, through the portal's jobs: the lab as pushed is 100% compliant;
drift made by hand on a router (a logging line removed, a plaintext password added) shows
exactly that device and those features, with the missing and extra lines and the remediation;
a ticket opens; the remediation is shown in check mode, approved, applied; the next run is at
100%, and the ticket resolves.

The lab has its own names here (k<device>, bridge netoss-kbr0, account netopsk).
"""

from __future__ import annotations

import pytest
from waiting import wait_for

from netoss.embedded import lab
from netoss.embedded.lab import runtime
from netoss.embedded.lab.spec import LabConfig

pytestmark = pytest.mark.integration

COMPLIANCE_LAB = LabConfig(ns_prefix="k", bridge="netoss-kbr0", user="netopsk")
TICKETS = "/tmf-api/troubleTicket/v4/troubleTicket"
SECRET = "k33pOut-of-logs"


@pytest.fixture(scope="module")
def compliance_lab(stack, nb, demo_synced):
    spec = lab.up(stack, nb, COMPLIANCE_LAB, log=print)
    try:
        assert lab.converge(stack, spec, log=print, force=True)
        yield spec
    finally:
        lab.down(stack, log=print)


def _output(portal_api, stack, job) -> str:
    events = portal_api.get(f"{stack.portal_url}/api/v1/jobs/{job['id']}/events?limit=5000", timeout=10).json()
    return "\n".join(e["stdout"] or "" for e in events)


def _latest_run(portal_api, stack) -> dict:
    runs = portal_api.get(f"{stack.portal_url}/api/v1/compliance/runs", params={"limit": 1}, timeout=10).json()
    return portal_api.get(f"{stack.portal_url}/api/v1/compliance/runs/{runs[0]['id']}", timeout=30).json()


def _check(run_job, portal_api, stack) -> dict:
    job = run_job({"template": "compliance", "parameters": {}})
    assert job["status"] == "successful", _output(portal_api, stack, job)[-3000:]
    run = _latest_run(portal_api, stack)
    assert run["job_id"] == job["id"]
    return run


def _compliance_ticket(portal_api, stack, device, status):
    tickets = portal_api.get(f"{stack.portal_url}{TICKETS}", params={"limit": 1000}, timeout=10).json()
    return [
        t
        for t in tickets
        if t["status"] in status
        and any(r["@referredType"] == "Device" and r["name"] == device for r in t["relatedEntity"])
        and "compliant" in t["name"]
    ]


def test_the_lab_as_pushed_is_fully_compliant(compliance_lab, run_job, portal_api, stack, nb):
    run = _check(run_job, portal_api, stack)
    assert run["summary"]["percent"] == 100.0, run["summary"]
    assert {d["device"]: d["status"] for d in run["devices"]} == {
        name: "compliant" for name in ("ce1", "ce2", "ce3", "ce4", "p1", "p2", "pe1", "pe2")
    }
    fields = {d.name: d.custom_fields for d in nb.dcim.devices.all()}
    assert {name: f["netoss_compliance_status"]["value"] for name, f in fields.items()} == {
        name: "compliant" for name in fields
    }
    assert all(f["netoss_compliance_checked"] for f in fields.values())


def test_drift_by_hand_is_found_remediated_and_its_ticket_resolves(
    compliance_lab, run_job, portal_api, stack, nb, sign_in
):
    ce1 = compliance_lab.router("ce1")
    runtime.vtysh(ce1, "configure terminal", "no log syslog", f"password {SECRET}", "end")

    run = _check(run_job, portal_api, stack)
    bad = {d["device"]: d for d in run["devices"] if d["status"] != "compliant"}
    assert list(bad) == ["ce1"], run["summary"]
    assert {f for f, s in bad["ce1"]["features"].items() if s != "compliant"} == {"logging", "aaa"}
    rules = {(r["feature"], r["rule"]): r for r in bad["ce1"]["rules"] if r["status"] == "non-compliant"}
    assert set(rules) == {("logging", "syslog"), ("aaa", "no-plaintext-password")}
    assert rules[("logging", "syslog")]["missing"] == "log syslog"
    assert rules[("logging", "syslog")]["remediation"] == ["log syslog"]
    assert rules[("aaa", "no-plaintext-password")]["extra"] == "password <removed>"
    assert rules[("aaa", "no-plaintext-password")]["remediation"] == ["no password"]
    assert run["summary"]["percent"] < 100
    device = nb.dcim.devices.get(name="ce1")
    assert device.custom_fields["netoss_compliance_status"]["value"] == "non-compliant"

    ticket = wait_for(
        "a ticket for ce1's drift",
        lambda: _compliance_ticket(portal_api, stack, "ce1", ("acknowledged", "inProgress")),
        timeout=60,
    )[0]
    print("ticket:", ticket["id"], ticket["name"])

    # The heat map shows it; the remediation is shown in check mode, then an engineer
    # approves it on the job's page, in a browser.
    page = sign_in("erin")
    page.goto(f"{stack.portal_url}/compliance")
    assert page.locator("tr:has-text('ce1')").first.inner_text().split().count("NC") == 2
    check = run_job({"template": "remediate", "parameters": {"devices": ["ce1"]}, "check": True})
    output = _output(portal_api, stack, check)
    assert check["status"] == "successful", output[-3000:]
    assert "log syslog" in output and "no password" in output
    page.goto(f"{stack.portal_url}/jobs/{check['id']}")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#approve")
    page.wait_for_url(lambda url: not url.endswith(f"/jobs/{check['id']}"))
    assert "(check mode)" not in page.inner_text("h1")
    applied_id = int(page.url.rsplit("/", 1)[1])
    # A selector, not a JavaScript predicate: the portal's CSP has no 'unsafe-eval'.
    page.wait_for_selector("#status:text-matches('^(successful|failed)$')", timeout=300_000)
    applied = portal_api.get(f"{stack.portal_url}/api/v1/jobs/{applied_id}", timeout=10).json()
    output = _output(portal_api, stack, applied)
    assert applied["status"] == "successful" and not applied["check"], output[-3000:]
    assert "the remediated rules are compliant" in output
    running = runtime.vtysh(ce1, "show running-config")
    assert "log syslog" in running.splitlines() and SECRET not in running

    run = _check(run_job, portal_api, stack)
    assert run["summary"]["percent"] == 100.0, run["summary"]
    resolved = wait_for(
        "the drift ticket resolving itself",
        lambda: (
            (t := portal_api.get(f"{stack.portal_url}{TICKETS}/{ticket['id']}", timeout=10).json())["status"]
            == "resolved"
            and t
        ),
        timeout=60,
    )
    assert resolved["statusChangeReason"] == "all its alarms cleared"
    # The password never reached the portal: not in any job's output, nor in the runs.
    for job in (check, applied):
        assert SECRET not in _output(portal_api, stack, job)
    csv = portal_api.get(f"{stack.portal_url}/api/v1/compliance/runs/{run['id']}/csv", timeout=30)
    assert csv.status_code == 200 and SECRET not in csv.text
