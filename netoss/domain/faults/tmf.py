"""The TM Forum JSON of alarms (TMF642 v4) and trouble tickets (TMF621 v4): the subset netoss
keeps, and a ``netoss`` object for what the standard has no field for (fingerprint,
occurrences, flapping, probable-cause job, ticket)."""

from __future__ import annotations

from netoss.data.models import Alarm, Ticket, iso

ALARM_PATH = "/tmf-api/alarmManagement/v4/alarm"
TICKET_PATH = "/tmf-api/troubleTicket/v4/troubleTicket"

OBJECT_TYPES = {
    "device": "Device",
    "interface": "Interface",
    "bgp_session": "BgpSession",
    "ospf_adjacency": "OspfAdjacency",
    "bfd_session": "BfdSession",
    "service": "Service",
    "job": "Job",
}


def alarm_ref(alarm_id: int) -> dict:
    return {"id": str(alarm_id), "href": f"{ALARM_PATH}/{alarm_id}"}


def alarm_json(alarm: Alarm, children: list[int] | None = None, comments: list[dict] | None = None) -> dict:
    if alarm.object_type in ("interface", "ospf_adjacency") and alarm.interface_id:
        obj_id = alarm.interface_id
    elif alarm.object_type == "device":
        obj_id = alarm.device_id
    else:
        obj_id = None
    return {
        "id": str(alarm.id),
        "href": f"{ALARM_PATH}/{alarm.id}",
        "@type": "Alarm",
        "alarmType": alarm.alarm_type,
        "perceivedSeverity": "cleared" if alarm.state == "cleared" else alarm.severity,
        "probableCause": alarm.probable_cause,
        "specificProblem": alarm.specific_problem,
        "alarmedObjectType": OBJECT_TYPES.get(alarm.object_type, alarm.object_type),
        "alarmedObject": {
            "id": str(obj_id if obj_id is not None else alarm.alarmed_object),
            "name": alarm.alarmed_object,
            "@referredType": OBJECT_TYPES.get(alarm.object_type, alarm.object_type),
        },
        "sourceSystemId": "netoss",
        "state": alarm.state,
        "ackState": alarm.ack_state,
        "ackUserId": alarm.ack_user,
        "alarmRaisedTime": iso(alarm.raised_at),
        "alarmChangedTime": iso(alarm.changed_at),
        "alarmClearedTime": iso(alarm.cleared_at),
        "isRootCause": alarm.is_root_cause,
        "correlatedAlarm": [alarm_ref(c) for c in children or []],
        "parentAlarm": [alarm_ref(alarm.parent_id)] if alarm.parent_id else [],
        "serviceAffecting": alarm.service_affecting,
        "affectedService": [
            {"id": str(s["id"]), "name": s["name"], "@referredType": "Service"} for s in alarm.affected_services or []
        ],
        "plannedOutageIndicator": "OutOfService" if alarm.planned_outage else "InService",
        "comment": comments or [],
        "netoss": {
            "device": alarm.device,
            "condition": alarm.condition,
            "fingerprint": alarm.fingerprint,
            "source": alarm.source,
            "occurrences": alarm.occurrences,
            "flapping": alarm.flapping,
            "correlation": alarm.correlation,
            "probableCauseJob": alarm.job_id,
            "probableCauseJobText": (alarm.details or {}).get("probable_cause_job"),
            "probableCauseDeployment": (alarm.details or {}).get("probable_cause_deployment"),
            # Why it was cleared when a change removed its object (netoss.domain.faults.gone)
            "clearedAsGone": (alarm.details or {}).get("cleared_as_gone"),
            "ticket": f"TT-{alarm.ticket_id:06d}" if alarm.ticket_id else None,
        },
    }


def ticket_json(ticket: Ticket, changes=(), notes=()) -> dict:
    parties = [{"role": "originator", "name": ticket.created_by, "@referredType": "Individual"}]
    if ticket.assignee:
        parties.append({"role": "assignee", "name": ticket.assignee, "@referredType": "Individual"})
    return {
        "id": ticket.ref,
        "href": f"{TICKET_PATH}/{ticket.ref}",
        "@type": "TroubleTicket",
        "name": ticket.name,
        "description": ticket.description,
        "severity": ticket.severity,
        "priority": str(ticket.priority),
        "ticketType": ticket.ticket_type,
        "status": ticket.status,
        "statusChangeReason": ticket.status_reason,
        "statusChange": [
            {"status": c.status, "changeDate": iso(c.at), "changeReason": c.reason, "changedBy": c.actor}
            for c in changes
        ],
        "creationDate": iso(ticket.created_at),
        "lastUpdate": iso(ticket.updated_at),
        "expectedResolutionDate": iso(ticket.expected_resolution_at),
        "resolutionDate": iso(ticket.resolved_at),
        "relatedEntity": ticket.related or [],
        "relatedParty": parties,
        "note": [{"id": str(n.id), "author": n.author, "date": iso(n.at), "text": n.text} for n in notes],
        "attachment": [],
        "troubleTicketRelationship": [],
        "netoss": {
            "reopenCount": ticket.reopen_count,
            "correlation": ticket.correlation,
            "rootAlarm": ticket.root_alarm_id,
        },
    }


def parse_ticket_id(value: str) -> int | None:
    """TT-000042 (or 42) to 42; None when it is neither."""
    text = value.upper().removeprefix("TT-")
    return int(text) if text.isdigit() and len(text) <= 9 else None
