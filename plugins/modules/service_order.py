#!/usr/bin/python
# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: service_order
short_description: Carry out a service order (TMF641) in NetBox, one step at a time
version_added: 0.7.0
description:
  - The NetBox side of a service order; C(playbooks/service_order.yml) runs the steps in order
    and pushes the configurations in between.
  - O(step=check) checks every item against the service catalog and NetBox and writes nothing.
  - O(step=reserve) checks again, then writes each item's records (an add reserves the circuit,
    its terminations and cables, a /31 from a NetBox prefix of the catalog's link pool role
    through NetBox's available-prefixes, the addresses, the customer's tenant, AS number and prefixes, and the
    CE's tenant and loopback; a modify changes prefixes, rate and limits; a delete sets the
    circuit deprovisioning and removes its records). Every write goes to the O(journal) as it
    is made; when one fails, what was written is undone before the module fails.
  - O(step=activate) makes the order final once the devices are verified (an added circuit
    becomes active; a deleted one decommissioned, then deleted with what its add created).
  - O(step=rollback) undoes the journal's writes, newest first.
  - O(step=report) tells the portal the order's state (O(state), O(reason)).
  - With O(order), the items come from the portal's order and each step reports its progress.
author: netoss contributors (!UNKNOWN)
extends_documentation_fragment:
  - netoss.core.netbox
  - netoss.core.portal
options:
  step:
    description: What to do.
    type: str
    required: true
    choices: [check, reserve, activate, rollback, report]
  order:
    description: The portal's service order id; its items are read from the portal.
    type: int
  items:
    description:
      - The order's items, TMF641 C(serviceOrderItem) objects (C(id), C(action), C(service) with
        C(id), C(serviceSpecification.name) and C(serviceCharacteristic)), without O(order).
      - For O(step=activate), the C(items) returned by O(step=reserve).
    type: list
    elements: dict
  catalog:
    description: The service catalog file.
    type: path
    required: true
  journal:
    description:
      - Where the writes of O(step=reserve) are kept until O(step=activate) or O(step=rollback).
      - A file of the order's own (its write log), not NetBox journal entries.
    type: path
  state:
    description: With O(step=report), the order's state.
    type: str
    choices: [inProgress, completed, failed, partial]
  reason:
    description: With O(step=report), why the order failed.
    type: str
  report:
    description: Report each step to the portal (with O(order)).
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: In check mode every step only checks the order; nothing is written or reported.
"""

EXAMPLES = r"""
- name: Reserve the order's resources in NetBox
  netoss.core.service_order:
    step: reserve
    order: 12
    catalog: "{{ playbook_dir }}/../services/catalog.yml"
    journal: "{{ netoss_state_dir }}/service-orders/12.json"
  register: reserved
  run_once: true
  delegate_to: localhost

- name: Check an order written by hand, touching nothing
  netoss.core.service_order:
    step: check
    catalog: services/catalog.yml
    items:
      - id: "1"
        action: add
        service:
          serviceSpecification: {name: dia-ebgp}
          serviceCharacteristic:
            - {name: customer, value: Initech}
            - {name: pe, value: pe1}
            - {name: pe_interface, value: eth4}
            - {name: ce, value: ce3}
            - {name: ce_interface, value: eth1}
            - {name: customer_asn, value: 64510}
            - {name: prefixes, value: [203.0.113.32/28]}
"""

RETURN = r"""
items:
  description: The order's items as checked (C(id), C(action), C(service), C(service_id), C(values)).
  returned: always
  type: list
  elements: dict
devices:
  description: The routers the order configures (its PEs and CEs).
  returned: always
  type: list
  elements: str
