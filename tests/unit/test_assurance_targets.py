"""What Prometheus scrapes and how its series are named, from NetBox records: targets for every
device that can be polled and every active service that can be probed (the others listed with
the reason), and the info series in Prometheus' text format, escaped whatever NetBox holds."""

from __future__ import annotations

import http.client
import threading

from netoss.daemons import assurance as daemon
from netoss.domain.assurance import targets as tg


def _device(name, address="10.9.0.5/24", platform="eos", status="active", probe=None, **extra):
    return {
        "id": hash(name) % 1000,
        "name": name,
        "status": {"value": status},
        "primary_ip4": {"address": address} if address else None,
        "site": {"slug": "lon-1"},
        "role": {"slug": "edge"},
        "platform": {"slug": platform} if platform else None,
        "tenant": None,
        "custom_fields": {tg.PROBE_FIELD: probe} if probe else {},
        **extra,
    }


def _service(cid, status="active", **values):
    return {
        "id": cid,
        "service": "fast-dia",
        "status": status,
        "customer": "Initech",
        "site": "lon-1",
        "values": values,
    }


def test_every_pollable_device_is_a_target_with_its_platform_module():
    out = tg.Targets()
    devices = [
        _device("edge-2", platform="frr"),
        _device("edge-1"),
        _device("spare", status="planned"),
        _device("nomgmt", address=None),
        _device("v6only", address="2001:db8::5/64"),
    ]
    tg.snmp_targets(devices, out, modules={"frr"})
    assert out.snmp == [
        {
            "targets": ["10.9.0.5"],
            "labels": {
                "device": "edge-1",
                "site": "lon-1",
                "role": "edge",
                "platform": "eos",
                "__param_module": "netoss-default",
            },
        },
        {
            "targets": ["10.9.0.5"],
            "labels": {
                "device": "edge-2",
                "site": "lon-1",
                "role": "edge",
                "platform": "frr",
                "__param_module": "netoss-frr",
            },
        },
    ]
    assert out.skipped == {
        "device spare": "its status is planned, not active",
        "device nomgmt": "no primary IPv4 address in NetBox",
        "device v6only": "no primary IPv4 address in NetBox",
    }


def test_each_active_service_is_probed_from_its_pe_to_the_customer_address():
    services = [
        _service("C-2", pe="agg-1", pe_interface="xe-0/0/1", ce="cpe-2", ce_interface="ge0"),
        _service("C-1", pe="agg-1", pe_interface="xe-0/0/0", ce="cpe-1", ce_interface="ge0"),
        _service("C-3", status="planned", pe="agg-1", pe_interface="x", ce="cpe-3", ce_interface="ge0"),
        _service("C-4", pe="agg-9", pe_interface="x", ce="cpe-4", ce_interface="ge0"),
        _service("C-5", pe="agg-1", pe_interface="x", ce="cpe-5", ce_interface="ge0"),
        _service("C-6"),
    ]
    addresses = {("cpe-1", "ge0"): "100.64.0.1", ("cpe-2", "ge0"): "100.64.0.3", ("cpe-4", "ge0"): "100.64.0.5"}
    out = tg.Targets()
    tg.probe_targets(services, addresses, {"agg-1": "probe-agg-1.example.net:9115"}, out)
    assert [(g["targets"], g["labels"]["service"], g["labels"]["interface"]) for g in out.probes] == [
        (["100.64.0.1"], "C-1", "xe-0/0/0"),
        (["100.64.0.3"], "C-2", "xe-0/0/1"),
    ]
    assert out.probes[0]["labels"]["__probe_source"] == "probe-agg-1.example.net:9115"
    assert out.probes[0]["labels"]["customer"] == "Initech" and out.probes[0]["labels"]["device"] == "agg-1"
    assert out.skipped == {
        "service C-4": "no probe runs from agg-9 (docs/assurance.md: probes)",
        "service C-5": "cpe-5 ge0 has no IPv4 address in NetBox",
        "service C-6": "its circuit is not cabled to a PE and a customer router in NetBox",
    }


