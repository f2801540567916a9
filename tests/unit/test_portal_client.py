"""The portal's one HTTP client (plugins/module_utils/portal_client.py, over Ansible's open_url)
and the CLI's layer over it (netoss/data/portal_client.py), against a real HTTP server on the
loopback that answers what each test scripts."""

from __future__ import annotations

import inspect
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.netoss.core.plugins.module_utils import portal_client as http
from netoss.data import portal_client as cli


class _Portal:
    """A loopback HTTP server that gives each request the next scripted answer
    (status, headers, body bytes) and records (method, path, headers, body) of each."""

    def __init__(self):
        self.answers: list[tuple[int, dict, bytes]] = []
        self.requests: list[tuple[str, str, dict, bytes]] = []
        portal = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                portal.requests.append((self.command, self.path, dict(self.headers), body))
                status, headers, payload = portal.answers.pop(0) if portal.answers else (599, {}, b"no answer scripted")
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, status, body=None, headers=None, raw=None):
        payload = raw if raw is not None else json.dumps(body).encode()
        kind = {"Content-Type": "application/json"} if raw is None else {}
        self.answers.append((status, {**kind, **(headers or {})}, payload))


@pytest.fixture
def portal():
    p = _Portal()
    p.thread.start()
    yield p
    p.server.shutdown()
    p.server.server_close()


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_cli_client_is_the_collections_client():
    """One implementation of the portal's HTTP: the CLI's client is the collection's, with the
    job calls on top; it opens no connection of its own."""
    assert issubclass(cli.PortalClient, http.PortalClient)
    source = inspect.getsource(cli)
    for other in ("import requests", "urllib.request", "urlopen(", "open_url("):
        assert other not in source
    assert "open_url(" in inspect.getsource(http) and "urlopen(" not in inspect.getsource(http)


def test_a_call_sends_the_token_and_json_and_reads_json(portal):
    portal.answer(201, {"accepted": 1, "rejected": []})
    client = http.PortalClient(portal.url + "/", "nto_secret")
    assert client.call("POST", "/api/v1/faults/events", {"events": [{"a": 1}]}, query={"x": "y z"}) == (
        201,
        {"accepted": 1, "rejected": []},
    )
    method, path, headers, body = portal.requests[0]
    assert (method, path) == ("POST", "/api/v1/faults/events?x=y+z")
    assert headers["Authorization"] == "Bearer nto_secret"
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"events": [{"a": 1}]}


def test_netrc_never_replaces_the_token(portal, tmp_path, monkeypatch):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password other\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    portal.answer(200, [])
    http.PortalClient(portal.url, "nto_secret").tickets({"limit": 1})
    assert portal.requests[0][2]["Authorization"] == "Bearer nto_secret"


def test_a_refusal_names_the_status_and_the_portals_error(portal):
    portal.answer(403, {"error": "unknown API token"})
    with pytest.raises(http.PortalError, match=r"^HTTP 403 from the portal: unknown API token$") as caught:
        http.PortalClient(portal.url, "bad").ticket("TT-1/2")
    assert caught.value.status == 403
    assert portal.requests[0][1] == "/tmf-api/troubleTicket/v4/troubleTicket/TT-1%2F2"


def test_the_cli_says_the_status_the_error_and_each_problem(portal):
    portal.answer(400, {"error": "invalid parameters", "problems": ["devices: unknown 'x'", "count: not an integer"]})
    portal.answer(500, raw=b"<html>Internal Server Error</html>")
    client = cli.PortalClient(portal.url, "tok")
    with pytest.raises(cli.ClientError) as refused:
        client.launch("backup", {"devices": ["x"]}, check=False)
    assert str(refused.value) == "HTTP 400: invalid parameters\n  devices: unknown 'x'\n  count: not an integer"
    assert json.loads(portal.requests[0][3]) == {"template": "backup", "parameters": {"devices": ["x"]}, "check": False}
    with pytest.raises(cli.ClientError, match=r"^HTTP 500: <html>Internal Server Error</html>$"):
        client.job(3)


def test_an_unreachable_portal_is_named():
    url = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(cli.ClientError, match=r"^the portal at http://127\.0\.0\.1:\d+ is unreachable: .*refused"):
        cli.PortalClient(url, "tok")._call("GET", "/api/v1/compliance/overview", params={"days": 30})
    with pytest.raises(http.PortalError, match=r"^the portal at http://127\.0\.0\.1:\d+ cannot be reached: .*refused"):
        http.PortalClient(url, "tok").tickets({})


@pytest.mark.parametrize(
    ("url", "token", "message"),
    [
        ("", "tok", "no portal: set portal_url and portal_token"),
        ("127.0.0.1:1", "tok", "portal_url '127.0.0.1:1' is not an http(s) URL"),
    ],
)
def test_a_portal_that_cannot_be_asked_is_refused_before_any_request(url, token, message):
    with pytest.raises(http.PortalError, match=message.replace("(", r"\(").replace(")", r"\)")):
        http.PortalClient(url, token)
    with pytest.raises(cli.ClientError, match=message.replace("(", r"\(").replace(")", r"\)")):
        cli.PortalClient(url, token)


def test_the_job_stream_is_read_live_and_resumed_over_http(portal):
    portal.answer(
        200,
        raw=b'id: 4\nevent: job-event\ndata: {"stdout": "ok: [r1]"}\n\n',
        headers={"Content-Type": "text/event-stream"},
    )
    portal.answer(503, {"error": "too many streams"}, headers={"Retry-After": "0"})
    portal.answer(
        200,
        raw=b'id: 5\r\nevent: job-event\r\ndata: {"stdout": "done"}\r\n\r\n'
        b'event: end\r\ndata: {"status": "successful"}\r\n\r\n',
        headers={"Content-Type": "text/event-stream"},
    )
    portal.answer(404, {"error": "no job 8"})
    client = cli.PortalClient(portal.url, "tok")
    assert list(client.stream(7, after=3)) == [
        ("job-event", {"stdout": "ok: [r1]"}),
        ("job-event", {"stdout": "done"}),
        ("end", {"status": "successful"}),
    ]
    assert [r[1] for r in portal.requests] == ["/api/v1/jobs/7/stream?after=3"] + ["/api/v1/jobs/7/stream?after=4"] * 2
    assert portal.requests[0][2]["Authorization"] == "Bearer tok"
    with pytest.raises(cli.ClientError, match=r"^HTTP 404: no job 8$"):
        list(client.stream(8))
