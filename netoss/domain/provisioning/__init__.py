"""Service provisioning in the portal: customer orders (TMF641) run as ``service-order`` jobs,
and the service inventory (TMF638) read from NetBox. The TMF paths, the JSON API and the pages
share these modules:

    catalog     the service catalog, the shared order logic and NetBox (ServiceError says why not)
    orders      check, submit, progress, cancel, the job runner's hook, the TMF641 JSON
    inventory   NetBox circuits as TMF638 services, with health from open alarms and tickets
    schema      the JSON schemas of the order, cancellation and progress bodies
"""

from __future__ import annotations

from netoss.domain.provisioning.catalog import ServiceError

__all__ = ["ServiceError"]
