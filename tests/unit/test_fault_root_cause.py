"""A ticket keeps one root cause, named after it, whatever order its alarms come and go in.

On a network unlike the demo's: a ring of five routers (``osl-cr-01`` ...), ``swpN`` ports, eBGP
and OSPF over each ring link, addresses in 10.77.0.0/16. One ring link fails: the interfaces at
both ends go down, the OSPF adjacency on it and the BGP sessions over it at both ends; then it
recovers. Every order of arrival and of clearing gives one ticket, named after the link, with
exactly one root cause (an interface alarm) that stays its root after it clears, in the
processor's tables in PostgreSQL (tests/unit/postgres_cluster.py).
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

import pytest
from sqlalchemy import select, text

from netoss.data.db import db
from netoss.data.models import Alarm, Ticket, TicketNote
from netoss.domain.faults.correlate import RANK, correlate, group_of
from netoss.domain.faults.events import Event
from netoss.domain.faults.processor import Processor, Settings, ticket_name
from netoss.domain.faults.topology import Topology, link_name
from netoss.web import create_app

T0 = dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)
SITES = ["osl", "bgo", "trd", "svg", "cph"]
KEYS = ["if-a", "if-b", "ospf-a", "ospf-b", "bgp-a", "bgp-b"]  # the alarms of a link failure, at its ends a and b


@dataclass(frozen=True)
class Link:
    """Ring link ``index``: router a's swp3 cabled to router b's swp1, a /31 with a's address first."""

    index: int
    a: str
    b: str
    a_address: str
    b_address: str

    @property
    def name(self) -> str:
        """The ticket's name, the ends sorted as topology.link_name sorts them."""
        (d1, i1), (d2, i2) = sorted([(self.a, "swp3"), (self.b, "swp1")])
        return f"Link down: {d1}:{i1} - {d2}:{i2}"

    def event(self, action: str, key: str) -> Event:
        """The event of one of its failure's alarms: interface, OSPF adjacency or BGP session, at end a or b."""
        kind, end = key.rsplit("-", 1)
        device, interface, peer = (self.a, "swp3", self.b_address) if end == "a" else (self.b, "swp1", self.a_address)
        obj, name, condition, severity, problem = {
            "if": ("interface", interface, "interface-down", "major", f"Interface {interface} down"),
            "ospf": ("ospf_adjacency", interface, "ospf-adjacency-down", "minor",
                     f"OSPF adjacency with {peer} on {interface} left Full: Deleted (KillNbr)"),
            "bgp": ("bgp_session", peer, "bgp-session-down", "major", f"BGP session to {peer} down: Interface down"),
        }[kind]  # fmt: skip
        return Event(source="syslog", action=action, device=device, object_type=obj, object_name=name,
                     condition=condition, severity=severity, specific_problem=problem)  # fmt: skip


class Ring:
    """NetBox records of a ring of ``n`` routers (osl-cr-01, bgo-cr-01, ... cph-cr-01, osl-cr-02, ...):
    router i's swp3 is cabled to router i+1's swp1, eBGP and OSPF over each link's /31 in
    10.77.0.0/16, a loopback in 10.255.0.0/16, management on eth0 in 100.127.0.0/16."""

    def __init__(self, n: int):
        names = [f"{SITES[i % len(SITES)]}-cr-{i // len(SITES) + 1:02d}" for i in range(n)]
        devices = [{"id": i + 1, "name": name} for i, name in enumerate(names)]
        interfaces, addresses, ids = [], [], itertools.count(1)

        def interface(device, name, peer=None):
            record = {"id": next(ids), "name": name, "device": {"name": device}, "enabled": True}
            if peer:
                record["connected_endpoints_type"] = "dcim.interface"
                record["connected_endpoints"] = [{"device": {"name": peer[0]}, "name": peer[1]}]
            interfaces.append(record)
            return record["id"]

        def address(cidr, interface_id):
            addresses.append({"address": cidr, "assigned_object_type": "dcim.interface",
                              "assigned_object_id": interface_id})  # fmt: skip

        self.links = []
        for i, a in enumerate(names):
            b = names[(i + 1) % n]
            net = f"10.77.{i // 128}.{(i % 128) * 2}"
            first, second = net, net[: net.rindex(".") + 1] + str((i % 128) * 2 + 1)
            address(f"{first}/31", interface(a, "swp3", (b, "swp1")))
            address(f"{second}/31", interface(b, "swp1", (a, "swp3")))
            address(f"10.255.{i // 256}.{i % 256}/32", interface(a, "lo"))
            address(f"100.127.{(i + 1) // 256}.{(i + 1) % 256}/16", interface(a, "eth0"))
            self.links.append(Link(i, a, b, first, second))
        self.topology = Topology.from_records(devices, interfaces, addresses, [])


