"""Ticket notifications: a webhook signed with HMAC-SHA256 and an email, to real local servers
(http.server, and a minimal SMTP server on a socket); and failures that never stop anything."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from netoss.domain.faults.outbound import Outbound, signature


class FakeTicket:
    id = 7
    ref = "TT-000007"
    name = "Link down: ce1:eth1 - pe1:eth3 (ACME-AMS-0001)"
    status = "acknowledged"
    status_reason = "opened from an alarm"
    severity = "major"
    priority = 2
    device = "pe1"
    expected_resolution_at = None
    related = ({"@referredType": "Device", "id": "3", "name": "pe1", "role": "affected"},)


@pytest.fixture
def webhook():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()


class SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP (RFC 5321) to take one message."""

    def handle(self):
        self.wfile.write(b"220 test ESMTP\r\n")
        data = False
        lines = []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            if data:
                if line in (b".\r\n", b".\n"):
                    data = False
                    self.server.messages.append(b"".join(lines).decode())
                    self.wfile.write(b"250 queued\r\n")
                else:
                    lines.append(line)
                continue
            verb = line[:4].upper()
            if verb == b"DATA":
                data = True
                self.wfile.write(b"354 go on\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def smtp():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), SMTPHandler)
    server.messages = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], server.messages
    server.shutdown()


def test_a_ticket_event_is_a_signed_webhook_and_an_email(webhook, smtp):
    url, received = webhook
    port, messages = smtp
    out = Outbound(
        {
            "FAULTS_WEBHOOK_URL": url,
            "FAULTS_WEBHOOK_SECRET": "hook-secret",
            "FAULTS_SMTP_HOST": "127.0.0.1",
            "FAULTS_SMTP_PORT": port,
            "FAULTS_EMAIL_TO": "noc@example.net",
            "PORTAL_URL": "http://127.0.0.1:17081",
        }
    )
    out.start()
    out("opened", FakeTicket(), {})
    out.drain()
    ((headers, body),) = received
    expected = "sha256=" + hmac.new(b"hook-secret", body, hashlib.sha256).hexdigest()
    assert headers["X-Netoss-Signature"] == expected == signature("hook-secret", body)
    assert headers["X-Netoss-Event"] == "ticket.opened"
    payload = json.loads(body)
    assert payload["ticket"]["id"] == "TT-000007" and payload["ticket"]["href"] == "http://127.0.0.1:17081/tickets/7"
    import email
    import email.policy

    (text,) = messages
    message = email.message_from_string(text, policy=email.policy.default)
    assert message["Subject"].strip() == "[netoss] TT-000007 opened: Link down: ce1:eth1 - pe1:eth3 (ACME-AMS-0001)"
    assert message["To"] == "noc@example.net"
    assert "Status: acknowledged (opened from an alarm)" in message.get_content()


def test_a_receiver_that_is_down_is_logged_and_nothing_stops(caplog):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]  # a port nothing listens on
    out = Outbound({"FAULTS_WEBHOOK_URL": f"http://127.0.0.1:{dead}/", "FAULTS_SMTP_HOST": "127.0.0.1",
                    "FAULTS_SMTP_PORT": dead, "FAULTS_EMAIL_TO": "noc@example.net"})  # fmt: skip
    out.start()
    out("resolved", FakeTicket(), {})
    out.drain()
    assert "webhook of ticket.resolved for TT-000007 failed" in caplog.text
    assert "email of ticket.resolved for TT-000007 failed" in caplog.text


def test_a_ticket_event_is_a_journal_entry_on_its_device_in_netbox():
    """Written by the one NetBox journal writer (the collection's, through netoss's NetBox
    client), on the device by the id its related entity gives: no lookup by name."""
    from netbox_fake import FakeNetBox

    with FakeNetBox() as fake:
        out = Outbound({"NETBOX_URL": fake.url, "NETBOX_TOKEN": fake.token, "PORTAL_URL": "http://127.0.0.1:17081"})
        out.start()
        out("opened", FakeTicket(), {})
        out("resolved", FakeTicket(), {})
        out.drain()
        assert [(e["assigned_object_id"], e["kind"]) for e in fake.created] == [(3, "warning"), (3, "success")]
        assert fake.created[0]["comments"].startswith(f"**TT-000007** opened: {FakeTicket.name}\n\nStatus acknowledged")
        assert fake.created[0]["comments"].endswith("\n\nhttp://127.0.0.1:17081/tickets/7")
        assert not fake.asked("/api/dcim/devices/") and len(fake.asked("/api/status/")) == 1  # connected once
        assert {r["auth"] for r in fake.requests} == {f"Bearer {fake.token}"}


def test_a_netbox_that_refuses_the_token_is_logged_naming_it(caplog):
    from netbox_fake import FakeNetBox

    with FakeNetBox(status_code=403) as fake:
        out = Outbound({"NETBOX_URL": fake.url, "NETBOX_TOKEN": fake.token})
        out.start()
        out("opened", FakeTicket(), {})
        out.drain()
    expected = f"NetBox journal of ticket.opened for TT-000007 failed: NetBox at {fake.url} rejected the token"
    assert expected in caplog.text
