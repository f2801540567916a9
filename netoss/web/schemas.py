"""The JSON Schemas of the API's bodies and answers, declared once: the views validate request
bodies against them (netoss.web.apidoc.body) and the generated /api/openapi.json carries them as
its components. The schemas the Ansible collection shares (service orders, compliance runs)
stay in the domain and are referenced from here, not copied."""

from __future__ import annotations

from netoss.data.models import ORDER_STATES, ROLES
from netoss.domain.compliance.schema import SCHEMA as COMPLIANCE_RUN
from netoss.domain.compliance.schema import STATUSES as COMPLIANCE_STATUSES
from netoss.domain.provisioning.schema import CANCEL as SERVICE_ORDER_CANCEL
from netoss.domain.provisioning.schema import ORDER as SERVICE_ORDER_CREATE
from netoss.domain.provisioning.schema import PROGRESS as SERVICE_ORDER_PROGRESS

USERNAME = {"type": "string", "pattern": "^[a-z][a-z0-9._-]{1,63}$", "description": "lowercase, 2-64 characters"}
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
            "parameters": {
                "type": "object",
                "description": "parameter name -> value, checked by the template; a device list may instead be "
                '{"match": {"site", "role", "tag", "q"}}: every device the filter matches at launch (q: in the name)',
            },
            "check": {"type": "boolean", "description": "run in check mode (--check --diff)"},
            "ticket": {
                "type": "integer",
                "minimum": 1,
                "maximum": 2147483647,
                "description": "the ticket this job remediates: it is linked to it and noted there",
            },
        },
    },
    "DeviceChoice": {
        "type": "object",
        "description": "A NetBox device as the launch form's picker lists it",
        "properties": {
            "name": {"type": "string"},
            "site": {"type": ["string", "null"], "description": "its site's slug"},
            "role": {"type": ["string", "null"], "description": "its role's slug"},
            "status": {"type": ["string", "null"]},
        },
    },
    "JobRelaunch": {
        "type": "object",
        "additionalProperties": False,
        "properties": {"apply": {"type": "boolean", "default": False}},
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
            "waiting_since": {
                "type": ["string", "null"],
                "format": "date-time",
                "description": "since when it waited (pending) for devices other jobs were changing",
            },
            "waiting_for": {
                "type": ["string", "null"],
                "description": "what it waited for: the device and the job changing it",
            },
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
    "MaintenanceWindowCreate": {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "description": {"type": "string", "maxLength": 2000},
            "devices": {
                "type": "array",
                "maxItems": 1000,
                "items": {"type": "string", "minLength": 1, "maxLength": 100},
                "description": "NetBox device names",
            },
            "services": {
                "type": "array",
                "maxItems": 1000,
                "items": {"type": "string", "minLength": 1, "maxLength": 100},
                "description": "service (NetBox circuit) IDs",
            },
            "startsAt": {"type": "string", "maxLength": 40, "description": "ISO 8601 with a time zone; default now"},
            "endsAt": {"type": "string", "maxLength": 40, "description": "ISO 8601 with a time zone"},
            "durationMinutes": {"type": "integer", "minimum": 1, "maximum": 10080},
        },
    },
    "MaintenanceWindow": {"type": "object"},
    "DeploymentCreate": {
        "type": "object",
        "additionalProperties": False,
        "required": ["repository", "ref"],
        "properties": {
            "repository": {
                "type": "string",
                "pattern": "^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$",
                "description": "as named in the GitOps repositories file",
            },
            "ref": {"type": "string", "pattern": "^[0-9a-f]{40}([0-9a-f]{24})?$", "description": "a full commit id"},
        },
    },
    "Deployment": {"type": "object"},
    "WebhookDelivery": {"type": "object"},
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
            "site": {"type": "string", "description": "NetBox slug, when the run gave it"},
            "role": {"type": "string", "description": "NetBox slug, when the run gave it"},
        },
    },
    "ComplianceHistoryEntry": {
        "type": "object",
        "description": "A device's result for one feature in one run",
        "properties": {
            "run": {"type": "integer"},
            "started_at": {"type": "string", "format": "date-time"},
            "source": {"enum": ["live", "backup"]},
            "job_id": {"type": ["integer", "null"]},
            "feature": {"type": "string", "description": "'' for a device that could not be checked"},
            "status": {"enum": list(COMPLIANCE_STATUSES)},
            "rules": {"type": "array", "items": {"type": "object"}},
            "error": {"type": "string"},
        },
    },
    "ComplianceReport": {
        "type": "object",
        "description": "ComplianceRunSummary with the summary, the policy and every device (or a page of them)",
        "properties": {
            "id": {"type": "integer"},
            "summary": {"type": "object"},
            "policy": {"type": "object"},
            "devices": {"type": "array", "items": {"type": "object"}, "description": "ComplianceDevice each"},
            "page": {
                "type": "object",
                "description": "when paged or filtered: the page and how many devices match",
                "properties": {
                    "offset": {"type": "integer"},
                    "limit": {"type": ["integer", "null"]},
                    "total": {"type": "integer"},
                },
            },
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
            "devices_page": {
                "type": "object",
                "description": "with limit or offset: the page of devices and how many there are",
                "properties": {
                    "offset": {"type": "integer"},
                    "limit": {"type": ["integer", "null"]},
                    "total": {"type": "integer"},
                },
            },
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
