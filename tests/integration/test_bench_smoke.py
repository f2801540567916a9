"""Every bench of bench/ runs at a smoke size in `make test`, so that a change that breaks one
fails the tests. No timing is asserted: each must run to its end, exit 0 and print its figures.

- bench_compliance.py needs nothing: tests/unit/test_bench_compliance.py;
- bench_lab.py needs root and no stack: its own names (b*), here;
- bench_scale.py runs here on the test stack (--stack), in a NetBox branch it deletes;
- bench_portal.py, bench_sot.py, bench_inventory.py, bench_faults.py, bench_ingest.py,
  bench_compliance_portal.py and bench_lists.py run here on the test stack (--stack), and put
  back what they changed in it (the worker restarted; the stack's intent synced again; the
  alarms they raised cleared, their tickets resolved; the compliance runs recorded deleted; the
  inventory bench's devices removed; the rows they loaded deleted);
- bench_config.py and bench_service_orders.py run on the lab of the module that already has one
  configured (test_config.py, test_service_orders_lab.py), with --stack and --lab.
"""

from __future__ import annotations

import time

import pytest
from benches import assert_headings, run_bench

pytestmark = pytest.mark.integration


def test_bench_lab_smoke():
    out = run_bench("bench_lab.py", "--smoke")
    assert_headings(out, "generated ring: 2 routers", "up median", "memory")


def test_bench_compliance_portal_smoke(stack):
    out = run_bench("bench_compliance_portal.py", "--smoke", "--stack", str(stack.state_dir))
    assert_headings(out, "machine:", "compliance in the portal: 30 devices", "record run 2:", "API results, first page",
                    "page device history", "put back: 2 runs deleted")  # fmt: skip


def test_bench_portal_smoke(stack, demo_synced):
    out = run_bench("bench_portal.py", "--smoke", "--stack", str(stack.state_dir))
    assert_headings(
        out,
        "machine:",
        "API launches (sot-sync, check mode): 3 in",
        "API launches (config-push naming 2 devices): 3 in",
        "launch to first event: median",
    )


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


def test_bench_scale_smoke(stack, demo_synced, nb):
    devices = sorted(d.name for d in nb.dcim.devices.all())
    out = run_bench("bench_scale.py", "--smoke", "--stack", str(stack.state_dir))
    assert_headings(out, "in NetBox branch", "bulk-API floor", "first run:", "nothing to do:", "one edit:")
    assert sorted(d.name for d in nb.dcim.devices.all()) == devices, "the bench wrote to the stack's main"


def test_bench_inventory_smoke(stack, demo_synced, nb):
    devices = sorted(d.name for d in nb.dcim.devices.all())
    out = run_bench("bench_inventory.py", "--smoke", "--stack", str(stack.state_dir))
    assert_headings(
        out,
        "machine:",
        "NetBox floor (GraphQL, plain client)",
        "cold, devices only",
        "cold, with interfaces",
        "warm, with interfaces",
        "speed-up, cold devices only:",
        "cleanup: the bench's devices removed",
    )
    assert out.count("outputs compared") >= 2 and "differences:" not in out, out
    assert sorted(d.name for d in nb.dcim.devices.all()) == devices, "the bench's devices were not removed"


def test_bench_lists_smoke(stack, demo_synced, portal_api):
    def bench_rows():
        jobs = portal_api.get(f"{stack.portal_url}/api/v1/jobs", params={"created_by": "bench-lists"}, timeout=30)
        return int(jobs.headers["X-Total-Count"])

    # The lab tests' leftovers cleared first: a real alarm still active on a device the bench's
    # alarms are on folds into the bench's ticket, and once the bench deletes that ticket the
    # processor opens a new one for the real alarm (seen once in make test).
    _clear_fault_slate(stack, portal_api)
    before = _open_alarm_tickets(stack, portal_api)
    out = run_bench("bench_lists.py", "--smoke", "--stack", str(stack.state_dir))
    assert_headings(
        out,
        "machine:",
        "portal rows COPYed: 500 alarms",
        "alarms API, active, 1st page",
        "services API (TMF638), 1st page",
        "device picker API, site+role+name",
        "slowest portal call:",
    )
    assert bench_rows() == 0, "the bench's rows were not deleted"
    # Its active alarms are on the stack's devices: the fault processor opens tickets for them
    # while the bench runs, and the bench takes those away with its alarms.
    left = {ref: t for ref, t in _open_alarm_tickets(stack, portal_api).items() if ref not in before}
    assert not left, f"tickets the bench's alarms opened were left open: {left}"


