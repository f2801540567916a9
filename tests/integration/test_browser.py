"""The portal in a real browser: Debian's chromium, headless, driven by Playwright."""

from __future__ import annotations

import pytest
import requests

pytestmark = pytest.mark.integration


def test_an_engineer_launches_a_job_and_watches_it_live(browser, sign_in, stack, users, demo_synced):
    page = sign_in("erin")
    assert "Welcome, erin" in page.inner_text("h1")
    page.click("text=Templates")
    page.click("tr:has-text('sot-sync') >> text=Launch")
    page.uncheck("input[name=prune]")  # a parameter
    page.check("input[name=check]")  # check mode
    page.click("button:has-text('Launch')")
    page.wait_for_url("**/jobs/*")
    assert "(check mode)" in page.inner_text("h1")
    # The output streams in, the status ends successful, the host table fills.
    page.wait_for_selector("#output >> text=PLAY RECAP", timeout=180_000)
    page.wait_for_selector("#status:text-is('successful')", timeout=60_000)
    assert "Plan: " in page.inner_text("#output")
    assert "localhost" in page.inner_text("#hosts")
    assert page.eval_on_selector("#progress", "p => p.value === p.max")


def test_an_operator_is_refused_a_template_of_another_role(browser, sign_in, stack, users):
    page = sign_in("olga")
    page.click("text=Templates")
    row = page.locator("tr:has-text('sot-sync')")
    assert row.locator("text=Launch").count() == 0  # not offered
    resp = page.goto(f"{stack.portal_url}/jobs/new/sot-sync")  # and refused when asked anyway
    assert resp.status == 403
    assert "not allowed for the operator role" in page.inner_text("main")


def test_an_operator_works_a_ticket_and_sees_the_live_alarm_list(browser, sign_in, stack, users, demo_synced):
    admin = {"Authorization": f"Bearer {stack.load_secrets()['portal_admin_token']}"}
    ticket = requests.post(
        f"{stack.portal_url}/tmf-api/troubleTicket/v4/troubleTicket",
        headers=admin,
        json={
            "name": "Acme Corp: slow traffic (browser test)",
            "severity": "major",
            "ticketType": "complaint",
            "relatedEntity": [{"@referredType": "Device", "name": "pe1"}],
        },
        timeout=30,
    )
    assert ticket.status_code == 201, ticket.text
    ref = ticket.json()["id"]
    number = int(ref[3:])
    alarm = requests.post(
        f"{stack.portal_url}/tmf-api/alarmManagement/v4/alarm",
        headers=admin,
        json={
            "alarmedObject": {"device": "p2", "type": "interface", "name": "eth9"},
            "condition": "browser-test",
            "perceivedSeverity": "minor",
            "specificProblem": "raised for the browser test",
        },
        timeout=30,
    )
    assert alarm.status_code == 201, alarm.text
    page = sign_in("olga")
    page.click("text=Alarms")
    page.wait_for_selector("#alarms tbody tr:has-text('raised for the browser test')")
    row = page.locator("#alarms tbody tr:has-text('raised for the browser test')")
    row.locator("button:has-text('Acknowledge')").click()
    page.wait_for_selector("#alarms tbody tr:has-text('raised for the browser test') >> text=by olga")
    page.click("text=Tickets")
    page.click(f"text={ref}")
    page.select_option("select[name=status]", "inProgress")
    page.fill("input[name=reason]", "calling the customer")
    page.select_option("select[name=assignee]", "olga")
    page.fill("textarea[name=note]", "Customer reports 30% loss since 09:40")
    page.click("button:has-text('Save')")
    page.wait_for_url(f"**/tickets/{number}")
    assert page.inner_text("#status") == "inProgress" and page.inner_text("#assignee") == "olga"
    timeline = page.inner_text("#timeline")
    assert "inProgress: calling the customer" in timeline and "Customer reports 30% loss since 09:40" in timeline
    # A status change without a reason is refused on the page, with the reason why.
    page.select_option("select[name=status]", "resolved")
    page.click("button:has-text('Save')")
    assert "statusChangeReason: say why the status changes" in page.inner_text("[role=alert]")


