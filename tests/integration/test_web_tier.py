"""The portal's web tier on the test stack's real gunicorn and PostgreSQL: live streams do not
starve it, sessions end when a password changes, and sign-in limits count per user name.

No lab: only the stack. Clients that must look like different machines bind to their own
loopback address (127.0.0.N), which Linux accepts without any setup.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
import urllib.parse

import pytest
import requests

pytestmark = pytest.mark.integration

STREAMS = 20


@pytest.fixture
def running_job(stack):
    """A job row that stays running (no worker takes it), with three events; ended afterwards."""
    from netoss.data.db import db
    from netoss.data.models import Job, JobEvent, utcnow
    from netoss.web import create_app

    config = json.loads((stack.state_dir / "portal" / "portal.json").read_text())
    app = create_app({"SQLALCHEMY_DATABASE_URI": config["SQLALCHEMY_DATABASE_URI"], "SECRET_KEY": "x"})
    with app.app_context():
        job = Job(template="backup", parameters={}, status="running", created_by="admin", started_at=utcnow())
        db.session.add(job)
        db.session.flush()
        for seq in (1, 2, 3):
            db.session.add(JobEvent(job_id=job.id, seq=seq, event="verbose", stdout=f"line {seq}"))
        job.event_count = 3
        db.session.commit()
        job_id = job.id
    yield job_id
    with app.app_context():
        job = db.session.get(Job, job_id)
        job.status, job.finished_at = "canceled", utcnow()
        db.session.commit()
        db.session.remove()
    with app.app_context():
        db.engine.dispose()


def test_twenty_live_streams_leave_the_api_answering(stack, running_job):
    token = stack.load_secrets()["portal_admin_token"]
    auth = {"Authorization": f"Bearer {token}"}
    url = f"{stack.portal_url}/api/v1/jobs/{running_job}/stream"
    lock, stop = threading.Lock(), threading.Event()
    state = {"open": 0, "peak": 0, "refused": 0, "problems": []}

    def viewer():
        for _attempt in range(40):  # a refused stream is retried, as the job page does
            if stop.is_set():
                return
            try:
                with requests.get(url, headers=auth, stream=True, timeout=(5, 90)) as resp:
                    if resp.status_code == 503:
                        assert resp.headers["Retry-After"].isdigit()
                        with lock:
                            state["refused"] += 1
                        time.sleep(0.5)
                        continue
                    assert resp.status_code == 200, resp.status_code
                    lines = resp.iter_lines(decode_unicode=True)
                    while next(lines) != "id: 3":
                        pass
                    with lock:
                        state["open"] += 1
                        state["peak"] = max(state["peak"], state["open"])
                    stop.wait(60)
                    with lock:
                        state["open"] -= 1
                    return
            except Exception as exc:  # reported below
                with lock:
                    state["problems"].append(repr(exc)[:200])
                return

    threads = [threading.Thread(target=viewer, daemon=True) for _ in range(STREAMS)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and state["peak"] < STREAMS and not state["problems"]:
            time.sleep(0.2)
        assert not state["problems"], state["problems"]
        assert state["peak"] == STREAMS, state
        # All twenty streams are open: the API and the pages still answer at once.
        for path in ("/api/v1/me", "/api/v1/jobs?limit=5", f"/api/v1/jobs/{running_job}/events", "/healthz"):
            for _ in range(3):
                started = time.monotonic()
                resp = requests.get(f"{stack.portal_url}{path}", headers=auth, timeout=10)
                took = time.monotonic() - started
                assert resp.status_code == 200 and took < 1.0, (path, resp.status_code, took)
        assert state["open"] == STREAMS
    finally:
        stop.set()
        for t in threads:
            t.join(10)


def _from(stack, address: str, method: str, path: str, body: dict | None = None, cookie: str = ""):
    """One HTTP request from the loopback address ``address``: (status, headers, text)."""
    host = urllib.parse.urlsplit(stack.portal_url)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30, source_address=(address, 0))
    headers = {"Cookie": cookie} if cookie else {}
    data = None
    if body is not None:
        data = urllib.parse.urlencode(body)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=data, headers=headers)
    resp = conn.getresponse()
    out = (resp.status, resp.headers, resp.read().decode())
    conn.close()
    return out


def _sign_in_from(stack, address: str, username: str, password: str):
    status, headers, page = _from(stack, address, "GET", "/login")
    cookie = headers["Set-Cookie"].split(";")[0]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    body = {"username": username, "password": password, "csrf_token": csrf}
    status, headers, page = _from(stack, address, "POST", "/login", body, cookie)
    return status, (headers.get("Set-Cookie", "").split(";")[0] or cookie), page


def _new_user(stack, name: str, password: str):
    admin = {"Authorization": f"Bearer {stack.load_secrets()['portal_admin_token']}"}
    resp = requests.post(
        f"{stack.portal_url}/api/v1/users",
        headers=admin,
        json={"username": name, "password": password, "role": "viewer"},
        timeout=10,
    )
    assert resp.status_code == 201, resp.text
    return resp.json()["id"], admin


def test_a_password_change_ends_sessions_and_one_name_is_limited_from_any_address(stack):
    password = "web-tier-password-1"
    user_id, admin = _new_user(stack, "webtier", password)
    status, cookie, _page = _sign_in_from(stack, "127.0.0.2", "webtier", password)
    assert status == 302
    assert _from(stack, "127.0.0.2", "GET", "/", cookie=cookie)[0] == 200
    resp = requests.patch(
        f"{stack.portal_url}/api/v1/users/{user_id}", headers=admin, json={"password": password + "x"}, timeout=10
    )
    assert resp.status_code == 200, resp.text
    status, headers, _ = _from(stack, "127.0.0.2", "GET", "/", cookie=cookie)
    assert status == 302 and headers["Location"].startswith("/login")
    # Ten wrong guesses, each from another address: the name is locked, the addresses are not.
    for n in range(10):
        assert _sign_in_from(stack, f"127.0.0.{20 + n}", "webtier", "wrong guess")[0] == 401
    status, _cookie, page = _sign_in_from(stack, "127.0.0.40", "webtier", password + "x")
    assert status == 429 and "for this user name" in page
    assert _sign_in_from(stack, "127.0.0.20", "nobody-else", "x")[0] == 401  # not 429: the address is free
