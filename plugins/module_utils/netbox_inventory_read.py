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
  and a device whose interfaces or addresses changed, or new to the cache, gets them read again
  (at the same time as the devices). A change the log
  cannot pin to devices (a site, role, platform, tag, config context... changed), more changes
  than ``cache_max_changes``, or a change log that no longer reaches back to the cache's newest
  change (pruned, or NetBox restored from a dump) gives a full read instead.

The cache is a file (Python's marshal format: plain data; mode 0600, in a 0700 directory) named
after NetBox's URL and the settings that shape what is read; it never holds the token. An
incremental refresh appends what it changed (a ``Delta``) to a journal beside it instead of
writing the whole cache again (for 100,000 interfaces, tens of MB); the cache is written whole on
a full read, or once the journal holds more than ``JOURNAL_SHARE`` of its records.
"""

from __future__ import annotations

import contextlib
import json
import os
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

CACHE_VERSION = 2  # 2: records grouped as held; a journal beside the cache
JOURNAL_SHARE = 0.1  # the journal is folded into the cache once it holds more than this share of its records
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
    delta: Delta | None = None  # what the refresh that gave this state changed (None: a full read)
    cache_id: str | None = None  # the cache file it was read from (its journal names it)
    journal: list = field(default_factory=list)  # the journal's deltas applied to it, as plain data

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
        """Plain data, grouped as held (no regrouping when read back)."""
        return {
            "devices": self.devices,
            "interfaces": self.interfaces,
            "ips": self.ips,
            "services": self.services,
            "lookups": self.lookups.as_dict(),
            "last_change": self.last_change,
            "last_change_time": self.last_change_time,
        }

    @classmethod
    def from_json(cls, data: dict) -> State:
        return cls(
            devices=data["devices"],
            interfaces=data["interfaces"],
            ips=data["ips"],
            services=data["services"],
            lookups=Lookups.from_dict(data["lookups"]),
            last_change=data["last_change"],
            last_change_time=data["last_change_time"],
        )

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

    def records(self) -> int:
        """How many records it holds (what a journal's size is weighed against)."""
        return (
            len(self.devices)
            + sum(map(len, self.interfaces.values()))
            + sum(map(len, self.ips.values()))
            + sum(map(len, self.services.values()))
        )

    def drop(self, dev) -> None:
        """Forget a device, its interfaces, their addresses and its services."""
        self.devices.pop(dev, None)
        for itf in self.interfaces.pop(dev, ()):
            self.ips.pop(itf["id"], None)
        self.services.pop(dev, None)

    def apply(self, delta: Delta) -> None:
        """What one incremental refresh changed, applied (on the state it was read for, or on the
        same state read back from the cache: the journal)."""
        for dev in delta.drop:
            self.drop(dev)
        self.devices.update(delta.devices)
        for dev, items in delta.interfaces.items():
            for itf in self.interfaces.pop(dev, ()):
                self.ips.pop(itf["id"], None)
            if items:
                self.interfaces[dev] = items
        self.ips.update(delta.ips)
        self.last_change, self.last_change_time = delta.last_change, delta.last_change_time


@dataclass
class Delta:
    """What one incremental refresh changed: the devices gone, the devices read again, and the
    interfaces (with their IP addresses) of the devices whose interfaces were read again."""

    last_change: int
    last_change_time: str | None
    drop: list = field(default_factory=list)  # device ids
    devices: dict = field(default_factory=dict)  # id -> record
    interfaces: dict = field(default_factory=dict)  # device id -> [interface] (all of its interfaces)
    ips: dict = field(default_factory=dict)  # interface id -> [ip], of those interfaces

    def records(self) -> int:
        return (
            len(self.drop)
            + len(self.devices)
            + sum(map(len, self.interfaces.values()))
            + sum(map(len, self.ips.values()))
        )

    def to_json(self) -> dict:
        return {
            "last_change": self.last_change,
            "last_change_time": self.last_change_time,
            "drop": self.drop,
            "devices": self.devices,
            "interfaces": self.interfaces,
            "ips": self.ips,
        }

    @classmethod
    def from_json(cls, data: dict) -> Delta:
        return cls(**{k: data[k] for k in ("last_change", "last_change_time", "drop", "devices", "interfaces", "ips")})


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


def _interface_params(settings: Settings) -> tuple[list, list]:
    """The query of interfaces, and of their IP addresses."""
    return (
        [("fields", ",".join(interface_fields(settings)))],
        [("fields", ",".join(ip_fields(settings))), ("assigned_to_interface", "true")],
    )


def _read_interfaces(reader: Reader, settings: Settings, device_ids=None) -> tuple[list, list]:
    """Interfaces and their IP addresses, of every device (device_ids None) or of these, both
    lists read at once."""
    itf_params, ip_params = _interface_params(settings)
    with ThreadPoolExecutor(max_workers=2) as pool:
        if device_ids is None:
            itfs = pool.submit(reader.list, "/api/dcim/interfaces/", itf_params)
            ips = pool.submit(reader.list, "/api/ipam/ip-addresses/", ip_params)
        else:
            itfs = pool.submit(reader.by_ids, "/api/dcim/interfaces/", "device_id", device_ids, itf_params)
            ips = pool.submit(reader.by_ids, "/api/ipam/ip-addresses/", "device_id", device_ids, ip_params)
        return itfs.result(), ips.result()


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
    state's ``unchanged`` is True when nothing had changed (no need to write the cache), its
    ``delta`` what an incremental refresh changed (None after a full read)."""
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
    delta = Delta(changes[-1]["id"], changes[-1]["time"], drop=sorted(r.drop_devices))
    # The interfaces of the devices whose interfaces changed, and of the devices new to the
    # inventory (theirs are not cached), are read at the same time as the devices: those of a
    # device that turns out to be gone are left out after.
    known = set(st.devices) | r.devices
    wanted = set()
    if settings.interfaces:
        wanted = {d for d in r.interfaces_of if d in known} | {d for d in r.devices if d not in st.interfaces}
        wanted -= r.drop_devices
    itf_params, ip_params = _interface_params(settings)
    with ThreadPoolExecutor(max_workers=3) as pool:
        devices = pool.submit(reader.by_ids, "/api/dcim/devices/", "id", r.devices, _device_params(settings))
        if wanted:
            itfs_read = pool.submit(reader.by_ids, "/api/dcim/interfaces/", "device_id", wanted, itf_params)
            ips_read = pool.submit(reader.by_ids, "/api/ipam/ip-addresses/", "device_id", wanted, ip_params)
        found = {d["id"]: d for d in devices.result()}
        itfs, ips = (itfs_read.result(), ips_read.result()) if wanted else ([], [])
    for dev in r.devices:
        if dev in found:
            delta.devices[dev] = found[dev]
        else:  # deleted since, or no longer matching the query filters
            delta.drop.append(dev)
    present = (set(st.devices) | set(delta.devices)) - set(delta.drop)
    targets = wanted & present
    fresh = State()
    fresh.set_interfaces(itfs)
    fresh.set_ips(ips)
    for dev in targets:
        delta.interfaces[dev] = fresh.interfaces.get(dev, [])
        for itf in delta.interfaces[dev]:
            if itf["id"] in fresh.ips:
                delta.ips[itf["id"]] = fresh.ips[itf["id"]]
    st.apply(delta)
    st.delta = delta
    what = (
        f"incremental: {r.changes} changes, {len(delta.devices)} devices read again, "
        f"{len(delta.drop)} dropped, interfaces of {len(targets)} read again"
    )
    return st, what


def cache_file(cache_dir: str, url: str, settings: Settings) -> str:
    return private_cache.path(cache_dir, "netbox", {"url": url, "v": CACHE_VERSION, **settings.cache_identity()})


def journal_file(path: str) -> str:
    """The journal beside the cache file ``path``."""
    return (path[: -len(".cache")] if path.endswith(".cache") else path) + ".journal"


def load_cache(path: str, url: str) -> State | None:
    """The cached state in ``path`` with its journal applied, or None when there is none or it is
    not usable (another NetBox, another format, another Python, damaged, not our own private
    file). A journal that is not usable, or was written for another cache file (written again
    since), is left out: the cache alone is older, and the change log since it is read."""
    data = private_cache.read(path, CACHE_VERSION)
    if not isinstance(data, dict) or data.get("netbox") != url:
        return None
    try:
        st = _state_of(data)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    journal = private_cache.read(journal_file(path), CACHE_VERSION)
    if not isinstance(journal, dict) or journal.get("netbox") != url or journal.get("cache") != st.cache_id:
        return st
    try:
        for delta in [Delta.from_json(d) for d in journal["deltas"]]:
            st.apply(delta)
        st.journal = journal["deltas"]
    except (ValueError, KeyError, TypeError, AttributeError):
        # A journal half applied changed the records read (the state holds them, not a copy):
        # the cache alone, read again.
        again = private_cache.read(path, CACHE_VERSION)
        return _state_of(again) if isinstance(again, dict) and again.get("netbox") == url else None
    return st


def _state_of(data: dict) -> State:
    st = State.from_json(data["state"])
    st.cache_id = data["id"]
    return st


def save_cache(path: str, url: str, st: State) -> None:
    """Write the cache atomically, readable by its owner only (private_cache: marshal, plain
    data, of this Python version; another one reads NetBox again), and drop its journal."""
    st.cache_id, st.journal = os.urandom(8).hex(), []
    private_cache.write(
        path, CACHE_VERSION, {"netbox": url, "id": st.cache_id, "written": time.time(), "state": st.to_json()}
    )
    with contextlib.suppress(FileNotFoundError):
        os.unlink(journal_file(path))


def save(path: str, url: str, st: State) -> None:
    """Write what a read changed: after an incremental refresh, its delta appended to the journal
    beside the cache (a few records instead of all of them), unless the journal would hold more
    than JOURNAL_SHARE of the state's records: then the whole state, and no journal."""
    if st.delta is not None and st.cache_id:
        deltas = [*st.journal, st.delta.to_json()]
        size = sum(Delta.from_json(d).records() for d in deltas)
        if size <= JOURNAL_SHARE * st.records():
            private_cache.write(
                journal_file(path), CACHE_VERSION, {"netbox": url, "cache": st.cache_id, "deltas": deltas}
            )
            st.journal = deltas
            return
    save_cache(path, url, st)


def read(
    reader: Reader,
    settings: Settings,
    cache_dir: str | None = None,
    max_changes: int = 500,
    use_cache: bool = True,
) -> tuple[State, str]:
    """The records of the inventory: from the cache refreshed by the change log, else read in
    full; (state, a sentence on what was done). Without ``cache_dir`` nothing is cached.

    The collector is paused throughout: records by the 100,000 are decoded (and, on a full
    read, encoded), plain data without cycles, and its sweeps of them as they grow took more
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
            save(path, reader.url, st)
        except OSError as exc:  # the inventory is still right: only the next run is slower
            what += f" (cache not written to {path}: {exc.strerror or exc})"
    return st, what
