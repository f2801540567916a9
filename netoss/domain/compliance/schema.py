"""The JSON schema of a compliance run as the portal takes it (``POST /api/v1/compliance/runs``):
the ``run`` that ``netoss.core.config_compliance`` returns. The OpenAPI document shows it as
``ComplianceRun``; :func:`netoss.domain.compliance.validate` checks it and what a schema cannot say."""

from __future__ import annotations

STATUSES = ("compliant", "non-compliant", "exempt", "error")
SEVERITIES = ("critical", "major", "minor", "warning")  # the policy's (compliance_policy.SEVERITIES)
SOURCES = ("live", "backup")

# The policy's names (compliance_policy.NAME), shorter: each feature is also the alarm condition
# "compliance:<feature>", and conditions are 64 characters at most.
FEATURE = {"type": "string", "pattern": "^[a-z][a-z0-9-]{0,52}$", "description": "a feature of the policy"}
# The fault pipeline's device names: no whitespace, no '|' (it separates the alarm fingerprint).
DEVICE = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[^|\\s]+$"}
TIME = {"type": "string", "format": "date-time", "maxLength": 40, "description": "ISO 8601 (UTC when no offset)"}
TEXT = {"type": "string", "maxLength": 100_000}

RULE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["feature", "rule", "status"],
    "description": "A rule that is not plainly compliant, as the engine reports it",
    "properties": {
        "feature": FEATURE,
        "rule": {"type": "string", "minLength": 1, "maxLength": 100},
        "kind": {"type": "string", "maxLength": 32},
        "status": {"enum": list(STATUSES)},
        "compliant": {"type": "boolean"},
        "missing": TEXT,
        "extra": TEXT,
        "remediation": {"type": "array", "maxItems": 10_000, "items": {"type": "string", "maxLength": 10_000}},
        "diff": {"type": "string", "maxLength": 1_000_000},
        "message": {"type": "string", "maxLength": 10_000},
    },
}

DEVICE_RESULT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["device", "status"],
    "properties": {
        "device": DEVICE,
        "platform": {"type": "string", "maxLength": 64},
        "site": {"type": "string", "maxLength": 100, "description": "the device's site (NetBox slug), for filters"},
        "role": {"type": "string", "maxLength": 100, "description": "the device's role (NetBox slug), for filters"},
        "status": {"enum": list(STATUSES)},
        "error": {"type": "string", "maxLength": 10_000},
        "features": {
            "type": "object",
            "maxProperties": 200,
            "propertyNames": FEATURE,
            "additionalProperties": {"enum": list(STATUSES)},
            "description": "feature -> status (none when the device could not be checked)",
        },
        "rules": {"type": "array", "maxItems": 10_000, "items": RULE},
    },
}

_COUNTS = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["source", "started_at", "finished_at", "policy", "devices"],
    "description": "A compliance run: the `run` returned by netoss.core.config_compliance",
    "properties": {
        "source": {"enum": list(SOURCES), "description": "the running configurations (live) or the backups"},
        "job_id": {
            "type": ["integer", "null"],
            "minimum": 1,
            "maximum": 2147483647,
            "description": "the portal job that ran it",
        },
        "started_at": TIME,
        "finished_at": TIME,
        "policy": {
            "type": "object",
            "additionalProperties": False,
            "required": ["features"],
            "properties": {
                "path": {"type": "string", "maxLength": 1000},
                "features": {
                    "type": "array",
                    "maxItems": 200,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name"],
                        "properties": {
                            "name": FEATURE,
                            "description": {"type": "string", "maxLength": 1000},
                            "severity": {"enum": list(SEVERITIES), "description": "of its alarms (default major)"},
                        },
                    },
                },
            },
        },
        "summary": {
            "type": "object",
            "description": "the engine's counts; the portal recounts them from the devices and keeps "
            "expired_exceptions",
            "properties": {
                "devices": {"type": "integer", "minimum": 0},
                "by_status": _COUNTS,
                "pairs": _COUNTS,
                "features": {"type": "object", "additionalProperties": _COUNTS},
                "percent": {"type": "number", "minimum": 0, "maximum": 100},
                "expired_exceptions": {
                    "type": "array",
                    "maxItems": 1000,
                    "items": {"type": "string", "maxLength": 1000},
                },
            },
        },
        "devices": {"type": "array", "minItems": 1, "maxItems": 100_000, "items": DEVICE_RESULT},
    },
}
