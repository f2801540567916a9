"""The JSON schemas of the service order bodies: a TMF641 order as posted, its cancellation, and
the progress the ``service-order`` job reports. The OpenAPI document publishes these same
schemas, and the views validate against them."""

from __future__ import annotations

PROGRESS_STATES = ("inProgress", "completed", "failed", "partial")
ITEM_STATES = ("acknowledged", "inProgress", "completed", "failed", "cancelled")
ACTIONS = ("add", "modify", "delete")
SERVICE_STATES = ("feasibilityChecked", "designed", "reserved", "inactive", "active", "terminated")  # TMF638
NAME = r"^[a-z][a-z0-9_-]{0,62}$"  # a catalog service or characteristic (service_catalog.NAME)
CID = {"type": "string", "minLength": 1, "maxLength": 100, "pattern": r"^[^\s/?#]+$"}
_TYPE = {"type": "string", "maxLength": 100}  # TMF's @type, @baseType, @schemaLocation: accepted, ignored

_VALUE = {
    "description": "a string, an integer, or a list of strings (prefixes)",
    "anyOf": [
        {"type": "string", "maxLength": 200},
        {"type": "integer"},
        {"type": "array", "maxItems": 100, "items": {"type": "string", "maxLength": 50}},
    ],
}

_ITEM = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "action", "service"],
    "properties": {
        "id": {"type": "string", "pattern": r"^[A-Za-z0-9_.-]{1,20}$"},
        "action": {"enum": list(ACTIONS)},
        "@type": _TYPE,
        "service": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "id": {**CID, "description": "the service (circuit ID): for modify and delete, not for add"},
                "@type": _TYPE,
                "serviceSpecification": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string", "pattern": NAME, "description": "a service of the catalog"},
                        "id": {"type": "string", "maxLength": 100},
                        "@type": _TYPE,
                    },
                },
                "serviceCharacteristic": {
                    "type": "array",
                    "maxItems": 50,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name", "value"],
                        "properties": {
                            "name": {"type": "string", "pattern": NAME},
                            "value": _VALUE,
                            "valueType": {"type": "string", "maxLength": 50},
                            "@type": _TYPE,
                        },
                    },
                },
            },
        },
    },
}

ORDER = {
    "type": "object",
    "description": "A TMF641 service order: items that add, modify or delete services of the catalog",
    "additionalProperties": False,
    "required": ["serviceOrderItem"],
    "properties": {
        "externalId": {"type": "string", "minLength": 1, "maxLength": 100},
        "description": {"type": "string", "maxLength": 2000},
        "category": {"type": "string", "maxLength": 64},
        "@type": _TYPE,
        "serviceOrderItem": {"type": "array", "minItems": 1, "maxItems": 20, "items": _ITEM},
    },
}

CANCEL = {
    "type": "object",
    "description": "TMF641 CancelServiceOrder: only an acknowledged order whose job has not started",
    "additionalProperties": False,
    "required": ["serviceOrder"],
    "properties": {
        "serviceOrder": {
            "type": "object",
            "additionalProperties": False,
            "required": ["id"],
            "properties": {"id": {"type": "string", "pattern": r"^[0-9]{1,9}$"}, "href": {"type": "string"}},
        },
        "cancellationReason": {"type": "string", "maxLength": 500},
        "@type": _TYPE,
    },
}

PROGRESS = {
    "type": "object",
    "description": "What the service-order job reports as it goes (netoss.core's order module)",
    "additionalProperties": False,
    "required": ["state"],
    "properties": {
        "state": {"enum": list(PROGRESS_STATES)},
        "step": {"type": ["string", "null"], "pattern": r"^[a-z][a-z0-9_-]{0,31}$"},
        "reason": {"type": ["string", "null"], "maxLength": 4000},
        "items": {
            "type": "array",
            "maxItems": 20,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id"],
                "properties": {
                    "id": {"type": "string", "pattern": r"^[A-Za-z0-9_.-]{1,20}$"},
                    "state": {"enum": list(ITEM_STATES)},
                    "service_id": {"anyOf": [CID, {"type": "null"}]},
                    "resources": {
                        "type": ["object", "array"],
                        "maxProperties": 50,
                        "maxItems": 50,
                        "description": "what the item holds in NetBox (as service_inventory.describe lists them)",
                    },
                },
            },
        },
    },
}