def test_an_operator_picks_devices_by_searching_netbox(browser, sign_in, stack, users, nb, demo_synced):
    """The launch form's device picker: NetBox searched by name and role, a page at a time,
    devices chosen and removed one by one; "All matching" sends the filter, and a filter that
    matches nothing is refused by name. The counts are NetBox's (read here), not the demo's."""
    everything = sorted(d.name for d in nb.dcim.devices.all())
    role = next(iter(nb.dcim.devices.all())).role.slug
    of_role = sorted(d.name for d in nb.dcim.devices.filter(role=role))
    page = sign_in("olga")
    page.goto(f"{stack.portal_url}/jobs/new/backup")
    picker = page.locator("#p-devices")
    picker.locator(f".pick-count:has-text('of {len(everything)} matching')").wait_for()
    assert picker.locator(".pick-results li").count() == min(20, len(everything))
    picker.locator(".pick-role").select_option(role)
    picker.locator(f".pick-count:has-text('of {len(of_role)} matching')").wait_for()
    assert picker.locator(".pick-results li").all_inner_texts()[0].strip().startswith(of_role[0])
    name = of_role[-1]
    picker.locator(".pick-q").fill(name)
    picker.locator(".pick-count:has-text('of 1 matching')").wait_for()
    picker.locator(f".pick-results input[value='{name}']").check()
    assert picker.locator(f".pick-chosen input[name=devices][value='{name}']").count() == 1
    picker.locator(f".chip[data-name='{name}'] .chip-remove").click()
    assert picker.locator(".pick-chosen input").count() == 0
    assert not picker.locator(f".pick-results input[value='{name}']").is_checked()
    picker.locator(".pick-q").fill("no-such-device-anywhere")
    picker.locator(".pick-count:has-text('0 of 0 matching')").wait_for()
    picker.locator(".pick-all").check()
    picker.locator(".pick-count:has-text('all 0 matching devices')").wait_for()
    page.click("button:has-text('Launch')")
    assert "devices: no device matches role=" in page.inner_text("[role=alert]")
    # The refused form keeps the filter, and nothing was launched.
    assert page.locator("#p-devices .pick-q").input_value() == "no-such-device-anywhere"
    assert page.locator("#p-devices .pick-all").is_checked()


def test_pages_and_the_live_job_page_work_under_the_content_security_policy(browser, tmp_path):
    """The portal alone (SQLite, werkzeug's server on loopback; no stack): every main page, and
    a job page whose output streams in, raise no Content-Security-Policy violation in chromium."""
    import threading

    from flask_migrate import upgrade
    from werkzeug.serving import make_server

    from netoss.data.db import db
    from netoss.data.models import Job, JobEvent, User, utcnow
    from netoss.web import create_app
    from netoss.web.security import hash_password

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'portal.db'}", "SECRET_KEY": "csp", "STREAM_SECONDS": 1}
    )
    with app.app_context():
        upgrade()
        db.session.add(User(username="erin", password_hash=hash_password("csp-test-password"), role="engineer"))
        job = Job(template="backup", parameters={}, status="running", created_by="erin", started_at=utcnow())
        db.session.add(job)
        db.session.flush()
        job_id = job.id
        for seq in (1, 2, 3):
            db.session.add(JobEvent(job_id=job_id, seq=seq, event="verbose", stdout=f"csp line {seq}"))
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    violations = []
    try:
        page = browser.new_context().new_page()
        page.on("console", lambda m: "Content Security Policy" in m.text and violations.append(m.text[:300]))
        page.goto(f"{base}/login")
        page.fill("input[name=username]", "erin")
        page.fill("input[name=password]", "csp-test-password")
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        # The stylesheet applies (no inline style needed): the header is dark.
        assert page.eval_on_selector("header", "h => getComputedStyle(h).backgroundColor") == "rgb(29, 36, 48)"
        page.goto(f"{base}/jobs/{job_id}")
        page.wait_for_selector("#output >> text=csp line 3")
        # The stream ends after STREAM_SECONDS and is resumed (Last-Event-ID): new output still comes in.
        with app.app_context():
            db.session.add(JobEvent(job_id=job_id, seq=4, event="verbose", stdout="csp line 4"))
            db.session.get(Job, job_id).status = "successful"
            db.session.commit()
        page.wait_for_selector("#output >> text=csp line 4", timeout=30_000)
        page.wait_for_selector("#status:text-is('successful')", timeout=30_000)
        assert page.inner_text("#output").count("csp line 3") == 1  # resumed, not replayed
        for path in ("/templates", "/jobs", "/schedules", "/alarms", "/tickets", "/compliance", "/orders",
                     "/jobs/new/backup", "/assurance/maintenance", "/assurance/devices/pe-x"):  # fmt: skip
            page.goto(f"{base}{path}")
            page.wait_for_load_state("networkidle")
    finally:
        server.shutdown()
    assert not violations, violations
