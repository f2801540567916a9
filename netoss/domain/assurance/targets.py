"""What Prometheus scrapes and how its series are named, from NetBox's view of the network:
pure functions over NetBox REST records (dicts) and described services.

- :func:`snmp_targets`: one file-SD target group per device that can be polled (active, with a
  primary IPv4 address): the address, the snmp_exporter module of its platform, and the labels
  ``device``, ``site``, ``role``, ``platform`` (a shard keeps its sites' or its hash's devices).
  A device that cannot be polled is listed with the reason.
- :func:`probe_targets`: one target group per active service whose PE has a probe source and
  whose customer end has an address: blackbox_exporter's ICMP probe from the PE to it,
  labelled ``service``, ``customer``, ``circuit``, ``device`` (the PE), ``interface`` (the
  PE's), ``site``.
- :func:`inventory_metrics`: the info series that join measurements to NetBox's names
  (``netoss_device_info``, ``netoss_interface_info``, ``netoss_interface_speed_bits``,
  ``netoss_service_info``, ``netoss_service_objective``), in Prometheus' text format.

Label values are NetBox's names, whatever they hold: the text format escapes them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from netoss.domain.assurance.snmp import module_name

# Custom field of dcim.device: host:port of a blackbox_exporter that probes from the device.
PROBE_FIELD = "netoss_probe"

# The catalog's objectives (services/catalog.yml, per service or the catalog's default) in the
# units the measures have: objective name -> (catalog key, factor).
OBJECTIVES = {
    "latency_seconds": ("latency_ms", 0.001),
    "jitter_seconds": ("jitter_ms", 0.001),
    "loss_ratio": ("loss_percent", 0.01),
    "availability_ratio": ("availability_percent", 0.01),
}


def _slug(obj) -> str:
    return (obj or {}).get("slug") or "" if isinstance(obj, dict) else ""


def _name(obj) -> str:
    return (obj or {}).get("name") or "" if isinstance(obj, dict) else ""


def _status(obj) -> str:
    if isinstance(obj, dict):
        return obj.get("value") or ""
    return obj or ""


def primary_address(device: dict) -> str | None:
    """The device's primary IPv4 address (without its length), None without one."""
    primary = device.get("primary_ip4") or device.get("primary_ip")
    if not isinstance(primary, dict) or not primary.get("address"):
        return None
    address = ipaddress.ip_interface(primary["address"]).ip
    return str(address) if address.version == 4 else None


def probe_sources(devices: list[dict]) -> dict[str, str]:
    """device -> host:port of the probe that measures from it (its PROBE_FIELD in NetBox)."""
    out = {}
    for d in devices:
        value = (d.get("custom_fields") or {}).get(PROBE_FIELD)
        if d.get("name") and isinstance(value, str) and value:
            out[d["name"]] = value
    return out


@dataclass
class Targets:
    snmp: list[dict] = field(default_factory=list)
    probes: list[dict] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # "device pe9" / "service X" -> why


def snmp_targets(devices: list[dict], out: Targets, modules: set[str]) -> None:
    """Add to ``out`` each device to poll; ``modules`` are the platforms with a module of their own."""
    for d in sorted(devices, key=lambda d: d.get("name") or ""):
        name = d.get("name")
        if not name:
            continue
        if _status(d.get("status")) not in ("active", ""):
            out.skipped[f"device {name}"] = f"its status is {_status(d.get('status'))}, not active"
            continue
        address = primary_address(d)
        if address is None:
            out.skipped[f"device {name}"] = "no primary IPv4 address in NetBox"
            continue
        platform = _slug(d.get("platform"))
        out.snmp.append(
            {
                "targets": [address],
                "labels": {
                    "device": name,
                    "site": _slug(d.get("site")),
                    "role": _slug(d.get("role")),
                    "platform": platform,
                    "__param_module": module_name(platform if platform in modules else None),
                },
            }
        )


def objectives(chosen: dict) -> dict[str, float]:
    """Objectives as the catalog gives them (latency_ms, loss_percent, ...) in the measures'
    units (latency_seconds, loss_ratio, ...)."""
    out = {}
    for objective, (key, factor) in OBJECTIVES.items():
        if chosen.get(key) is not None:
            out[objective] = round(float(chosen[key]) * factor, 9)
    return out


def customer_interfaces(services: list[dict], interfaces: list[dict]) -> dict[int, tuple[str, str]]:
    """The NetBox ids of the services' customer-side (CE) interfaces, to (device, interface):
    their addresses are what each service's probe pings."""
    ids = {(_name(i.get("device")), i["name"]): i["id"] for i in interfaces}
    ends = {
        (s["values"].get("ce"), s["values"].get("ce_interface")) for s in services if (s.get("values") or {}).get("ce")
    }
    return {ids[end]: end for end in ends if end in ids}


