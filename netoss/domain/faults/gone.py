"""Alarms about objects that a change removed: cleared as gone, not left raised for good.

A service delete removes the PE-CE link's addresses from NetBox and pushes the routers; the
router pushed second logs its end of the session as down ("Peer closed the session") while
its own neighbour statement is about to go, and nothing ever says "up" again. Whatever order
the routers were pushed in, and however late their syslog arrives, the alarm is explained by
the change: netoss clears it *as gone*, with the reason in its history, and its ticket then
resolves by the usual rule (all its alarms cleared).

The alarm's object, as NetBox knows it:

========================  ======================================================
alarm object              present while NetBox has
========================  ======================================================
interface, OSPF adjacency the interface (device and name)
BGP or BFD session        the peer's address, on an interface of a device
any alarm                 its device
========================  ======================================================

An active alarm is cleared as gone when its object is absent from the current topology and
netoss knew it as its own:

- the object was in NetBox while the alarm was active (:func:`sweep` records that in the
  alarm's ``details["netbox_object"]``), or
- NetBox's change log shows its deletion (an address on an interface, an interface, a
  device; see :class:`RemovalLog`) at most ``change_window`` seconds before the alarm was
  raised, or at any time since: a session-down line that arrives after the change that
  removed the session (late syslog, or a topology read before the change).

A peer NetBox never had (an external BGP neighbour) is never cleared this way. A topology
without any device, interface or address (NetBox answered nothing) clears nothing.
The removal is attributed to the job that was running on the device when NetBox changed
(and to its service order), so the history says which change explains the alarm.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
from dataclasses import dataclass

from sqlalchemy import or_, select

from netoss.data.db import db
from netoss.data.models import Alarm, AlarmEvent, Job, ServiceOrder, TicketNote, utc

log = logging.getLogger("netoss.faults")

SYSTEM = "netoss"
ON_INTERFACE = ("interface", "ospf_adjacency")
TO_PEER = ("bgp_session", "bfd_session")
MARK = "netbox_object"  # in Alarm.details: what NetBox had for the alarm's object while it was active
GONE = "cleared_as_gone"  # in Alarm.details: why it was cleared as gone


def _ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


# -- what NetBox's change log says was removed ------------------------------------------------


@dataclass(frozen=True)
class Removal:
    """One object deleted from NetBox: when, by whom, and what it was."""

    key: tuple  # ("device", name), ("interface", device, name), ("address", ip)
    at: dt.datetime
    what: str  # "address 198.19.128.5/31 (ce3:eth1)", "interface pe1:eth4", "device ce9"
    device: str | None = None  # the device it was on (was)
    user: str = ""
    request_id: str = ""
    message: str = ""
    change_id: int = 0


def _value(v):
    return v.get("value") if isinstance(v, dict) else v


def _time(text: str) -> dt.datetime:
    t = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def removals_from_changes(changes, topo) -> dict[tuple, Removal]:
    """The deletions among NetBox change records (``/api/core/object-changes/``) of devices,
    interfaces and addresses on interfaces, keyed as :attr:`Removal.key`; the latest per key.
    Names of ids come from the records themselves and from ``topo`` (the objects that stay)."""
    changes = [c for c in changes if _value(c.get("action")) == "delete"]
    devices = dict(getattr(topo, "device_by_id", {}) or {})
    interfaces = {i.id: (i.device, i.name) for i in (getattr(topo, "interface_by_id", {}) or {}).values()}
    for c in changes:  # what was deleted together (a device with its interfaces) names itself
        before = c.get("prechange_data") or {}
        if c.get("changed_object_type") == "dcim.device":
            devices[c.get("changed_object_id")] = before.get("name") or c.get("object_repr")
    for c in changes:
        before = c.get("prechange_data") or {}
        if c.get("changed_object_type") == "dcim.interface" and devices.get(before.get("device")):
            interfaces[c.get("changed_object_id")] = (devices[before.get("device")], before.get("name"))
    out: dict[tuple, Removal] = {}
    for c in changes:
        kind, before = c.get("changed_object_type"), c.get("prechange_data") or {}
        try:
            at = _time(c["time"])
        except (KeyError, ValueError, TypeError):
            continue
        if kind == "dcim.device":
            name = devices.get(c.get("changed_object_id"))
            key, what, device = ("device", name), f"device {name}", name
        elif kind == "dcim.interface":
            device, name = interfaces.get(c.get("changed_object_id")) or (None, None)
            key, what = ("interface", device, name), f"interface {device}:{name}"
        elif kind == "ipam.ipaddress":
            address = before.get("address") or c.get("object_repr") or ""
            try:
                ip = str(ipaddress.ip_interface(address).ip)
            except ValueError:
                continue
            on = interfaces.get(before.get("assigned_object_id"))
            key, what = ("address", ip), f"address {address}" + (f" ({on[0]}:{on[1]})" if on else "")
            device = on[0] if on else None
        else:
            continue
        if None in key:
            continue
        removal = Removal(
            key=key,
            at=at,
            what=what,
            device=device,
            user=str(c.get("user_name") or ""),
            request_id=str(c.get("request_id") or ""),
            message=str(c.get("message") or ""),
            change_id=int(c.get("id") or 0),
        )
        if key not in out or out[key].at <= at:
            out[key] = removal
    return out


# The deletions that can take an alarm's object away: addresses on interfaces (NetBox records
# an address's interface as the change's related object), interfaces and devices.
CHANGE_QUERIES = (
    {"changed_object_type": "ipam.ipaddress", "related_object_type": "dcim.interface"},
    {"changed_object_type": ["dcim.interface", "dcim.device"]},
)
CHANGE_FIELDS = (
    "id,time,user_name,request_id,action,changed_object_type,changed_object_id,object_repr,message,prechange_data"
)


class RemovalLog:
    """The deletions NetBox's change log recorded over the last ``horizon`` seconds, read
    incrementally (each read asks for what happened since the previous one, with an overlap
    for transactions that committed late), for the processor's topology cache."""

    def __init__(self, horizon: float = 86400, overlap: float = 300, timeout: float = 30):
        self.horizon, self.overlap, self.timeout = horizon, overlap, timeout
        self.changes: dict[int, dict] = {}
        self.read_at: dt.datetime | None = None
        self.failing = False

    def update(self, netbox, now: dt.datetime | None = None) -> None:
        """Read what was deleted since the last read (``netbox``: a netoss.data.netbox.NetBox);
        on failure keep what is known (logged once)."""
        now = now or dt.datetime.now(dt.UTC)
        since = (
            (self.read_at - dt.timedelta(seconds=self.overlap))
            if self.read_at
            else now - dt.timedelta(seconds=self.horizon)
        )
        try:
            found = []
            for query in CHANGE_QUERIES:
                params = {**query, "action": "delete", "time_after": since.isoformat(), "limit": 1000}
                params["fields"] = CHANGE_FIELDS
                found.extend(netbox.get_all("core/object-changes", params, timeout=self.timeout))
        except Exception as exc:
            if not self.failing:
                log.warning(
                    "NetBox's change log not read (%s): alarms of removed objects are cleared as gone only "
                    "when the topology saw the object",
                    exc,
                )
            self.failing = True
            return
        if self.failing:
            log.info("NetBox's change log is read again")
        self.failing = False
        for c in found:
            if c.get("id") is not None:
                self.changes[c["id"]] = c
        self.read_at = now
        oldest = now - dt.timedelta(seconds=self.horizon)
        for ident in [i for i, c in self.changes.items() if _safe_time(c) < oldest]:
            del self.changes[ident]

    def removals(self, topo) -> dict[tuple, Removal]:
        return removals_from_changes(self.changes.values(), topo)