def test_the_customer_interfaces_to_read_addresses_of_are_the_services_ce_ends():
    services = [
        _service("C-1", pe="agg-1", pe_interface="xe-0/0/0", ce="cpe-1", ce_interface="ge0"),
        _service("C-2", pe="agg-1", pe_interface="xe-0/0/1", ce="cpe-2", ce_interface="ge1"),
        _service("C-6"),  # not cabled: nothing to read
    ]
    interfaces = [
        {"id": 11, "name": "ge0", "device": {"name": "cpe-1"}},
        {"id": 12, "name": "ge0", "device": {"name": "cpe-2"}},  # cpe-2's other port
        {"id": 13, "name": "xe-0/0/0", "device": {"name": "agg-1"}},
    ]
    assert tg.customer_interfaces(services, interfaces) == {11: ("cpe-1", "ge0")}


def test_probe_sources_come_from_the_devices_custom_field():
    devices = [_device("a", probe="10.0.0.1:9115"), _device("b"), _device("c", probe="")]
    assert tg.probe_sources(devices) == {"a": "10.0.0.1:9115"}


def test_info_series_join_interfaces_to_circuits_customers_and_objectives():
    devices = [_device("agg-1", tenant={"name": 'Ops "core"'}), _device("cpe-1")]
    interfaces = [
        {"id": 1, "name": "xe-0/0/0", "device": {"name": "agg-1"}, "speed": 10_000_000},
        {"id": 2, "name": "ge0", "device": {"name": "cpe-1"}, "speed": None},
        {"id": 3, "name": "lo\\0", "device": {"name": "agg-1"}, "speed": None},
    ]
    services = [_service("C-1", pe="agg-1", pe_interface="xe-0/0/0", ce="cpe-1", ce_interface="ge0", bandwidth=50000)]
    catalog = {"fast-dia": {"latency_ms": 20, "loss_percent": 0.5}, None: {"latency_ms": 80}}
    text = tg.inventory_metrics(devices, interfaces, services, catalog)
    lines = text.splitlines()
    assert (
        'netoss_device_info{device="agg-1",site="lon-1",role="edge",platform="eos",tenant="Ops \\"core\\""} 1' in lines
    )
    assert (
        'netoss_interface_info{device="agg-1",interface="xe-0/0/0",site="lon-1",tenant="Ops \\"core\\"",'
        'circuit="C-1",customer="Initech",service="C-1"} 1'
    ) in lines
    assert 'netoss_interface_info{device="agg-1",interface="lo\\\\0",site="lon-1",tenant="Ops \\"core\\"",' in text
    assert 'netoss_interface_speed_bits{device="agg-1",interface="xe-0/0/0"} 1e+10' in lines
    assert 'netoss_service_objective{service="C-1",customer="Initech",objective="latency_seconds"} 0.02' in lines
    assert 'netoss_service_objective{service="C-1",customer="Initech",objective="loss_ratio"} 0.005' in lines
    assert "# TYPE netoss_service_info gauge" in lines
    # A circuit made without a service order is held to the catalog's own objectives.
    legacy = [dict(services[0], service=None)]
    text = tg.inventory_metrics(devices, interfaces, legacy, catalog)
    assert 'netoss_service_objective{service="C-1",customer="Initech",objective="latency_seconds"} 0.08' in text


def test_the_inventory_series_are_served_to_the_bearer_token_only():
    class Inventory:
        metrics = "netoss_device_info 1\n"

    server = daemon.http.server.ThreadingHTTPServer(("127.0.0.1", 0), daemon._handler(Inventory(), "t0ken"))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:

        def get(path, token=None):
            conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
            conn.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
            resp = conn.getresponse()
            return resp.status, resp.read().decode()

        assert get("/metrics")[0] == 401
        assert get("/metrics", "wrong")[0] == 401
        assert get("/metrics", "t0ken") == (200, "netoss_device_info 1\n")
        assert get("/other", "t0ken")[0] == 404
    finally:
        server.shutdown()


def test_targets_are_replaced_atomically_and_only_when_they_change(tmp_path):
    path = tmp_path / "snmp.json"
    assert daemon.write_if_changed(path, "[]\n")
    mtime = path.stat().st_mtime_ns
    assert not daemon.write_if_changed(path, "[]\n") and path.stat().st_mtime_ns == mtime
    assert daemon.write_if_changed(path, "[1]\n") and path.read_text() == "[1]\n"
    assert [p.name for p in tmp_path.iterdir()] == ["snmp.json"]
