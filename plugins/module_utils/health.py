# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Health of a device against NetBox: pure comparison of intent and live state.

Each check is one object the fault manager knows: an interface NetBox has in service must be
operationally up (condition ``interface-down``), a BGP session NetBox implies must be
Established (``bgp-session-down``), an OSPF interface with a peer must have a Full neighbour
(``ospf-adjacency-down``). The conditions are the ones FRR's syslog raises, so a health check
clears what syslog raised and the other way round.

What is in service follows NetBox's own status fields, so a port or a device that is not in
service is never reported as a fault: a device that is not ``active`` is not checked; an
interface is not checked when it is disabled, when its circuit or the device at its other end
is not ``active`` (planned, provisioning, offline...), or when NetBox has it unused (a spare
port: no cable, not marked connected, no address). The BGP sessions and OSPF adjacencies on
such an interface are not checked either. What is skipped is returned with the reason.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.netoss.core.plugins.module_utils.config_push import expectations

IN_SERVICE = "active"


def _check(object_type, name, condition, ok, problem, severity="major", cause="communicationsProtocolError"):
    return {
        "object_type": object_type,
        "object_name": name,
        "condition": condition,
        "ok": ok,
        "problem": problem if not ok else "",
        "severity": severity,
        "probable_cause": cause,
    }


def out_of_service(intf):
    """Why NetBox has interface ``intf`` (an entry of the structured data) out of service, or None."""
    if not intf.get("enabled", True):
        return "disabled in NetBox"
    circuit = intf.get("circuit_status")
    if circuit not in (None, IN_SERVICE):
        return "its circuit %s is %s in NetBox" % (intf.get("circuit"), circuit)
    peer = intf.get("peer_status")
    if peer not in (None, IN_SERVICE):
        return "the device at its other end, %s, is %s in NetBox" % ((intf.get("peer") or {}).get("device"), peer)
    if "cabled" in intf and not intf["cabled"] and not intf.get("circuit") and not intf.get("addresses"):
        return "unused in NetBox (no cable, not marked connected, no address): a spare port"
    return None


def not_checked(data):
    """What a health check of the device leaves out, and why: [{object_type, object_name, why}]."""
    status = data.get("status") or IN_SERVICE
    if status != IN_SERVICE:
        return [{"object_type": "device", "object_name": data.get("hostname"), "why": "%s in NetBox" % status}]
    out = []
    for intf in data.get("interfaces") or []:
        why = None if intf.get("loopback") else out_of_service(intf)
        if why:
            out.append({"object_type": "interface", "object_name": intf["name"], "why": why})
    return out


def _subnets_out_of_service(data):
    nets = []
    for intf in data.get("interfaces") or []:
        if not intf.get("loopback") and out_of_service(intf):
            nets.extend(ipaddress.ip_interface(a).network for a in intf.get("addresses") or [])
    return nets


def checks(data, interfaces, bgp, ospf):
    """Every check of one device: ``data`` its structured data (config_data), the others the
    parsed live state (frr_state: interfaces, BGP summary, OSPF neighbours). Nothing of what
    NetBox has out of service (see not_checked) is checked."""
    out = []
    if (data.get("status") or IN_SERVICE) != IN_SERVICE:
        return out
    live = {i["name"]: i for i in interfaces or []}
    for intf in data.get("interfaces") or []:
        if intf.get("loopback") or out_of_service(intf):
            continue
        state = live.get(intf["name"])
        if state is None:
            problem = "Interface %s is enabled in NetBox but not present on the device" % intf["name"]
            out.append(_check("interface", intf["name"], "interface-down", False, problem, cause="lossOfSignal"))
            continue
        ok = bool(state["oper_up"])
        admin = "" if state["admin_up"] else " (shut down on the device)"
        problem = "Interface %s is enabled in NetBox but operationally down%s" % (intf["name"], admin)
        out.append(_check("interface", intf["name"], "interface-down", ok, problem, cause="lossOfSignal"))
    expected = expectations(data)
    quiet = _subnets_out_of_service(data)
    resting = {i["name"] for i in data.get("interfaces") or [] if out_of_service(i)}
    sessions = {s["neighbor"]: s for s in bgp or []}
    for peer in expected["bgp"]:
        if any(ipaddress.ip_address(peer["address"]) in net for net in quiet):
            continue  # a session over a link NetBox has out of service
        state = sessions.get(peer["address"])
        if state is None:
            ok, problem = False, "BGP session to %s (%s) is not configured" % (peer["address"], peer["description"])
        else:
            ok = bool(state["established"])
            problem = "BGP session to %s (%s) is %s, not Established" % (
                peer["address"],
                peer["description"],
                state["state"],
            )
        out.append(_check("bgp_session", peer["address"], "bgp-session-down", ok, problem))
    full = {n["interface"] for n in ospf or [] if n["full"]}
    for name in expected["ospf"]:
        if name in resting:
            continue
        problem = "OSPF adjacency on %s is not Full" % name
        out.append(_check("ospf_adjacency", name, "ospf-adjacency-down", name in full, problem, severity="minor"))
    return out


def alarms(device, results):
    """The checks as netoss.core.alarm's ``alarms``: failing ones raised, passing ones cleared."""
    return [
        {
            "device": device,
            "object_type": c["object_type"],
            "object_name": c["object_name"],
            "condition": c["condition"],
            "state": "cleared" if c["ok"] else "raised",
            "severity": c["severity"],
            "probable_cause": c["probable_cause"],
            "specific_problem": c["problem"],
        }
        for c in results
    ]


def rested(device, left_out):
    """Clears for the interface alarms of what NetBox has out of service (a port taken out of
    service, a circuit being provisioned): such a port is not a fault."""
    return [
        {
            "device": device,
            "object_type": "interface",
            "object_name": s["object_name"],
            "condition": "interface-down",
            "state": "cleared",
            "severity": "major",
            "probable_cause": "lossOfSignal",
            "specific_problem": "Interface %s is out of service: %s" % (s["object_name"], s["why"]),
        }
        for s in left_out
        if s["object_type"] == "interface"
    ]
