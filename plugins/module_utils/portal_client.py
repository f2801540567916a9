# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The netoss portal's HTTP API: the one client of it, over Ansible's ``open_url``.

The collection's modules and callback use it for the fault API (alarms: POST
/api/v1/faults/events, a batch of raise and clear events, and the TMF642 alarm list; tickets:
the TMF621 paths), compliance runs and service orders; the ``netoss`` CLI uses it through
``netoss.data.portal_client`` (jobs, tickets, the compliance report). The token goes in an
Authorization header, never in a URL or a message.
"""

from __future__ import annotations

import http.client
import json
import os
import urllib.error
import urllib.parse

from ansible.module_utils.urls import ConnectionError as UrlConnectionError
from ansible.module_utils.urls import open_url

EVENTS = "/api/v1/faults/events"
ALARMS = "/tmf-api/alarmManagement/v4/alarm"
TICKETS = "/tmf-api/troubleTicket/v4/troubleTicket"
COMPLIANCE_RUNS = "/api/v1/compliance/runs"
SERVICE_ORDERS = "/tmf-api/serviceOrdering/v4/serviceOrder"
ORDER_PROGRESS = "/api/v1/service-orders/%d/progress"


class PortalError(RuntimeError):
    """The portal refused or could not be reached; the message says which and why.

    ``status`` is the HTTP status of a refusal (None when the portal was not reached),
    ``body`` the refusal's JSON (or ``{"error": <its first 300 characters>}`` when it is not
    JSON), ``reason`` the HTTP reason phrase, or why the portal could not be reached, and
    ``headers`` the refusal's headers (Retry-After)."""

    def __init__(self, message, status=None, body=None, reason=None, headers=None):
        super().__init__(message)
        self.status = status
        self.body = body
        self.reason = reason
        self.headers = headers or {}


def _refusal_body(exc):
    """The JSON body of an HTTPError, or ``{"error": text}`` when it is not JSON."""
    try:
        text = exc.read().decode("utf-8", "replace")
    except (OSError, AttributeError):
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return {"error": text[:300]}


class PortalClient:
    def __init__(self, url, token, timeout=15):
        if not url or not token:
            raise PortalError("no portal: set portal_url and portal_token (or PORTAL_URL and PORTAL_TOKEN)")
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise PortalError("portal_url %r is not an http(s) URL" % url)
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def open(self, method, path, body=None, query=None, timeout=None, headers=None):
        """The portal's answer to a request, as an open response (read it, iterate its lines,
        close it); a refusal (HTTP 4xx/5xx) or an unreachable portal raises PortalError."""
        url = self.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = json.dumps(body).encode() if body is not None else None
        sent = {"Authorization": "Bearer " + self.token, "Accept": "application/json"}
        if data is not None:
            sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        try:
            return open_url(
                url,
                data=data,
                method=method,
                headers=sent,
                timeout=timeout or self.timeout,
                use_netrc=False,  # the token is the only credential: ~/.netrc must not replace it
            )
        except urllib.error.HTTPError as exc:
            answer = _refusal_body(exc)
            message = (answer.get("error") if isinstance(answer, dict) else None) or exc.reason
            raise PortalError(
                "HTTP %s from the portal: %s" % (exc.code, message),
                exc.code,
                body=answer,
                reason=exc.reason,
                headers=dict(exc.headers or {}),
            ) from None
        except (urllib.error.URLError, UrlConnectionError, http.client.HTTPException, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise PortalError("the portal at %s cannot be reached: %s" % (self.url, reason), reason=reason) from None

    def call(self, method, path, body=None, query=None, timeout=None, headers=None):
        """(HTTP status, JSON answer) of a request; PortalError when refused or unreachable."""
        resp = self.open(method, path, body=body, query=query, timeout=timeout, headers=headers)
        try:
            with resp:
                text = resp.read().decode() or "null"
                return resp.status, json.loads(text)
        except (http.client.HTTPException, OSError, ValueError) as exc:
            raise PortalError("the portal at %s cannot be reached: %s" % (self.url, exc), reason=exc) from None

    def events(self, events):
        """Queue raise/clear events (dicts of the portal's event fields); {accepted, rejected}."""
        return self.call("POST", EVENTS, {"events": events})[1]

    def active_alarms(self, device, condition=None):
        query = {"state": "active", "device": device, "limit": 1000}
        alarms = self.call("GET", ALARMS, query=query)[1]
        return [a for a in alarms if condition is None or a["netoss"]["condition"] == condition]

    def alarm(self, body):
        return self.call("POST", ALARMS, body)

    def tickets(self, query):
        return self.call("GET", TICKETS, query=query)[1]

    def ticket(self, ref):
        return self.call("GET", TICKETS + "/" + urllib.parse.quote(ref, safe=""))[1]

    def create_ticket(self, body):
        return self.call("POST", TICKETS, body)[1]

    def compliance_run(self, run):
        """Record a compliance run (the run of netoss.core.config_compliance); the portal answers
        with its id and the alarms it raised and cleared."""
        return self.call("POST", COMPLIANCE_RUNS, run, timeout=120)[1]

    def service_order(self, order_id):
        """A service order (TMF641), with its items."""
        return self.call("GET", "%s/%d" % (SERVICE_ORDERS, order_id))[1]

    def order_progress(self, order_id, body):
        """Tell the portal how a service order goes: {state, step, reason, items}. Only the
        order's own portal job may: the portal gives its run a token (NETOSS_JOB_TOKEN), sent in
        the X-Netoss-Job-Token header."""
        token = os.environ.get("NETOSS_JOB_TOKEN")
        headers = {"X-Netoss-Job-Token": token} if token else None
        return self.call("POST", ORDER_PROGRESS % order_id, body, headers=headers)[1]

    def update_ticket(self, ref, body):
        return self.call("PATCH", TICKETS + "/" + urllib.parse.quote(ref, safe=""), body)[1]


PORTAL_ARG_SPEC = {
    "portal_url": {"type": "str", "required": False},
    "portal_token": {"type": "str", "required": False, "no_log": True},
}


def client_from_params(params):
    return PortalClient(
        params.get("portal_url") or os.environ.get("PORTAL_URL"),
        params.get("portal_token") or os.environ.get("PORTAL_TOKEN"),
    )
