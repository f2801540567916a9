# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's wiring and probes: veth pairs between routers' network namespaces, and pings
from inside one. Only for the lab `netoss lab up` builds (a router is the namespace
:func:`namespace_name` gives its device); a real network's last mile is patched by people,
and probed by its own probes. Nothing here ever runs in the host's own namespace.

The lab's names are decided here, for `netoss lab up` (netoss/embedded/lab) and for these modules alike:
the namespace of each device, and which interface names the lab can create.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import time
import unicodedata

# Linux limits a network namespace's name (by the lab's rule, as its interfaces' names) to
# IFNAMSIZ - 1 characters.
NAME_MAX = 15
# A namespace prefix keeps two labs apart on one machine (NETOSS_LAB_PREFIX); short, so that a
# derived name keeps a readable stem.
PREFIX = re.compile(r"[a-z0-9-]{0,6}\Z")
HASH_LEN = 6
# A device name the lab uses as its namespace name as it is (with the prefix, when that fits).
_PLAIN = re.compile(r"[a-z0-9][a-z0-9-]*\Z")
# Interface names the lab can create in a namespace (veth ends): Linux's rules (no '/', no
# space, no ':', at most 15 characters), kept to a plain set.
IFNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,14}\Z")
IFNAME_ALLOWED = "a letter or digit then up to 14 of letters, digits, . _ -"
# A device name in a request to the lab: letters (any script), digits, . _ - up to NetBox's 64.
DEVICE = re.compile(r"[\w.-]{1,64}\Z")


def namespace_name(prefix, device):
    """The network namespace of ``device`` in the lab whose namespaces start with ``prefix``.

    The device's own name when it is plain (lowercase ASCII letters, digits and ``-``) and fits
    in 15 characters with the prefix; otherwise a readable stem of it (accents dropped,
    lowercased, other characters as ``-``) then ``_`` and the first 6 hex digits of the
    SHA-256 of the whole name: ``ams-core-router-01.example.net`` -> ``ams-core_9fa77d``.
    Stable (the same name always gives the same namespace), ASCII, at most 15 characters, and
    a derived name never equals a plain one (only derived names hold ``_``). FRR's pathspace
    (``-N``), ``/etc/frr/<ns>`` and ``/var/run/frr/<ns>`` take it as it is.
    """
    if not PREFIX.match(prefix):
        raise LabError("namespace prefix %r is not up to 6 of a-z 0-9 -" % prefix)
    if _PLAIN.match(device) and len(prefix) + len(device) <= NAME_MAX:
        return prefix + device
    folded = unicodedata.normalize("NFKD", device).encode("ascii", "ignore").decode("ascii").lower()
    room = NAME_MAX - len(prefix) - 1 - HASH_LEN
    stem = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:room].rstrip("-") or "r"
    return "%s%s_%s" % (prefix, stem, hashlib.sha256(device.encode("utf-8")).hexdigest()[:HASH_LEN])


class LabError(RuntimeError):
    """The lab cannot do it, or cannot be built as NetBox describes it; the message names the
    router, link, device or cable. The one lab error: netoss's lab runtime raises it too."""


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
    """Send one request to the lab helper (netoss/embedded/lab/helper.py); its result, or LabError."""
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
    ns = namespace_name(prefix, device)
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
    ns = namespace_name(prefix, device)
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
