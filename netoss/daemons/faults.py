"""The fault pipeline's daemons: the receivers (`netoss faults receive`: syslog and SNMP traps onto
the event stream) and the processor (`netoss faults process`: alarms, correlation, tickets).
The machinery is the domain's (``netoss.domain.faults.pipeline``); this wires it to a process:
the app context from ``netoss.data.context``, the configuration's settings, the log."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from netoss.data.context import build_app
from netoss.data.netbox import NetBox
from netoss.domain.faults import pipeline
from netoss.domain.faults.outbound import Outbound
from netoss.domain.faults.pipeline import TopologyCache, process_forever, receive, syslog_handler, trap_handler
from netoss.domain.faults.processor import Processor, Settings
from netoss.domain.faults.rules import load_rules
from netoss.domain.jobs.queue import connection
from netoss.domain.jobs.runner import templates


class DaemonError(RuntimeError):
    """A daemon cannot start: the message says what to set."""


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)


def run_receivers(
    rules_file: Path,
    syslog_port: int,
    trap_port: int,
    bridge_address: Callable[[], str | None],
    log: Callable[[str], None],
    processes: int | None = None,
) -> None:
    """Receive syslog and traps on loopback and on ``bridge_address()`` (the devices' side, once
    there is one) until stopped, in ``processes`` processes sharing the ports (default
    FAULTS_RECEIVER_PROCESSES, else one per core, at most 4). RuleError: the rules file has
    problems; DaemonError: the number of processes is not one."""
    rules = load_rules(rules_file)
    app = build_app()
    processes = receiver_processes(processes if processes is not None else app.config.get("FAULTS_RECEIVER_PROCESSES"))
    communities = list(app.config.get("FAULTS_SNMP_COMMUNITIES") or [])
    if not communities:
        log("no FAULTS_SNMP_COMMUNITIES in the portal's configuration: every trap will be rejected")
    sources = {"syslog": (syslog_port, syslog_handler(rules)), "snmp": (trap_port, trap_handler(communities))}
    log(f"syslog rules: {len(rules.rules)} from {rules_file}; {processes} receiver process(es)")
    maxlen = app.config.get("FAULTS_STREAM_MAXLEN")

    def serve() -> None:
        asyncio.run(receive(connection(app), sources, bridge_address, maxlen=maxlen))

    if processes == 1:
        serve()
    else:
        _supervise(serve, processes, log)


def receiver_processes(value) -> int:
    """How many receiver processes: ``value`` (1 to 32), else one per core, at most 4."""
    if value is None or value == "":
        return max(1, min(4, os.cpu_count() or 1))
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise DaemonError(f"FAULTS_RECEIVER_PROCESSES: {value!r} is not a whole number") from None
    if not 1 <= n <= 32:
        raise DaemonError(f"FAULTS_RECEIVER_PROCESSES: {n} is out of range (1 to 32)")
    return n


def _supervise(serve: Callable[[], None], processes: int, log: Callable[[str], None]) -> None:
    """Run ``serve`` in ``processes`` forked children; start again one that dies (after a
    second); on SIGTERM or SIGINT stop them all, and end."""
    children: dict[int, int] = {}
    stopping = []

    def spawn(slot: int) -> None:
        pid = os.fork()
        if pid == 0:  # the child: the parent's handlers are not its own
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 0
            try:
                serve()
            except BaseException:  # the log says why, the parent starts another
                logging.getLogger("netoss.faults").exception("receiver process %d failed", slot)
                code = 1
            finally:
                os._exit(code)
        children[pid] = slot

    def stop(signum, frame) -> None:
        stopping.append(signum)
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for slot in range(processes):
        spawn(slot)
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        slot = children.pop(pid, None)
        if slot is None or stopping:
            continue
        log(f"receiver process {slot} (pid {pid}) ended ({status}); starting it again")
        time.sleep(1)
        if not stopping:
            spawn(slot)


def run_processor(log: Callable[[str], None]) -> None:
    """Turn queued events into alarms, correlate them, open and resolve tickets, until stopped."""
    app = build_app()
    netbox = NetBox.from_config(app.config)
    if netbox is None:
        raise DaemonError("the portal's configuration has no NETBOX_URL and NETBOX_TOKEN")
    outbound = Outbound(dict(app.config))
    outbound.start()
    processor = Processor(
        TopologyCache(netbox),
        Settings.from_config(app.config),
        on_ticket=outbound,
        changing_templates=lambda: {n for n, t in templates(app).items() if t.changes_devices},
    )
    log("fault processor: reading the event stream")
    # Stopped (the supervisor's SIGTERM): leave through process_forever's end, which gives the
    # shards back at once rather than after their leases lapse.
    signal.signal(signal.SIGTERM, _stop)
    process_forever(app, processor, connection(app))


def _stop(signum, frame) -> None:
    raise SystemExit(0)


def counters() -> dict:
    """The pipeline's counters (see netoss.domain.faults.pipeline.counters)."""
    return pipeline.counters(connection(build_app()))
