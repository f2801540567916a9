"""What leaves netoss when a ticket changes: a journal entry on the device in NetBox, a signed
webhook, an email. Sent from a background thread with a bounded queue, so a slow or broken
receiver never holds up fault processing; every failure is logged with what was lost.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import smtplib
import threading
import time
from email.message import EmailMessage

import requests

from netoss.data.models import iso
from netoss.data.netbox import NetBox

log = logging.getLogger("netoss.faults")

JOURNAL_KIND = {"opened": "warning", "reopened": "warning", "resolved": "success", "merged": "info"}


def signature(secret: str, body: bytes) -> str:
    """The X-Netoss-Signature header of a webhook: sha256=<hex HMAC of the body>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def ticket_payload(kind: str, ticket, info: dict, portal_url: str | None = None) -> dict:
    return {
        "event": f"ticket.{kind}",
        "ticket": {
            "id": ticket.ref,
            "name": ticket.name,
            "status": ticket.status,
            "statusChangeReason": ticket.status_reason,
            "severity": ticket.severity,
            "priority": ticket.priority,
            "device": ticket.device,
            "href": f"{portal_url.rstrip('/')}/tickets/{ticket.id}" if portal_url else None,
            "expectedResolutionDate": iso(ticket.expected_resolution_at),
            "relatedEntity": ticket.related,
        },
        **({"detail": info} if info else {}),
    }


class Outbound:
    def __init__(self, config: dict, maxsize: int = 10_000):
        self.config = config
        self.queue: queue.Queue = queue.Queue(maxsize=maxsize)
        self.thread: threading.Thread | None = None
        self.netbox = None  # the NetBox client, made on the first journal entry

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="netoss-outbound", daemon=True)
        self.thread.start()

    def __call__(self, kind: str, ticket, info: dict) -> None:
        """The processor's on_ticket: queue what to send (the ticket is read now, sent later)."""
        payload = ticket_payload(kind, ticket, info, self.config.get("PORTAL_URL"))
        try:
            self.queue.put_nowait((kind, payload))
        except queue.Full:
            log.error("outbound queue full: %s of %s not sent", payload["event"], payload["ticket"]["id"])

    def drain(self, timeout: float = 10) -> None:
        """Wait until everything queued was sent (tests)."""
        deadline = time.monotonic() + timeout
        while self.queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.05)

    def _run(self) -> None:
        while True:
            kind, payload = self.queue.get()
            try:
                self.send(kind, payload)
            finally:
                self.queue.task_done()

    def send(self, kind: str, payload: dict) -> None:
        for name, step in (("NetBox journal", self._journal), ("webhook", self._webhook), ("email", self._email)):
            try:
                step(kind, payload)
            except Exception as exc:
                log.error("%s of %s for %s failed: %s", name, payload["event"], payload["ticket"]["id"], exc)

    def _journal(self, kind: str, payload: dict) -> None:
        """The NetBox journal entry of a ticket event, on the ticket's device (by its NetBox id)."""
        t = payload["ticket"]
        device_id = next(
            (r["id"] for r in t["relatedEntity"] or [] if r["@referredType"] == "Device" and r["name"] == t["device"]),
            None,
        )
        if not (device_id and str(device_id).isdigit()):
            return
        netbox = self._netbox()
        if netbox is None:
            return
        comments = f"**{t['id']}** {kind}: {t['name']}\n\nStatus {t['status']}: {t['statusChangeReason'] or ''}"
        if t.get("href"):
            comments += f"\n\n{t['href']}"
        netbox.journal([{"device_id": int(device_id), "kind": JOURNAL_KIND.get(kind, "info"), "comments": comments}])

    def _netbox(self):
        """The configuration's NetBox (None without one), one client for the thread's life."""
        if self.netbox is None:
            self.netbox = NetBox.from_config(self.config)
        return self.netbox

    def _webhook(self, kind: str, payload: dict) -> None:
        url = self.config.get("FAULTS_WEBHOOK_URL")
        if not url:
            return
        body = json.dumps(payload, sort_keys=True).encode()
        headers = {"Content-Type": "application/json", "X-Netoss-Event": payload["event"]}
        secret = self.config.get("FAULTS_WEBHOOK_SECRET")
        if secret:
            headers["X-Netoss-Signature"] = signature(secret, body)
        resp = requests.post(url, data=body, headers=headers, timeout=10)
        resp.raise_for_status()

    def _email(self, kind: str, payload: dict) -> None:
        host, to = self.config.get("FAULTS_SMTP_HOST"), self.config.get("FAULTS_EMAIL_TO")
        if not (host and to):
            return
        t = payload["ticket"]
        msg = EmailMessage()
        msg["Subject"] = f"[netoss] {t['id']} {kind}: {t['name']}"[:250]
        msg["From"] = self.config.get("FAULTS_EMAIL_FROM") or "netoss@localhost"
        msg["To"] = to if isinstance(to, str) else ", ".join(to)
        lines = [
            f"{t['id']} {kind}: {t['name']}",
            f"Status: {t['status']} ({t['statusChangeReason'] or ''})",
            f"Severity: {t['severity']}, priority {t['priority']}",
        ]
        if t.get("href"):
            lines.append(t["href"])
        msg.set_content("\n".join(lines) + "\n")
        with smtplib.SMTP(host, int(self.config.get("FAULTS_SMTP_PORT") or 25), timeout=10) as smtp:
            smtp.send_message(msg)
