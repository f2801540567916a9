# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The netoss portal's fault API, for the collection's modules and callback (standard library only).

Alarms: POST /api/v1/faults/events (a batch of raise and clear events), the TMF642 alarm
list; tickets: the TMF621 paths. The token goes in an Authorization header, never in a URL
or a message.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

EVENTS = "/api/v1/faults/events"
ALARMS = "/tmf-api/alarmManagement/v4/alarm"
TICKETS = "/tmf-api/troubleTicket/v4/troubleTicket"
COMPLIANCE_RUNS = "/api/v1/compliance/runs"
SERVICE_ORDERS = "/tmf-api/serviceOrdering/v4/serviceOrder"
ORDER_PROGRESS = "/api/v1/service-orders/%d/progress"


class PortalError(RuntimeError):
    """The portal refused or could not be reached; the message says which and why."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


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

    def call(self, method, path, body=None, query=None, timeout=None, headers=None):
        url = self.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - scheme checked: http(s)
        request.add_header("Authorization", "Bearer " + self.token)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as resp:  # noqa: S310 - http(s) only, checked
                text = resp.read().decode() or "null"
                return resp.status, json.loads(text)
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read().decode()).get("error") or exc.reason
            except (ValueError, AttributeError):
                message = exc.reason
            raise PortalError("HTTP %s from the portal: %s" % (exc.code, message), exc.code) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise PortalError("the portal at %s cannot be reached: %s" % (self.url, reason)) from None

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
        import os

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
    import os

    return PortalClient(
        params.get("portal_url") or os.environ.get("PORTAL_URL"),
        params.get("portal_token") or os.environ.get("PORTAL_TOKEN"),
    )