SMALL = Ring(5)  # the story of issue 14, in names of our own
LINK = SMALL.links[0]  # osl-cr-01:swp3 - bgo-cr-01:swp1, 10.77.0.0/31
TOPO = SMALL.topology
A, B = LINK.a, LINK.b
KEY = link_name(TOPO.link(A, "swp3"))
NAME = "Link down: bgo-cr-01:swp1 - osl-cr-01:swp3"


def event(action: str, key: str) -> Event:
    return LINK.event(action, key)


def test_the_ring_puts_every_alarm_of_a_link_failure_on_the_link():
    assert (A, B, KEY, LINK.name) == ("osl-cr-01", "bgo-cr-01", "link bgo-cr-01:swp1 osl-cr-01:swp3", NAME)
    assert TOPO.interface_to(A, "10.77.0.1").name == "swp3" and TOPO.device_of_address("10.77.0.0") == A
    assert {group_of(event("raise", k), TOPO).key for k in KEYS} == {KEY}
    big = Ring(720)
    assert len({link_name(big.topology.link(link.a, "swp3")) for link in big.links}) == 720


def test_a_link_is_named_by_its_ends_whatever_its_names_hold():
    """NetBox allows spaces in device names: the name comes from the link's ends, not from
    splitting the correlation key."""
    devices = [{"id": 1, "name": "osl core 1"}, {"id": 2, "name": "bgo core 1"}]
    interfaces = [
        {"id": 1, "name": "xe-0/0/1", "device": {"name": "osl core 1"}, "connected_endpoints_type": "dcim.interface",
         "connected_endpoints": [{"device": {"name": "bgo core 1"}, "name": "xe-0/0/2"}]},
        {"id": 2, "name": "xe-0/0/2", "device": {"name": "bgo core 1"}, "connected_endpoints_type": "dcim.interface",
         "connected_endpoints": [{"device": {"name": "osl core 1"}, "name": "xe-0/0/1"}]},
    ]  # fmt: skip
    topo = Topology.from_records(devices, interfaces, [], [])
    root = Alarm(device="osl core 1", object_type="interface", object_name="xe-0/0/1", condition="interface-down",
                 correlation=link_name(topo.link("osl core 1", "xe-0/0/1")), affected_services=[])  # fmt: skip
    assert ticket_name(root, [root], topo) == "Link down: bgo core 1:xe-0/0/2 - osl core 1:xe-0/0/1"


# -- correlation: pure logic ---------------------------------------------------------------


class Fake:
    def __init__(self, id, key, seconds, active=True):
        e = event("raise", key)
        self.id, self.device, self.object_type, self.object_name = id, e.device, e.object_type, e.object_name
        self.condition, self.fingerprint = e.condition, e.fingerprint
        self.raised_at = T0 + dt.timedelta(seconds=seconds)
        self.active_key = self.fingerprint if active else None


def test_a_cleared_root_stays_the_root_of_what_is_left_of_its_problem():
    """The interfaces came back first; the OSPF adjacency and a BGP session are still down: they
    stay symptoms of the cleared interface alarm that their ticket has as its root cause."""
    root = Fake(1, "if-a", 0.2, active=False)
    left = [Fake(2, "bgp-a", 0.0), Fake(3, "ospf-b", 0.5)]
    v = correlate([*left, root], TOPO, anchors={root.id})
    assert v[1].is_root_cause and v[1].correlation == KEY
    assert [(v[a.id].is_root_cause, v[a.id].parent_id, v[a.id].correlation) for a in left] == [(False, 1, KEY)] * 2
    # Without the ticket's root, the OSPF adjacency would be taken for the root cause.
    assert correlate(left, TOPO)[3].is_root_cause


