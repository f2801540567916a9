"""Every bench of bench/ runs at a smoke size in `make test`, so that a change that breaks one
fails the tests. No timing is asserted: each must run to its end, exit 0 and print its figures.

- bench_compliance.py needs nothing: tests/unit/test_bench_compliance.py;
- bench_lab.py needs root and no stack: its own names (b*), here;
- bench_portal.py, bench_sot.py and bench_faults.py run here on the test stack (--stack), and
  put back what they changed in it (the worker restarted; the stack's intent synced again; the
  alarms they raised cleared, their tickets resolved);
- bench_config.py and bench_service_orders.py run on the lab of the module that already has one
  configured (test_config.py, test_service_orders_lab.py), with --stack and --lab.
"""

from __future__ import annotations

import pytest
from benches import assert_headings, run_bench

pytestmark = pytest.mark.integration


def test_bench_lab_smoke():
    out = run_bench("bench_lab.py", "--smoke")
    assert_headings(out, "generated ring: 2 routers", "up median", "memory")


def test_bench_portal_smoke(stack, demo_synced):
    out = run_bench("bench_portal.py", "--smoke", "--stack", str(stack.state_dir))
    assert_headings(out, "machine:", "API launches: 3 in", "launch to first event: median")


def test_bench_sot_smoke(stack, demo_synced, nb):
    devices = sorted(d.name for d in nb.dcim.devices.all())
    out = run_bench("bench_sot.py", "--smoke", "--stack", str(stack.state_dir))
    assert_headings(
        out,
        "first run:",
        "second run:",
        "one edit:",
        "nb_inventory --list,",
        "sot_sync of the stack's intent again",
    )
    assert sorted(d.name for d in nb.dcim.devices.all()) == devices, "the bench's devices were not removed"


def _active_alarms(stack, portal_api) -> set[int]:
    resp = portal_api.get(
        f"{stack.portal_url}/tmf-api/alarmManagement/v4/alarm", params={"state": "active", "limit": 1000}, timeout=10
    )
    return {a["id"] for a in resp.json()}


def test_bench_faults_smoke(stack, demo_synced, portal_api):
    before = _active_alarms(stack, portal_api)
    out = run_bench("bench_faults.py", "--smoke", "--stack", str(stack.state_dir))
    assert_headings(
        out,
        "event -> alarm in the API: median",
        "event -> ticket: median",
        "storm: 1000 events",
        "result: every event accounted for",
        "cleanup: ",
    )
    assert _active_alarms(stack, portal_api) <= before, "the bench left alarms raised"
