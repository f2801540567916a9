# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's wiring and probes: veth pairs between routers' network namespaces, and pings
from inside one. Only for the lab `netoss lab up` builds (a router is the namespace
``<prefix><device>``); a real network's last mile is patched by people, and probed by its
own probes. Nothing here ever runs in the host's own namespace.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time


class LabError(RuntimeError):
    """The lab cannot do it; the message names the router or link."""


def _run(args, timeout=20):
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def helper_socket():
    """The lab helper's socket when this process cannot act on namespaces itself (not root):
    NETOSS_LAB_HELPER, else <NETOSS_STATE>/lab-helper/helper.sock; None when root."""
    if os.geteuid() == 0:
        return None
    path = os.environ.get("NETOSS_LAB_HELPER")
    if not path and os.environ.get("NETOSS_STATE"):
        path = os.path.join(os.environ["NETOSS_STATE"], "lab-helper", "helper.sock")
    if not path or not os.path.exists(path):
        raise LabError(
            "the lab needs root (network namespaces) and no lab helper answers here (%s): "
            "run `netoss up` as root, which starts it" % (path or "NETOSS_STATE is not set")
        )
    return path


def ask_helper(path, request, timeout):
    """Send one request to the lab helper (portal/lab/helper.py); its result, or LabError."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
        sock.sendall(json.dumps(request).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError as exc:
        raise LabError("the lab helper at %s: %s" % (path, exc)) from None
    finally:
        sock.close()
    try:
        resp = json.loads(data)
    except ValueError:
        raise LabError("the lab helper at %s gave no answer" % path) from None
    if not resp.get("ok"):
        raise LabError(resp.get("error") or "the lab helper refused")
    return resp["result"]


def namespaces():
    rc, out = _run(["ip", "netns", "list"])
    if rc != 0:
        raise LabError("cannot list network namespaces: %s" % out)
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def endpoint(text, prefix, known):
    """(namespace, interface) of 'device:interface', checked against the lab's namespaces."""
    device, sep, interface = text.partition(":")
    if not sep or not device or not interface:
        raise LabError("%r is not device:interface" % text)
    ns = prefix + device
    if ns not in known:
        raise LabError("the lab has no router %s (namespace %s): is this the lab?" % (device, ns))
    return ns, interface


def link_exists(ns, interface):
    rc, _out = _run(["ip", "-n", ns, "link", "show", "dev", interface])
    return rc == 0


def patch(a, b, prefix, check_mode=False):
    """Connect a and b (device:interface) with a veth pair; returns whether it changed anything."""
    helper = helper_socket()
    if helper:
        return ask_helper(helper, {"op": "patch", "a": a, "b": b, "prefix": prefix, "check_mode": check_mode}, 120)
    known = namespaces()
    (ns_a, if_a), (ns_b, if_b) = endpoint(a, prefix, known), endpoint(b, prefix, known)
    there_a, there_b = link_exists(ns_a, if_a), link_exists(ns_b, if_b)
    if there_a and there_b:
        return False
    if there_a or there_b:
        raise LabError("%s and %s: only one end exists (%s); unpatch it first" % (a, b, a if there_a else b))
    if check_mode:
        return True
    for args in (
        ["ip", "link", "add", if_a, "netns", ns_a, "type", "veth", "peer", "name", if_b, "netns", ns_b],
        ["ip", "-n", ns_a, "link", "set", if_a, "up"],
        ["ip", "-n", ns_b, "link", "set", if_b, "up"],
    ):
        rc, out = _run(args)
        if rc != 0:
            raise LabError("patching %s to %s: %s: %s" % (a, b, " ".join(args), out))
    return True


def unpatch(a, b, prefix, check_mode=False):
    """Remove the veth pair between a and b; returns whether it changed anything."""
    helper = helper_socket()
    if helper:
        return ask_helper(helper, {"op": "unpatch", "a": a, "b": b, "prefix": prefix, "check_mode": check_mode}, 120)
    known = namespaces()
    (ns_a, if_a), (ns_b, if_b) = endpoint(a, prefix, known), endpoint(b, prefix, known)
    changed = False
    for ns, interface in ((ns_a, if_a), (ns_b, if_b)):
        if link_exists(ns, interface):
            changed = True
            if not check_mode:
                rc, out = _run(["ip", "-n", ns, "link", "del", interface])
                if rc != 0 and link_exists(ns, interface):
                    raise LabError("unpatching %s:%s: %s" % (ns, interface, out))
    return changed


def ping(device, source, destination, prefix, timeout=30, count=3, clock=time.monotonic, sleep=time.sleep):
    """Ping ``destination`` from ``source`` inside router ``device`` until it answers or
    ``timeout`` seconds pass; returns (ok, attempts, last output)."""
    helper = helper_socket()
    if helper:
        request = {"op": "ping", "device": device, "source": source, "destination": destination, "prefix": prefix}
        request.update({"timeout": int(timeout), "count": int(count)})
        ok, attempts, out = ask_helper(helper, request, timeout + count + 30)
        return ok, attempts, out
    ns = prefix + device
    if ns not in namespaces():
        raise LabError("the lab has no router %s (namespace %s): is this the lab?" % (device, ns))
    deadline = clock() + timeout
    attempts = 0
    while True:
        attempts += 1
        rc, out = _run(
            [
                "ip",
                "netns",
                "exec",
                ns,
                "ping",
                "-n",
                "-c",
                str(count),
                "-i",
                "0.2",
                "-W",
                "1",
                "-I",
                source,
                destination,
            ],
            timeout=count + 10,
        )
        if rc == 0 or clock() >= deadline:
            return rc == 0, attempts, out
        sleep(1)