def probe_targets(services: list[dict], ce_addresses: dict[tuple[str, str], str], probes: dict[str, str], out: Targets):
    """Add to ``out`` a probe of each active service: from its PE (``probes``: device -> the
    host:port of a blackbox_exporter that probes from it) to its customer end's address
    (``ce_addresses``: (device, interface) -> address)."""
    for s in sorted(services, key=lambda s: s["id"]):
        if s.get("status") != "active":
            continue
        values = s.get("values") or {}
        pe, pe_if, ce, ce_if = (values.get(k) for k in ("pe", "pe_interface", "ce", "ce_interface"))
        key = f"service {s['id']}"
        if not pe or not ce:
            out.skipped[key] = "its circuit is not cabled to a PE and a customer router in NetBox"
            continue
        address = ce_addresses.get((ce, ce_if))
        if address is None:
            out.skipped[key] = f"{ce} {ce_if} has no IPv4 address in NetBox"
            continue
        source = probes.get(pe)
        if source is None:
            out.skipped[key] = f"no probe runs from {pe} (docs/assurance.md: probes)"
            continue
        out.probes.append(
            {
                "targets": [address],
                "labels": {
                    "service": s["id"],
                    "circuit": s["id"],
                    "customer": s.get("customer") or "",
                    "offering": s.get("service") or "",
                    "device": pe,
                    "interface": pe_if or "",
                    "site": s.get("site") or "",
                    "__probe_source": source,
                },
            }
        )


# -- the info series ----------------------------------------------------------------------------


def _escape(value) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _series(name: str, labels: dict, value: float = 1) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    return f"{name}{{{inner}}} {value:g}"


HELP = {
    "netoss_device_info": "A device NetBox lists (value 1): its site, role, platform and tenant",
    "netoss_interface_info": "An interface NetBox lists (value 1), with the circuit and customer it serves",
    "netoss_interface_speed_bits": "The interface's speed in NetBox, bit/s",
    "netoss_service_info": "An active customer service (TMF638), value 1",
    "netoss_service_objective": "A service's objective from the service catalog, in the measure's unit",
}


def inventory_metrics(
    devices: list[dict], interfaces: list[dict], services: list[dict], catalog: dict[str | None, dict]
) -> str:
    """The info series, in Prometheus' text exposition format. ``catalog``: each catalog
    service's objectives as the catalog gives them, and under None those of a circuit made
    without a service order."""
    lines: dict[str, list[str]] = {name: [] for name in HELP}
    device_of = {}
    for d in devices:
        if not d.get("name"):
            continue
        device_of[d["name"]] = d
        lines["netoss_device_info"].append(
            _series(
                "netoss_device_info",
                {
                    "device": d["name"],
                    "site": _slug(d.get("site")),
                    "role": _slug(d.get("role")),
                    "platform": _slug(d.get("platform")),
                    "tenant": _name(d.get("tenant")),
                },
            )
        )
    serving: dict[tuple[str, str], dict] = {}
    for s in services:
        values = s.get("values") or {}
        for dev_key, if_key in (("pe", "pe_interface"), ("ce", "ce_interface")):
            if values.get(dev_key) and values.get(if_key):
                serving[(values[dev_key], values[if_key])] = s
    for i in interfaces:
        device = _name(i.get("device"))
        if not device or not i.get("name"):
            continue
        s = serving.get((device, i["name"]), {})
        d = device_of.get(device, {})
        labels = {
            "device": device,
            "interface": i["name"],
            "site": _slug(d.get("site")),
            "tenant": _name(d.get("tenant")),
            "circuit": s.get("id", ""),
            "customer": s.get("customer") or "",
            "service": s.get("id", ""),
        }
        lines["netoss_interface_info"].append(_series("netoss_interface_info", labels))
        if i.get("speed"):
            lines["netoss_interface_speed_bits"].append(
                _series(
                    "netoss_interface_speed_bits", {"device": device, "interface": i["name"]}, int(i["speed"]) * 1000
                )
            )
    for s in sorted(services, key=lambda s: s["id"]):
        if s.get("status") != "active":
            continue
        values = s.get("values") or {}
        base = {"service": s["id"], "customer": s.get("customer") or ""}
        lines["netoss_service_info"].append(
            _series(
                "netoss_service_info",
                {
                    **base,
                    "offering": s.get("service") or "",
                    "device": values.get("pe") or "",
                    "interface": values.get("pe_interface") or "",
                    "ce": values.get("ce") or "",
                    "bandwidth_kbps": values.get("bandwidth") or "",
                },
            )
        )
        chosen = catalog.get(s.get("service"), catalog.get(None) or {})
        for objective, value in sorted(objectives(chosen).items()):
            lines["netoss_service_objective"].append(
                _series("netoss_service_objective", {**base, "objective": objective}, value)
            )
    out = []
    for name, series in lines.items():
        out += [f"# HELP {name} {HELP[name]}", f"# TYPE {name} gauge", *sorted(series)]
    return "\n".join(out) + "\n"
