"""The assurance daemon (`netoss assurance serve`): keeps what Prometheus measures in step with
NetBox, without restarting anything.

- It reads NetBox's devices, interfaces, customer services and the customers' addresses when
  NetBox's change log moved (checked every few seconds; everything again every 10 minutes
  anyway), and writes Prometheus' file-SD targets (``snmp.json``: every device to poll;
  ``probes.json``: every active service to probe from its PE) atomically, only when they
  changed; Prometheus picks the files up by itself.
- It serves NetBox's names of what is measured (``netoss_*_info``, the services' objectives)
  on ``/metrics``, for Prometheus' inventory job, to a bearer token only.

NetBox failing keeps the last targets and series (logged once, until it answers again).
"""

from __future__ import annotations

import hmac
import http.server
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

from netoss.data.context import build_app
from netoss.data.netbox import NetBox
from netoss.domain.assurance import policy as assurance_policy
from netoss.domain.assurance import targets as tg
from netoss.domain.provisioning import catalog as service_catalog

log = logging.getLogger("netoss.assurance")

CHECK_EVERY = 5.0  # seconds between looks at NetBox's change log
REFRESH_ANYWAY = 600.0  # seconds: everything is read again at least this often
DEVICE_FIELDS = "id,name,status,primary_ip4,site,role,platform,tenant,custom_fields"
INTERFACE_FIELDS = "id,name,device,speed"
ADDRESS_FIELDS = "id,address,assigned_object_type,assigned_object_id"


class DaemonError(RuntimeError):
    pass


def write_if_changed(path: Path, text: str) -> bool:
    """Replace ``path`` by ``text`` atomically (a reader never sees half a file); False when it
    already held it."""
    if path.exists() and path.read_text() == text:
        return False
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return True


class Inventory:
    """What was last read from NetBox: the targets and the info series."""

    def __init__(self, netbox: NetBox, objectives: dict[str | None, dict], modules: set[str]):
        self.netbox, self.objectives, self.modules = netbox, objectives, modules
        self.metrics = "# no NetBox read yet\n"
        self.targets = tg.Targets()
        self.change_id: int | None = None
        self.read_at = 0.0
        self.skipped: dict[str, str] = {}  # what was left out at the last read, and why

    def latest_change(self) -> int | None:
        body = self.netbox.get("core/object-changes", {"limit": 1, "ordering": "-id", "fields": "id"})
        results = body.get("results") or []
        return int(results[0]["id"]) if results else 0

    def read(self) -> None:
        nb = self.netbox
        devices = nb.get_all("dcim/devices", {"limit": 1000, "fields": DEVICE_FIELDS})
        interfaces = nb.get_all("dcim/interfaces", {"limit": 1000, "fields": INTERFACE_FIELDS})
        logic = service_catalog.logic()
        services = logic.list_services(logic.NetboxView(nb.api()))
        wanted = tg.customer_interfaces(services, interfaces)
        addresses: dict[tuple[str, str], str] = {}
        ids = sorted(wanted)
        for start in range(0, len(ids), 200):
            chunk = ids[start : start + 200]
            for a in nb.get_all(
                "ipam/ip-addresses", {"limit": 1000, "fields": ADDRESS_FIELDS, "interface_id": chunk, "family": 4}
            ):
                key = wanted.get(a.get("assigned_object_id"))
                if key and key not in addresses:
                    addresses[key] = a["address"].split("/")[0]
        out = tg.Targets()
        tg.snmp_targets(devices, out, self.modules)
        tg.probe_targets(services, addresses, tg.probe_sources(devices), out)
        self.targets = out
        self.metrics = tg.inventory_metrics(devices, interfaces, services, self.objectives)

    def refresh(self, targets_dir: Path, force: bool = False) -> bool:
        """Read NetBox again if its change log moved (or ``force``, or it is time); write the
        targets that changed. True when NetBox was read."""
        latest = self.latest_change()
        due = time.monotonic() - self.read_at > REFRESH_ANYWAY
        if not force and not due and latest == self.change_id:
            return False
        self.read()
        self.change_id, self.read_at = latest, time.monotonic()
        changed = [
            name
            for name, groups in (("snmp.json", self.targets.snmp), ("probes.json", self.targets.probes))
            if write_if_changed(targets_dir / name, json.dumps(groups, indent=1, sort_keys=True) + "\n")
        ]
        log.info(
            "NetBox read (change %s): %d devices polled, %d services probed, %d left out%s",
            latest,
            len(self.targets.snmp),
            len(self.targets.probes),
            len(self.targets.skipped),
            f"; rewrote {', '.join(changed)}" if changed else "",
        )
        for what, why in sorted(self.targets.skipped.items()):
            if self.skipped.get(what) != why:  # each once, until its reason changes
                log.info("not measured: %s: %s", what, why)
        self.skipped = dict(self.targets.skipped)
        return True


def _handler(inventory: Inventory, token: str):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            given = self.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                self.send_error(401, "a bearer token is needed")
                return
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404)
                return
            body = inventory.metrics.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *args):  # the requests are Prometheus' scrapes: not logged
            pass

    return Handler


def serve(log_line: Callable[[str], None] = print) -> None:
    """Run until SIGTERM (environment: see netoss.embedded.stack.assurance.daemon_env)."""
    try:
        targets_dir = Path(os.environ["NETOSS_ASSURANCE_TARGETS"])
        host, port = os.environ["NETOSS_ASSURANCE_LISTEN"].rsplit(":", 1)
        token = Path(os.environ["NETOSS_ASSURANCE_TOKEN_FILE"]).read_text().strip()
        catalog_file = Path(os.environ["NETOSS_SERVICE_CATALOG"])
    except (KeyError, OSError) as exc:
        raise DaemonError(f"the assurance daemon's environment is incomplete: {exc}") from None
    policy_dir = os.environ.get("NETOSS_ASSURANCE_POLICY", "assurance")
    app = build_app(name="netoss-assurance")
    netbox = NetBox.from_config(app.config)
    if netbox is None:
        raise DaemonError("the portal's configuration has no NetBox (NETBOX_URL, NETBOX_TOKEN)")
    from ansible_collections.netoss.core.plugins.module_utils import service_catalog as catalog_rules

    try:
        services = catalog_rules.load_catalog(catalog_file)
        objectives = {name: s.objectives for name, s in services.items()}
        objectives[None] = catalog_rules.default_objectives(catalog_file)
        modules = set(assurance_policy.load(policy_dir).snmp_platforms)
    except (catalog_rules.CatalogError, assurance_policy.PolicyError) as exc:
        raise DaemonError(str(exc)) from None
    inventory = Inventory(netbox, objectives, modules)
    server = http.server.ThreadingHTTPServer((host, int(port)), _handler(inventory, token))
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log_line(f"assurance: serving the inventory series on {host}:{port}, targets in {targets_dir}")
    failing, first = False, True
    while not stop.is_set():
        try:
            inventory.refresh(targets_dir, force=first)
            first = False
            if failing:
                log.info("NetBox answers again")
            failing = False
        except Exception as exc:
            if not failing:
                log.warning("NetBox not read (%s: %s): the last targets stay", type(exc).__name__, exc)
            failing = True
        stop.wait(CHECK_EVERY)
    server.shutdown()
