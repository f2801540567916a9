"""Events to alarms to tickets: deduplication, damping, clearing, correlation, ticket life.

:meth:`Processor.ingest` applies a batch of events in order; :meth:`Processor.tick` does
what time decides (damped clears that are due, tickets whose hold has passed, tickets whose
alarms all cleared). The fault processor (``netoss faults process``) calls both in a loop; the
unit tests call them directly with a clock of their own.

- **Deduplication.** An event whose fingerprint has an active alarm is an occurrence of it.
- **Damping.** A fingerprint raised ``flap_count`` times within ``flap_window`` seconds is
  flapping: its clears wait ``flap_hold`` quiet seconds, so a flapping link is one alarm and
  one ticket, not a storm of them.
- **Clearing** by the same fingerprint, from any source.
- **Interfaces named by index.** An interface event that gives only the interface's SNMP
  ifIndex (``details["if_index"]``: a standard linkDown trap) is named from the device's index
  table in NetBox (``netoss_ifindex``), or rejected as ``unknown_ifindex``.
- **Correlation** (``netoss.domain.faults.correlate``) picks the root cause of each problem. A
  ticket's root alarm keeps its place while the ticket is open, cleared or not, so a symptom
  that outlasts it is never promoted; only a more fundamental alarm takes over (with a note).
  Exactly one alarm of a ticket is its root cause (``is_root_cause``, TMF621 role rootCause).
- **Gone.** An alarm whose object (an interface, a BGP session's peer address, a device) a
  change removed from NetBox is cleared as gone, with the reason in its history
  (``netoss.domain.faults.gone``), whichever end was pushed first and however late its event came.
- **Changes.** A new alarm on a device that a job changed within ``change_window`` seconds
  names that job as its probable cause.
- **Tickets.** A root cause at or above ``ticket_severity`` opens one ticket at the first tick
  after it is raised (after ``ticket_hold`` seconds when set: 0 by default; the problem's later
  alarms fold into the ticket, a more fundamental one taking over its root cause), or reopens
  the one its problem had if that was resolved less than ``reopen_window`` seconds ago (under
  the root cause it had, unless the recurrence brings a more fundamental one). The ticket is
  named after its problem (:func:`ticket_name`: the link, the unreachable device, else the root
  alarm) and resolves by itself when all its alarms clear.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select, text

from netoss.data.db import db
from netoss.data.models import (
    TICKET_OPEN,
    Alarm,
    AlarmEvent,
    Deployment,
    Job,
    Ticket,
    TicketNote,
    TicketStatusChange,
    iso,
    utc,
)
from netoss.domain.faults import gone, maintenance
from netoss.domain.faults.correlate import QOS, correlate, more_fundamental
from netoss.domain.faults.events import SOURCES, Event, InvalidEvent, check, severity_rank
from netoss.domain.faults.tickets import PRIORITY
from netoss.domain.faults.topology import Topology, link_name

log = logging.getLogger("netoss.faults")

SYSTEM = "netoss"
TICK_LOCK = 0x6E6F7373_7469636B % (2**63)  # pg advisory lock key of the tick ("nosstick")


@dataclass
class Settings:
    ticket_severity: str = "major"  # tickets open for root causes this severe or worse
    ticket_hold: float = 0.0  # seconds a root cause must stay raised before its ticket opens
    reopen_window: float = 3600.0
    flap_count: int = 3
    flap_window: float = 60.0
    flap_hold: float = 30.0
    change_window: float = 600.0
    sla_hours: dict = field(
        default_factory=lambda: {"critical": 4, "major": 8, "minor": 24, "warning": 72, "indeterminate": 72}
    )

    @classmethod
    def from_config(cls, config: dict) -> Settings:
        s = cls()
        for name in ("ticket_severity", "ticket_hold", "reopen_window", "flap_count", "flap_window"):
            key = f"FAULTS_{name.upper()}"
            if config.get(key) is not None:
                setattr(s, name, type(getattr(s, name))(config[key]))
        for name in ("flap_hold", "change_window"):
            key = f"FAULTS_{name.upper()}"
            if config.get(key) is not None:
                setattr(s, name, float(config[key]))
        if config.get("FAULTS_SLA_HOURS"):
            s.sla_hours = {**s.sla_hours, **config["FAULTS_SLA_HOURS"]}
        return s


@dataclass
class Outcome:
    stored: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    rejected_by_source: dict[tuple[str, str], int] = field(default_factory=dict)
    alarms: list[int] = field(default_factory=list)  # raised or updated by the batch, in order
    # What became of each event of the batch, in order: None (stored) or the reason it was rejected.
    verdicts: list[str | None] = field(default_factory=list)
    changes: int = 0  # alarms raised or cleared: what correlation (the next tick) has to look at

    def reject(self, source: str, reason: str, index: int | None = None) -> None:
        if index is not None:
            self.verdicts[index] = reason
        self.rejected[reason] = self.rejected.get(reason, 0) + 1
        key = (str(source)[:16], reason)
        self.rejected_by_source[key] = self.rejected_by_source.get(key, 0) + 1


class Processor:
    def __init__(
        self,
        topology: Callable[[], Topology],
        settings: Settings | None = None,
        on_ticket: Callable[[str, Ticket, dict], None] | None = None,
        changing_templates: Callable[[], set[str]] | None = None,
    ):
        self.topology = topology
        self.settings = settings or Settings()
        self.on_ticket = on_ticket or (lambda kind, ticket, info: None)
        self.changing_templates = changing_templates or (lambda: set())
        self.raises: dict[str, deque] = {}  # fingerprint -> times of recent raises (damping)
        self._undo: list[tuple[str, dt.datetime | None]] = []  # what ingest added to it, to undo on failure

    # -- events ---------------------------------------------------------------------------

    def ingest(
        self,
        events: list[Event],
        now: dt.datetime | None = None,
        before_commit: Callable[[Outcome], None] | None = None,
    ) -> Outcome:
        """Apply ``events`` in order; every one is stored or rejected with a reason
        (``Outcome.verdicts``). ``before_commit(outcome)`` runs in the transaction, just before
        it commits (the fault pipeline records there how far its stream is stored); the
        transaction commits even when every event was rejected.

        All or nothing: when storing fails, the damping memory is put back as it was, so a
        batch tried again (then entry by entry) is not taken for a flapping object."""
        self._undo = []
        try:
            return self._ingest(events, now, before_commit)
        except BaseException:
            for fingerprint, evicted in reversed(self._undo):
                times = self.raises.get(fingerprint)
                if times:
                    times.pop()
                    if evicted is not None:
                        times.appendleft(evicted)
                    if not times:
                        del self.raises[fingerprint]
            raise
        finally:
            self._undo = []

    def _ingest(self, events: list[Event], now: dt.datetime | None, before_commit) -> Outcome:
        now = now or dt.datetime.now(dt.UTC)
        out = Outcome(verdicts=[None] * len(events))
        topo = self.topology()
        refresh = getattr(self.topology, "refresh_soon", None)
        if refresh is not None and any(not topo.has_device(e.device) for e in events):
            refresh()  # a device NetBox gained since the last read (rate-limited by the cache)
            topo = self.topology()
        refreshed = False
        good: list[Event] = []
        for index, e in enumerate(events):
            if not topo.has_device(e.device):
                # A sender that gave no usable name (a trap, a bare syslog line): the device
                # that has the address it sent from.
                by_address = topo.device_of_address(str((e.details or {}).get("source_address", "")))
                if by_address:
                    e.device = by_address
            if not topo.has_device(e.device):
                out.reject(e.source if e.source in SOURCES else "unknown", "unknown_device", index)
                log.warning(
                    "event rejected (unknown_device): %r (from %s) is not a device in NetBox: %s",
                    e.device,
                    (e.details or {}).get("source_address", "?"),
                    str(e.text)[:200],
                )
                continue
            if e.object_type == "interface" and not e.object_name and "if_index" in (e.details or {}):
                intf = topo.interface_by_index(e.device, e.details["if_index"])
                if intf is None and refresh is not None and not refreshed:
                    refresh()  # an index NetBox gained since the last read (the cache rate-limits it)
                    topo, refreshed = self.topology(), True
                    intf = topo.interface_by_index(e.device, e.details["if_index"])
                if intf is None:
                    out.reject(e.source if e.source in SOURCES else "unknown", "unknown_ifindex", index)
                    log.warning(
                        "event rejected (unknown_ifindex): %s has no interface with ifIndex %s in NetBox "
                        "(custom field netoss_ifindex): %s",
                        e.device,
                        str(e.details["if_index"])[:20],
                        str(e.text)[:200],
                    )
                    continue
                e.object_name = intf.name  # a standard linkDown names its interface by index only
            try:
                check(e)
            except InvalidEvent as exc:
                out.reject(e.source if e.source in SOURCES else "unknown", exc.reason, index)
                log.warning("event rejected (%s): %s", exc.reason, exc.detail)
                continue
            good.append(e)
        if not good:
            if before_commit is not None:
                before_commit(out)
                db.session.commit()
            return out
        keys = {e.fingerprint for e in good}
        active = {a.active_key: a for a in db.session.scalars(select(Alarm).where(Alarm.active_key.in_(keys)))}
        rows: list[tuple[Alarm | None, Event]] = []
        changed: dict[int, Alarm] = {}
        new: list[Alarm] = []
        for e in good:
            alarm = active.get(e.fingerprint)
            if e.action == "raise":
                # A flap is a raise after a clear (or while a damped clear waits); a raise of an
                # active alarm is one more occurrence of it, not a flap.
                flapping = (alarm is None or alarm.clear_due_at is not None) and self._flapping(e.fingerprint, now)
                if alarm is None:
                    alarm = self._new_alarm(e, topo, now)
                    db.session.add(alarm)
                    active[e.fingerprint] = alarm
                    new.append(alarm)
                    out.changes += 1
                else:
                    alarm.occurrences += 1
                    alarm.state = "updated"
                    alarm.changed_at = now
                    alarm.clear_due_at = None
                    if severity_rank(e.severity) < severity_rank(alarm.severity):
                        alarm.severity = e.severity
                    if e.specific_problem:
                        alarm.specific_problem = e.specific_problem
                if flapping and not alarm.flapping:
                    alarm.flapping = True
                    log.info(
                        "%s is flapping: its clears wait %.0f quiet seconds", e.fingerprint, self.settings.flap_hold
                    )
            elif alarm is not None:
                if alarm.flapping:
                    alarm.clear_due_at = now + dt.timedelta(seconds=self.settings.flap_hold)
                    alarm.changed_at = now
                else:
                    self._clear(alarm, now)
                    del active[e.fingerprint]
                    out.changes += 1
            rows.append((alarm, e))
            if alarm is not None:
                changed[id(alarm)] = alarm
        db.session.flush()  # ids of the new alarms
        for alarm in new:
            self._probable_job(alarm, now)
        _add_events([(alarm.id if alarm is not None else None, now, e.time, e.source, e.action,
                      e.text or e.specific_problem) for alarm, e in rows])  # fmt: skip
        out.alarms = [a.id for a in changed.values()]  # before the commit expires them (a query each)
        out.stored = len(rows)
        if before_commit is not None:
            before_commit(out)
        db.session.commit()
        return out

    def _flapping(self, fingerprint: str, now: dt.datetime) -> bool:
        times = self.raises.setdefault(fingerprint, deque(maxlen=self.settings.flap_count))
        self._undo.append((fingerprint, times[0] if len(times) == times.maxlen else None))
        times.append(now)
        if len(self.raises) > 100_000:  # bounded, whatever the sources send
            for key in list(self.raises)[:50_000]:
                del self.raises[key]
        return len(times) >= self.settings.flap_count and (now - times[0]).total_seconds() <= self.settings.flap_window

    def _new_alarm(self, e: Event, topo: Topology, now: dt.datetime) -> Alarm:
        interface_id = None
        if e.object_type in ("interface", "ospf_adjacency"):
            intf = topo.interface(e.device, e.object_name)
            interface_id = intf.id if intf else None
        elif e.object_type in ("bgp_session", "bfd_session"):
            intf = topo.interface_to(e.device, e.object_name)
            interface_id = intf.id if intf else None
        return Alarm(
            fingerprint=e.fingerprint,
            active_key=e.fingerprint,
            state="raised",
            ack_state="unacknowledged",
            alarm_type=e.alarm_type,
            severity=e.severity,
            probable_cause=e.probable_cause,
            specific_problem=e.specific_problem or e.condition,
            device=e.device,
            device_id=topo.device_id(e.device),
            object_type=e.object_type,
            object_name=e.object_name,
            interface_id=interface_id,
            condition=e.condition,
            source=e.source,
            raised_at=now,
            changed_at=now,
            occurrences=1,
            flapping=False,
            is_root_cause=True,
            service_affecting=False,
            affected_services=[],
            details={k: v for k, v in (e.details or {}).items() if isinstance(v, (str, int, float, bool))},
        )

    def _clear(self, alarm: Alarm, now: dt.datetime) -> None:
        alarm.state = "cleared"
        alarm.active_key = None
        alarm.cleared_at = now
        alarm.changed_at = now
        alarm.clear_due_at = None

    def _probable_job(self, alarm: Alarm, now: dt.datetime) -> None:
        """The job that changed the alarm's device most recently within the change window."""
        templates = self.changing_templates()
        if not templates:
            return
        since = now - dt.timedelta(seconds=self.settings.change_window)
        candidates = db.session.scalars(
            select(Job)
            .where(
                Job.template.in_(templates),
                Job.check_mode.is_(False),
                Job.started_at.is_not(None),
                Job.started_at <= now,
                or_(Job.finished_at.is_(None), Job.finished_at >= since),
            )
            .order_by(Job.started_at.desc())
            .limit(50)
        )
        candidates = list(candidates)
        # A GitOps deployment's job locks every device but changes those its plan touches.
        deployments = {
            d.job_id: d
            for d in db.session.scalars(select(Deployment).where(Deployment.job_id.in_([j.id for j in candidates])))
        } if candidates else {}  # fmt: skip
        for job in candidates:
            deployment = deployments.get(job.id)
            devices = {d for d in (job.limit or "").split(",") if d}
            if deployment is not None:
                devices = set(deployment.devices or ())
                if not devices:
                    continue  # it changed no device (yet)
            if devices and alarm.device not in devices:
                continue
            when = utc(job.finished_at) or utc(job.started_at)
            ago = max(0, int((now - when).total_seconds()))
            verb = "changed" if job.finished_at else "is changing"
            what = f"job {job.id} ({job.template} by {job.created_by})"
            if deployment is not None:
                what = (
                    f"GitOps deployment {deployment.id} of {deployment.sha[:12]} by {deployment.author or 'unknown'} "
                    f"(job {job.id})"
                )
                alarm.details = dict(alarm.details or {}, probable_cause_deployment=deployment.id)
            alarm.job_id = job.id
            alarm.details = dict(
                alarm.details or {},
                probable_cause_job=f"{what} {verb} {alarm.device}" + (f" {ago} s earlier" if job.finished_at else ""),
            )
            return

    # -- time -----------------------------------------------------------------------------

    def tick(self, now: dt.datetime | None = None) -> dict:
        """Damped clears that are due, alarms of removed objects, correlation, ticket opening and
        resolving; by one processor at a time (a PostgreSQL advisory lock held by the pass: a
        processor that finds it held skips its pass, ``skipped`` in the report)."""
        now = now or dt.datetime.now(dt.UTC)
        report = {"cleared": 0, "opened": 0, "reopened": 0, "resolved": 0}
        if db.session.get_bind().dialect.name == "postgresql" and not db.session.scalar(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": TICK_LOCK}
        ):
            db.session.rollback()  # another processor is ticking: its pass covers this one's alarms too
            return {**report, "skipped": 1}
        for alarm in db.session.scalars(
            select(Alarm).where(
                Alarm.active_key.is_not(None), Alarm.clear_due_at.is_not(None), Alarm.clear_due_at <= now
            )
        ):
            self._clear(alarm, now)
            report["cleared"] += 1
        db.session.flush()
        topo = self.topology()
        report["gone"] = self._sweep_gone(topo, now)
        active = list(db.session.scalars(select(Alarm).where(Alarm.active_key.is_not(None))))
        # The root alarms of the open tickets, cleared ones too: each stays the root of its
        # problem (correlate's anchors), so a symptom still active is never promoted.
        anchors = set(
            db.session.scalars(
                select(Ticket.root_alarm_id).where(Ticket.status.in_(TICKET_OPEN), Ticket.root_alarm_id.is_not(None))
            )
        )
        active_ids = {a.id for a in active}
        cleared_roots = (
            list(db.session.scalars(select(Alarm).where(Alarm.id.in_(anchors - active_ids))))
            if anchors - active_ids
            else []
        )
        considered = active + cleared_roots
        verdicts = correlate(considered, topo, anchors)
        by_id = {a.id: a for a in considered}
        for a in considered:
            v = verdicts[a.id]
            services = [s.to_dict() for s in v.services]
            if (a.is_root_cause, a.parent_id, a.correlation, a.affected_services) != (
                v.is_root_cause,
                v.parent_id,
                v.correlation,
                services,
            ):
                a.is_root_cause, a.parent_id, a.correlation = v.is_root_cause, v.parent_id, v.correlation
                a.affected_services, a.service_affecting = services, bool(services)
        # Planned outages: an active alarm inside a maintenance window over its device or one of
        # the services it affects is planned, and so is every symptom correlated under a planned
        # root cause (the far end of a link under maintenance); once the window is over, they
        # no longer are.
        windows = maintenance.active(now)
        covered = {
            a.id
            for a in considered
            if windows
            and maintenance.covered(a.device, [str(x.get("name")) for x in a.affected_services or []], windows)
        }
        for a in active:
            planned = a.id in covered or (a.parent_id is not None and a.parent_id in covered)
            if a.planned_outage != planned:
                a.planned_outage = planned
        events: list[tuple[str, Ticket, dict]] = []
        children: dict[int, list[Alarm]] = {}
        for a in considered:
            if a.parent_id is not None and a.parent_id in by_id:
                children.setdefault(a.parent_id, []).append(a)
        # The open tickets of these alarms, read once (not once per problem on every tick).
        ticket_ids = {a.ticket_id for a in considered if a.ticket_id is not None}
        open_tickets = (
            {
                t.id: t
                for t in db.session.scalars(
                    select(Ticket).where(Ticket.id.in_(ticket_ids), Ticket.status.in_(TICKET_OPEN))
                )
            }
            if ticket_ids
            else {}
        )
        for root in (a for a in considered if a.is_root_cause):
            members = [root, *children.get(root.id, [])]
            ticket, root = self._ticket_for(root, members, open_tickets, topo, now, events, report)
            if ticket is None:
                continue
            for m in members:
                if m.ticket_id != ticket.id:
                    m.ticket_id = ticket.id
            self._relate(ticket, root, members, topo)
        db.session.flush()
        self._resolve(now, events, report)
        db.session.commit()
        for kind, ticket, info in events:
            try:
                self.on_ticket(kind, ticket, info)
            except Exception:  # a notification must never stop fault processing
                log.exception("ticket %s: %s notification failed", ticket.ref, kind)
        return report

    def _sweep_gone(self, topo: Topology, now: dt.datetime) -> int:
        """Active alarms whose object netoss's change removed are cleared as gone (``gone``)."""
        active = list(db.session.scalars(select(Alarm).where(Alarm.active_key.is_not(None))))
        refresh = getattr(self.topology, "refresh_soon", None)
        if refresh is not None and gone.stale_topology(active, topo):
            refresh()  # a job changed an alarm's device since NetBox was read: read it again soon
        cleared = gone.sweep(active, topo, now, self.settings.change_window, self._clear)
        db.session.flush()
        return len(cleared)

    def _ticket_for(
        self, root: Alarm, members: list[Alarm], known: dict[int, Ticket], topo: Topology, now, events, report
    ) -> tuple[Ticket | None, Alarm]:
        """The ticket of the problem ``root`` is the root cause of (None: none yet), and its root
        cause: ``root``, or the root of the ticket a recurrence reopens (``members`` then holds
        it too). ``known``: the open tickets of the alarms being correlated, by id, kept up to
        date here."""
        tickets = {m.ticket_id for m in members if m.ticket_id is not None}
        open_tickets = [known[t] for t in tickets if t in known and known[t].status in TICKET_OPEN]
        if open_tickets:
            # The root's ticket if it has one, else the oldest; the others merge into it.
            open_tickets.sort(key=lambda t: (t.id != root.ticket_id, t.id))
            keep = open_tickets[0]
            for other in open_tickets[1:]:
                self._status(other, "cancelled", f"merged into {keep.ref}: the same problem ({root.correlation})", now)
                self._note(keep, f"{other.ref} merged into this ticket: the same problem ({root.correlation}).")
                events.append(("merged", other, {"into": keep.ref}))
            if keep.root_alarm_id != root.id:
                if keep.root_alarm_id is not None:
                    self._note(
                        keep, f"Root cause is now alarm {root.id}: {root.alarmed_object}: {root.specific_problem}."
                    )
                keep.root_alarm_id = root.id
                keep.correlation = root.correlation
                keep.name = ticket_name(root, members, topo)[:300]  # the name says the root cause
            return keep, root
        live = [m for m in members if m.active_key is not None]
        if live and all(m.planned_outage for m in live):
            return None, root  # a planned outage (a maintenance window): no ticket while it lasts
        worst = min(members, key=lambda m: severity_rank(m.severity)).severity
        if severity_rank(worst) > severity_rank(self.settings.ticket_severity):
            return None, root
        if (now - utc(root.raised_at)).total_seconds() < self.settings.ticket_hold:
            return None, root  # the rest of the problem may still be arriving
        recent = now - dt.timedelta(seconds=self.settings.reopen_window)
        previous = db.session.scalars(
            select(Ticket)
            .where(Ticket.correlation == root.correlation, Ticket.status == "resolved", Ticket.resolved_at >= recent)
            .order_by(Ticket.resolved_at.desc())
            .limit(1)
        ).first()
        if previous is not None:
            previous.reopen_count += 1
            previous.resolved_at = None
            recurrence = root
            earlier = db.session.get(Alarm, previous.root_alarm_id) if previous.root_alarm_id else None
            if earlier is not None and earlier.id != root.id and not more_fundamental(root, earlier):
                # The same problem again: its root cause stays, the recurrence is correlated under it.
                for m in members:
                    m.is_root_cause, m.parent_id = False, earlier.id
                members.insert(0, earlier)
                root = earlier
            else:
                if earlier is not None and earlier.id != root.id:
                    earlier.is_root_cause, earlier.parent_id = False, root.id
                    self._note(previous, f"Root cause is now alarm {root.id}: {root.alarmed_object}: "
                                         f"{root.specific_problem}.")  # fmt: skip
                previous.root_alarm_id = root.id
                previous.name = ticket_name(root, members, topo)[:300]
            reason = f"the fault recurred: alarm {recurrence.id}, {recurrence.specific_problem}"
            self._status(previous, "inProgress", reason, now)
            known[previous.id] = previous
            report["reopened"] += 1
            events.append(("reopened", previous, {}))
            return previous, root
        ticket = Ticket(
            name=ticket_name(root, members, topo)[:300],
            description="",
            severity=worst,
            priority=PRIORITY.get(worst, 4),
            ticket_type="alarm",
            status="acknowledged",
            status_reason="opened from an alarm",
            created_at=now,
            updated_at=now,
            expected_resolution_at=now + dt.timedelta(hours=float(self.settings.sla_hours.get(worst, 72))),
            created_by=SYSTEM,
            device=root.device,
            root_alarm_id=root.id,
            correlation=root.correlation,
            related=[],
        )
        db.session.add(ticket)
        db.session.flush()
        db.session.add(
            TicketStatusChange(
                ticket_id=ticket.id, at=now, status="acknowledged", reason="opened from an alarm", actor=SYSTEM
            )
        )
        known[ticket.id] = ticket
        report["opened"] += 1
        events.append(("opened", ticket, {}))
        return ticket, root

    def _relate(self, ticket: Ticket, root: Alarm, members: list[Alarm], topo: Topology) -> None:
        """The ticket's related entities (TMF621 relatedEntity) and its description."""
        related = {(r.get("@referredType"), str(r.get("id"))): r for r in ticket.related or []}

        def add(kind, ident, name, role, **extra):
            related[(kind, str(ident))] = {"@referredType": kind, "id": str(ident), "name": name, "role": role, **extra}

        devices = {m.device for m in members}
        for group_device in sorted(devices):
            add("Device", topo.device_id(group_device) or group_device, group_device, "affected")
        sessions = []
        for m in members:
            add("Alarm", m.id, f"{m.alarmed_object}: {m.specific_problem}"[:200], "correlated")
            if m.object_type == "interface" and m.interface_id:
                add("Interface", m.interface_id, f"{m.device}:{m.object_name}", "affected")
            if m.object_type == "bgp_session":
                peer = topo.device_of_address(m.object_name)
                name = f"{m.device} -> {m.object_name}" + (f" ({peer})" if peer else "")
                sessions.append(name)
                add("BgpSession", f"{m.device}:{m.object_name}", name, "affected")
            if m.job_id:
                add("Job", m.job_id, (m.details or {}).get("probable_cause_job", f"job {m.job_id}"), "probableCause")
            deployment = (m.details or {}).get("probable_cause_deployment")
            if deployment:
                add("Deployment", deployment, f"GitOps deployment {deployment}", "probableCause")
            detected = str((m.details or {}).get("job") or "")
            if m.source in ("ansible", "compliance") and detected.isdigit():
                what = (m.details or {}).get("playbook") or ("compliance" if m.source == "compliance" else "playbook")
                add("Job", detected, f"job {detected} ({what})", "detectedBy")
        services = {s["id"]: s for m in members for s in (m.affected_services or [])}
        for s in sorted(services.values(), key=lambda s: s["name"]):
            add("Service", s["id"], s["name"], "affectedService", tenant=s.get("tenant"))
        for r in related.values():  # one rootCause: the ticket's root alarm; every other alarm is correlated
            if r["@referredType"] == "Alarm":
                r["role"] = "rootCause" if r["id"] == str(ticket.root_alarm_id) else "correlated"
        new = sorted(related.values(), key=lambda r: (r["@referredType"], r["id"]))
        if new != ticket.related:
            ticket.related = new
            ticket.updated_at = utc(root.changed_at) or ticket.updated_at
        lines = [f"Root cause: {root.alarmed_object}: {root.specific_problem} ({root.correlation})."]
        if sessions:
            lines.append("BGP sessions on it: " + ", ".join(sorted(set(sessions))) + ".")
        if services:
            lines.append(
                "Customer services: "
                + ", ".join(f"{s['name']} ({s.get('tenant') or 'no tenant'})" for s in services.values())
                + "."
            )
        jobs = sorted({(m.details or {}).get("probable_cause_job") for m in members} - {None})
        if jobs:
            lines.append("Probable cause: " + "; ".join(jobs) + ".")
        description = "\n".join(lines)
        if description != ticket.description:
            ticket.description = description

    def _resolve(self, now, events, report) -> None:
        """Alarm tickets whose alarms have all cleared resolve by themselves."""
        still = select(Alarm.ticket_id).where(Alarm.active_key.is_not(None), Alarm.ticket_id.is_not(None))
        for ticket in db.session.scalars(
            select(Ticket).where(
                Ticket.ticket_type == "alarm",
                Ticket.status.in_(("acknowledged", "inProgress", "pending")),
                Ticket.id.not_in(still),
            )
        ):
            count = db.session.scalar(select(func.count(Alarm.id)).where(Alarm.ticket_id == ticket.id))
            if not count:
                continue
            ticket.resolved_at = now
            self._status(ticket, "resolved", "all its alarms cleared", now)
            report["resolved"] += 1
            events.append(("resolved", ticket, {}))

    def _status(self, ticket: Ticket, status: str, reason: str, now: dt.datetime, actor: str = SYSTEM) -> None:
        ticket.status, ticket.status_reason, ticket.updated_at = status, reason[:500], now
        db.session.add(TicketStatusChange(ticket_id=ticket.id, at=now, status=status, reason=reason[:500], actor=actor))

    def _note(self, ticket: Ticket, text: str, author: str = SYSTEM) -> None:
        db.session.add(TicketNote(ticket_id=ticket.id, author=author, text=text[:4000]))


