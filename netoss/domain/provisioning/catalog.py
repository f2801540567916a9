"""What the portal's service views stand on: the service catalog (``services/catalog.yml``), the
order logic the collection shares (``plugins/module_utils/service_check.py``,
``service_inventory.py``, ``service_netbox_view.py``), and NetBox as that logic reads it (a
``service_netbox_view.NetboxView``).

Everything that needs NetBox or the shared logic goes through :func:`logic` and :func:`view`,
so one place says why it is unavailable (ServiceError 503), and unit tests replace the two.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import types
from pathlib import Path

from netoss.data import context
from netoss.data.netbox import NetBox

MODULE_UTILS = "ansible_collections.netoss.core.plugins.module_utils"
# What the portal calls of the shared order logic, by the module of the collection that holds it.
LOGIC = {
    "service_check": ("check_order", "devices_of"),
    "service_inventory": ("describe", "list_services", "page_services"),
    "service_netbox_view": ("NetboxView", "choices"),
}
CATALOG = f"{MODULE_UTILS}.service_catalog"
log = logging.getLogger("netoss.services")

CHOICE_TYPES = ("tenant", "device", "interface")  # characteristics whose values NetBox lists


class ServiceError(Exception):
    """A service request that cannot be done: ``status`` is the HTTP status to answer, and
    ``problems`` (an order's) each name the item and characteristic."""

    def __init__(self, status: int, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.status = status
        self.problems = problems or []


@contextlib.contextmanager
def reading_netbox(what: str):
    """NetBox (or the logic reading it) failing is a 503 that says so, and is logged."""
    try:
        yield
    except ServiceError:
        raise
    except Exception as exc:
        log.exception("%s: NetBox could not be read", what)
        raise ServiceError(503, f"{what}: NetBox could not be read ({type(exc).__name__}: {exc})") from None


def logic():
    """The shared order logic, as one namespace (check_order, devices_of, describe, list_services,
    page_services, NetboxView, choices): see :data:`LOGIC`."""
    found = {}
    for module, names in LOGIC.items():
        loaded = importlib.import_module(f"{MODULE_UTILS}.{module}")
        found.update((name, getattr(loaded, name)) for name in names)
    return types.SimpleNamespace(**found)


def view():
    """NetBox, as the shared logic reads it; ServiceError(503) when the portal has none."""
    netbox = NetBox.from_config(context.config())
    if netbox is None:
        raise ServiceError(503, "the portal has no NetBox (NETBOX_URL, NETBOX_TOKEN): services live there")
    with reading_netbox("the services"):
        api = netbox.api()  # connected and checked: unreachable or refused is a 503 that says so
    return logic().NetboxView(api)


def catalog_path() -> Path:
    return Path(context.config()["JOB_TEMPLATES_DIR"]).parent / "services" / "catalog.yml"


def load() -> dict:
    """The catalog's services by name; ServiceError(500) when the file has problems (logged)."""
    module = importlib.import_module(CATALOG)
    try:
        return module.load_catalog(catalog_path())
    except module.CatalogError as exc:
        context.logger().error("the service catalog has problems:\n%s", exc)
        raise ServiceError(500, "the service catalog has problems (each file and key is in the portal log)") from None


def service(name: str):
    """A service of the catalog; ServiceError(404) names the ones there are."""
    services = load()
    if name not in services:
        raise ServiceError(404, f"no service {name!r} in the catalog (there are: {', '.join(sorted(services))})")
    return services[name]


def to_json(services: dict) -> list[dict]:
    """The catalog as the API shows it: each service with its characteristics."""
    out = []
    for s in services.values():
        characteristics = [{k: v for k, v in vars(c).items() if v is not None and v != ""} for c in s.characteristics]
        out.append({"name": s.name, "label": s.label, "description": s.description, "characteristics": characteristics})
    return out


def choices(service_name: str, characteristic: str, values: dict, netbox=None) -> list[str]:
    """The values NetBox offers for a characteristic (devices of its role, free interfaces of the
    chosen device, existing customers), given the values chosen so far."""
    spec = service(service_name)
    c = spec.characteristic(characteristic)
    if c is None:
        raise ServiceError(404, f"{service_name} has no characteristic {characteristic!r}")
    if c.type not in CHOICE_TYPES:
        raise ServiceError(400, f"{characteristic}: a {c.type} characteristic has no choices")
    with reading_netbox(f"the choices of {characteristic}"):
        return list(logic().choices(spec, characteristic, netbox or view(), values))