def _safe_time(change: dict) -> dt.datetime:
    try:
        return _time(change["time"])
    except (KeyError, ValueError, TypeError):
        return dt.datetime.min.replace(tzinfo=dt.UTC)


# -- the alarm's object in the topology -------------------------------------------------------


def _present(alarm: Alarm, topo) -> tuple[bool | None, str, tuple | None]:
    """(whether NetBox has the alarm's object, None when it cannot say; what it is; its
    removal key). A topology with no record of a kind says nothing about that kind."""
    if not topo.devices:
        return None, "", None
    if not topo.has_device(alarm.device):
        return False, f"device {alarm.device}", ("device", alarm.device)
    if alarm.object_type in ON_INTERFACE:
        if not topo.interfaces:
            return None, "", None
        present = topo.interface(alarm.device, alarm.object_name) is not None
        return present, f"interface {alarm.device}:{alarm.object_name}", ("interface", alarm.device, alarm.object_name)
    if alarm.object_type in TO_PEER:
        ip = _ip(alarm.object_name)
        if ip is None or not topo.by_address:
            return None, "", None
        end = topo.by_address.get(ipaddress.ip_address(ip))
        what = f"peer address {ip}" + (f" ({end[0]}:{end[1]})" if end else "")
        return end is not None, what, ("address", ip)
    return True, f"device {alarm.device}", ("device", alarm.device)


