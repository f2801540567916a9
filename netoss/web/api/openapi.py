"""The OpenAPI 3.1 document of the portal's API. The request-body schemas here are also the
ones the views validate against, so the document and the checks cannot drift apart."""

from __future__ import annotations

from netoss.data.models import ORDER_STATES, ROLES
from netoss.domain.compliance.schema import SCHEMA as COMPLIANCE_RUN
from netoss.domain.compliance.schema import STATUSES as COMPLIANCE_STATUSES
from netoss.domain.provisioning.schema import CANCEL as SERVICE_ORDER_CANCEL
from netoss.domain.provisioning.schema import ORDER as SERVICE_ORDER_CREATE
from netoss.domain.provisioning.schema import PROGRESS as SERVICE_ORDER_PROGRESS
from netoss.domain.provisioning.schema import SERVICE_STATES

USERNAME = {"type": "string", "pattern": "^[a-z][a-z0-9._-]{1,63}$", "description": "lowercase, 2-64 characters"}
# Query arguments with the bounds the views check.
OFFSET = {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 10_000_000}}
AFTER = {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}}
PASSWORD = {"type": "string", "minLength": 12, "maxLength": 256}

# Inlined where used: the views validate each body schema on its own, without $refs.
_NOTE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["text"],
    "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 4000}},
}

