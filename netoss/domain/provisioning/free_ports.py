"""What a network offers new services, read from NetBox: printed by `netoss up`.

Without Flask (the CLI calls it): for each service of the catalog, the free ports of the
devices its interface characteristics name (of the role the catalog asks for), the same
ports the order form offers. Nothing here knows any network's names.
"""

from __future__ import annotations

import re
from pathlib import Path

from ansible_collections.netoss.core.plugins.module_utils.service_catalog import load_catalog
from ansible_collections.netoss.core.plugins.module_utils.service_netbox_view import NetboxView, choices


def free_ports(api, catalog_path: Path, limit: int = 8) -> list[str]:
    """``device:interface`` of every port a service order could use, in name order (at most ``limit``,
    then "... N more"), across the catalog's services."""
    view = NetboxView(api)
    found: set[str] = set()
    for service in load_catalog(catalog_path).values():
        for c in service.characteristics:
            if c.type != "interface" or not c.device:
                continue
            for device in choices(service, c.device, view, {}):
                found.update(f"{device}:{port}" for port in choices(service, c.name, view, {c.device: device}))
    ports = sorted(found, key=_natural)
    return ports[:limit] + ([f"... {len(ports) - limit} more"] if len(ports) > limit else [])


def network_lines(api, intent: Path, catalog_path: Path) -> list[str]:
    """What NetBox holds, in two lines for `netoss up`'s summary."""
    devices, sites, cables = api.dcim.devices.count(), api.dcim.sites.count(), api.dcim.cables.count()
    lines = [f"  Network     {devices} devices in {sites} sites, {cables} cables in NetBox   (intent {intent})"]
    try:
        ports = free_ports(api, catalog_path)
    except Exception as exc:  # the summary must not fail `up`: say why instead
        lines.append(f"  Free ports  unknown: {exc}")
    else:
        what = ", ".join(ports) if ports else "none (every port the catalog's services use is taken)"
        lines.append(f"  Free ports  {what}   (for service orders)")
    return lines


def _natural(text: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]