def _job_at(devices: set[str], at: dt.datetime, window: float) -> Job | None:
    """The job (not in check mode) on ``devices`` that was running at ``at`` (one limited to
    them before one on every device), else the latest that ended within ``window`` seconds
    before it."""
    slack = dt.timedelta(seconds=2)  # NetBox's clock and the portal's, and when each records a write
    candidates = []
    for job in db.session.scalars(
        select(Job)
        .where(
            Job.check_mode.is_(False),
            Job.started_at.is_not(None),
            Job.started_at <= at + slack,
            or_(Job.finished_at.is_(None), Job.finished_at >= at - dt.timedelta(seconds=window)),
        )
        .order_by(Job.started_at.desc())
        .limit(50)
    ):
        limit = {d for d in (job.limit or "").split(",") if d}
        if limit and not limit & devices:
            continue
        running = job.finished_at is None or utc(job.finished_at) >= at - slack
        candidates.append((not running, not limit, -utc(job.started_at).timestamp(), job.id, job))
    return min(candidates)[-1] if candidates else None


def _explain(alarm: Alarm, what: str, removal: Removal | None, now: dt.datetime, window: float) -> str:
    """Why the alarm is cleared: what went from NetBox, when, through whom, and the job (and
    service order) that did it."""
    devices = {alarm.device} | ({removal.device} if removal is not None and removal.device else set())
    job = _job_at(devices, removal.at if removal is not None else now, window)
    text = f"{removal.what if removal is not None else what} was removed from NetBox"
    if removal is not None:
        text += f" at {removal.at.strftime('%Y-%m-%d %H:%M:%S')} UTC"
        if removal.user:
            text += f" (NetBox user {removal.user}" + (f": {removal.message[:200]}" if removal.message else "") + ")"
    if job is not None:
        text += f" by job {job.id} ({job.template} by {job.created_by})"
        order = db.session.scalars(select(ServiceOrder).where(ServiceOrder.job_id == job.id).limit(1)).first()
        if order is not None:
            text += f" for service order {order.id}" + (f" ({order.external_id})" if order.external_id else "")
    return text + "; the configuration no longer has it: cleared as gone"


def sweep(alarms: list[Alarm], topo, now: dt.datetime, window: float, clear) -> list[Alarm]:
    """Clear as gone the active ``alarms`` whose object netoss removed (module docstring);
    record in the others whose object NetBox has now that it had it. ``clear(alarm, now)``
    is the processor's clear; ``window``: seconds a removal may precede the alarm's raise.
    Returns the alarms cleared."""
    removed: dict[tuple, Removal] = getattr(topo, "removed", None) or {}
    cleared = []
    for alarm in alarms:
        if alarm.active_key is None:
            continue
        present, what, key = _present(alarm, topo)
        if present is None:
            continue
        details = alarm.details or {}
        if present:
            if alarm.object_type in ON_INTERFACE + TO_PEER and details.get(MARK) != what:
                alarm.details = {**details, MARK: what}
            continue
        removal = removed.get(key)
        raised = utc(alarm.raised_at) or now
        recent = removal is not None and removal.at >= raised - dt.timedelta(seconds=window)
        known = bool(details.get(MARK)) or key[0] == "device"  # ingest takes events of NetBox's devices only
        if not (known or recent):
            continue  # never NetBox's (an external peer), or removed long before this alarm
        reason = _explain(alarm, details.get(MARK) or what, removal if recent else None, now, window)
        clear(alarm, now)
        alarm.details = {**details, GONE: reason[:500]}
        db.session.add(AlarmEvent(alarm_id=alarm.id, received_at=now, source=SYSTEM, action="clear", actor=SYSTEM,
                                  text=reason))  # fmt: skip
        if alarm.ticket_id is not None:
            text = f"Alarm {alarm.id} ({alarm.alarmed_object}: {alarm.specific_problem}) cleared: {reason}."
            db.session.add(TicketNote(ticket_id=alarm.ticket_id, author=SYSTEM, text=text[:4000]))
        log.info("alarm %s (%s) cleared as gone: %s", alarm.id, alarm.fingerprint, reason)
        cleared.append(alarm)
    return cleared


def stale_topology(alarms: list[Alarm], topo) -> bool:
    """Whether a job that changed an active alarm's device ended after the topology was read:
    NetBox may have changed since, so the topology is worth reading again soon. (While the job
    runs, the regular refresh does: reading a large NetBox every few seconds would not do.)"""
    read_at = utc(getattr(topo, "read_at", None))
    if read_at is None:
        return False
    jobs = {a.job_id for a in alarms if a.job_id is not None and a.active_key is not None}
    if not jobs:
        return False
    return any(
        utc(j.finished_at) > read_at
        for j in db.session.scalars(select(Job).where(Job.id.in_(jobs), Job.finished_at.is_not(None)))
    )