SCHEMAS = {
    "UserCreate": {
        "type": "object",
        "additionalProperties": False,
        "required": ["username", "password", "role"],
        "properties": {"username": USERNAME, "password": PASSWORD, "role": {"enum": list(ROLES)}},
    },
    "UserUpdate": {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {"password": PASSWORD, "role": {"enum": list(ROLES)}, "active": {"type": "boolean"}},
    },
    "TokenCreate": {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 100},
            "expires_in_days": {"type": "integer", "minimum": 1, "maximum": 3650},
        },
    },
    "User": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "username": {"type": "string"},
            "role": {"enum": list(ROLES)},
            "active": {"type": "boolean"},
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
    "Token": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "prefix": {"type": "string"},
            "user": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "expires_at": {"type": ["string", "null"], "format": "date-time"},
            "last_used_at": {"type": ["string", "null"], "format": "date-time"},
            "revoked": {"type": "boolean"},
            "token": {"type": "string", "description": "only in the answer to the creation, shown once"},
        },
    },
    "AuditEvent": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "at": {"type": "string", "format": "date-time"},
            "actor": {"type": ["string", "null"]},
            "action": {"type": "string"},
            "target": {"type": ["string", "null"]},
            "source": {"type": ["string", "null"]},
            "outcome": {"type": "string"},
            "detail": {"type": ["object", "null"]},
        },
    },
    "JobLaunch": {
        "type": "object",
        "additionalProperties": False,
        "required": ["template"],
        "properties": {
            "template": {"type": "string", "minLength": 1, "maxLength": 64},
            "parameters": {"type": "object", "description": "parameter name -> value, checked by the template"},
            "check": {"type": "boolean", "description": "run in check mode (--check --diff)"},
            "ticket": {
                "type": "integer",
                "minimum": 1,
                "maximum": 2147483647,
                "description": "the ticket this job remediates: it is linked to it and noted there",
            },
        },
    },
    "Job": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "template": {"type": "string"},
            "parameters": {"type": "object", "description": "secret values masked"},
            "check": {"type": "boolean"},
            "limit": {"type": ["string", "null"]},
            "status": {"enum": ["pending", "running", "successful", "failed", "canceled", "error"]},
            "created_by": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "started_at": {"type": ["string", "null"], "format": "date-time"},
            "finished_at": {"type": ["string", "null"], "format": "date-time"},
            "worker": {"type": ["string", "null"]},
            "rc": {"type": ["integer", "null"]},
            "stats": {"type": ["object", "null"]},
            "error": {"type": ["string", "null"]},
            "event_count": {"type": "integer"},
            "ticket": {"type": ["string", "null"], "description": "the ticket it was launched from (TT-000042)"},
        },
    },
    "JobEvent": {
        "type": "object",
        "properties": {
            "seq": {"type": "integer"},
            "event": {"type": "string"},
            "host": {"type": ["string", "null"]},
            "task": {"type": ["string", "null"]},
            "stdout": {"type": ["string", "null"]},
            "created": {"type": "string", "format": "date-time"},
        },
    },
    "JobProgress": {
        "type": "object",
        "description": (
            "Totals come from each play's hosts (after the limit) and task count, as the "
            "netoss.core.job_plan callback reports them; null until known."
        ),
        "properties": {
            "status": {"type": "string"},
            "event_count": {"type": "integer"},
            "tasks_started": {"type": "integer"},
            "tasks_total": {"type": ["integer", "null"]},
            "hosts_total": {"type": ["integer", "null"]},
            "hosts_finished": {"type": "integer"},
            "hosts": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "properties": {
                        "ok": {"type": "integer"},
                        "failed": {"type": "integer"},
                        "unreachable": {"type": "integer"},
                        "skipped": {"type": "integer"},
                        "started": {"type": "integer"},
                        "done": {"type": "integer"},
                        "expected": {"type": ["integer", "null"]},
                        "finished": {"type": "boolean"},
                        "state": {"enum": ["pending", "ok", "failed", "unreachable"]},
                    },
                },
            },
        },
    },
    "ScheduleCreate": {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "template", "cron"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 100},
            "template": {"type": "string", "minLength": 1, "maxLength": 64},
            "cron": {"type": "string", "minLength": 9, "maxLength": 100, "description": "5 fields, UTC"},
            "parameters": {"type": "object"},
            "check": {"type": "boolean"},
            "enabled": {"type": "boolean"},
        },
    },
    "ScheduleUpdate": {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 100},
            "cron": {"type": "string", "minLength": 9, "maxLength": 100},
            "parameters": {"type": "object"},
            "check": {"type": "boolean"},
            "enabled": {"type": "boolean"},
        },
    },
    "Schedule": {"type": "object"},
    "JobTemplate": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "playbook": {"type": "string"},
            "roles": {"type": "array", "items": {"enum": list(ROLES)}},
            "check_mode": {"enum": ["never", "allowed", "always"]},
            "apply_roles": {
                "type": "array",
                "items": {"enum": list(ROLES)},
                "description": "who may run it outside check mode",
            },
            "limit": {"type": ["object", "null"]},
            "timeout": {"type": "integer"},
            "changes_devices": {"type": "boolean"},
            "parameters": {"type": "array", "items": {"type": "object"}},
            "can_run": {"type": "boolean"},
            "can_apply": {"type": "boolean", "description": "whether the caller may run it outside check mode"},
        },
    },
    "AlarmCreate": {
        "type": "object",
        "description": "Raise an alarm (TMF642 POST), or clear one with state: cleared. The alarm is the one of "
        "alarmedObject and condition: the same from any source.",
        "additionalProperties": False,
        "required": ["alarmedObject", "condition"],
        "properties": {
            "alarmedObject": {
                "type": "object",
                "additionalProperties": False,
                "required": ["device"],
                "properties": {
                    "device": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[^|\\s]+$"},
                    "type": {
                        "enum": [
                            "device",
                            "interface",
                            "bgp_session",
                            "ospf_adjacency",
                            "bfd_session",
                            "service",
                            "job",
                        ]
                    },
                    "name": {"type": "string", "maxLength": 200, "pattern": "^[^|\\n\\r\\t]*$"},
                },
            },
            "condition": {"type": "string", "pattern": "^[a-z0-9][a-z0-9:-]{0,63}$"},
            "state": {"enum": ["raised", "cleared"]},
            "alarmType": {
                "enum": [
                    "communicationsAlarm",
                    "processingErrorAlarm",
                    "environmentalAlarm",
                    "qualityOfServiceAlarm",
                    "equipmentAlarm",
                ]
            },
            "perceivedSeverity": {"enum": ["critical", "major", "minor", "warning", "indeterminate"]},
            "probableCause": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9-]{0,63}$"},
            "specificProblem": {"type": "string", "maxLength": 500},
            "alarmRaisedTime": {"type": "string", "format": "date-time"},
            "sourceSystemId": {"enum": ["api", "ansible", "health", "compliance"]},
            "job": {"type": "integer", "minimum": 1},
        },
    },
    "AlarmUpdate": {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {
            "ackState": {"enum": ["acknowledged", "unacknowledged"]},
            "state": {"const": "cleared", "description": "clear by hand (engineer)"},
            "comment": {
                "type": "array",
                "maxItems": 20,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["comment"],
                    "properties": {"comment": {"type": "string", "minLength": 1, "maxLength": 4000}},
                },
            },
        },
    },
    "FaultEvents": {
        "type": "object",
        "additionalProperties": False,
        "required": ["events"],
        "properties": {
            "events": {
                "type": "array",
                "minItems": 1,
                "maxItems": 1000,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["action", "device", "condition"],
                    "properties": {
                        "source": {"enum": ["api", "ansible", "health", "compliance"]},
                        "action": {"enum": ["raise", "clear"]},
                        "device": {"type": "string", "minLength": 1, "maxLength": 64},
                        "object_type": {
                            "enum": [
                                "device",
                                "interface",
                                "bgp_session",
                                "ospf_adjacency",
                                "bfd_session",
                                "service",
                                "job",
                            ]
                        },
                        "object_name": {"type": "string", "maxLength": 200},
                        "condition": {"type": "string", "pattern": "^[a-z0-9][a-z0-9:-]{0,63}$"},
                        "alarm_type": {"type": "string"},
                        "severity": {"type": "string"},
                        "probable_cause": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9-]{0,63}$"},
                        "specific_problem": {"type": "string", "maxLength": 500},
                        "time": {"type": "string", "maxLength": 40},
                        "text": {"type": "string", "maxLength": 2048},
                        "details": {
                            "type": "object",
                            "maxProperties": 20,
                            "additionalProperties": {"type": ["string", "integer", "boolean"]},
                        },
                    },
                },
            }
        },
    },
    "Alarm": {"type": "object", "description": "TMF642 Alarm (the subset netoss keeps; extras under netoss)"},
    "TicketNote": _NOTE,
    "TicketCreate": {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 300},
            "description": {"type": "string", "maxLength": 10000},
            "severity": {"enum": ["critical", "major", "minor", "warning", "indeterminate"]},
            "priority": {"enum": ["1", "2", "3", "4"]},
            "ticketType": {"enum": ["complaint", "request", "incident"]},
            "relatedEntity": {
                "type": "array",
                "maxItems": 50,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["@referredType", "name"],
                    "properties": {
                        "@referredType": {"enum": ["Device", "Interface", "Service", "Job"]},
                        "id": {"type": "string", "maxLength": 100},
                        "name": {"type": "string", "minLength": 1, "maxLength": 200},
                        "role": {"type": "string", "maxLength": 50},
                    },
                },
            },
            "note": {"type": "array", "maxItems": 20, "items": _NOTE},
        },
    },
    "TicketUpdate": {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {
            "status": {
                "enum": ["acknowledged", "pending", "held", "inProgress", "resolved", "closed", "cancelled", "rejected"]
            },
            "statusChangeReason": {"type": "string", "minLength": 1, "maxLength": 500},
            "assignee": {"type": ["string", "null"], "maxLength": 64},
            "severity": {"enum": ["critical", "major", "minor", "warning", "indeterminate"]},
            "note": {"type": "array", "maxItems": 20, "items": _NOTE},
        },
    },
    "TroubleTicket": {"type": "object", "description": "TMF621 TroubleTicket (the subset netoss keeps)"},
    "ComplianceRun": COMPLIANCE_RUN,
    "ComplianceRunSummary": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "job_id": {"type": ["integer", "null"]},
            "source": {"enum": ["live", "backup"]},
            "started_at": {"type": "string", "format": "date-time"},
            "finished_at": {"type": "string", "format": "date-time"},
            "recorded_at": {"type": "string", "format": "date-time"},
            "recorded_by": {"type": "string"},
            "percent": {"type": "number", "description": "compliant share of the checked device features"},
            "device_count": {"type": "integer"},
            "href": {"type": "string", "description": "the run's report page (in the answer to the recording)"},
            "alarms": {
                "type": "object",
                "description": "in the answer to the recording: the raise and clear events the run called "
                "for and how many were queued (error says why none were: the run is kept anyway)",
                "properties": {
                    "raised": {"type": "integer"},
                    "cleared": {"type": "integer"},
                    "queued": {"type": "integer"},
                    "error": {"type": "string"},
                },
            },
        },
    },
    "ComplianceDevice": {
        "type": "object",
        "description": "A device's results in a run: the status of each feature, the rules that are not "
        "plainly compliant (as in ComplianceRun), and run and started_at in the overview",
        "properties": {
            "device": {"type": "string"},
            "platform": {"type": "string"},
            "status": {"enum": list(COMPLIANCE_STATUSES)},
            "error": {"type": "string"},
            "features": {"type": "object", "additionalProperties": {"enum": list(COMPLIANCE_STATUSES)}},
            "rules": {"type": "array", "items": {"type": "object"}},
            "run": {"type": "integer"},
            "started_at": {"type": "string", "format": "date-time"},
        },
    },
    "ComplianceReport": {
        "type": "object",
        "description": "ComplianceRunSummary with the summary, the policy and every device",
        "properties": {
            "id": {"type": "integer"},
            "summary": {"type": "object"},
            "policy": {"type": "object"},
            "devices": {"type": "array", "items": {"type": "object"}},
        },
    },
    "ComplianceOverview": {
        "type": "object",
        "properties": {
            "percent": {"type": ["number", "null"], "description": "of the latest results; null before any run"},
            "devices_total": {"type": "integer"},
            "by_status": {"type": "object", "additionalProperties": {"type": "integer"}},
            "pairs": {"type": "object", "additionalProperties": {"type": "integer"}},
            "features": {"type": "array", "items": {"type": "string"}},
            "latest_run": {"type": ["object", "null"]},
            "devices": {"type": "array", "items": {"type": "object"}, "description": "ComplianceDevice each"},
            "over_time": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "run": {"type": "integer"},
                        "started_at": {"type": "string", "format": "date-time"},
                        "percent": {"type": "number"},
                        "device_count": {"type": "integer"},
                        "source": {"type": "string"},
                    },
                },
            },
        },
    },
    "ServiceOrderCreate": SERVICE_ORDER_CREATE,
    "ServiceOrderCancel": SERVICE_ORDER_CANCEL,
    "ServiceOrderProgress": SERVICE_ORDER_PROGRESS,
    "ServiceOrder": {
        "type": "object",
        "description": "TMF641 ServiceOrder (the subset netoss keeps; the job, the ticket, the state history and "
        "the reason of the last change under netoss)",
        "properties": {
            "id": {"type": "string"},
            "href": {"type": "string"},
            "externalId": {"type": ["string", "null"]},
            "description": {"type": "string"},
            "category": {"type": ["string", "null"]},
            "state": {"enum": list(ORDER_STATES)},
            "orderDate": {"type": "string", "format": "date-time"},
            "completionDate": {"type": ["string", "null"], "format": "date-time"},
            "relatedParty": {"type": "array", "items": {"type": "object"}},
            "serviceOrderItem": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "action": {"enum": ["add", "modify", "delete"]},
                        "state": {"type": "string"},
                        "service": {"type": "object", "description": "id and href once the service exists"},
                        "netoss": {"type": "object", "description": "resources: what the item holds in NetBox"},
                    },
                },
            },
            "netoss": {
                "type": "object",
                "properties": {
                    "job": {"type": ["integer", "null"]},
                    "ticket": {"type": ["string", "null"], "description": "the ticket a failed order opened"},
                    "stateChange": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "state": {"type": "string"},
                                "at": {"type": "string", "format": "date-time"},
                                "reason": {"type": ["string", "null"]},
                                "step": {"type": ["string", "null"]},
                            },
                        },
                    },
                    "reason": {"type": ["string", "null"]},
                },
            },
        },
    },
    "OrderProblems": {
        "type": "object",
        "description": "A refused order: nothing was stored; each problem names the item and characteristic",
        "required": ["error", "status"],
        "properties": {
            "error": {"type": "string"},
            "status": {"type": "integer"},
            "problems": {"type": "array", "items": {"type": "string"}},
        },
    },
    "CancelServiceOrder": {"type": "object", "description": "TMF641 CancelServiceOrder (state done)"},
    "Service": {
        "type": "object",
        "description": "TMF638 Service: a NetBox circuit; health, open alarms and tickets, and the order under netoss",
    },
    "CatalogService": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "label": {"type": "string"},
            "description": {"type": "string"},
            "characteristics": {"type": "array", "items": {"type": "object"}},
        },
    },
    "Error": {
        "type": "object",
        "required": ["error", "status"],
        "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
    },
}


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema):
    return {"content": {"application/json": {"schema": schema}}}


