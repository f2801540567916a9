# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A customer service in NetBox: the records and custom fields that make one, and OrderError.

A service is a NetBox circuit of the access provider with the records the renderer already
reads (see device_data): the circuit's two terminations cabled to the PE and CE interfaces,
a /31 from a NetBox prefix of the catalog's ``link_pool`` role with one address on each end,
the customer's tenant, AS number and prefixes (each inside a NetBox prefix of the ``within``
role), and the CE's tenant and loopback. The circuit's custom fields say which catalog service
it is (``netoss_service``), how it routes (``netoss_routing``: ebgp or static) and what the PE
announces to the customer (``netoss_announce``), its maximum prefixes (``netoss_max_prefix``),
the order that last changed it (``netoss_order``) and what its add changed that its delete
must put back (``netoss_prior``); addresses and prefixes made for it carry ``netoss_circuit``.
Everything an order creates is tagged ``netoss-ordered`` (sot-sync prunes only what is
tagged ``netoss-managed``).

A service order (TMF641) goes through the modules beside this one, each of one concern:

- service_netbox_view: what NetBox holds, read once per order (:class:`NetboxView`), and
  the choices a form offers;
- service_inventory: a circuit read back as a service (TMF638);
- service_check: an order checked against the catalog and NetBox before anything is written,
  and what to verify on the routers after;
- service_journal: every write of an order, kept so a rollback undoes exactly what was done;
- service_reservation: the writes themselves (pools, addresses, ports, the circuit), go live,
  release.

This module is the vocabulary they share and imports none of them.
"""

from __future__ import annotations

ORDERED_TAG = "netoss-ordered"
CF_SERVICE, CF_MAX_PREFIX, CF_ORDER, CF_PRIOR, CF_CIRCUIT, CF_ROUTING, CF_ANNOUNCE = (
    "netoss_service",
    "netoss_max_prefix",
    "netoss_order",
    "netoss_prior",
    "netoss_circuit",
    "netoss_routing",
    "netoss_announce",
)


class OrderError(Exception):
    """The order cannot go on; ``problems`` lists why, each naming the item and characteristic."""

    def __init__(self, problems):
        self.problems = list(problems) if isinstance(problems, (list, tuple)) else [str(problems)]
        super().__init__("; ".join(self.problems))


def value_of(obj, key="value"):
    """A REST record's choice field (``{"value": ..., "label": ...}``) as its value."""
    return obj.get(key) if isinstance(obj, dict) else obj


def slug_of(obj):
    """The slug of a nested REST record (a device's role, site...), else None."""
    return (obj or {}).get("slug") if isinstance(obj, dict) else None


def id_of(obj):
    """The id of a nested REST record, or the id itself."""
    return obj.get("id") if isinstance(obj, dict) else obj
