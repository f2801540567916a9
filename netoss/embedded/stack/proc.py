"""Small process helpers shared by the stack steps: run a command, wait for a condition."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from netoss.embedded.stack.config import StackError


def run(
    cmd: Sequence[str | Path],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
    input: str | None = None,
    what: str | None = None,
    timeout: float = 1800,
    log_file: Path | None = None,
) -> str:
    """Run a command and return its stdout; on failure raise StackError with the tail of its output.

    ``user`` runs it as another account (runuser), e.g. PostgreSQL's tools as ``postgres``.
    ``env`` is added to the current environment; secrets go there, never on the command line.
    ``log_file`` keeps the whole output (the error then quotes its tail and names the file).
    """
    argv = [str(c) for c in cmd]
    if user:
        argv = ["runuser", "-u", user, "--", *argv]
    full_env = {**os.environ, **(env or {})}
    try:
        proc = subprocess.run(
            argv,
            env=full_env,
            cwd=cwd,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise StackError(f"{what or argv[0]}: command not found: {exc.filename}") from None
    except subprocess.TimeoutExpired:
        raise StackError(f"{what or argv[0]}: no answer after {timeout:.0f} s") from None
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        log_file.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        where = f" (whole output in {log_file})" if log_file else ""
        raise StackError(f"{what or ' '.join(argv[:3])} failed (exit {proc.returncode}){where}:\n{tail}")
    return proc.stdout


def wait_for(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
    """Poll ``check`` until it returns true, or raise StackError naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise StackError(f"timed out after {timeout:.0f} s waiting for {what}")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """True if something accepts TCP connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_pid(path: Path) -> int | None:
    """The pid in a pidfile (first line), or None when missing or stale."""
    try:
        pid = int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if pid_alive(pid) else None
