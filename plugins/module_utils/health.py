# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Health of a device against NetBox: pure comparison of intent and live state.

Each check is one object the fault manager knows: an interface NetBox has enabled must be
operationally up (condition ``interface-down``), a BGP session NetBox implies must be
Established (``bgp-session-down``), an OSPF interface with a peer must have a Full neighbour
(``ospf-adjacency-down``). The conditions are the ones FRR's syslog raises, so a health check
clears what syslog raised and the other way round.
"""

from __future__ import annotations

from ansible_collections.netoss.core.plugins.module_utils.config_push import expectations


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


def checks(data, interfaces, bgp, ospf):
    """Every check of one device: ``data`` its structured data (config_data), the others the
    parsed live state (frr_state: interfaces, BGP summary, OSPF neighbours)."""
    out = []
    live = {i["name"]: i for i in interfaces or []}
    for intf in data.get("interfaces") or []:
        if not intf.get("enabled", True) or intf.get("loopback"):
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
    sessions = {s["neighbor"]: s for s in bgp or []}
    for peer in expected["bgp"]:
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
