"""supervisord: the process supervisor that runs every service of a stack.

supervisord daemonizes, restarts what crashes, keeps one log per program and answers
status queries over a private unix socket; `make up` returns while the services run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import xmlrpc.client
from dataclasses import dataclass, field
from pathlib import Path

from supervisor.xmlrpc import SupervisorTransport

from netoss.embedded.stack.config import Stack, StackError
from netoss.embedded.stack.proc import pid_alive, read_pid, run, wait_for


@dataclass
class Program:
    """One supervised service."""

    name: str
    command: list[str]
    port: int | None = None
    user: str | None = None
    directory: Path | None = None
    environment: dict[str, str] = field(default_factory=dict)
    autostart: bool = True
    stopsignal: str = "TERM"
    stopwaitsecs: int = 20
    priority: int = 100
    startsecs: int = 2


def _quote(arg: str) -> str:
    if arg and all(c.isalnum() or c in "/._-=:,@+" for c in arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(stack: Stack, programs: list[Program]) -> str:
    """supervisord.conf text for these programs."""
    sd = stack.supervisor_dir
    lines = [
        "; Written by `netoss up`; edits are overwritten.",
        "[unix_http_server]",
        f"file={sd / 'supervisor.sock'}",
        "chmod=0700",
        "",
        "[supervisord]",
        f"pidfile={sd / 'supervisord.pid'}",
        f"logfile={stack.logs / 'supervisord.log'}",
        "logfile_maxbytes=10MB",
        "logfile_backups=3",
        f"directory={stack.state_dir}",
        "nodaemon=false",
        "minfds=4096",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{sd / 'supervisor.sock'}",
        "",
    ]
    for p in programs:
        env = ",".join(f'{k}="{v}"' for k, v in sorted(p.environment.items()))
        lines += [
            f"[program:{p.name}]",
            "command=" + " ".join(_quote(c) for c in p.command),
            f"autostart={'true' if p.autostart else 'false'}",
            "autorestart=true",
            f"startsecs={p.startsecs}",
            "startretries=3",
            f"stopsignal={p.stopsignal}",
            f"stopwaitsecs={p.stopwaitsecs}",
            "stopasgroup=true",
            "killasgroup=true",
            f"priority={p.priority}",
            "redirect_stderr=true",
            f"stdout_logfile={stack.logs / (p.name + '.log')}",
            "stdout_logfile_maxbytes=20MB",
            "stdout_logfile_backups=3",
        ]
        if p.user:
            lines.append(f"user={p.user}")
        if p.directory:
            lines.append(f"directory={p.directory}")
        if env:
            lines.append(f"environment={env}")
        lines.append("")
    return "\n".join(lines)


class Supervisor:
    """Start, query and stop the supervisord of one stack."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.conf = stack.supervisor_dir / "supervisord.conf"
        self.sock = stack.supervisor_dir / "supervisor.sock"
        self.pidfile = stack.supervisor_dir / "supervisord.pid"

    def pid(self) -> int | None:
        return read_pid(self.pidfile)

    def rpc(self):
        transport = SupervisorTransport(None, None, f"unix://{self.sock}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor

    def write_config(self, programs: list[Program]) -> bool:
        """Write the config; return True when it changed."""
        text = render(self.stack, programs)
        old = self.conf.read_text() if self.conf.exists() else None
        if old == text:
            return False
        self.stack.supervisor_dir.mkdir(parents=True, exist_ok=True)
        self.stack.logs.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        return True

    def start(self) -> None:
        """Start supervisord if it is not running; apply a changed config if it is."""
        if self.pid() is None:
            run(
                [self.stack.venv / "bin" / "supervisord", "-c", self.conf],
                what="supervisord",
                cwd=self.stack.state_dir,
            )
            wait_for(lambda: self.sock.exists() and self._answers(), 30, "supervisord to answer")
        else:
            # reread + update: (re)start only programs whose definition changed.
            self.rpc().reloadConfig()
            self.ctl("update")

    def _answers(self) -> bool:
        try:
            return self.rpc().getState()["statename"] == "RUNNING"
        except (OSError, xmlrpc.client.Fault):
            return False

    def ctl(self, *args: str) -> str:
        return run(
            [self.stack.venv / "bin" / "supervisorctl", "-c", self.conf, *args],
            what="supervisorctl " + " ".join(args),
        )

    def start_program(self, name: str) -> None:
        """Start a program unless it runs already; wait until supervisord says RUNNING."""
        try:
            self.rpc().startProcess(name, True)
        except xmlrpc.client.Fault as exc:
            if "ALREADY_STARTED" not in exc.faultString:
                raise StackError(
                    f"{name} did not start ({exc.faultString}); see {self.stack.logs / (name + '.log')}"
                ) from None
        wait_for(lambda: self.rpc().getProcessInfo(name)["statename"] == "RUNNING", 60, f"{name} to run")

    def stop_program(self, name: str) -> None:
        """Stop a program (it stays stopped until start_program or the next `up`)."""
        try:
            self.rpc().stopProcess(name, True)
        except xmlrpc.client.Fault as exc:
            if "NOT_RUNNING" not in exc.faultString:
                raise StackError(f"{name} did not stop ({exc.faultString})") from None

    def processes(self) -> dict[str, dict]:
        """Process info by program name; empty when supervisord is not running."""
        if self.pid() is None:
            return {}
        try:
            return {p["name"]: p for p in self.rpc().getAllProcessInfo()}
        except (OSError, xmlrpc.client.Fault):
            return {}

    def shutdown(self, timeout: float = 90) -> list[int]:
        """Stop supervisord and every program by PID; return the pids that were stopped."""
        pid = self.pid()
        if pid is None:
            return []
        children = [p["pid"] for p in self.processes().values() if p.get("pid")]
        os.kill(pid, signal.SIGTERM)  # supervisord stops its programs, then exits
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and (pid_alive(pid) or any(pid_alive(c) for c in children)):
            time.sleep(0.2)
        leftover = [c for c in [pid, *children] if pid_alive(c)]
        for c in leftover:
            os.kill(c, signal.SIGKILL)
        if leftover:
            subprocess.run(["sleep", "0.5"], check=False)
        return [pid, *children]