ERRORS = {
    "400": dict(description="Invalid input: the message names the field", **_json(_ref("Error"))),
    "401": dict(description="No valid session or token", **_json(_ref("Error"))),
    "403": dict(description="The user's role does not allow it", **_json(_ref("Error"))),
}


def _op(summary, role, ok, body=None, status="200", params=None, extra=None):
    op = {
        "summary": summary,
        "description": f"Needs the {role} role.",
        "responses": {status: dict(description="OK", **_json(ok)), **ERRORS, **(extra or {})},
    }
    if body:
        op["requestBody"] = dict(required=True, **_json(_ref(body)))
    if params:
        op["parameters"] = params
    return op


def _id(name):
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}]


def _alertmanager() -> dict:
    from netoss.domain.faults.alertmanager import SCHEMA

    return SCHEMA


def document() -> dict:
    not_found = {"404": dict(description="No such object", **_json(_ref("Error")))}
    return {
        "openapi": "3.1.0",
        "info": {"title": "netoss portal API", "version": "1", "description": __doc__},
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"token": []}],
        "paths": {
            "/api/v1/me": {"get": _op("The signed-in user", "viewer", _ref("User"))},
            "/api/v1/users": {
                "get": _op("List users", "admin", {"type": "array", "items": _ref("User")}),
                "post": _op(
                    "Create a user",
                    "admin",
                    _ref("User"),
                    body="UserCreate",
                    status="201",
                    extra={"409": dict(description="The user exists", **_json(_ref("Error")))},
                ),
            },
            "/api/v1/users/{user_id}": {
                "patch": _op(
                    "Change a user's role, password or state",
                    "admin",
                    _ref("User"),
                    body="UserUpdate",
                    params=_id("user_id"),
                    extra=not_found,
                )
            },
            "/api/v1/tokens": {
                "get": _op(
                    "List API tokens (own; all for admins)", "viewer", {"type": "array", "items": _ref("Token")}
                ),
                "post": _op(
                    "Create an API token (shown once)", "viewer", _ref("Token"), body="TokenCreate", status="201"
                ),
            },
            "/api/v1/tokens/{token_id}": {
                "delete": _op("Revoke a token", "viewer", _ref("Token"), params=_id("token_id"), extra=not_found)
            },
            "/api/v1/job-templates": {
                "get": _op(
                    "Job templates, with their typed parameters and whether the caller may run each",
                    "viewer",
                    {"type": "array", "items": _ref("JobTemplate")},
                )
            },
            "/api/v1/jobs": {
                "post": _op(
                    "Launch a job (queued; 4xx and nothing runs when the template, role or a parameter is wrong)",
                    "viewer (and a role the template allows)",
                    _ref("Job"),
                    body="JobLaunch",
                    status="202",
                    extra={
                        "404": dict(description="No such template", **_json(_ref("Error"))),
                        "503": dict(description="The job queue is unavailable", **_json(_ref("Error"))),
                    },
                ),
                "get": _op(
                    "Jobs, newest first",
                    "viewer",
                    {"type": "array", "items": _ref("Job")},
                    params=[
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
                        {"name": "status", "in": "query", "schema": {"type": "string"}},
                        {"name": "template", "in": "query", "schema": {"type": "string"}},
                        {"name": "created_by", "in": "query", "schema": {"type": "string"}},
                    ],
                ),
            },
            "/api/v1/jobs/{job_id}": {
                "get": _op("One job", "viewer", _ref("Job"), params=_id("job_id"), extra=not_found),
            },
            "/api/v1/jobs/{job_id}/events": {
                "get": _op(
                    "A job's events in order, from after=<seq> (pages of up to limit)",
                    "viewer",
                    {"type": "array", "items": _ref("JobEvent")},
                    params=[
                        *_id("job_id"),
                        AFTER,
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 5000}},
                    ],
                    extra=not_found,
                ),
            },
            "/api/v1/jobs/{job_id}/cancel": {
                "post": _op(
                    "Cancel a pending or running job (its launcher, or an engineer)",
                    "operator",
                    _ref("Job"),
                    params=_id("job_id"),
                    extra={**not_found, "409": dict(description="The job already ended", **_json(_ref("Error")))},
                ),
            },
            "/api/v1/jobs/{job_id}/relaunch": {
                "post": dict(
                    _op(
                        "Launch the same template again with the same parameters; with apply, approve a "
                        "successful check-mode run by running it outside check mode",
                        "viewer (and a role the template allows; to apply, one of its apply_roles)",
                        _ref("Job"),
                        params=_id("job_id"),
                        status="202",
                        extra=not_found,
                    ),
                    requestBody={
                        "required": False,
                        **_json(
                            {
                                "type": "object",
                                "additionalProperties": False,
                                "properties": {"apply": {"type": "boolean", "default": False}},
                            }
                        ),
                    },
                ),
            },
            "/api/v1/jobs/{job_id}/artifacts": {
                "get": {
                    "summary": "The job's artifacts as a .tar.gz",
                    "description": "Needs the viewer role.",
                    "parameters": _id("job_id"),
                    "responses": {
                        "200": {"description": "a gzip tar", "content": {"application/gzip": {}}},
                        **ERRORS,
                        **not_found,
                        "409": dict(
                            description="The job has not ended, or its files are not cleaned", **_json(_ref("Error"))
                        ),
                    },
                },
            },
            "/api/v1/jobs/{job_id}/progress": {
                "get": _op(
                    "Tasks and hosts done of their totals, and each host's results so far",
                    "viewer",
                    _ref("JobProgress"),
                    params=_id("job_id"),
                    extra=not_found,
                ),
            },
            "/api/v1/jobs/{job_id}/stream": {
                "get": {
                    "summary": "Live events (server-sent events: job-event, then end)",
                    "description": "Needs the viewer role. Resumes after ?after=<seq> or Last-Event-ID.",
                    "parameters": [
                        *_id("job_id"),
                        AFTER,
                        {
                            "name": "Last-Event-ID",
                            "in": "header",
                            "schema": {"type": "integer", "minimum": 0, "maximum": 2147483647},
                        },
                    ],
                    "responses": {
                        "200": {"description": "text/event-stream", "content": {"text/event-stream": {}}},
                        **ERRORS,
                        **not_found,
                    },
                },
            },
            "/api/v1/job-templates/{name}/choices/{param}": {
                "get": _op(
                    "The allowed values of a choice parameter; other parameters as query arguments filter them",
                    "viewer",
                    {"type": "array", "items": {"type": ["string", "integer"]}},
                    params=[
                        {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                        {"name": "param", "in": "path", "required": True, "schema": {"type": "string"}},
                    ],
                    extra=not_found,
                ),
            },
            "/api/v1/schedules": {
                "get": _op("Schedules", "viewer", {"type": "array", "items": _ref("Schedule")}),
                "post": _op(
                    "Schedule a template on a cron expression (UTC); parameters are checked as for a launch",
                    "operator (and a role the template allows)",
                    _ref("Schedule"),
                    body="ScheduleCreate",
                    status="201",
                    extra=not_found,
                ),
            },
            "/api/v1/schedules/{schedule_id}": {
                "patch": _op(
                    "Change a schedule (its owner, or an engineer)",
                    "operator",
                    _ref("Schedule"),
                    body="ScheduleUpdate",
                    params=_id("schedule_id"),
                    extra=not_found,
                ),
                "delete": _op(
                    "Delete a schedule (its owner, or an engineer)",
                    "operator",
                    _ref("Schedule"),
                    params=_id("schedule_id"),
                    extra=not_found,
                ),
            },
            "/tmf-api/alarmManagement/v4/alarm": {
                "get": _op(
                    "Alarms, newest first (TMF642)",
                    "viewer",
                    {"type": "array", "items": _ref("Alarm")},
                    params=[
                        {
                            "name": "state",
                            "in": "query",
                            "schema": {"enum": ["active", "raised", "updated", "cleared"]},
                        },
                        {"name": "perceivedSeverity", "in": "query", "schema": {"type": "string"}},
                        {"name": "ackState", "in": "query", "schema": {"type": "string"}},
                        {"name": "device", "in": "query", "schema": {"type": "string"}},
                        {"name": "alarmType", "in": "query", "schema": {"type": "string"}},
                        {"name": "isRootCause", "in": "query", "schema": {"enum": ["true", "false"]}},
                        {"name": "ticket", "in": "query", "schema": {"type": "string"}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                        OFFSET,
                    ],
                ),
                "post": _op(
                    "Raise (or clear) an alarm; 202 when the fault processor has not applied it within 5 s",
                    "operator",
                    _ref("Alarm"),
                    body="AlarmCreate",
                    status="201",
                    extra={"202": {"description": "Queued"}, "503": {"description": "No Redis"}},
                ),
            },
            "/tmf-api/alarmManagement/v4/alarm/{alarm_id}": {
                "get": _op("An alarm (TMF642)", "viewer", _ref("Alarm"), params=_id("alarm_id"), extra=not_found),
                "patch": _op(
                    "Acknowledge, comment, or clear (engineer) an alarm",
                    "operator",
                    _ref("Alarm"),
                    body="AlarmUpdate",
                    params=_id("alarm_id"),
                    extra=not_found,
                ),
            },
            "/tmf-api/troubleTicket/v4/troubleTicket": {
                "get": _op(
                    "Trouble tickets, newest first (TMF621)",
                    "viewer",
                    {"type": "array", "items": _ref("TroubleTicket")},
                    params=[
                        {"name": "status", "in": "query", "schema": {"type": "string"}},
                        {"name": "severity", "in": "query", "schema": {"type": "string"}},
                        {"name": "assignee", "in": "query", "schema": {"type": "string"}},
                        {"name": "device", "in": "query", "schema": {"type": "string"}},
                        {"name": "ticketType", "in": "query", "schema": {"type": "string"}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                        OFFSET,
                    ],
                ),
                "post": _op(
                    "Open a ticket by hand (a complaint, a request), linked to devices or services",
                    "operator",
                    _ref("TroubleTicket"),
                    body="TicketCreate",
                    status="201",
                ),
            },
            "/tmf-api/troubleTicket/v4/troubleTicket/{ticket_id}": {
                "get": _op(
                    "A ticket (TMF621), with its status changes and notes",
                    "viewer",
                    _ref("TroubleTicket"),
                    params=[{"name": "ticket_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                    extra=not_found,
                ),
                "patch": _op(
                    "Change status (with a reason), assignee or severity; add notes",
                    "operator",
                    _ref("TroubleTicket"),
                    body="TicketUpdate",
                    params=[{"name": "ticket_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                    extra={**not_found, "409": {"description": "Not a status this ticket can move to"}},
                ),
            },
            "/api/v1/faults/alertmanager": {
                "post": {
                    **_op(
                        "Alertmanager webhook (payload version 4): firing alerts raise alarms, resolved ones clear",
                        "operator",
                        {"type": "object"},
                        extra={"503": {"description": "No Redis, or the fault queue is full (Retry-After)"}},
                    ),
                    "requestBody": {"required": True, "content": {"application/json": {"schema": _alertmanager()}}},
                },
            },
            "/api/v1/faults/events": {
                "post": _op(
                    "Queue a batch of raise and clear events (playbooks, the Ansible callback, scripts)",
                    "operator",
                    {"type": "object"},
                    body="FaultEvents",
                    extra={"503": {"description": "No Redis, or the fault queue is full (Retry-After)"}},
                ),
            },
            "/api/v1/faults/counters": {
                "get": _op(
                    "Fault events received, stored, rejected (by reason) and dead-lettered per source, and still "
                    "queued",
                    "viewer",
                    {"type": "object"},
                    extra={"503": {"description": "No Redis"}},
                ),
            },
            "/api/v1/faults/dead-letters": {
                "get": _op(
                    "The newest dead letters: queued entries the processor could not store, with the reason "
                    "(unreadable, processing_failed) and the error",
                    "viewer",
                    {"type": "array", "items": {"type": "object"}},
                    params=[
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}
                    ],
                    extra={"503": {"description": "No Redis"}},
                ),
            },
            "/api/v1/compliance/runs": {
                "post": _op(
                    "Record a compliance run (netoss.core.compliance_record): its history, then a raise for each "
                    "device and feature that is not compliant and a clear for those compliant again",
                    "operator",
                    _ref("ComplianceRunSummary"),
                    body="ComplianceRun",
                    status="201",
                ),
                "get": _op(
                    "Compliance runs, newest first",
                    "viewer",
                    {"type": "array", "items": _ref("ComplianceRunSummary")},
                    params=[
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
                        OFFSET,
                    ],
                ),
            },
            "/api/v1/compliance/runs/{run_id}": {
                "get": _op(
                    "A compliance run's report: summary, policy, and every device with its features and rule details",
                    "viewer",
                    _ref("ComplianceReport"),
                    params=_id("run_id"),
                    extra=not_found,
                ),
            },
            "/api/v1/compliance/runs/{run_id}/csv": {
                "get": {
                    "summary": "A compliance run as CSV: a row per device, feature and rule (remediation lines "
                    "joined by newlines), and one per compliant feature",
                    "description": "Needs the viewer role.",
                    "parameters": _id("run_id"),
                    "responses": {
                        "200": {"description": "text/csv", "content": {"text/csv": {}}},
                        **ERRORS,
                        **not_found,
                    },
                },
            },
            "/api/v1/compliance/overview": {
                "get": _op(
                    "Each device's latest compliance results, the fleet's percentage, and each run's percentage "
                    "over the last days",
                    "viewer",
                    _ref("ComplianceOverview"),
                    params=[
                        {"name": "device", "in": "query", "schema": {"type": "string", "maxLength": 64}},
                        {"name": "days", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 3660}},
                    ],
                ),
            },
            "/tmf-api/serviceOrdering/v4/serviceOrder": {
                "get": _op(
                    "Service orders, newest first (TMF641)",
                    "viewer",
                    {"type": "array", "items": _ref("ServiceOrder")},
                    params=[
                        {"name": "state", "in": "query", "schema": {"enum": list(ORDER_STATES)}},
                        {"name": "externalId", "in": "query", "schema": {"type": "string"}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                        OFFSET,
                    ],
                ),
                "post": _op(
                    "Order services (TMF641): checked against the catalog and NetBox before anything is stored, "
                    "then acknowledged and run as a service-order job",
                    "operator",
                    _ref("ServiceOrder"),
                    body="ServiceOrderCreate",
                    status="201",
                    extra={
                        "400": dict(description="Invalid: nothing stored", **_json(_ref("OrderProblems"))),
                        "503": dict(description="NetBox or the job queue is unavailable", **_json(_ref("Error"))),
                    },
                ),
            },
            "/tmf-api/serviceOrdering/v4/serviceOrder/{order_id}": {
                "get": _op(
                    "A service order (TMF641), with its items, job, ticket and state history",
                    "viewer",
                    _ref("ServiceOrder"),
                    params=_id("order_id"),
                    extra=not_found,
                ),
            },
            "/tmf-api/serviceOrdering/v4/cancelServiceOrder": {
                "post": _op(
                    "Cancel a service order while it is acknowledged and its job has not started",
                    "operator",
                    _ref("CancelServiceOrder"),
                    body="ServiceOrderCancel",
                    status="201",
                    extra={**not_found, "409": dict(description="Too late: says the state", **_json(_ref("Error")))},
                ),
            },
            "/tmf-api/serviceInventory/v4/service": {
                "get": _op(
                    "Services (TMF638): NetBox circuits with their state, resources and health",
                    "viewer",
                    {"type": "array", "items": _ref("Service")},
                    params=[
                        {
                            "name": "state",
                            "in": "query",
                            "schema": {"enum": list(SERVICE_STATES)},
                        },
                        {"name": "relatedParty.name", "in": "query", "schema": {"type": "string"}},
                        {"name": "serviceSpecification.name", "in": "query", "schema": {"type": "string"}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                        OFFSET,
                    ],
                    extra={"503": dict(description="NetBox is unavailable", **_json(_ref("Error")))},
                ),
            },
            "/tmf-api/serviceInventory/v4/service/{cid}": {
                "get": _op(
                    "A service (TMF638) by its circuit ID",
                    "viewer",
                    _ref("Service"),
                    params=[{"name": "cid", "in": "path", "required": True, "schema": {"type": "string"}}],
                    extra={**not_found, "503": dict(description="NetBox is unavailable", **_json(_ref("Error")))},
                ),
            },
            "/api/v1/service-orders/{order_id}/progress": {
                "post": _op(
                    "Report a service order's progress (the service-order job): its state and step, the items' "
                    "states, service IDs and resources; a failed or partial order opens a ticket. Only the order's "
                    "own job may, while it runs: its run's token (NETOSS_JOB_TOKEN) in X-Netoss-Job-Token",
                    "operator",
                    _ref("ServiceOrder"),
                    body="ServiceOrderProgress",
                    params=[
                        *_id("order_id"),
                        {"name": "X-Netoss-Job-Token", "in": "header", "required": True, "schema": {"type": "string"}},
                    ],
                    extra={**not_found, "409": dict(description="The order already ended", **_json(_ref("Error")))},
                ),
            },
            "/api/v1/service-catalog": {
                "get": _op(
                    "The service catalog: each service with its characteristics",
                    "viewer",
                    {"type": "array", "items": _ref("CatalogService")},
                ),
            },
            "/api/v1/service-catalog/{service}/choices/{characteristic}": {
                "get": _op(
                    "The values NetBox offers for a characteristic (devices of its role, free interfaces of the "
                    "chosen device, customers); the values chosen so far as query arguments",
                    "viewer",
                    {"type": "array", "items": {"type": "string"}},
                    params=[
                        {"name": "service", "in": "path", "required": True, "schema": {"type": "string"}},
                        {"name": "characteristic", "in": "path", "required": True, "schema": {"type": "string"}},
                    ],
                    extra={**not_found, "503": dict(description="NetBox is unavailable", **_json(_ref("Error")))},
                ),
            },
            "/api/v1/audit": {
                "get": _op(
                    "Audit events, newest first",
                    "admin",
                    {"type": "array", "items": _ref("AuditEvent")},
                    params=[
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                        {"name": "actor", "in": "query", "schema": {"type": "string"}},
                        {"name": "action", "in": "query", "schema": {"type": "string"}},
                        {"name": "outcome", "in": "query", "schema": {"type": "string"}},
                    ],
                )
            },
        },
    }
