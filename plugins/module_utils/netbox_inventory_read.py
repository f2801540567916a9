# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the inventory plugin netoss.core.netbox reads NetBox: only the fields it needs, pages in
parallel, and a cache refreshed from NetBox's change log.

``read(reader, settings, cache)`` returns the records (a ``State``) and says how it got them:

- *full*: devices (with the query filters), the small tables (sites, regions, site groups,
  locations, racks, clusters) and, when asked, interfaces, IP addresses and services, each list
  read as pages fetched concurrently (REST ``limit``/``offset`` with ``fields=``);
- *incremental*: the cache, plus NetBox's change log (``/api/core/object-changes/``) since the
  newest change the cache had seen: the devices changed are read again, those deleted dropped,
  and a device whose interfaces or addresses changed gets them read again. A change the log
  cannot pin to devices (a site, role, platform, tag, config context... changed), more changes
  than ``cache_max_changes``, or a change log that no longer reaches back to the cache's newest
  change (pruned, or NetBox restored from a dump) gives a full read instead.

The cache is a file (Python's marshal format: plain data; mode 0600, in a 0700 directory) named
after NetBox's URL and the settings that shape what is read; it never holds the token.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ansible_collections.netoss.core.plugins.module_utils import collector, private_cache
from ansible_collections.netoss.core.plugins.module_utils.netbox_inventory import (
    InventoryError,
    Lookups,
    Settings,
    device_fields,
    fold_changes,
    interface_fields,
    ip_fields,
)

try:
    import requests
except ImportError:  # pragma: no cover - the plugin says so when it is used
    requests = None

CACHE_VERSION = 1
BRANCH_HEADER = "X-NetBox-Branch"  # NetBox Branching: requests read inside that branch
ATTEMPTS = 3  # a request that times out or loses its connection is tried again, up to this
ID_CHUNK = 200  # ids per ?id=..&id=.. request (well under NetBox's URL limits)
LOOKUP_FIELDS = {
    "sites": ("/api/dcim/sites/", "id,slug,region,group,time_zone,facility"),
    "regions": ("/api/dcim/regions/", "id,slug,parent"),
    "site_groups": ("/api/dcim/site-groups/", "id,slug,parent"),
    "locations": ("/api/dcim/locations/", "id,slug,parent,site"),
    "racks": ("/api/dcim/racks/", "id,name,role,group"),
    "clusters": ("/api/virtualization/clusters/", "id,name,type,group"),
}


def parse_headers(value) -> dict:
    """Extra headers: a dict, or its JSON text (NETBOX_HEADERS); InventoryError otherwise."""
    if value in (None, "", {}):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise InventoryError(f"headers: {value!r} is not a JSON object of header names and values") from None
    if not isinstance(value, dict):
        raise InventoryError(f"headers: expected a dict of header names and values, got {value!r}")
    return {str(k): str(v) for k, v in value.items()}


class Reader:
    """GETs on NetBox's REST API: one requests session per thread, clear errors."""

    def __init__(
        self,
        url: str,
        token: str | None,
        validate_certs: bool = True,
        timeout: float = 60,
        headers: dict | None = None,
        workers: int = 4,
        page_size: int = 1000,
    ):
        if requests is None:
            raise InventoryError("netoss.core.netbox needs the Python package requests on the controller")
        if not url:
            raise InventoryError("no NetBox URL: set api_endpoint or NETBOX_API")
        self.url = url.rstrip("/")
        self.verify = validate_certs
        self.timeout = timeout
        self.workers = max(1, int(workers))
        self.page_size = max(1, min(int(page_size), 1000))
        self.headers = {"Accept": "application/json"}
        if token:
            if isinstance(token, dict):
                self.headers["Authorization"] = f"{str(token['type']).capitalize()} {token['value']}"
            elif str(token).startswith("nbt_"):
                self.headers["Authorization"] = f"Bearer {token}"
            else:
                self.headers["Authorization"] = f"Token {token}"
        self.headers.update(headers or {})
        self._local = threading.local()
        # At most `workers` requests in flight, whatever the lists read at once: more would only
        # queue in NetBox (its workers are CPU-bound) and time out there.
        self._slots = threading.BoundedSemaphore(self.workers)
        self.requests = 0

    def _session(self):
        s = getattr(self._local, "session", None)
        if s is None:
            s = self._local.session = requests.Session()
            s.headers.update(self.headers)
            s.verify = self.verify
        return s

    def get(self, path: str, params) -> dict:
        """One GET; InventoryError names the URL and what NetBox said."""
        url = self.url + path
        self.requests += 1
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with self._slots:
                    resp = self._session().get(url, params=params, timeout=self.timeout)
                break
            except (requests.Timeout, requests.ConnectionError) as exc:
                if attempt == ATTEMPTS:
                    raise InventoryError(
                        f"cannot reach NetBox at {self.url} ({ATTEMPTS} attempts, timeout {self.timeout} s): {exc}"
                    ) from None
            except requests.RequestException as exc:
                raise InventoryError(f"cannot reach NetBox at {self.url}: {exc}") from None
        if resp.status_code in (401, 403):
            raise InventoryError(
                f"NetBox at {self.url} refused the request for {path} ({resp.status_code}): "
                "check the token (token option, NETBOX_TOKEN) and its permissions"
            )
        if resp.status_code != 200:
            raise InventoryError(f"NetBox answered {resp.status_code} to GET {resp.url}: {resp.text[:500]}")
        try:
            return resp.json()
        except ValueError:
            raise InventoryError(f"NetBox answered GET {resp.url} with something that is not JSON") from None

    def list(self, path: str, params: list | None = None) -> list[dict]:
        """Every object of a list endpoint, in NetBox's order: the first page says how many,
        the others are fetched concurrently."""
        base = [p for p in (params or []) if p[0] not in ("limit", "offset")]
        first = self.get(path, [*base, ("limit", self.page_size), ("offset", 0)])
        results = list(first.get("results") or [])
        count = first.get("count") or 0
        if not first.get("next") or len(results) >= count:
            return results
        offsets = range(len(results), count, self.page_size)

        def page(offset):
            return self.get(path, [*base, ("limit", self.page_size), ("offset", offset)]).get("results") or []

        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            for chunk in pool.map(page, offsets):
                results.extend(chunk)
        # Objects added while reading can shift pages: keep the first of any seen twice.
        seen, out = set(), []
        for r in results:
            if r.get("id") not in seen:
                seen.add(r.get("id"))
                out.append(r)
        return out

    def by_ids(self, path: str, key: str, ids, params: list | None = None) -> list[dict]:
        """The objects whose ``key`` (id, device_id...) is one of ``ids``, in chunks."""
        ids = sorted(i for i in set(ids) if i is not None)
        out = []
        for n in range(0, len(ids), ID_CHUNK):
            out.extend(self.list(path, [*(params or []), *((key, i) for i in ids[n : n + ID_CHUNK])]))
        return out


@dataclass
class State:
    """What the inventory was built from: NetBox's records, and the newest change seen."""

    devices: dict = field(default_factory=dict)  # id -> record
    interfaces: dict = field(default_factory=dict)  # device id -> [interface]
    ips: dict = field(default_factory=dict)  # interface id -> [ip]
    services: dict = field(default_factory=dict)  # device id -> [service]
    lookups: Lookups = field(default_factory=Lookups)
    last_change: int = 0
    last_change_time: str | None = None
    unchanged: bool = False  # read from the cache, and NetBox has not changed since

    def index(self) -> dict:
        """What fold_changes needs to place a change on devices."""
        itf_device = {i["id"]: dev for dev, items in self.interfaces.items() for i in items}
        ip_device = {ip["id"]: itf_device.get(itf) for itf, items in self.ips.items() for ip in items}
        primary: dict = {}
        for dev_id, d in self.devices.items():
            for key in ("primary_ip4", "primary_ip6", "oob_ip"):
                ref = d.get(key)
                if isinstance(ref, dict) and ref.get("id") is not None:
                    primary.setdefault(ref["id"], set()).add(dev_id)
        return {"interface_device": itf_device, "ip_device": ip_device, "primary": primary}

    def to_json(self) -> dict:
        return {
            "devices": list(self.devices.values()),
            "interfaces": [i for items in self.interfaces.values() for i in items],
            "ips": [ip for items in self.ips.values() for ip in items],
            "services": [s for items in self.services.values() for s in items],
            "lookups": self.lookups.as_dict(),
            "last_change": self.last_change,
            "last_change_time": self.last_change_time,
        }

    @classmethod
    def from_json(cls, data: dict) -> State:
        st = cls(
            devices={d["id"]: d for d in data["devices"]},
            lookups=Lookups.from_dict(data["lookups"]),
            last_change=data["last_change"],
            last_change_time=data["last_change_time"],
        )
        st.set_interfaces(data["interfaces"])
        st.set_ips(data["ips"])
        st.set_services(data["services"])
        return st

    def set_interfaces(self, interfaces: list[dict]) -> None:
        self.interfaces = group_by_ref(interfaces, "device")

    def set_ips(self, ips: list[dict]) -> None:
        self.ips = {}
        for ip in ips:
            if ip.get("assigned_object_type") == "dcim.interface" and ip.get("assigned_object_id") is not None:
                self.ips.setdefault(ip["assigned_object_id"], []).append(ip)

    def set_services(self, services: list[dict]) -> None:
        self.services = {}
        for s in services:
            if s.get("parent_object_type") == "dcim.device":
                self.services.setdefault(s["parent_object_id"], []).append(s)


def group_by_ref(records: list[dict], key: str) -> dict:
    out: dict = {}
    for r in records:
        ref = r.get(key)
        if isinstance(ref, dict):
            out.setdefault(ref["id"], []).append(r)
    return out


def _device_params(settings: Settings) -> list:
    return [("fields", ",".join(device_fields(settings))), *settings.query_filters, *settings.device_query_filters]


def newest_change(reader: Reader) -> tuple[int, str | None]:
    page = reader.get("/api/core/object-changes/", [("ordering", "-id"), ("limit", 1), ("fields", "id,time")])
    results = page.get("results") or []
    return (results[0]["id"], results[0]["time"]) if results else (0, None)


def _read_interfaces(reader: Reader, settings: Settings, device_ids=None) -> tuple[list, list]:
    """Interfaces and their IP addresses, of every device (device_ids None) or of these."""
    ip_params = [("fields", ",".join(ip_fields(settings))), ("assigned_to_interface", "true")]
    itf_params = [("fields", ",".join(interface_fields(settings)))]
    if device_ids is None:
        with ThreadPoolExecutor(max_workers=2) as pool:
            itfs = pool.submit(reader.list, "/api/dcim/interfaces/", itf_params)
            ips = pool.submit(reader.list, "/api/ipam/ip-addresses/", ip_params)
            return itfs.result(), ips.result()
    return (
        reader.by_ids("/api/dcim/interfaces/", "device_id", device_ids, itf_params),
        reader.by_ids("/api/ipam/ip-addresses/", "device_id", device_ids, ip_params),
    )


def read_full(reader: Reader, settings: Settings) -> State:
    """Everything, from scratch."""
    mark = newest_change(reader)  # before reading: a change made meanwhile is seen next time
    st = State(last_change=mark[0], last_change_time=mark[1])
    jobs = {}
    with ThreadPoolExecutor(max_workers=8) as pool:
        jobs["devices"] = pool.submit(reader.list, "/api/dcim/devices/", _device_params(settings))
        for name, (path, fields) in LOOKUP_FIELDS.items():
            if name == "racks" and not settings.racks:
                continue
            jobs[name] = pool.submit(reader.list, path, [("fields", fields)])
        if settings.interfaces and settings.fetch_all:
            jobs["interfaces"] = pool.submit(_read_interfaces, reader, settings)
        if settings.services and settings.fetch_all:
            jobs["services"] = pool.submit(reader.list, "/api/ipam/services/")
        devices = jobs["devices"].result()
        st.devices = {d["id"]: d for d in devices}
        st.lookups = Lookups(**{k: {r["id"]: r for r in jobs[k].result()} for k in LOOKUP_FIELDS if k in jobs})
        if settings.interfaces:
            if settings.fetch_all:
                itfs, ips = jobs["interfaces"].result()
            else:
                itfs, ips = _read_interfaces(reader, settings, list(st.devices))
            st.set_interfaces([i for i in itfs if i["device"]["id"] in st.devices])
            st.set_ips(ips)
        if settings.services:
            if settings.fetch_all:
                services = jobs["services"].result()
            else:
                services = reader.by_ids("/api/ipam/services/", "parent_object_id", list(st.devices))
            st.set_services([s for s in services if s.get("parent_object_id") in st.devices])
    return st


def changes_since(reader: Reader, last_id: int, last_time: str | None, limit: int) -> list[dict] | None:
    """The change log after ``last_id``, oldest first; None when it does not reach back to it
    (the entry ``last_id`` is gone or is another change: pruned, or a restored NetBox)."""
    fields = "id,time,action,changed_object_type,changed_object_id,prechange_data,postchange_data"
    params = [("id__gte", last_id), ("ordering", "id"), ("fields", fields)]
    first = reader.get("/api/core/object-changes/", [*params, ("limit", min(limit + 1, 1000))])
    results = first.get("results") or []
    if not results or results[0]["id"] != last_id or results[0]["time"] != last_time:
        return None
    if first.get("count", 0) - 1 > limit:
        return results[1:]  # more than fold_changes allows: it says so, no need for the rest
    if first.get("next"):
        results = reader.list("/api/core/object-changes/", params)
    return results[1:]


def refresh(reader: Reader, settings: Settings, st: State, max_changes: int) -> tuple[State, str]:
    """The cached state brought up to date from the change log; (state, what was done). The
    state's ``unchanged`` is True when nothing had changed (no need to write the cache)."""
    if st.last_change == 0:
        return read_full(reader, settings), "full read (the cache has seen no change yet)"
    changes = changes_since(reader, st.last_change, st.last_change_time, max_changes)
    if changes is None:
        why = f"the change log no longer holds change {st.last_change} (pruned, or NetBox was restored)"
        return read_full(reader, settings), f"full read: {why}"
    if not changes:
        st.unchanged = True
        return st, "incremental: 0 changes"
    r = fold_changes(changes, st.last_change, st.index(), settings, max_changes)
    if r.full:
        return read_full(reader, settings), f"full read: {r.full}"
    if changes:
        st.last_change, st.last_change_time = changes[-1]["id"], changes[-1]["time"]
    for dev in r.drop_devices:
        st.devices.pop(dev, None)
        for itf in st.interfaces.pop(dev, ()):
            st.ips.pop(itf["id"], None)
        st.services.pop(dev, None)
    if r.devices:
        found = {d["id"]: d for d in reader.by_ids("/api/dcim/devices/", "id", r.devices, _device_params(settings))}
        for dev in r.devices:
            if dev in found:
                st.devices[dev] = found[dev]
                if settings.interfaces and dev not in st.interfaces:
                    r.interfaces_of.add(dev)  # a device new to the inventory: its interfaces too
            else:  # deleted since, or no longer matching the query filters
                st.devices.pop(dev, None)
                for itf in st.interfaces.pop(dev, ()):
                    st.ips.pop(itf["id"], None)
    targets = {d for d in r.interfaces_of if d in st.devices}
    if settings.interfaces and targets:
        itfs, ips = _read_interfaces(reader, settings, targets)
        for dev in targets:
            for itf in st.interfaces.pop(dev, ()):
                st.ips.pop(itf["id"], None)
        fresh = State()
        fresh.set_interfaces(itfs)
        fresh.set_ips(ips)
        st.interfaces.update(fresh.interfaces)
        st.ips.update(fresh.ips)
    what = (
        f"incremental: {r.changes} changes, {len(r.devices)} devices read again, "
        f"{len(r.drop_devices)} dropped, interfaces of {len(targets)} read again"
    )
    return st, what


def cache_file(cache_dir: str, url: str, settings: Settings) -> str:
    return private_cache.path(cache_dir, "netbox", {"url": url, "v": CACHE_VERSION, **settings.cache_identity()})


def load_cache(path: str, url: str) -> State | None:
    """The cached state in ``path``, or None when there is none or it is not usable (another
    NetBox, another format, another Python, damaged, not our own private file)."""
    data = private_cache.read(path, CACHE_VERSION)
    try:
        if not isinstance(data, dict) or data.get("netbox") != url:
            return None
        return State.from_json(data["state"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def save_cache(path: str, url: str, st: State) -> None:
    """Write the cache atomically, readable by its owner only (private_cache: marshal, plain
    data, of this Python version; another one reads NetBox again)."""
    private_cache.write(path, CACHE_VERSION, {"netbox": url, "written": time.time(), "state": st.to_json()})


def read(
    reader: Reader,
    settings: Settings,
    cache_dir: str | None = None,
    max_changes: int = 500,
    use_cache: bool = True,
) -> tuple[State, str]:
    """The records of the inventory: from the cache refreshed by the change log, else read in
    full; (state, a sentence on what was done). Without ``cache_dir`` nothing is cached.

    The collector is paused throughout: records by the 100,000 are decoded, regrouped and
    encoded again, plain data without cycles, and its sweeps of them as they grow took more
    than the rest of a warm refresh."""
    with collector.paused():
        return _read(reader, settings, cache_dir, max_changes, use_cache)


def _read(reader, settings, cache_dir, max_changes, use_cache):
    path = cache_file(cache_dir, reader.url, settings) if cache_dir else None
    cached = load_cache(path, reader.url) if (path and use_cache) else None
    if cached is None:
        st, what = read_full(reader, settings), "full read (no cache)" if path else "full read (cache off)"
    else:
        st, what = refresh(reader, settings, cached, max_changes)
    if path and not st.unchanged:
        try:
            save_cache(path, reader.url, st)
        except OSError as exc:  # the inventory is still right: only the next run is slower
            what += f" (cache not written to {path}: {exc.strerror or exc})"
    return st, what