ALARMS = "/tmf-api/alarmManagement/v4/alarm"
TICKETS = "/tmf-api/troubleTicket/v4/troubleTicket"


def _active_alarms(stack, portal_api) -> set[int]:
    resp = portal_api.get(f"{stack.portal_url}{ALARMS}", params={"state": "active", "limit": 1000}, timeout=10)
    return {a["id"] for a in resp.json()}


def _open_alarm_tickets(stack, portal_api) -> dict[str, str]:
    resp = portal_api.get(
        f"{stack.portal_url}{TICKETS}", params={"status": "open", "ticketType": "alarm", "limit": 1000}, timeout=10
    )
    return {t["id"]: f"{t['name']!r} ({t['status']})" for t in resp.json()}


def _clear_fault_slate(stack, portal_api) -> None:
    """What the lab tests left behind on the shared stack (the alarms of the routers stopped by
    their labs' teardown, and those alarms' tickets) cleared by hand, as an operator would, until
    the stack has been quiet for 3 s: no alarm active, no alarm ticket open. Each alarm is cleared
    once: a flapping one's clear waits 30 quiet seconds (clearing it again would restart them),
    and a teardown's last events can still be on their way when this starts."""
    deadline, quiet_since, cleared = time.monotonic() + 120, None, set()
    while True:
        active = _active_alarms(stack, portal_api)
        for alarm in active - cleared:
            resp = portal_api.patch(f"{stack.portal_url}{ALARMS}/{alarm}", json={"state": "cleared"}, timeout=60)
            assert resp.status_code in (200, 202), resp.text  # 202: applied shortly (or after its quiet time)
            cleared.add(alarm)
        left = _open_alarm_tickets(stack, portal_api)
        if active or left:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= 3:
            return
        assert time.monotonic() < deadline, f"alarms or alarm tickets still there after 120 s: {active} {left}"
        time.sleep(0.5)


def test_bench_faults_smoke(stack, demo_synced, portal_api, nb):
    """On a stack in use the bench keeps to the links no alarm or open ticket is about: with the
    slate clean it takes every link NetBox has, and leaves no alarm raised."""
    _clear_fault_slate(stack, portal_api)
    # Links: pairs of interfaces NetBox traces to each other (cables, and circuits end to end).
    ends = sum(1 for i in nb.dcim.interfaces.all() if i.connected_endpoints_type == "dcim.interface")
    links = range(ends // 2)
    out = run_bench("bench_faults.py", "--smoke", "--stack", str(stack.state_dir))
    assert_headings(
        out,
        f"{len(links)} of {len(links)} links free of alarms, open tickets and maintenance windows",
        "event -> alarm in the API: median",
        "event -> ticket: median",
        "storm: 1000 events",
        "result: every event accounted for",
        "cleanup: ",
    )
    assert not _active_alarms(stack, portal_api), "the bench left alarms raised"


def test_bench_ingest_smoke_kill_9_of_a_processor_mid_stream_loses_nothing_and_stores_nothing_twice(
    stack, demo_synced, portal_api
):
    """Two processors share the stream; one is killed with SIGKILL in the middle of it: every
    event is still stored or rejected, counted once, and stored once (alarm_events rows = the
    events counted stored). The bench clears the alarms it raised."""
    _clear_fault_slate(stack, portal_api)
    out = run_bench("bench_ingest.py", "--smoke", "--stack", str(stack.state_dir))
    assert_headings(
        out,
        "links free of alarms, open tickets and maintenance windows",
        "sending 2000/s for 3 s to 2 processor(s)",
        "kill -9 of processor",
        "nothing stored twice, nothing lost",
        "kernel UDP receive-buffer drops: 0",
        "result: every event accounted for, none stored twice",
        "cleanup: ",
    )
    assert not _active_alarms(stack, portal_api), "the bench left alarms raised"