def test_a_more_fundamental_alarm_still_takes_over_a_cleared_root():
    """A BGP session was the root (the interfaces said nothing yet) and cleared; an interface
    alarm of the same link is more fundamental: it becomes the root cause."""
    session = Fake(1, "bgp-b", 0.0, active=False)
    interface = Fake(2, "if-b", 5.0)
    v = correlate([session, interface], TOPO, anchors={session.id})
    assert v[2].is_root_cause and (v[1].is_root_cause, v[1].parent_id) == (False, 2)


def test_a_later_alarm_of_the_same_rank_does_not_take_over_the_root():
    first = Fake(1, "if-b", 0.0, active=False)
    again = Fake(2, "if-b", 30.0)  # the interface went down again while the ticket is open
    other_end = Fake(3, "if-a", 0.0)  # raised at the same moment as the root, a later id
    v = correlate([again, other_end, first], TOPO, anchors={first.id})
    assert v[1].is_root_cause and v[2].parent_id == 1 and v[3].parent_id == 1


class FakeDevice(Fake):
    def __init__(self, id, device, seconds, cleared=None):
        self.id, self.device, self.object_type, self.object_name = id, device, "device", ""
        self.condition, self.fingerprint = "device-unreachable", f"{device}|device:|device-unreachable"
        self.raised_at = T0 + dt.timedelta(seconds=seconds)
        self.cleared_at = None if cleared is None else T0 + dt.timedelta(seconds=cleared)
        self.active_key = self.fingerprint if cleared is None else None


def test_a_cleared_unreachable_device_explains_only_what_came_before_it_answered_again():
    device = FakeDevice(1, B, 0.0, cleared=10.0)  # the root of an open ticket
    before, after = Fake(2, "if-b", 1.0), Fake(3, "bgp-a", 20.0)
    v = correlate([device, before, after], TOPO, anchors={1})
    assert (v[2].is_root_cause, v[2].parent_id) == (False, 1)
    assert v[3].is_root_cause and v[3].correlation == KEY  # a problem of its own
    # Unreachable again while its ticket is open: everything that involves it is under its root again.
    again = FakeDevice(4, B, 19.0)
    v = correlate([device, before, after, again], TOPO, anchors={1})
    assert v[1].is_root_cause and all((v[i].is_root_cause, v[i].parent_id) == (False, 1) for i in (2, 3, 4))


# -- the processor, in PostgreSQL ---------------------------------------------------------


@pytest.fixture(scope="module")
def app(postgres):
    app = create_app({"SQLALCHEMY_DATABASE_URI": postgres.database(), "SECRET_KEY": "t", "TESTING": True})
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def _fresh() -> None:
    db.session.rollback()
    for table in ("alarm_events", "ticket_notes", "ticket_status_changes", "alarms", "tickets"):
        db.session.execute(text(f"DELETE FROM {table}"))  # noqa: S608 (our own table names)
    db.session.commit()


def _processor(topo: Topology = TOPO) -> Processor:
    return Processor(lambda: topo, Settings(ticket_hold=2, reopen_window=600, flap_count=3, flap_window=60))


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def _tickets(links: dict[str, Link], stories: dict[str, str], direct: bool = True) -> dict[str, tuple[Ticket, Alarm]]:
    """The ticket of each failed link (by correlation key), checked: one ticket per link, named
    after it, with exactly one root cause among its alarms (the ticket's root alarm, an interface
    alarm), every other alarm of it correlated under it (``direct``: with the root as parent),
    and one rootCause among its TMF621 related alarms."""
    db.session.expire_all()
    tickets = {t.id: t for t in db.session.scalars(select(Ticket))}
    alarms: dict[str, list[Alarm]] = {}
    for a in db.session.scalars(select(Alarm).order_by(Alarm.id)):
        alarms.setdefault(a.correlation, []).append(a)
    assert len(tickets) == len(links) and set(alarms) == set(links), sorted(t.name for t in tickets.values())
    found = {}
    for key, link in links.items():
        story, members = stories[key], alarms[key]
        ids = {a.ticket_id for a in members}
        assert len(ids) == 1 and None not in ids, f"{story}: alarms on tickets {ids}"
        ticket = tickets[ids.pop()]
        roots = [a for a in members if a.is_root_cause]
        assert [a.id for a in roots] == [ticket.root_alarm_id], (
            f"{story}: roots {[(a.id, a.alarmed_object, a.state) for a in roots]}, the ticket's {ticket.root_alarm_id}"
        )
        (root,) = roots
        by_id = {a.id: a for a in members}
        for a in members:
            seen, up = {a.id}, a
            while up.parent_id is not None and up.parent_id in by_id and up.parent_id not in seen:
                up = by_id[up.parent_id]
                seen.add(up.id)
            assert up is root and (not direct or a is root or a.parent_id == root.id), f"{story}: alarm {a.id}"
        assert ticket.name == link.name, f"{story}: named {ticket.name!r}"
        assert ticket.correlation == key, f"{story}: {ticket.correlation}"
        related = [r for r in ticket.related if r["@referredType"] == "Alarm"]
        assert [r["id"] for r in related if r["role"] == "rootCause"] == [str(root.id)], f"{story}: {related}"
        assert root.object_type == "interface", f"{story}: root {root.alarmed_object}: {root.specific_problem}"
        found[key] = (ticket, root)
    return found


