"""Alarms about objects that a change removed from NetBox are cleared as gone (netoss.domain.faults.gone):
a service delete's session-down, whichever end was pushed first and however late its syslog came;
never an external peer's. On the portal's tables (SQLite) and the demo's NetBox records."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import pytest
from sqlalchemy import select
from test_fault_processor import app  # noqa: F401 - the fixture: a portal on a migrated SQLite database

from netoss.data.db import db
from netoss.data.models import Alarm, AlarmEvent, Job, ServiceOrder, Ticket, TicketNote
from netoss.data.netbox import NetBox as NetBoxClient
from netoss.domain.faults import gone
from netoss.domain.faults.events import Event
from netoss.domain.faults.processor import Processor, Settings
from netoss.domain.faults.tmf import alarm_json
from netoss.domain.faults.topology import ENDPOINTS, Topology

RECORDS = json.loads((Path(__file__).parent / "test_data" / "netbox_demo_records.json").read_text())
T0 = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
WINDOW = 600  # Settings.change_window


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def topology(drop_addresses=(), drop_interfaces=(), drop_devices=(), removed=(), records=RECORDS) -> Topology:
    """The demo's NetBox without some records, with the change log's deletions ``removed``."""
    t = Topology.from_records(
        [d for d in records["devices"] if d["id"] not in drop_devices],
        [i for i in records["interfaces"] if i["id"] not in drop_interfaces and i["device"]["id"] not in drop_devices],
        [a for a in records["ip_addresses"] if a["id"] not in drop_addresses],
        records["circuits"],
    )
    t.removed = gone.removals_from_changes(list(removed), t)
    return t


FULL = topology()


def _service_link():
    """A customer service's link from the records: its circuit's two interfaces and their
    addresses, PE (the provider's router) first."""
    ends = [i for i in FULL.interfaces.values() if i.circuit is not None]
    circuit = ends[0].circuit
    ends = sorted((i for i in ends if i.circuit == circuit), key=lambda i: not i.device.startswith("pe"))
    out = []
    for intf in ends:
        (address,) = [
            a
            for a in RECORDS["ip_addresses"]
            if a["assigned_object_id"] == intf.id and a["assigned_object_type"] == "dcim.interface"
        ]
        out.append((intf, address))
    return out


(PE_END, PE_ADDRESS), (CE_END, CE_ADDRESS) = _service_link()
PE, CE = PE_END.device, CE_END.device
PE_IP, CE_IP = (a["address"].split("/")[0] for a in (PE_ADDRESS, CE_ADDRESS))


def deleted(record, kind, when, ident):
    """A NetBox change record (``/api/core/object-changes/``) of ``record``'s deletion."""
    return {
        "id": ident,
        "time": when.isoformat().replace("+00:00", "Z"),
        "user_name": "netoss-writer",
        "request_id": f"req-{ident}",
        "action": {"value": "delete", "label": "Deleted"},
        "changed_object_type": kind,
        "changed_object_id": record["id"],
        "object_repr": record.get("address") or record.get("name"),
        "message": "",
        "prechange_data": {k: v for k, v in record.items() if k in ("address", "name", "assigned_object_id")}
        | ({"device": record["device"]["id"]} if isinstance(record.get("device"), dict) else {}),
    }


def service_deleted(when):
    """NetBox after the service's delete: its link's two addresses are gone (the change log says when)."""
    return topology(
        drop_addresses={PE_ADDRESS["id"], CE_ADDRESS["id"]},
        removed=[deleted(PE_ADDRESS, "ipam.ipaddress", when, 901), deleted(CE_ADDRESS, "ipam.ipaddress", when, 902)],
    )


class NetBox:
    """The processor's view of NetBox, changed by the test."""

    def __init__(self, topo):
        self.topo, self.refreshes = topo, 0

    def __call__(self):
        return self.topo

    def refresh_soon(self):
        self.refreshes += 1


@pytest.fixture
def netbox():
    return NetBox(FULL)


@pytest.fixture
def proc(app, netbox):  # noqa: F811 - the app fixture
    return Processor(
        netbox,
        Settings(ticket_hold=2, reopen_window=600, change_window=WINDOW),
        changing_templates=lambda: {"service-order", "config-push"},
    )


@pytest.fixture
def delete_order(app):  # noqa: F811 - the app fixture
    """The service's delete: order 1, carried out by job 1 on both routers from 0 s to 40 s."""
    job = Job(template="service-order", parameters={"order": 1}, created_by="alice", limit=f"{CE},{PE}",
              status="successful", started_at=at(0), finished_at=at(40))  # fmt: skip
    db.session.add(job)
    db.session.flush()
    db.session.add(ServiceOrder(requested_by="alice", external_id="BSS-77", state="completed", job_id=job.id,
                                items=[], state_changes=[]))  # fmt: skip
    db.session.commit()
    return job


def session_down(device, peer, **kw):
    return Event(source="syslog", action="raise", device=device, object_type="bgp_session", object_name=peer,
                 condition="bgp-session-down", specific_problem=f"BGP session to {peer} down: Peer closed the session",
                 **kw)  # fmt: skip


# The end pushed second logs its session down (the other end closed it), never up again.
SIDES = {"PE pushed second": (PE, CE_IP), "CE pushed second": (CE, PE_IP)}


def _active():
    return list(db.session.scalars(select(Alarm).where(Alarm.active_key.is_not(None))))


def _clears(alarm):
    return list(
        db.session.scalars(select(AlarmEvent).where(AlarmEvent.alarm_id == alarm.id, AlarmEvent.action == "clear"))
    )


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("change_log", [True, False], ids=["change log read", "change log unreadable"])
def test_a_session_alarm_raised_before_its_removal_clears_as_gone_and_its_ticket_resolves(
    proc, netbox, delete_order, side, change_log
):
    device, peer = SIDES[side]
    proc.ingest([session_down(device, peer)], now=at(10))
    proc.tick(now=at(13))
    (alarm,) = _active()
    (ticket,) = db.session.scalars(select(Ticket)).all()
    assert ticket.status == "acknowledged" and alarm.ticket_id == ticket.id
    assert proc.tick(now=at(14))["gone"] == 0  # NetBox still has the session: a real fault for all it knows
    # The topology is read again after the delete: the link's addresses are gone.
    link = {PE_ADDRESS["id"], CE_ADDRESS["id"]}
    netbox.topo = service_deleted(at(20)) if change_log else topology(drop_addresses=link)
    report = proc.tick(now=at(60))
    assert report["gone"] == 1 and report["resolved"] == 1
    db.session.refresh(alarm)
    db.session.refresh(ticket)
    assert alarm.state == "cleared" and alarm.active_key is None and alarm.cleared_at is not None
    (clear,) = _clears(alarm)
    assert clear.source == "netoss" and f"address {peer}" in clear.text and "removed from NetBox" in clear.text
    assert f"job {delete_order.id} (service-order by alice)" in clear.text and "service order" in clear.text
    assert "(BSS-77)" in clear.text and "cleared as gone" in clear.text
    if change_log:
        assert "(NetBox user netoss-writer)" in clear.text and "12:00:20" in clear.text
    assert alarm.details["cleared_as_gone"] == clear.text == alarm_json(alarm)["netoss"]["clearedAsGone"]
    assert ticket.status == "resolved" and ticket.status_reason == "all its alarms cleared"
    (note,) = db.session.scalars(select(TicketNote).where(TicketNote.ticket_id == ticket.id)).all()
    assert f"Alarm {alarm.id}" in note.text and "cleared as gone" in note.text
    assert proc.tick(now=at(61))["gone"] == 0  # once


@pytest.mark.parametrize("side", SIDES)
def test_a_late_session_down_of_a_removed_session_is_not_left_active(proc, netbox, delete_order, side):
    """The topology was read after NetBox lost the addresses; the router's line comes after."""
    device, peer = SIDES[side]
    netbox.topo = service_deleted(at(5))
    proc.ingest([session_down(device, peer)], now=at(30))
    report = proc.tick(now=at(30.5))
    assert report["gone"] == 1 and report["opened"] == 0
    assert not _active() and not db.session.scalars(select(Ticket)).all()
    (alarm,) = db.session.scalars(select(Alarm)).all()
    (clear,) = _clears(alarm)
    owner = CE_ADDRESS if peer == CE_IP else PE_ADDRESS
    assert f"address {owner['address']} ({owner['assigned_object']['device']['name']}:" in clear.text
    assert "12:00:05" in clear.text and f"job {delete_order.id}" in clear.text
    assert proc.tick(now=at(40))["opened"] == 0


def test_a_topology_read_before_the_service_existed_catches_up(proc, netbox, delete_order):
    """Added and deleted between two reads of NetBox: the alarm clears once the change log is read."""
    netbox.topo = topology(drop_addresses={PE_ADDRESS["id"], CE_ADDRESS["id"]})  # no trace of the service
    proc.ingest([session_down(PE, CE_IP)], now=at(30))
    proc.tick(now=at(33))
    assert len(_active()) == 1  # nothing says yet that netoss removed it
    netbox.topo = service_deleted(at(25))
    assert proc.tick(now=at(50))["gone"] == 1 and not _active()


def test_an_external_peer_never_in_netbox_is_not_cleared(proc, netbox, delete_order):
    proc.ingest([session_down(PE, "192.0.2.77")], now=at(10))
    proc.tick(now=at(13))
    netbox.topo = service_deleted(at(20))  # NetBox changed, other objects went
    for t in (60, 120, 3600):
        assert proc.tick(now=at(t))["gone"] == 0
    (alarm,) = _active()
    assert "netbox_object" not in alarm.details and not _clears(alarm)
    (ticket,) = db.session.scalars(select(Ticket)).all()
    assert ticket.status == "acknowledged"


def test_an_address_removed_long_before_the_alarm_does_not_clear_it(proc, netbox):
    """The peer's address left NetBox a day ago (the peer is outside netoss now): its session's
    alarms today are real faults."""
    netbox.topo = service_deleted(at(-86000))
    proc.ingest([session_down(PE, CE_IP)], now=at(10))
    assert proc.tick(now=at(13))["gone"] == 0
    assert len(_active()) == 1


def test_a_netbox_that_answers_nothing_clears_nothing(proc, netbox):
    proc.ingest([session_down(PE, CE_IP)], now=at(10))
    proc.tick(now=at(13))
    assert _active()[0].details["netbox_object"] == f"peer address {CE_IP} ({CE}:{CE_END.name})"
    netbox.topo = topology(drop_addresses={a["id"] for a in RECORDS["ip_addresses"]})  # no address readable
    assert proc.tick(now=at(60))["gone"] == 0
    netbox.topo = Topology()  # nothing readable at all
    assert proc.tick(now=at(61))["gone"] == 0
    assert len(_active()) == 1


def test_alarms_of_a_removed_interface_and_of_a_removed_device_clear_as_gone(proc, netbox):
    pe_port = next(i for i in RECORDS["interfaces"] if i["device"]["name"] == PE and not i.get("cable"))
    ce_device = next(d for d in RECORDS["devices"] if d["name"] == CE)

    def down(device, kind, name, condition):
        return Event(source="syslog", action="raise", device=device, object_type=kind, object_name=name,
                     condition=condition, specific_problem=condition)  # fmt: skip

    proc.ingest(
        [
            down(PE, "interface", pe_port["name"], "interface-down"),
            down(PE, "interface", "eth99", "interface-down"),  # never in NetBox
            down(CE, "ospf_adjacency", CE_END.name, "ospf-adjacency-down"),
            down(CE, "device", "", "device-unreachable"),
        ],
        now=at(10),
    )
    proc.tick(now=at(13))
    netbox.topo = topology(
        drop_interfaces={pe_port["id"]},
        drop_devices={ce_device["id"]},
        removed=[deleted(pe_port, "dcim.interface", at(20), 903), deleted(ce_device, "dcim.device", at(21), 904)],
    )
    assert proc.tick(now=at(60))["gone"] == 3
    (left,) = _active()
    assert left.object_name == "eth99"
    texts = {a.object_name or a.device: _clears(a)[0].text for a in db.session.scalars(select(Alarm)) if _clears(a)}
    assert f"interface {PE}:{pe_port['name']} was removed from NetBox" in texts[pe_port["name"]]
    assert f"device {CE} was removed from NetBox" in texts[CE] and f"device {CE}" in texts[CE_END.name]


def test_a_job_that_changed_an_alarms_device_after_the_topology_was_read_makes_it_read_again(proc, netbox):
    netbox.topo = topology()
    netbox.topo.read_at = at(0)
    job = Job(template="service-order", parameters={}, created_by="alice", limit=f"{PE},{CE}", status="running",
              started_at=at(5))  # fmt: skip
    db.session.add(job)
    db.session.commit()
    proc.ingest([session_down(PE, CE_IP)], now=at(10))  # the job is its probable cause
    assert db.session.scalar(select(Alarm)).job_id == job.id
    proc.tick(now=at(11))
    assert netbox.refreshes == 0  # while it runs, the regular refresh does
    job.status, job.finished_at = "successful", at(20)
    db.session.commit()
    proc.tick(now=at(21))
    assert netbox.refreshes == 1  # it ended after the topology was read
    netbox.topo.read_at, netbox.refreshes = at(30), 0  # read again after it ended
    proc.tick(now=at(31))
    assert netbox.refreshes == 0


# -- NetBox's change log ---------------------------------------------------------------------------


def test_removals_name_what_went_and_keep_the_latest_per_object():
    pe_port = next(i for i in RECORDS["interfaces"] if i["device"]["name"] == PE and not i.get("cable"))
    ce_device = next(d for d in RECORDS["devices"] if d["name"] == CE)
    ce_iface = next(i for i in RECORDS["interfaces"] if i["id"] == CE_END.id)
    created = {**deleted(PE_ADDRESS, "ipam.ipaddress", at(50), 1), "action": {"value": "create"}}
    changes = [
        deleted(CE_ADDRESS, "ipam.ipaddress", at(1), 2),
        deleted(CE_ADDRESS, "ipam.ipaddress", at(9), 3),  # re-created, deleted again
        created,  # not a removal
        deleted(pe_port, "dcim.interface", at(2), 4),
        deleted(ce_device, "dcim.device", at(3), 5),
        deleted(ce_iface, "dcim.interface", at(3), 6),  # with its device: named from the device's record
        {**deleted(PE_ADDRESS, "ipam.ipaddress", at(4), 7), "time": "not a time"},
    ]
    out = gone.removals_from_changes(changes, topology(drop_devices={ce_device["id"]}))
    assert set(out) == {
        ("address", CE_IP),
        ("interface", PE, pe_port["name"]),
        ("device", CE),
        ("interface", CE, CE_END.name),
    }
    address = out[("address", CE_IP)]
    assert address.at == at(9) and address.change_id == 3 and address.device == CE
    assert address.what == f"address {CE_ADDRESS['address']} ({CE}:{CE_END.name})" and address.user == "netoss-writer"


class Response:
    def __init__(self, body, status=200):
        self.body, self.status_code = body, status

    def raise_for_status(self):
        if self.status_code >= 400:
            raise RuntimeError(f"{self.status_code} Forbidden")

    def json(self):
        return self.body


class Session:
    """NetBox's /api/core/object-changes/, answering from a list, one page of two at a time."""

    def __init__(self, changes, status=200):
        self.changes, self.status, self.calls = changes, status, []

    def get(self, url, params=None, timeout=None):
        self.calls.append((url, params))
        if self.status != 200:
            return Response({}, self.status)
        if params is None:  # a next page
            return Response({"results": self.changes[2:], "next": None})
        return Response({"results": self.changes[:2], "next": url + "?cursor=2" if len(self.changes) > 2 else None})


def test_the_removal_log_reads_incrementally_and_survives_a_change_log_it_cannot_read(caplog):
    changes = [deleted(CE_ADDRESS, "ipam.ipaddress", at(i), i) for i in (1, 2, 3)]
    log = gone.RemovalLog(horizon=3600, overlap=300)
    session = Session(changes)
    log.update(NetBoxClient("http://netbox.example/", "token", session=session), now=at(10))
    first = [p for _u, p in session.calls if p]
    assert len(first) == 2
    assert all(p["action"] == "delete" and p["time_after"] == at(10 - 3600).isoformat() for p in first)
    assert first[0]["changed_object_type"] == "ipam.ipaddress" and first[0]["related_object_type"] == "dcim.interface"
    assert sorted(log.changes) == [1, 2, 3] and log.removals(FULL)[("address", CE_IP)].at == at(3)
    session.calls.clear()
    log.update(NetBoxClient("http://netbox.example/", "token", session=session), now=at(70))
    assert {p["time_after"] for _u, p in session.calls if p} == {at(70 - 60 - 300).isoformat()}
    with caplog.at_level(logging.WARNING, logger="netoss.faults"):
        for t in (80, 90):
            log.update(NetBoxClient("http://netbox.example/", "token", session=Session([], status=403)), now=at(t))
    assert sorted(log.changes) == [1, 2, 3] and log.read_at == at(70)  # kept, and asked again from there
    assert len([r for r in caplog.records if "change log not read" in r.getMessage()]) == 1
    log.update(NetBoxClient("http://netbox.example/", "token", session=Session([])), now=at(3600 + 2.5))
    assert sorted(log.changes) == [3]  # older than the horizon


def test_the_removal_is_put_down_to_the_job_that_was_running_on_the_device(app):  # noqa: F811
    jobs = [
        Job(template="service-order", parameters={}, created_by="alice", limit=f"{CE},{PE}", status="successful",
            started_at=at(0), finished_at=at(40)),  # the delete: NetBox changed at 20 s
        Job(template="backup", parameters={}, created_by="bob", limit="", status="successful",
            started_at=at(10), finished_at=at(30)),  # every device, at the same time
        Job(template="config-push", parameters={}, created_by="carol", limit=PE, status="successful",
            started_at=at(25), finished_at=at(35)),  # after the change
        Job(template="config-push", parameters={}, created_by="dave", limit="p9", status="running",
            started_at=at(15)),  # other devices
    ]  # fmt: skip
    db.session.add_all(jobs)
    db.session.commit()
    assert gone._job_at({PE, CE}, at(20), WINDOW) is jobs[0]
    assert gone._job_at({PE}, at(32), WINDOW) is jobs[2]
    assert gone._job_at({PE}, at(300), WINDOW) is jobs[2]  # none running: the latest before
    assert gone._job_at({PE}, at(-10), WINDOW) is None


class NetBoxApi:
    """NetBox's REST API for the topology cache: the demo's records, and a change log (or 403)."""

    def __init__(self, records, changes, change_log_status=200):
        self.records, self.changes, self.status, self.paths = records, changes, change_log_status, []
        self.params = []

    def get(self, url, params=None, timeout=None):
        path = url.split("/api/", 1)[1].split("?")[0].rstrip("/")
        self.paths.append(path)
        self.params.append(params)
        if path == "core/object-changes":
            if self.status != 200:
                return Response({}, self.status)
            if "changed_object_type" not in params:  # the newest change: ordering=-id, limit=1
                newest = sorted(self.changes, key=lambda c: -c["id"])[: params["limit"]]
                return Response({"results": [{"id": c["id"], "time": c["time"]} for c in newest], "next": None})
            kinds = params["changed_object_type"]
            kinds = [kinds] if isinstance(kinds, str) else kinds
            return Response({"results": [c for c in self.changes if c["changed_object_type"] in kinds], "next": None})
        key = {path: key for key, path in ENDPOINTS.items()}[path]
        return Response({"results": self.records[key], "next": None})


def test_the_topology_cache_gives_the_change_logs_removals_and_survives_without_it():
    from netoss.domain.faults.pipeline import TopologyCache

    records = {**RECORDS, "ip_addresses": [a for a in RECORDS["ip_addresses"] if a["id"] != CE_ADDRESS["id"]]}
    now = dt.datetime.now(dt.UTC)
    api = NetBoxApi(records, [deleted(CE_ADDRESS, "ipam.ipaddress", now - dt.timedelta(seconds=30), 1)])
    cache = TopologyCache(NetBoxClient("http://netbox.example", "token", session=api))
    topo = cache()
    assert topo.removed[("address", CE_IP)].what.startswith(f"address {CE_ADDRESS['address']} ({CE}:")
    assert topo.read_at is not None and abs((topo.read_at - now).total_seconds()) < 60
    assert "core/object-changes" in api.paths
    # A NetBox user that may not read the change log: the topology still comes, with what was known.
    cache.netbox = NetBoxClient("http://netbox.example", "token", session=NetBoxApi(records, [], change_log_status=403))
    cache.loaded = 0.0
    again = cache()
    assert again is not topo and again.has_device(PE) and ("address", CE_IP) in again.removed


def test_the_topology_is_read_again_only_when_netbox_changed_or_it_is_old():
    """Every ttl the cache asks NetBox's change log for its newest entry (one small request) and
    reads the topology again only when it moved (or after max_age, for writes the log misses):
    at fleet size a read of every interface each minute kept NetBox busy serving the processor."""
    from netoss.domain.faults.pipeline import TopologyCache

    now = dt.datetime.now(dt.UTC)
    api = NetBoxApi(RECORDS, [deleted(CE_ADDRESS, "ipam.ipaddress", now - dt.timedelta(seconds=30), 1)])
    cache = TopologyCache(NetBoxClient("http://netbox.example", "token", session=api))
    reads = lambda: api.paths.count("dcim/interfaces")  # noqa: E731
    first = cache()
    assert reads() == 1
    cache.loaded = 0.0  # the ttl has passed; NetBox has not changed
    assert cache() is first and reads() == 1
    cache.refresh_soon()  # an unknown device: still nothing new in NetBox
    assert cache() is first and reads() == 1
    api.changes.append(deleted(CE_ADDRESS, "ipam.ipaddress", now, 2))  # NetBox changed
    cache.loaded = 0.0
    second = cache()
    assert second is not first and reads() == 2
    cache.loaded, cache.read = 0.0, cache.read - cache.max_age  # unchanged, but an hour old
    assert cache() is not second and reads() == 3
    # A token that may not read the change log: the topology is read at every ttl, as before.
    api.status = 403
    cache.loaded = 0.0
    cache()
    assert reads() == 4
    # Only the fields the topology reads are asked for.
    assert all("fields" in p for p in api.params if p and "changed_object_type" not in p)


def test_the_fields_the_topology_asks_for_build_the_topology_the_whole_records_build():
    """NetBox is asked for a few fields of each record (topology.FIELDS): the topology built from
    them must be the one the whole records give, with each device's primary IPv4 (its traps'
    source address, which bench_faults reads) kept."""
    from netoss.domain.faults.topology import FIELDS

    def cut(records, fields):
        keep = set(fields.split(","))
        return [{k: v for k, v in r.items() if k in keep} for r in records]

    whole = Topology.from_records(**{kind: RECORDS[kind] for kind in FIELDS})
    lean = Topology.from_records(**{kind: cut(RECORDS[kind], FIELDS[kind]) for kind in FIELDS})
    assert sorted(lean.interfaces) == sorted(whole.interfaces)
    assert {e: (i.peer, i.circuit, i.if_index, i.enabled, i.networks) for e, i in lean.interfaces.items()} == {
        e: (i.peer, i.circuit, i.if_index, i.enabled, i.networks) for e, i in whole.interfaces.items()
    }
    assert lean.by_address == whole.by_address and lean.device_by_id == whole.device_by_id
    assert {s.id: s.to_dict() for s in lean.services.values()} == {s.id: s.to_dict() for s in whole.services.values()}
    with_ip = {n for n, d in whole.devices.items() if d.get("primary_ip4")}
    assert with_ip and {n for n, d in lean.devices.items() if d.get("primary_ip4")} == with_ip
