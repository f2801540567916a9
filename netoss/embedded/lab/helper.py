"""The lab's privileged helper: the only part of a running stack that acts as root for jobs.

Portal jobs run as the unprivileged `netoss` account, but patching a service's circuit into
the lab (a veth pair between two routers' namespaces) and pinging from inside a router need
root. `netoss lab helper` (a supervisord program, as root) does exactly these three
operations of plugins/module_utils/lab_netns.py for whoever can open its socket:
<state>/lab-helper/helper.sock, mode 0660, group `netoss` (the directory 0750). Each request
is one JSON line, checked strictly before anything runs: the namespace prefix must be the
built lab's, names must be plain device and interface names, addresses must be addresses.
A device name reaches nothing but lab_netns.namespace_name, whose result is always a safe
namespace name; an interface name must be one the lab can create (lab_netns.IFNAME).
"""

from __future__ import annotations

import grp
import ipaddress
import json
import logging
import os
import pwd
import socket
import socketserver
import struct
from pathlib import Path

from ansible_collections.netoss.core.plugins.module_utils import lab_netns

log = logging.getLogger("netoss.lab.helper")

MAX_REQUEST = 16 * 1024
DEVICE = lab_netns.DEVICE  # letters (any script), digits, . _ - up to 64: NetBox's device names
INTERFACE = lab_netns.IFNAME


class RequestError(ValueError):
    """A request the helper refuses; the message names the field."""


def socket_path(state_dir: Path) -> Path:
    return state_dir / "lab-helper" / "helper.sock"


def _excerpt(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _endpoint(value, field: str) -> str:
    if not isinstance(value, str):
        raise RequestError(f"{field}: device:interface expected, got {_excerpt(value)}")
    device, sep, interface = value.partition(":")
    if not (sep and DEVICE.match(device) and INTERFACE.match(interface)):
        raise RequestError(f"{field}: not a lab device:interface: {_excerpt(value)}")
    return value


def _int(request: dict, field: str, default: int, low: int, high: int) -> int:
    value = request.get(field, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise RequestError(f"{field}: an integer from {low} to {high} expected, got {_excerpt(value)}")
    return value


def check(request, lab_prefix: str | None) -> dict:
    """The request, checked and normalised; RequestError says what is wrong."""
    if not isinstance(request, dict):
        raise RequestError("a JSON object expected")
    if lab_prefix is None:
        raise RequestError("no lab is built on this stack")
    if request.get("prefix") != lab_prefix:
        raise RequestError(f"prefix: {_excerpt(request.get('prefix'))} is not the lab's namespace prefix")
    op = request.get("op")
    if op in ("patch", "unpatch"):
        check_mode = request.get("check_mode", False)
        if not isinstance(check_mode, bool):
            raise RequestError("check_mode: true or false expected")
        return {
            "op": op,
            "a": _endpoint(request.get("a"), "a"),
            "b": _endpoint(request.get("b"), "b"),
            "prefix": lab_prefix,
            "check_mode": check_mode,
        }
    if op == "ping":
        device = request.get("device")
        if not isinstance(device, str) or not DEVICE.match(device):
            raise RequestError(f"device: not a lab device name: {_excerpt(device)}")
        source = request.get("source")
        if not isinstance(source, str):
            raise RequestError("source: an interface name or an address expected")
        try:
            source = str(ipaddress.ip_address(source))
        except ValueError:
            if not INTERFACE.match(source):
                raise RequestError(f"source: not an interface name or an address: {_excerpt(source)}") from None
        try:
            destination = str(ipaddress.ip_address(request.get("destination")))
        except ValueError:
            raise RequestError(f"destination: not an address: {_excerpt(request.get('destination'))}") from None
        return {
            "op": "ping",
            "device": device,
            "source": source,
            "destination": destination,
            "prefix": lab_prefix,
            "timeout": _int(request, "timeout", 30, 1, 600),
            "count": _int(request, "count", 3, 1, 10),
        }
    raise RequestError(f"op: one of patch, unpatch, ping expected, got {_excerpt(op)}")


def perform(req: dict):
    """Run a checked request with lab_netns (as root)."""
    if req["op"] == "patch":
        return lab_netns.patch(req["a"], req["b"], req["prefix"], req["check_mode"])
    if req["op"] == "unpatch":
        return lab_netns.unpatch(req["a"], req["b"], req["prefix"], req["check_mode"])
    ok, attempts, out = lab_netns.ping(
        req["device"], req["source"], req["destination"], req["prefix"], timeout=req["timeout"], count=req["count"]
    )
    return [ok, attempts, out[-2000:]]


def lab_prefix(state_dir: Path) -> str | None:
    """The namespace prefix of the lab built on this stack, or None."""
    try:
        return json.loads((state_dir / "lab" / "built.json").read_text())["config"]["ns_prefix"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _peer(sock: socket.socket) -> str:
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid, uid, _gid = struct.unpack("3i", creds)
    except OSError:
        return "?"
    try:
        return f"{pwd.getpwuid(uid).pw_name} (pid {pid})"
    except KeyError:
        return f"uid {uid} (pid {pid})"


def answer(raw: bytes, state_dir: Path, who: str = "?") -> dict:
    """The response to one request line (never raises)."""
    try:
        req = check(json.loads(raw), lab_prefix(state_dir))
    except (RequestError, ValueError) as exc:
        log.warning("refused a request from %s: %s", who, exc)
        return {"ok": False, "error": f"lab helper: {exc}"}
    log.info("%s from %s: %s", req["op"], who, {k: v for k, v in req.items() if k != "op"})
    try:
        return {"ok": True, "result": perform(req)}
    except Exception as exc:  # LabError and the like: the message names the router or link
        return {"ok": False, "error": str(exc)}


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        raw = self.rfile.readline(MAX_REQUEST + 1)
        if len(raw) > MAX_REQUEST:
            resp = {"ok": False, "error": f"lab helper: request longer than {MAX_REQUEST} bytes"}
        else:
            resp = answer(raw, self.server.state_dir, _peer(self.request))
        self.wfile.write(json.dumps(resp).encode() + b"\n")


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    state_dir: Path


def serve(state_dir: Path, group: str | None) -> None:
    """Listen on <state>/lab-helper/helper.sock until stopped; ``group`` may connect."""
    path = socket_path(state_dir)
    path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
    gid = None
    if group:
        gid = grp.getgrnam(group).gr_gid
        os.chown(path.parent, 0, gid)
    os.chmod(path.parent, 0o750 if gid is not None else 0o700)
    path.unlink(missing_ok=True)
    server = _Server(str(path), _Handler)
    server.state_dir = state_dir
    if gid is not None:
        os.chown(path, 0, gid)
    os.chmod(path, 0o660)
    log.info("lab helper on %s (group %s)", path, group or "root only")
    try:
        server.serve_forever()
    finally:
        server.server_close()
        path.unlink(missing_ok=True)