def _the_ticket(story: str, direct: bool = True) -> tuple[Ticket, Alarm]:
    return _tickets({KEY: LINK}, {KEY: story}, direct)[KEY]


def test_every_order_of_a_link_failure_and_its_recovery_is_one_ticket_named_after_the_link(app):
    """Every order in which the six alarms of a link failure can arrive (720), each with an order
    of clearing of its own (every one of the 720 occurs once), all arriving within the ticket's
    hold, the processor ticking every 0.5 s, as its loop does. The 720 links of a ring of
    720 routers fail at once, each in its own orders: one run of the processor serves them all."""
    ring = Ring(720)
    orders = list(itertools.permutations(KEYS))
    plans = {}  # link key -> (link, raise order, clear order)
    for n, link in enumerate(ring.links):
        plans[link_name(ring.topology.link(link.a, "swp3"))] = (link, orders[n], orders[(n * 7 + 3) % len(orders)])
    links = {key: link for key, (link, _r, _c) in plans.items()}
    stories = {key: f"{link.name}: raised {' '.join(r)}, cleared {' '.join(c)}" for key, (link, r, c) in plans.items()}
    _fresh()
    proc = _processor(ring.topology)
    for step in range(len(KEYS)):  # 0.2 s apart; the processor's loop ticks every 0.5 s
        proc.ingest([link.event("raise", r[step]) for link, r, _c in plans.values()], now=at(0.2 * step))
        if step in (2, 4, 5):
            proc.tick(now=at(0.5 * (1 + (step > 2) + (step > 4))))
    assert proc.tick(now=at(4))["opened"] == len(plans)  # the hold has passed
    opened = _tickets(links, stories)
    for key, (link, raises, _c) in plans.items():
        ticket, root = opened[key]
        first = link.event("raise", next(k for k in raises if k.startswith("if-")))
        assert (root.device, root.object_name) == (first.device, first.object_name), stories[key]
        assert ticket.status == "acknowledged", stories[key]
    for step in range(len(KEYS)):
        proc.ingest([link.event("clear", c[step]) for link, _r, c in plans.values()], now=at(10 + step))
        report = proc.tick(now=at(10.5 + step))
        now = _tickets(links, {k: f"{v} (after {step + 1} clears)" for k, v in stories.items()})
        for key, (ticket, root) in now.items():
            assert (ticket.id, root.id) == (opened[key][0].id, opened[key][1].id), stories[key]
            assert ticket.status == ("resolved" if step == len(KEYS) - 1 else "acknowledged"), stories[key]
    assert report["resolved"] == len(plans)
    proc.tick(now=at(100))
    _tickets(links, stories)


