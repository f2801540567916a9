#!/usr/bin/python
# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ticket
short_description: Open, update, resolve or close a netoss trouble ticket
version_added: 0.5.0
description:
  - Works on the portal's TMF621 trouble tickets.
  - With O(state=present), opens a ticket (a complaint, a request, an incident) unless an open
    ticket with the same O(name) exists, which it updates instead (idempotent).
  - With O(state=resolved) or O(state=closed), moves the ticket (O(id), or the open ticket
    named O(name)) to that status with O(reason).
  - O(note) adds a note; O(assignee) assigns it.
author: netoss contributors (!UNKNOWN)
extends_documentation_fragment:
  - netoss.core.portal
options:
  id:
    description: The ticket (C(TT-000042)). Without it, the open ticket named O(name).
    type: str
  name:
    description: The ticket's title.
    type: str
  description:
    description: What is wrong, for people (when it is opened).
    type: str
    default: ""
  severity:
    description: Severity (it sets the priority and the SLA due time).
    type: str
    choices: [critical, major, minor, warning, indeterminate]
    default: minor
  ticket_type:
    description: TMF621 ticketType.
    type: str
    choices: [complaint, request, incident]
    default: incident
  devices:
    description: Devices it is about (NetBox names; each must exist).
    type: list
    elements: str
    default: []
  services:
    description: Customer services (circuit IDs) it is about.
    type: list
    elements: str
    default: []
  assignee:
    description: The portal user to assign it to.
    type: str
  note:
    description: A note to add.
    type: str
  state:
    description: Open (or update) it, or move it to resolved or closed.
    type: str
    choices: [present, resolved, closed]
    default: present
  reason:
    description: Why the status changes (needed for resolved and closed).
    type: str
attributes:
  check_mode:
    support: full
    description: Says what would change; changes nothing.
"""

EXAMPLES = r"""
- name: Open a ticket for a customer complaint
  netoss.core.ticket:
    name: "Acme Corp: slow traffic to Frankfurt"
    ticket_type: complaint
    severity: major
    devices: [pe1]
    services: [ACME-AMS-0001]
    note: Reported by phone, 09:40
  delegate_to: localhost
  register: complaint

- name: Resolve it after the fix
  netoss.core.ticket:
    id: "{{ complaint.ticket.id }}"
    state: resolved
    reason: "Policer corrected on pe1"
  delegate_to: localhost
"""

RETURN = r"""
ticket:
  description: The ticket (TMF621 JSON) after the change (before it, in check mode; absent when it would be opened).
  returned: when there is one
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netoss.core.plugins.module_utils.portal_client import (
    PORTAL_ARG_SPEC,
    PortalError,
    client_from_params,
)


def _find(client, p):
    if p["id"]:
        return client.ticket(p["id"])
    if not p["name"]:
        return None
    for t in client.tickets({"status": "open", "limit": 1000}):
        if t["name"] == p["name"]:
            return t
    return None


def main():
    spec = dict(
        PORTAL_ARG_SPEC,
        id={"type": "str"},
        name={"type": "str"},
        description={"type": "str", "default": ""},
        severity={
            "type": "str",
            "default": "minor",
            "choices": ["critical", "major", "minor", "warning", "indeterminate"],
        },
        ticket_type={"type": "str", "default": "incident", "choices": ["complaint", "request", "incident"]},
        devices={"type": "list", "elements": "str", "default": []},
        services={"type": "list", "elements": "str", "default": []},
        assignee={"type": "str"},
        note={"type": "str"},
        state={"type": "str", "default": "present", "choices": ["present", "resolved", "closed"]},
        reason={"type": "str"},
    )
    module = AnsibleModule(
        argument_spec=spec,
        supports_check_mode=True,
        required_one_of=[("id", "name")],
        required_if=[("state", "resolved", ("reason",)), ("state", "closed", ("reason",))],
    )
    p = module.params
    try:
        client = client_from_params(p)
        ticket = _find(client, p)
        if p["state"] == "present" and ticket is None:
            if not p["name"]:
                module.fail_json(msg="no ticket %s" % p["id"])
            if module.check_mode:
                module.exit_json(changed=True, msg="would open a ticket: %s" % p["name"])
            related = [{"@referredType": "Device", "name": d} for d in p["devices"]]
            related += [{"@referredType": "Service", "name": s} for s in p["services"]]
            body = {
                "name": p["name"],
                "description": p["description"],
                "severity": p["severity"],
                "ticketType": p["ticket_type"],
                "relatedEntity": related,
            }
            if p["note"]:
                body["note"] = [{"text": p["note"]}]
            ticket = client.create_ticket(body)
            if p["assignee"]:
                ticket = client.update_ticket(ticket["id"], {"assignee": p["assignee"]})
            module.exit_json(changed=True, ticket=ticket, msg="opened %s" % ticket["id"])
        if ticket is None:
            module.fail_json(msg="no open ticket named %r to move to %s" % (p["name"], p["state"]))
        update = {}
        if p["state"] != "present" and ticket["status"] != p["state"]:
            update.update(status=p["state"], statusChangeReason=p["reason"])
        assignee = next((r["name"] for r in ticket["relatedParty"] if r["role"] == "assignee"), None)
        if p["assignee"] is not None and p["assignee"] != assignee:
            update["assignee"] = p["assignee"]
        if p["note"] and p["note"] not in [n["text"] for n in ticket["note"]]:
            update["note"] = [{"text": p["note"]}]
        if not update:
            module.exit_json(changed=False, ticket=ticket)
        if module.check_mode:
            module.exit_json(changed=True, ticket=ticket, msg="would change: %s" % ", ".join(sorted(update)))
        ticket = client.update_ticket(ticket["id"], update)
    except PortalError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=True, ticket=ticket, msg="updated %s" % ticket["id"])


if __name__ == "__main__":
    main()
