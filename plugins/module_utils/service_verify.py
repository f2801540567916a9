# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is a customer's service right on a router? What a service order checks after its push.

``device`` is anything with ``get(command)`` (an ansible.netcommon Connection, or a fake in
unit tests). ``spec`` says what the service needs on this router:

- ``neighbor``: the far end's address on the PE-CE link;
- ``bgp``: the service runs eBGP (else static routes);
- ``prefixes``: on the PE, the customer prefixes it must receive from the CE (eBGP) or route
  to it (static);
- ``receives``: on the CE with eBGP, the routes it must receive from the PE (the default route,
  and the provider's aggregates when the service announces them);
- ``removed``: the service was deleted: the session must be gone;
- ``role``: ``pe`` or ``ce``.

``baseline`` is the router's BGP sessions read before the push (netoss.core.frr_state), and
``elapsed`` the seconds since: a session that was established then must still be, and its
uptime must have grown by at least ``elapsed`` (less a slack), or the push disturbed it.
"""

from __future__ import annotations

import json
import time

from ansible_collections.netoss.core.plugins.module_utils.frr_state import COMMANDS, parse_bgp_summary, session_state

SLACK_MSEC = 5000


def _json(text, command):
    try:
        data = json.loads(text or "{}")
    except ValueError:
        return None, "%s: the router did not answer JSON: %s" % (command, (text or "").strip()[:200])
    return data, None


def disturbed(baseline, sessions, elapsed, skip=()):
    """Sessions established in ``baseline`` that went down or restarted since (by their uptime)."""
    now = {(s["vrf"], s["neighbor"]): s for s in sessions}
    out = []
    for before in baseline:
        if not before.get("established") or before["neighbor"] in skip:
            continue
        after = now.get((before["vrf"], before["neighbor"]))
        if after is None or not after["established"]:
            out.append("BGP session to %s went down (%s)" % (before["neighbor"], (after or {}).get("state", "gone")))
            continue
        if before.get("uptime_msec") is not None and after.get("uptime_msec") is not None:
            expected = before["uptime_msec"] + int(elapsed * 1000) - SLACK_MSEC
            if after["uptime_msec"] < expected:
                out.append(
                    "BGP session to %s restarted during the change (up %s, was up %s before)"
                    % (before["neighbor"], after.get("uptime"), before.get("uptime"))
                )
    return out


def _not_received(device, neighbor, wanted):
    """The routes of ``wanted`` that ``neighbor`` has not sent (accepted by the import policy)."""
    command = "show bgp ipv4 unicast neighbors %s routes json" % neighbor
    data, error = _json(device.get(command), command)
    if error:
        return [error]
    received = set((data.get("routes") or {}).keys())
    missing = [p for p in wanted if p not in received]
    if not missing:
        return []
    return [
        "%s has not sent %s (received: %s)" % (neighbor, ", ".join(missing), ", ".join(sorted(received)) or "nothing")
    ]


def problems(device, spec, baseline=(), elapsed=0.0, seen=None):
    """What is not right yet (an empty list when the service is right). ``seen``, a dict, gets the
    service's session as read (``session``), when it has one."""
    out = []
    sessions = parse_bgp_summary(device.get(COMMANDS["bgp"]))
    neighbor = spec.get("neighbor")
    mine = [s for s in sessions if s["neighbor"] == neighbor]
    if seen is not None:
        seen["session"] = mine[0] if mine else None
    if spec.get("removed"):
        if mine:
            out.append(
                "the deleted service's BGP session to %s is still configured (%s)" % (neighbor, mine[0]["state"])
            )
    elif spec.get("bgp"):
        if not mine:
            out.append("no BGP session to %s is configured" % neighbor)
        elif not mine[0]["established"]:
            out.append("the BGP session to %s is %s, not Established" % (neighbor, session_state(mine[0]["state"])))
        else:
            wanted = spec.get("prefixes") if spec.get("role") == "pe" else spec.get("receives")
            if wanted:
                out.extend(_not_received(device, neighbor, wanted))
    else:
        routes = spec.get("prefixes") if spec.get("role") == "pe" else ["0.0.0.0/0"]
        for prefix in routes or []:
            command = "show ip route %s json" % prefix
            data, error = _json(device.get(command), command)
            if error:
                out.append(error)
                continue
            entries = data.get(prefix) or []
            if not any(
                e.get("selected") and any(h.get("ip") == neighbor and h.get("active") for h in e.get("nexthops") or [])
                for e in entries
            ):
                out.append("no active route to %s via %s" % (prefix, neighbor))
    out.extend(disturbed(baseline, sessions, elapsed, skip=(neighbor,)))
    return out


def verify(
    device,
    spec,
    baseline=(),
    taken_at=None,
    timeout=60,
    interval=1.0,
    settle=3.0,
    clock=time.time,
    sleep=time.sleep,
    timings=None,
):
    """Wait until the service is right on the router and has been right for ``settle`` seconds
    (a session torn down just after it came up, by its maximum-prefix, is not right); returns
    [] or the last problems seen. ``timings``, a dict, gets the seconds until the service was
    first seen right (``right``) and until it had been right long enough (``settled``).

    An eBGP service has been right since its session came up, as the session's own uptime says
    (a session torn down and up again starts its uptime again), so a session that came up during
    the push is not watched for ``settle`` more seconds; a static or deleted service from the
    first time it is seen right. A disturbed session is reported at once: waiting does not undo
    a restart.
    """
    start = clock()
    deadline = start + timeout
    right_since = None
    while True:
        elapsed = clock() - taken_at if taken_at else 0.0
        seen = {}
        found = problems(device, spec, baseline, elapsed, seen)
        if any("restarted" in p or "went down" in p for p in found):
            return found
        if found:
            right_since = None
        elif right_since is None:
            right_since = clock()
            session = seen.get("session")
            if spec.get("bgp") and not spec.get("removed") and session and session.get("uptime_msec") is not None:
                right_since -= session["uptime_msec"] / 1000.0  # up (and so right) before we looked
        if not found and clock() - right_since >= settle:
            if timings is not None:
                timings.update(right=round(max(right_since - start, 0.0), 1), settled=round(clock() - start, 1))
            return []
        if clock() >= deadline:
            return found
        sleep(interval)