def test_with_no_hold_the_ticket_opens_on_the_first_major_alarm_and_the_rest_folds_into_it(app):
    """The default: no hold. The topology knows at once which link an alarm is about, so the
    first major alarm of a link failure (an interface or a BGP session; an OSPF adjacency alone
    is minor) opens the link's ticket at the tick right after it, and every later alarm of the
    failure, in any order, folds into that ticket: one ticket per link, never a second one merged
    away, its root cause the first interface alarm once one has come, named after the link."""
    ring = Ring(720)
    orders = list(itertools.permutations(KEYS))
    plans = {}
    for n, link in enumerate(ring.links):
        plans[link_name(ring.topology.link(link.a, "swp3"))] = (link, orders[n])
    links = {key: link for key, (link, _r) in plans.items()}
    stories = {key: f"{link.name}: raised {' '.join(r)}" for key, (link, r) in plans.items()}
    _fresh()
    proc = Processor(lambda: ring.topology, Settings(reopen_window=600, flap_count=3, flap_window=60))
    opened_at = {}
    for step in range(len(KEYS)):  # 0.2 s apart, a tick right after each batch, as the loop does
        proc.ingest([link.event("raise", r[step]) for link, r in plans.values()], now=at(0.2 * step))
        proc.tick(now=at(0.2 * step))
        db.session.expire_all()
        for alarm in db.session.scalars(select(Alarm).where(Alarm.ticket_id.is_not(None))):
            opened_at.setdefault(alarm.correlation, 0.2 * step)
    for key, (_link, raises) in plans.items():
        first_major = next(i for i, k in enumerate(raises) if not k.startswith("ospf-"))
        assert opened_at.get(key) == pytest.approx(0.2 * first_major), stories[key]
    tickets = _tickets(links, stories)  # one per link, counting any merged away
    for key, (link, raises) in plans.items():
        ticket, root = tickets[key]
        first = link.event("raise", next(k for k in raises if k.startswith("if-")))
        assert (root.device, root.object_name) == (first.device, first.object_name), stories[key]
        assert ticket.status == "acknowledged", stories[key]


def test_the_root_cause_moves_only_to_something_more_fundamental(app):
    """Arrivals slower than the hold: the ticket opens on what came first (a BGP session: major;
    an OSPF adjacency alone is minor and opens none). A more fundamental alarm arriving later
    takes the root over, with a note each time, and once an interface alarm is the root the name
    is the link's; nothing takes it back, whatever clears first."""
    scenarios = [("bgp-a", "ospf-b", "if-b", "if-a", "bgp-b", "ospf-a"), ("ospf-a", "if-a", "ospf-b", "bgp-a", "if-b",
                 "bgp-b"), ("bgp-b", "bgp-a", "ospf-a", "ospf-b", "if-a", "if-b")]  # fmt: skip
    for raises in scenarios:
        for clears in [("if-b", "if-a", "ospf-a", "ospf-b", "bgp-a", "bgp-b"), raises, tuple(reversed(raises))]:
            _fresh()
            proc, story = _processor(), f"raised {raises} 3 s apart, cleared {clears}"
            roots, names = [], []
            for i, key in enumerate(raises):
                proc.ingest([event("raise", key)], now=at(3 * i))
                proc.tick(now=at(3 * i + 2.5))
                ticket = db.session.scalar(select(Ticket))
                if ticket is None:
                    continue
                marked = db.session.scalars(select(Alarm.id).where(Alarm.is_root_cause.is_(True))).all()
                assert marked == [ticket.root_alarm_id], story  # one root at every step
                if not roots or roots[-1] != ticket.root_alarm_id:
                    roots.append(ticket.root_alarm_id)
                names.append(ticket.name)
            ranks = [RANK[db.session.get(Alarm, r).object_type] for r in roots]
            assert ranks == sorted(set(ranks), reverse=True), f"{story}: the root moved to ranks {ranks}"
            first_if = raises.index(next(k for k in raises if k.startswith("if-")))
            assert names[-(len(raises) - first_if) :] == [NAME] * (len(raises) - first_if), f"{story}: {names}"
            notes = [n.text for n in db.session.scalars(select(TicketNote).order_by(TicketNote.id))]
            assert len(notes) == len(roots) - 1, f"{story}: {notes}"
            assert all(n.startswith(f"Root cause is now alarm {r}:") for n, r in zip(notes, roots[1:], strict=True)), (
                notes
            )
            for i, key in enumerate(clears):
                proc.ingest([event("clear", key)], now=at(100 + i))
                proc.tick(now=at(100.5 + i))
                assert _the_ticket(f"{story} (after {i + 1} clears)")[1].id == roots[-1]
            assert db.session.scalar(select(Ticket)).status == "resolved"


def unreachable(device: str, action: str) -> Event:
    """What the Ansible callback says of a router no run could reach (or reached again)."""
    problem = f"{device} unreachable"
    return Event(source="ansible", action=action, device=device, object_type="device", object_name="",
                 condition="device-unreachable", severity="major", specific_problem=problem)  # fmt: skip


