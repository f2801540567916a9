"""The lab's syslog path: each router's /dev/log -> this relay -> UDP syslog to the collector.

FRR 8.4 has no remote syslog target, and a namespace has no /dev/log. Each router runs in a
private mount namespace whose /dev/log is a unix socket of this relay, one per router
(<lab>/routers/<ns>/log.sock). The relay adds the router's hostname (its device's name, see
spec.Router) as the RFC 3164 HOSTNAME (glibc's syslog() sends none) and forwards each line
over UDP to the collector on the management bridge. It follows the lab's record
(<lab>/built.json): a router that `lab up` adds gets its socket within a second, a removed
one loses it. Run by `netoss lab up`, stopped by PID by `netoss lab down`.

Usage: python -m netoss.embedded.lab.syslog_relay LAB_DIR HOST PORT
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import shutil
import signal
import socket
import sys
from pathlib import Path

# <PRI>Mmm dd hh:mm:ss  (glibc's syslog() format, RFC 3164 without HOSTNAME)
_HEADER = re.compile(rb"^(<\d{1,3}>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) ")


def with_hostname(message: bytes, hostname: str) -> bytes:
    """Insert HOSTNAME after the timestamp of an RFC 3164 message (unchanged if it has none)."""
    message = message.rstrip(b"\x00\n")
    m = _HEADER.match(message)
    if not m:
        return message
    return m.group(1) + b" " + hostname.encode() + b" " + message[m.end() :]


def socket_path(lab_dir: Path, ns: str) -> Path:
    return lab_dir / "routers" / ns / "log.sock"


def _routers(lab_dir: Path) -> dict[str, str]:
    """namespace -> hostname of the routers in the lab's record (empty while it is rewritten)."""
    try:
        routers = json.loads((lab_dir / "built.json").read_text())["routers"]
    except (OSError, ValueError, KeyError):
        return {}
    return {r["ns"]: r.get("hostname") or r["name"] for r in routers}


def _bind(lab_dir: Path, ns: str) -> socket.socket:
    path = socket_path(lab_dir, ns)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(path))
    shutil.chown(path, group="frr")  # the FRR daemons write as user frr, vtysh users are in group frr
    os.chmod(path, 0o660)
    return s


def sync(lab_dir: Path, sockets: dict[str, tuple[socket.socket, str]]) -> None:
    """Bind a socket for each router of the record that has none, close those of routers it
    no longer has (``sockets``: namespace -> (socket, hostname), updated in place)."""
    routers = _routers(lab_dir)
    if not routers:
        return  # no record, or one being written: keep what is bound
    for ns in set(sockets) - set(routers):
        sockets.pop(ns)[0].close()
        socket_path(lab_dir, ns).unlink(missing_ok=True)
    for ns, hostname in routers.items():
        if ns in sockets:
            sockets[ns] = (sockets[ns][0], hostname)
        else:
            sockets[ns] = (_bind(lab_dir, ns), hostname)


def serve(lab_dir: Path, host: str, port: int) -> None:
    sockets: dict[str, tuple[socket.socket, str]] = {}
    record = lab_dir / "built.json"
    seen = None
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    running = True

    def stop(_signum, _frame):
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while running:
        with contextlib.suppress(OSError):
            st = record.stat()
            stamp = (st.st_ino, st.st_mtime_ns)  # each write replaces the file (a new inode)
            if stamp != seen:
                sync(lab_dir, sockets)
                seen = stamp
        by_socket = {s: hostname for s, hostname in sockets.values()}
        try:
            ready, _, _ = select.select(list(by_socket), [], [], 1.0)
        except InterruptedError:
            continue
        for s in ready:
            message = s.recv(65536)
            with contextlib.suppress(OSError):  # no collector listening: syslog over UDP is best effort
                out.sendto(with_hostname(message, by_socket[s])[:8192], (host, port))
    for s, _hostname in sockets.values():
        s.close()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    serve(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]))