_EVENT_COLUMNS = ("alarm_id", "received_at", "event_time", "source", "action", "text")


def _add_events(rows: list[tuple]) -> None:
    """The events' rows of ``alarm_events``, in the session's transaction: through COPY on
    PostgreSQL (a storm's batch of 500 in one stream of rows, not 500 bound INSERTs), else
    one multi-row INSERT."""
    if not rows:
        return
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        db.session.execute(AlarmEvent.__table__.insert(), [dict(zip(_EVENT_COLUMNS, r, strict=True)) for r in rows])
        return
    raw = connection.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(f"COPY alarm_events ({', '.join(_EVENT_COLUMNS)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def ticket_name(root: Alarm, members: list[Alarm], topo: Topology | None = None) -> str:
    """What the problem is, after its root cause: "Link down: ce1:eth1 - pe1:eth3 (ACME-AMS-0001)"
    (an interface alarm on a link: both ends, as ``topology.link_name`` orders them), "pe1
    unreachable", "ce1 not compliant: logging, aaa", else the root's own problem. The root
    cause stays while the problem lasts (``netoss.domain.faults.correlate``), so the name does too."""
    services = sorted({s["name"] for m in members for s in (m.affected_services or [])})
    suffix = f" ({', '.join(services)})" if services else ""
    correlation = root.correlation or ""
    if correlation.startswith("link ") and root.object_type == "interface" and root.alarm_type != QOS:
        link = topo.link(root.device, root.object_name) if topo is not None else None
        if link is not None and link_name(link) == correlation:
            (a, ai), (b, bi) = link
            return f"Link down: {a}:{ai} - {b}:{bi}{suffix}"
        a, _, b = correlation[len("link ") :].partition(" ")  # NetBox no longer has the link
        return f"Link down: {a} - {b}{suffix}"
    if root.object_type == "device" and root.condition == "device-unreachable":
        return f"{root.device} unreachable{suffix}"
    if root.condition.startswith("compliance:"):
        features = [m.condition.split(":", 1)[1] for m in members if m.condition.startswith("compliance:")]
        return f"{root.device} not compliant: {', '.join(dict.fromkeys(features))}{suffix}"
    return f"{root.alarmed_object}: {root.specific_problem}{suffix}"


def alarm_summary(alarm: Alarm) -> dict:
    return {
        "id": alarm.id,
        "object": alarm.alarmed_object,
        "problem": alarm.specific_problem,
        "at": iso(alarm.raised_at),
    }
