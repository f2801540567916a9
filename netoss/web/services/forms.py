"""The order form: its fields as a TMF641 order (the API's body, so both are checked the same
way), and the problems of an order put back next to the fields they name."""

from __future__ import annotations

import re

SERVICE_FIELD = "service_id"  # the form's select of an existing service (modify, delete)
_ITEM_PREFIX = re.compile(r"^item [^:]{1,20}: ")


def form_value(kind: str, raw: str):
    """A characteristic's value from its form text: integers and AS numbers as numbers when they
    are digits, prefixes one per line (or separated by commas or spaces), the rest as typed."""
    if kind in ("integer", "asn") and raw.isdigit():
        return int(raw)
    if kind == "prefixes":
        return [p for p in re.split(r"[\s,]+", raw) if p]
    return raw


def form_order(spec, action: str, form) -> dict:
    """The TMF641 order of one item the form describes. Empty fields are left out: for an add
    the catalog's defaults fill them, for a modify they keep their current value."""
    service: dict = {"serviceSpecification": {"name": spec.name}}
    if action != "add" and form.get(SERVICE_FIELD, "").strip():
        service["id"] = form[SERVICE_FIELD].strip()
    if action != "delete":
        given = ((c, form.get(c.name, "").strip()) for c in spec.characteristics)
        service["serviceCharacteristic"] = [{"name": c.name, "value": form_value(c.type, v)} for c, v in given if v]
    order = {"serviceOrderItem": [{"id": "1", "action": action, "service": service}]}
    for key, field in (("description", "description"), ("externalId", "external_id")):
        if form.get(field, "").strip():
            order[key] = form[field].strip()
    return order


def problems_by_field(problems: list[str], names) -> tuple[dict[str, list[str]], list[str]]:
    """({field: its problems}, the others) from an order's problems: "item 1: pe_interface: pe1:eth3
    is in use" goes next to pe_interface, one about ``service.id`` next to the service select."""
    fields: dict[str, list[str]] = {}
    others = []
    for problem in problems:
        name, sep, text = _ITEM_PREFIX.sub("", problem).partition(": ")
        if sep and name in names:
            fields.setdefault(name, []).append(text)
        elif sep and (name == "service.id" or name.endswith(".service.id")):
            fields.setdefault(SERVICE_FIELD, []).append(text)
        else:
            others.append(problem)
    return fields, others