def test_a_recurrence_reopens_the_ticket_under_its_name_and_root_cause(app):
    _fresh()
    proc = _processor()
    proc.ingest([event("raise", k) for k in ("ospf-a", "if-b", "if-a", "bgp-b")], now=at(0))
    proc.tick(now=at(3))
    ticket, first_root = _the_ticket("first occurrence")
    assert (first_root.device, first_root.object_name) == (B, "swp1")
    proc.ingest([event("clear", k) for k in ("if-b", "if-a")], now=at(10))  # carrier back first
    proc.tick(now=at(10.5))
    proc.ingest([event("clear", k) for k in ("ospf-a", "bgp-b")], now=at(20))
    proc.tick(now=at(20.5))
    assert _the_ticket("recovered")[0].status == "resolved"
    # A BGP session over the link flaps within the reopen window: the same problem again.
    proc.ingest([event("raise", "bgp-a")], now=at(100))
    report = proc.tick(now=at(103))
    assert report["reopened"] == 1 and report["opened"] == 0
    again, root = _the_ticket("a session flapped", direct=False)
    assert (again.id, root.id, again.status, again.reopen_count) == (ticket.id, first_root.id, "inProgress", 1)
    assert again.status_reason.startswith("the fault recurred: alarm ")
    # Then the link itself fails again, the other end first: still the same ticket, name and root.
    proc.ingest([event("raise", k) for k in ("if-a", "if-b")], now=at(104))
    proc.tick(now=at(107))
    assert _the_ticket("the link failed again", direct=False)[1].id == first_root.id
    proc.ingest([event("clear", k) for k in ("if-a", "bgp-a", "if-b")], now=at(110))
    proc.tick(now=at(111))
    again, root = _the_ticket("recovered again", direct=False)
    assert (again.status, root.id) == ("resolved", first_root.id)
    assert not db.session.scalars(select(TicketNote)).all()  # the root cause never moved


def test_a_recurrence_with_a_more_fundamental_root_takes_the_ticket_over(app):
    """A BGP session over the link went down alone (a ticket named after it) and came back; then
    the link fails: the interface alarm is the root cause now, and the ticket is the link's."""
    _fresh()
    proc = _processor()
    proc.ingest([event("raise", "bgp-a")], now=at(0))
    proc.tick(now=at(3))
    ticket = db.session.scalar(select(Ticket))
    assert ticket.name == "osl-cr-01 10.77.0.1: BGP session to 10.77.0.1 down: Interface down"
    proc.ingest([event("clear", "bgp-a")], now=at(5))
    proc.tick(now=at(5.5))
    proc.ingest([event("raise", k) for k in ("bgp-b", "if-b", "ospf-a")], now=at(50))
    assert proc.tick(now=at(53))["reopened"] == 1
    again, root = _the_ticket("the link failed", direct=False)
    assert again.id == ticket.id and (root.device, root.object_name) == (B, "swp1")
    assert [n.text.split(":")[0] for n in db.session.scalars(select(TicketNote))] == [
        f"Root cause is now alarm {root.id}"
    ]


def test_an_unreachable_router_takes_over_the_link_ticket_with_a_note(app):
    """Something more fundamental than the link: one of its routers cannot be reached at all."""
    _fresh()
    proc = _processor()
    proc.ingest([event("raise", k) for k in ("if-a", "if-b", "ospf-a")], now=at(0))
    proc.tick(now=at(3))
    ticket, link_root = _the_ticket("link down")
    proc.ingest([event("clear", "if-a")], now=at(5))  # the link's root cause clears
    proc.tick(now=at(5.5))
    proc.ingest([unreachable(B, "raise")], now=at(6))
    proc.tick(now=at(6.5))
    db.session.refresh(ticket)
    roots = db.session.scalars(select(Alarm).where(Alarm.ticket_id == ticket.id, Alarm.is_root_cause.is_(True))).all()
    assert [(a.object_type, a.device) for a in roots] == [("device", B)] and ticket.root_alarm_id == roots[0].id
    assert ticket.name == f"{B} unreachable" and ticket.correlation == f"device {B}"
    assert db.session.get(Alarm, link_root.id).parent_id == roots[0].id  # the link's root is under it now
    notes = [n.text for n in db.session.scalars(select(TicketNote))]
    assert any(n.startswith(f"Root cause is now alarm {roots[0].id}") for n in notes), notes
    assert db.session.scalar(select(db.func.count(Ticket.id))) == 1