results:
  description: >-
    Per item (O(step=reserve)): C(service_id), C(link), C(pe_address), C(ce_address), C(loopback),
    and what verification checks (C(pe), C(ce), C(bgp), C(prefixes) the PE receives or routes,
    C(ce_receives) the routes the CE receives from the PE, and C(probes), pings between a core
    router next to the PE and the customer's loopback, each way).
  returned: when reserved
  type: list
  elements: dict
links:
  description: The PE-CE links (C(a), C(b) as device:interface) to patch (an add) or unpatch (a delete).
  returned: when reserved
  type: list
  elements: dict
undone:
  description: What O(step=rollback) undid.
  returned: when rolled back
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netoss.core.plugins.module_utils.netbox_client import (
    NETBOX_ARG_SPEC,
    NetboxError,
    api_from_params,
)
from ansible_collections.netoss.core.plugins.module_utils.portal_client import (
    PORTAL_ARG_SPEC,
    PortalError,
    client_from_params,
)
from ansible_collections.netoss.core.plugins.module_utils.schema_files import require_schema_libraries
from ansible_collections.netoss.core.plugins.module_utils.service_catalog import CatalogError, load_catalog
from ansible_collections.netoss.core.plugins.module_utils.service_check import check_order, devices_of, verification
from ansible_collections.netoss.core.plugins.module_utils.service_journal import Journal, rollback
from ansible_collections.netoss.core.plugins.module_utils.service_model import OrderError
from ansible_collections.netoss.core.plugins.module_utils.service_netbox_view import NetboxView
from ansible_collections.netoss.core.plugins.module_utils.service_reservation import Reservation


class Step:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.log = []
        self._portal = None

    def portal(self):
        if self._portal is None:
            self._portal = client_from_params(self.params)
        return self._portal

    def reporting(self):
        return self.params["order"] is not None and self.params["report"] and not self.module.check_mode

    def report(self, state, step, reason=None, items=()):
        if not self.reporting():
            return
        body = {"state": state, "step": step, "reason": reason, "items": list(items)}
        try:
            self.portal().order_progress(self.params["order"], body)
        except PortalError as exc:
            self.module.warn("the portal was not told (%s %s): %s" % (step, state, exc))

    def items(self):
        if self.params["items"] is not None:
            return self.params["items"]
        if self.params["order"] is None:
            self.module.fail_json(msg="give the order's items, or order (its id in the portal)")
        try:
            order = self.portal().service_order(self.params["order"])
        except PortalError as exc:
            self.module.fail_json(msg="service order %s cannot be read: %s" % (self.params["order"], exc))
        return order.get("serviceOrderItem") or []

    def fail(self, step, message, **extra):
        self.report("failed", step, message)
        self.module.fail_json(msg=message, log=self.log, **extra)


def _write_log(module):
    """The order's write log (the file O(journal) names: the NetBox records its reservation
    wrote, for activate or rollback); not NetBox journal entries."""
    if not module.params["journal"]:
        module.fail_json(msg="step %s needs journal (where the order's writes are kept)" % module.params["step"])
    return Journal.load(module.params["journal"])


def main():
    spec = dict(NETBOX_ARG_SPEC)
    spec.update(PORTAL_ARG_SPEC)
    spec.update(
        step={"type": "str", "required": True, "choices": ["check", "reserve", "activate", "rollback", "report"]},
        order={"type": "int"},
        items={"type": "list", "elements": "dict"},
        catalog={"type": "path", "required": True},
        journal={"type": "path"},
        state={"type": "str", "choices": ["inProgress", "completed", "failed", "partial"]},
        reason={"type": "str"},
        report={"type": "bool", "default": True},
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    step = Step(module)
    name = module.params["step"]
    if name == "report":
        if not module.params["state"]:
            module.fail_json(msg="step report needs state")
        step.report(module.params["state"], "done", module.params["reason"])
        module.exit_json(changed=False, msg="order %s: %s" % (module.params["order"], module.params["state"]))
    require_schema_libraries(module)
    try:
        catalog = load_catalog(module.params["catalog"])
    except CatalogError as exc:
        module.fail_json(msg=str(exc), problems=[str(p) for p in exc.problems])
    try:
        api = api_from_params(module.params)
    except NetboxError as exc:
        module.fail_json(msg=str(exc))

    if name == "rollback":
        journal = _write_log(module)
        if module.check_mode or not journal.entries:
            module.exit_json(changed=False, undone=[], msg="nothing to roll back")
        try:
            undone = rollback(api, journal, step.log.append)
        except OrderError as exc:
            module.fail_json(msg=str(exc), undone=step.log)
        module.exit_json(changed=True, undone=undone, msg="NetBox rolled back: %d change(s) undone" % len(undone))

    if name == "activate":
        items = module.params["items"] or []
        if module.check_mode:
            module.exit_json(changed=False, items=items, devices=devices_of(items))
        reservation = Reservation(api, catalog, _write_log(module), module.params["order"], step.log.append)
        try:
            for item in items:
                reservation.finish(item)
        except Exception as exc:  # the devices are right; NetBox refused the final status
            step.fail("activate", "the order is done on the devices, but NetBox refused its final state: %s" % exc)
        reservation.write.journal.discard()
        step.report(
            "completed",
            "activate",
            items=[{"id": i["id"], "state": "completed", "service_id": i["service_id"]} for i in items],
        )
        module.exit_json(changed=True, items=items, devices=devices_of(items), log=step.log, msg="; ".join(step.log))

    # check, reserve
    step.report("inProgress", "check")
    items, problems = check_order(catalog, step.items(), NetboxView(api))
    if problems:
        step.fail("check", "the order is refused, nothing was touched: " + "; ".join(problems), problems=problems)
    devices = devices_of(items)
    if name == "check" or module.check_mode:
        module.exit_json(
            changed=False,
            items=items,
            devices=devices,
            msg="the order is valid: %d item(s) on %s" % (len(items), ", ".join(devices)),
        )
    journal = _write_log(module)
    if journal.entries:
        module.fail_json(
            msg="%s holds the writes of an unfinished run of this order: roll it back first (step rollback)"
            % module.params["journal"]
        )
    reservation = Reservation(api, catalog, journal, module.params["order"], step.log.append)
    results = []
    try:
        for item in items:
            service = catalog.get(item["service"])
            before = verification(reservation.view, item, {}, service) if item["action"] == "delete" else None
            result = reservation.begin(item)
            result.update(before or verification(reservation.view, item, result, service))
            results.append(dict(result, item=item["id"], action=item["action"]))
    except Exception as exc:  # OrderError, pynetbox.RequestError, connection errors: undo, then fail
        reason = "reserving in NetBox failed: %s" % (exc if isinstance(exc, OrderError) else str(exc)[:500])
        try:
            undone = rollback(api, journal, step.log.append)
            reason += "; rolled back (%d change(s) undone)" % len(undone)
        except OrderError as undo:
            reason += "; %s" % undo
        step.fail("reserve", reason)
    step.report(
        "inProgress",
        "configure",
        items=[
            {
                "id": r["item"],
                "state": "inProgress",
                "service_id": r["service_id"],
                "resources": {k: r.get(k) for k in ("link", "pe_address", "ce_address", "loopback")},
            }
            for r in results
        ],
    )
    links = [link for r in results for link in r.get("links") or []]
    module.exit_json(
        changed=True,
        items=items,
        devices=devices,
        results=results,
        links=links,
        log=step.log,
        msg="; ".join(step.log),
    )


if __name__ == "__main__":
    main()
