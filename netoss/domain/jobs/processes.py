"""The processes of a job run, found by walking /proc, and stopping them all (Linux only).

Every process of a run carries ``NETOSS_JOB_DIR=<its private data directory>`` in its
environment (unique to one job of one stack), inherited by ansible-playbook, its workers
(which Ansible puts in sessions of their own) and whatever they start, even once they are
orphaned. :func:`stop` sends SIGTERM to all of them (and to the descendants of a given root,
and to every process of a session one of them leads), then SIGKILL to what is left, and looks again until
none is left: a job is marked ended and its device locks freed only after that.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
MARK = "NETOSS_JOB_DIR"


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    sid: int
    state: str
    started: int  # clock ticks after boot


def stat(pid: int) -> Proc | None:
    """The process ``pid`` from /proc/<pid>/stat (None when there is none)."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except (OSError, ValueError):
        return None
    # The command name (field 2) may hold spaces and parentheses: fields follow the last ')'.
    fields = text[text.rindex(")") + 2 :].split()
    return Proc(pid=pid, ppid=int(fields[1]), sid=int(fields[3]), state=fields[0], started=int(fields[19]))


def started(pid: int) -> int | None:
    proc = stat(pid)
    return proc.started if proc else None


def alive(pid: int | None, pid_started: int | None = None) -> bool:
    """Whether process ``pid`` runs (not a zombie), and is the one that started at ``pid_started``."""
    if not pid:
        return False
    proc = stat(pid)
    if proc is None or proc.state in ("Z", "X"):
        return False
    return pid_started is None or proc.started == pid_started


def _all() -> dict[int, Proc]:
    out = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            proc = stat(int(entry.name))
            if proc is not None:
                out[proc.pid] = proc
    return out


def _marked(pid: int, needle: bytes) -> bool:
    try:
        environ = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return False
    return needle in b"\0" + environ


def find(directory: str | Path, roots: tuple[int, ...] = ()) -> list[int]:
    """The live processes of the run whose private data directory is ``directory``: those marked
    with it, the descendants of ``roots`` and of those, and every process in their sessions.
    Never this process nor its ancestors."""
    procs = _all()
    keep_out = set()
    pid = os.getpid()
    while pid > 1 and pid in procs and pid not in keep_out:
        keep_out.add(pid)
        pid = procs[pid].ppid
    needle = f"\0{MARK}={Path(directory).resolve()}\0".encode()
    found = {p for p in procs if p not in keep_out and _marked(p, needle)}
    found |= {r for r in roots if r in procs}
    children: dict[int, list[int]] = {}
    for proc in procs.values():
        children.setdefault(proc.ppid, []).append(proc.pid)
    while True:
        # A session that a process of the run leads (ansible-playbook's, each Ansible worker's).
        more = {c for p in found for c in children.get(p, [])}
        more |= {p for p, proc in procs.items() if proc.sid in found}
        more -= keep_out
        if more <= found:
            break
        found |= more
    return sorted(p for p in found if procs[p].state not in ("Z", "X"))


def _signal(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            continue


def stop(directory: str | Path, roots: tuple[int, ...] = (), grace: float = 3.0, limit: float = 15.0) -> list[int]:
    """Stop every process of the run (see :func:`find`): SIGTERM, up to ``grace`` seconds, then
    SIGKILL, and look again until none is left or ``limit`` seconds passed. Returns the pids
    still there (empty: all gone, checked)."""
    deadline = time.monotonic() + limit
    pids = find(directory, roots)
    if not pids:
        return []
    _signal(pids, signal.SIGTERM)
    soft = time.monotonic() + grace
    while time.monotonic() < soft:
        pids = find(directory, roots)
        if not pids:
            return []
        time.sleep(0.1)
    while time.monotonic() < deadline:
        pids = find(directory, roots)
        if not pids:
            return []
        _signal(pids, signal.SIGKILL)
        time.sleep(0.1)
    return find(directory, roots)
