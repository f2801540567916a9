"""netbox_client.connect() against small HTTP servers on loopback that answer like NetBox
(or not): the error messages must say what is wrong."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from ansible_collections.netoss.core.plugins.module_utils.netbox_client import (
    NetboxError,
    connect,
    settings_from_params,
)


def _serve(status: int, body: dict | str):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write((json.dumps(body) if isinstance(body, dict) else body).encode())

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def test_ok():
    server, url = _serve(200, {"netbox-version": "4.7.3"})
    try:
        _api, status = connect(url, "nbt_x.y")
        assert status["netbox-version"] == "4.7.3"
    finally:
        server.shutdown()


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (403, {"detail": "Invalid v2 token"}, "rejected the token (HTTP 403: Invalid v2 token)"),
        (500, "boom", "answered HTTP 500"),
        (200, {"hello": 1}, "does not look like NetBox"),
        (200, "<html>", "not NetBox's JSON"),
    ],
)
def test_errors_name_the_url_and_reason(status, body, expected):
    server, url = _serve(status, body)
    try:
        with pytest.raises(NetboxError) as err:
            connect(url, "nbt_x.y")
        assert expected in str(err.value) and url in str(err.value)
    finally:
        server.shutdown()


def _serve_recording(body: dict, status: int = 200):
    """A NetBox status endpoint that records the X-NetBox-Branch header of each request."""
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.headers.get("X-NetBox-Branch"))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(body).encode())

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}", seen


def test_a_branch_is_refused_by_a_netbox_without_the_plugin_rather_than_written_to_main():
    """Without NetBox Branching, NetBox ignores X-NetBox-Branch: a write meant for a branch
    would land in main. connect() refuses first."""
    server, url, seen = _serve_recording({"netbox-version": "4.7.3", "plugins": {}})
    try:
        with pytest.raises(NetboxError, match="does not run the NetBox Branching plugin"):
            connect(url, "nbt_x.y", branch="abc123de")
        assert seen == ["abc123de"]
    finally:
        server.shutdown()
    server, url, seen = _serve_recording({"netbox-version": "4.7.3", "plugins": {"netbox_branching": "1.2.2"}})
    try:
        api, _status = connect(url, "nbt_x.y", branch="abc123de")
        assert api.http_session.headers["X-NetBox-Branch"] == "abc123de"  # pynetbox's requests too
        _api, _status = connect(url, "nbt_x.y")  # main: no header
        assert seen == ["abc123de", None]
    finally:
        server.shutdown()
    server, url, _seen = _serve_recording({"detail": "Invalid branch identifier"}, status=400)
    try:
        with pytest.raises(NetboxError, match="no branch ready with schema id abc123de: Invalid branch identifier"):
            connect(url, "nbt_x.y", branch="abc123de")
    finally:
        server.shutdown()


@pytest.mark.parametrize("branch", ["", "x; DROP", "a" * 33, "ab-cd"])
def test_a_branch_that_is_no_schema_id_is_refused_by_name(monkeypatch, branch):
    from ansible_collections.netoss.core.plugins.module_utils.netbox_client import branch_from_params

    monkeypatch.setenv("NETBOX_BRANCH", branch)
    if branch:
        for params in ({"netbox_branch": branch}, {}):  # the option, or the environment
            with pytest.raises(NetboxError, match="not a NetBox branch schema id"):
                branch_from_params(params)
    else:
        assert branch_from_params({}) is None  # empty: main
    assert branch_from_params({"netbox_branch": "main0001"}) == "main0001"


def test_unreachable():
    with pytest.raises(NetboxError, match=r"127\.0\.0\.1:9 is unreachable: Connection refused"):
        connect("http://127.0.0.1:9", "nbt_x.y", timeout=2)


def test_settings_fall_back_to_environment(monkeypatch):
    monkeypatch.setenv("NETBOX_API", "http://127.0.0.1:1/")
    monkeypatch.setenv("NETBOX_TOKEN", "nbt_a.b")
    assert settings_from_params({}) == ("http://127.0.0.1:1", "nbt_a.b", True)
    monkeypatch.delenv("NETBOX_TOKEN")
    with pytest.raises(NetboxError, match="no NetBox token"):
        settings_from_params({"netbox_url": "http://x"})


# -- netoss's one NetBox client (netoss.data.netbox), against a loopback NetBox ---------------


def test_the_portals_netbox_comes_from_its_configuration():
    from netoss.data.netbox import DEFAULT_TIMEOUT, NetBox

    assert NetBox.from_config({}) is None
    assert NetBox.from_config({"NETBOX_URL": "http://127.0.0.1:1", "NETBOX_TOKEN": ""}) is None
    nb = NetBox.from_config({"NETBOX_URL": "http://127.0.0.1:1/", "NETBOX_TOKEN": "nbt_a.b"})
    assert (nb.url, nb.validate_certs, nb.timeout) == ("http://127.0.0.1:1", True, DEFAULT_TIMEOUT)
    assert nb.session.verify is True
    assert nb.session.headers["Authorization"] == "Bearer nbt_a.b" and "nbt_a.b" not in repr(nb)
    nb = NetBox.from_config(
        {"NETBOX_URL": "http://127.0.0.1:1", "NETBOX_TOKEN": "0123abcd", "NETBOX_VALIDATE_CERTS": "false",
         "NETBOX_TIMEOUT": 7}
    )  # fmt: skip
    assert (nb.validate_certs, nb.timeout, nb.session.verify) == (False, 7.0, False)
    assert nb.session.headers["Authorization"] == "Token 0123abcd"  # a v1 token


def test_the_stacks_netbox_is_its_url_and_the_token_of_the_account_asked_for():
    from netoss.data.netbox import NetBox

    class Stack:
        netbox_url = "http://127.0.0.1:1"

        def netbox_token(self):
            return "nbt_admin.x"

        def machine_token(self, role):
            return f"nbt_{role}.x"

    assert NetBox.from_stack(Stack()).token == "nbt_reader.x"
    assert NetBox.from_stack(Stack(), "faults").token == "nbt_faults.x"
    assert NetBox.from_stack(Stack(), "admin").token == "nbt_admin.x"
    with pytest.raises(ValueError, match="account 'root' is not one of"):
        NetBox.from_stack(Stack(), "root")


def test_reads_follow_every_page_and_pynetbox_shares_the_token_and_session():
    from netbox_fake import DEVICES, FakeNetBox

    from netoss.data.netbox import NetBox

    with FakeNetBox() as fake:
        nb = NetBox(fake.url, fake.token)
        assert nb.get_all("dcim/devices", {"limit": 1}) == DEVICES
        assert len(fake.asked("/api/dcim/devices/")) == 2
        assert [d.id for d in nb.endpoint("dcim.devices").filter(name="edge-b")] == [5]
        assert nb.status == {"netbox-version": "4.7.3"} and nb.api().http_session is nb.session
        assert {r["auth"] for r in fake.requests} == {f"Bearer {fake.token}"}


def test_errors_of_the_client_name_the_url_and_the_reason():
    from netbox_fake import FakeNetBox

    from netoss.data.netbox import NetBox, NetboxError

    with pytest.raises(NetboxError, match=r"NetBox at http://127\.0\.0\.1:9 is unreachable: Connection refused"):
        NetBox("http://127.0.0.1:9", "nbt_x.y", timeout=2).get("dcim/devices")
    with FakeNetBox() as fake:
        nb = NetBox(fake.url, fake.token)
        with pytest.raises(NetboxError) as err:
            nb.get_all("core/object-changes", {"action": "delete"})
        assert str(err.value) == (
            f"NetBox at {fake.url} refused /api/core/object-changes/ to this token "
            "(HTTP 403: You do not have permission to perform this action.)"
        )
        with pytest.raises(NetboxError, match=r"answered HTTP 404 to /api/dcim/nothing/: Not found\."):
            nb.get("dcim/nothing")
    with FakeNetBox(status_code=403) as fake, pytest.raises(NetboxError) as err:
        NetBox(fake.url, fake.token).api()
    assert f"NetBox at {fake.url} rejected the token (HTTP 403: Invalid v2 token)" in str(err.value)
    with pytest.raises(NetboxError, match="no NetBox token for http://x"):
        NetBox("http://x", "")


def test_every_request_has_the_clients_timeout_pynetbox_calls_too():
    """pynetbox sets no timeout: the client's session gives its own, so a NetBox that hangs
    does not hold a daemon for ever (the fake answers after 10 s, or when the test ends)."""
    from netbox_fake import FakeNetBox

    from netoss.data.netbox import NetBox, NetboxError, failures

    with FakeNetBox() as fake:
        nb = NetBox(fake.url, fake.token, timeout=0.5)
        with pytest.raises(failures()) as err:
            list(nb.endpoint("dcim.slow").all())
        assert "timed out" in str(err.value).lower()
        with pytest.raises(NetboxError, match="is unreachable: timed out"):
            nb.get("dcim/slow")


def test_journal_entries_are_written_by_the_collections_one_writer_and_read_back():
    import datetime as dt

    from netbox_fake import FakeNetBox

    from ansible_collections.netoss.core.plugins.module_utils.netbox_records import RecordError
    from netoss.data.netbox import NetBox

    with FakeNetBox() as fake:
        nb = NetBox(fake.url, fake.token)
        ids = nb.journal(
            [{"device_id": 5, "kind": "warning", "comments": "by id"}, {"device": "edge-a", "comments": "by name"}]
        )
        assert ids == [1, 2]
        assert fake.created == [
            {"assigned_object_type": "dcim.device", "assigned_object_id": 5, "kind": "warning", "comments": "by id"},
            {"assigned_object_type": "dcim.device", "assigned_object_id": 3, "kind": "info", "comments": "by name"},
        ]
        assert len(fake.asked("/api/extras/journal-entries/", "POST")) == 1  # one request for all
        with pytest.raises(RecordError, match="journal kind 'loud' is not one of"):
            nb.journal([{"device_id": 5, "kind": "loud", "comments": "x"}])
        fake.journal = [{"id": 1, "assigned_object_id": 5, "comments": "pushed"}]
        t0 = dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC)
        assert nb.journal_entries([5, 3], t0, t0 + dt.timedelta(hours=2)) == fake.journal
        (asked,) = fake.asked("/api/extras/journal-entries/")
        assert asked["query"]["assigned_object_id"] == ["5", "3"] and asked["query"]["limit"] == ["100"]
        assert asked["query"]["created__gte"] == [t0.isoformat()]
        assert nb.journal_entries([], t0, t0) == []


DEADLOCK = {
    "error": "deadlock detected\nDETAIL:  Process 26714 waits for AccessExclusiveLock on relation 31853 of "
    "database 16385; blocked by process 29215.",
    "exception": "OperationalError",
}


def test_a_branch_deleted_while_netbox_still_indexes_it_is_deleted_on_a_second_try(monkeypatch):
    """PostgreSQL ends one of two deadlocked transactions (dropping a branch's schema while one of
    NetBox's background jobs still writes into it): NetBox answers 500 "deadlock detected", and
    deleting again a moment later works. Any other refusal, or a deadlock every time, is an error."""
    from netbox_fake import FakeNetBox

    from netoss.data import netbox as client
    from netoss.data.netbox import NetBox, NetboxError

    slept = []
    monkeypatch.setattr(client.time, "sleep", slept.append)
    with FakeNetBox() as fake:
        nb = NetBox(fake.url, fake.token)
        fake.deletes = [(500, DEADLOCK), (500, DEADLOCK)]
        nb.delete_branch(5)
        assert len(fake.asked("/api/plugins/branching/branches/5/", "DELETE")) == 3 and len(slept) == 2
        fake.deletes = [(404, {"detail": "Not found."})]
        nb.delete_branch(6)  # already gone
        fake.deletes = [(500, DEADLOCK)] * 10
        with pytest.raises(NetboxError, match=r"HTTP 500 to DELETE /api/plugins/branching/branches/7/: .*deadlock"):
            nb.delete_branch(7)
        fake.deletes = [(500, {"error": "relation does not exist", "exception": "ProgrammingError"})]
        with pytest.raises(NetboxError, match="relation does not exist"):
            nb.delete_branch(8)
        assert len(fake.asked("/api/plugins/branching/branches/8/", "DELETE")) == 1


def test_netoss_talks_to_netbox_only_through_its_client():
    """Issue 15: no raw requests with hand-built NetBox headers beside pynetbox. Only
    netoss/data/netbox.py imports pynetbox or the collection's netbox_client, or names a
    NetBox REST path; every other module takes a NetBox from it."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "netoss"
    client = root / "data" / "netbox.py"
    # pynetbox, the collection's connection, a hand-built token header, a REST URL built in code
    pattern = re.compile(
        r"import pynetbox|pynetbox\.|netbox_client import|Token \{|"
        r"[\"'}]/api/(status|dcim|ipam|extras|circuits|core|tenancy|users|virtualization)/"
    )
    found = [
        f"{path.relative_to(root.parent)}:{n}: {line.strip()}"
        for path in sorted(root.rglob("*.py"))
        if path != client
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []
