"""bench/bench_faults.py's choice of links on a stack in use: a link under an active maintenance
window is not the bench's (its alarms would be planned, without a ticket). The bench itself runs
in tests/integration/test_bench_smoke.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from netoss.domain.faults.topology import Topology

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_faults.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_faults", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _topology() -> Topology:
    """core-a eth0 -- edge-b eth0 (a cable); edge-b eth7 -- circuit X-1 (a customer's access)."""
    devices = [{"id": 1, "name": "core-a"}, {"id": 2, "name": "edge-b"}]

    def intf(i, device, name, peer=None, circuit=None):
        return {
            "id": i, "name": name, "device": {"name": device},
            "connected_endpoints_type": "dcim.interface" if peer else None,
            "connected_endpoints": [{"device": {"name": peer[0]}, "name": peer[1]}] if peer else [],
            "link_peers_type": "circuits.circuittermination" if circuit else None,
            "link_peers": [{"circuit": {"id": circuit}}] if circuit else [],
        }  # fmt: skip

    interfaces = [
        intf(1, "core-a", "eth0", peer=("edge-b", "eth0")),
        intf(2, "edge-b", "eth0", peer=("core-a", "eth0")),
        intf(3, "edge-b", "eth7", circuit=9),
    ]
    circuits = [{"id": 9, "cid": "X-1", "tenant": {"name": "Initech"}, "status": "active"}]
    return Topology.from_records(devices, interfaces, [], circuits)


def test_links_under_a_maintenance_window_are_left_out():
    bench, topo = _bench(), _topology()
    link = (("core-a", "eth0"), ("edge-b", "eth0"), [])
    assert not bench.under_window(link, topo, [])
    assert not bench.under_window(link, topo, [{"devices": ["other"], "services": ["Y-2"]}])
    assert bench.under_window(link, topo, [{"devices": ["edge-b"], "services": []}])
    assert bench.under_window(link, topo, [{"devices": ["*"], "services": []}])
    # X-1 rides edge-b: its sessions' alarms on edge-b name it, so they would be planned.
    assert bench.under_window(link, topo, [{"devices": [], "services": ["X-1"]}])
