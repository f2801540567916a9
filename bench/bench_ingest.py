#!/usr/bin/env python3
"""Benchmark: sustained fault ingest, N events/s for S seconds, every one accounted for.

It starts a stack of its own (.state-bench-faults, port base 20000, the demo intent in NetBox, no
lab), or runs on a stack already up (--stack), then:

1. Extra fault processors (--processors N: the stack's own and N-1 more, started as the stack
   starts its own: its account and environment), which share the event stream's shards.
2. A sender process sends syslog lines and SNMPv2c traps at --rate events per second for
   --seconds, paced every 5 ms, from 64 UDP sockets (as many senders as a network has routers:
   the kernel spreads them over the receiver processes, SO_REUSEPORT). The events are about the
   network's links as NetBox has them (interfaces and BGP sessions going down and up, from
   syslog and from traps carrying the device's address), with noise no rule matches and
   malformed lines: the mix bench_faults.py uses.
3. Every second it reads the pipeline's counters: received, stored + rejected, queued, and the
   kernel's UDP receive-buffer drops; and the CPU time of the receivers, the processors, Redis,
   PostgreSQL and the sender.
4. With --kill-processor-at T, T seconds in it kills one extra processor with SIGKILL: its
   shards and pending entries are taken over by the others when its leases lapse.
5. Side by side, the syslog lines of the same mix at the same rate to rsyslog (Debian 12's,
   unpacked from its packages into the stack's state directory, not installed), receiving on
   UDP and writing each line to a file: what a syslog daemon alone keeps up with on this
   machine, and the CPU it takes (--no-compare leaves it out; the smoke size does).

At the end it waits until every event is stored or rejected and checks: received = sent,
stored + rejected = received for each source, no kernel drops, and the rows added to
alarm_events = the events counted stored (nothing stored twice, nothing lost). It prints the
rate achieved, the lag (the queue's peak, the time from the last send to the last event
stored) and the CPU per component. Alarms and tickets the storm raised are cleared at the end.

Usage: .venv/bin/python bench/bench_ingest.py [--rate 20000] [--seconds 60] [--processors 1]
       [--kill-processor-at T] [--no-compare] [--stack DIR] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from netoss.domain.faults import snmp  # noqa: E402
from netoss.domain.faults.pipeline import counters  # noqa: E402
from netoss.embedded.stack import Stack, portal_app  # noqa: E402
from netoss.embedded.stack.accounts import owner_of_process  # noqa: E402
from netoss.embedded.stack.supervisor import Supervisor  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
import bench_faults  # noqa: E402
import on_stack  # noqa: E402

SOURCES = ("syslog", "snmp")
TICK = 0.005  # the sender's pace


def datagrams(community: str, mgmt: dict[str, str], links, n: int = 4000) -> list[tuple[str, bytes]]:
    """A repeatable mix of ``n`` datagrams about the network's links (downs and ups), noise and damage."""
    rng = random.Random(18)  # noqa: S311 - a repeatable mix, not a secret
    pool = []
    for a, b, sessions in links:
        for device, interface in (a, b):
            for state, trap in (("DOWN", "1.3.6.1.6.3.1.1.5.3"), ("UP", "1.3.6.1.6.3.1.1.5.4")):
                pool.append(("syslog", bench_faults.syslog_if(device, interface, state)))
                varbinds = [("1.3.6.1.2.1.31.1.1.1.1.3", interface), (snmp.SNMP_TRAP_ADDRESS, ("ip", mgmt[device]))]
                pool.append(("snmp", snmp.build_trap(community, trap, varbinds)))
        for device, peer, name in sessions:
            pool.append(("syslog", bench_faults.syslog_bgp(device, peer, name)))
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.10:
            out.append(("syslog", bench_faults.NOISE))
        elif r < 0.13:
            out.append(("syslog", bench_faults.MALFORMED))
        elif r < 0.15:
            out.append(("snmp", snmp.build_trap("wrong-community", "1.3.6.1.6.3.1.1.5.3", [])))
        else:
            out.append(rng.choice(pool))
    return out


def send(ports: dict[str, int], pool: list[tuple[str, bytes]], rate: int, seconds: float, result) -> None:
    """The sender process: ``rate`` datagrams/s for ``seconds``, paced every TICK, round robin
    over 64 sockets; ``result`` gets the counts sent per source and the time taken."""
    socks = []
    for _ in range(64):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    sent = dict.fromkeys(SOURCES, 0)
    addresses = {source: ("127.0.0.1", port) for source, port in ports.items()}
    total = int(rate * seconds)
    start = time.monotonic()
    i = 0
    while i < total:
        due = min(total, int((time.monotonic() - start) * rate) + 1)
        while i < due:
            source, data = pool[i % len(pool)]
            try:
                socks[i % 64].sendto(data, addresses[source])
            except BlockingIOError:  # the loopback's send queue: try again at the next tick
                break
            sent[source] += 1
            i += 1
        time.sleep(TICK)
    result.update(sent=sent, seconds=time.monotonic() - start)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children reaped (clock ticks -> s)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                children = (task / "children").read_text().split()
                todo += [int(c) for c in children]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return out


def udp_drops() -> int:
    return bench_faults.udp_rcvbuf_errors()


class Processors:
    """Extra fault processors, started as the stack starts its own, stopped by PID."""

    def __init__(self, stack: Stack):
        self.stack, self.procs = stack, []

    def start(self, count: int, stack_pid: int) -> None:
        user = owner_of_process(stack_pid) or "root"
        entry = pwd.getpwnam(user)
        env = {**os.environ, **portal_app.env(self.stack), **portal_app.daemon_env(self.stack, "fault-processor")}
        log = (self.stack.logs / "bench-processors.log").open("a")
        for _ in range(count):
            kwargs = {}
            if user != "root":
                kwargs = {"user": entry.pw_uid, "group": entry.pw_gid,
                          "extra_groups": os.getgrouplist(user, entry.pw_gid)}  # fmt: skip
            self.procs.append(
                subprocess.Popen(
                    [str(self.stack.venv / "bin" / "netoss"), "faults", "process"],
                    cwd=self.stack.repo,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    **kwargs,
                )
            )
        log.close()

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)


def alarm_event_rows(stack: Stack) -> int:
    """Rows of alarm_events now (through the portal's database, as the processor writes them)."""
    from sqlalchemy import create_engine, text

    uri = json.loads(portal_app.config_file(stack).read_text())["SQLALCHEMY_DATABASE_URI"]
    engine = create_engine(uri)
    try:
        with engine.connect() as c:
            return int(c.scalar(text("SELECT count(*) FROM alarm_events")))
    finally:
        engine.dispose()


RSYSLOG_PACKAGES = ("rsyslog", "libestr0", "libfastjson4", "liblognorm5")


def rsyslog(cache: Path) -> Path | None:
    """rsyslogd from Debian's packages, unpacked in ``cache`` (not installed: nothing of the
    machine's changes); None when they cannot be fetched (no apt, no network)."""
    daemon = cache / "root" / "usr" / "sbin" / "rsyslogd"
    if daemon.exists():
        return daemon
    cache.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(["apt-get", "download", "-qq", *RSYSLOG_PACKAGES], cwd=cache, check=True,
                       capture_output=True, timeout=300)  # fmt: skip
        for deb in cache.glob("*.deb"):
            subprocess.run(["dpkg", "-x", str(deb), str(cache / "root")], check=True, capture_output=True)
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"rsyslog: not fetched ({exc}); the comparison is left out")
        return None
    return daemon if daemon.exists() else None


def compare_rsyslog(stack: Stack, args, pool) -> None:
    """What a syslog daemon alone does with the same syslog lines at the same rate: rsyslog 8
    (Debian 12's) receiving on UDP (imudp, the same 8 MiB socket buffer) and writing each line to
    a file, as the user nobody. No parsing into alarms, no database: the floor of the
    hand-glued pipeline netoss replaces."""
    daemon = rsyslog(stack.state_dir / "bench-rsyslog")
    if daemon is None:
        return
    lines = [d for source, d in pool if source == "syslog"]
    work = Path(tempfile.mkdtemp(prefix="bench-rsyslog-"))
    nobody = pwd.getpwnam("nobody")
    os.chown(work, nobody.pw_uid, nobody.pw_gid)
    port = stack.port("syslog") + 1000
    lib = daemon.parents[1] / "lib" / "x86_64-linux-gnu"  # root/usr/lib/...
    (work / "rsyslog.conf").write_text(
        f'global(workDirectory="{work}")\n'
        f'module(load="{lib}/rsyslog/imudp.so")\n'
        f'input(type="imudp" address="127.0.0.1" port="{port}" rcvbufSize="8m")\n'
        f'action(type="omfile" file="{work}/messages")\n'
    )
    proc = subprocess.Popen(
        [str(daemon), "-n", "-f", str(work / "rsyslog.conf"), "-i", str(work / "pid"), "-M", str(lib / "rsyslog")],
        env={"LD_LIBRARY_PATH": str(lib), "PATH": "/usr/bin:/bin"}, user=nobody.pw_uid, group=nobody.pw_gid,
        extra_groups=[], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        time.sleep(1)
        if proc.poll() is not None:
            print("rsyslog: did not start; the comparison is left out")
            return
        drops0, cpu0 = udp_drops(), cpu_seconds(proc.pid)
        result = multiprocessing.Manager().dict()
        sender = multiprocessing.Process(
            target=send, args=({"syslog": port}, [("syslog", d) for d in lines], args.rate, args.seconds, result)
        )
        t0 = time.monotonic()
        sender.start()
        sender.join()
        total, written, last = result["sent"]["syslog"], 0, -1
        while written != last:  # until it has written what it received
            last = written
            time.sleep(1)
            written = sum(1 for _ in (work / "messages").open("rb")) if (work / "messages").exists() else 0
        wall = time.monotonic() - t0 - 1
        print("rsyslog 8 (UDP -> a file, no parsing, no database), the same rate of syslog lines only:")
        print(f"  sent {total} in {result['seconds']:.1f} s = {total / result['seconds']:.0f}/s; written {written} "
              f"({total - written} lost); kernel UDP receive-buffer drops {udp_drops() - drops0}; "
              f"CPU {(cpu_seconds(proc.pid) - cpu0) / wall:.2f}")  # fmt: skip
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=int, default=20000, help="events per second (default 20000, max 100000)")
    ap.add_argument("--seconds", type=float, default=60, help="how long (default 60, max 600)")
    ap.add_argument("--processors", type=int, default=1, help="fault processors in all (default 1, max 8)")
    ap.add_argument("--kill-processor-at", type=float, default=None, metavar="T",
                    help="kill -9 one extra processor T seconds in (needs --processors 2 or more)")  # fmt: skip
    ap.add_argument("--smoke", action="store_true", help="a smoke-size run (make test): 2,000/s for 3 s, 2 processors")
    ap.add_argument("--no-compare", action="store_true", help="leave out rsyslog at the same rate")
    on_stack.add_options(ap)
    args = ap.parse_args()
    if args.smoke:
        args.rate, args.seconds, args.processors, args.kill_processor_at = 2000, 3, 2, 1.5
    if not (100 <= args.rate <= 100_000 and 1 <= args.seconds <= 600 and 1 <= args.processors <= 8):
        ap.error("--rate 100..100000, --seconds 1..600, --processors 1..8")
    if args.kill_processor_at is not None and (args.processors < 2 or not 0 < args.kill_processor_at < args.seconds):
        ap.error("--kill-processor-at needs --processors 2 or more and a time within --seconds")
    print(f"machine: {platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}")
    with on_stack.stack_for(args, *on_stack.own(".state-bench-faults"), seed_intent=True) as (stack, _own):
        run(stack, args)


def run(stack: Stack, args) -> None:
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {stack.load_secrets()['portal_admin_token']}"
    links, mgmt, topo = bench_faults.network_links(stack)
    base = stack.portal_url
    active = bench_faults.get_all(api, f"{base}{bench_faults.ALARMS_API}", {"state": "active"})
    open_tickets = bench_faults.get_all(api, f"{base}{bench_faults.TICKETS_API}", {"status": "open"})
    # On a stack in use, the storm keeps to the free links, as bench_faults.py does.
    links = bench_faults.free_links(api, stack, links, topo, active, open_tickets)
    if not links:
        raise SystemExit("bench: no link free of alarms between two devices with a primary IPv4 in NetBox")
    alarms_before = {a["id"] for a in active}
    tickets_before = {t["id"] for t in open_tickets}
    conn = redis.Redis.from_url(json.loads(portal_app.config_file(stack).read_text())["REDIS_URL"])
    pool = datagrams(stack.load_secrets()["snmp_community"], mgmt, links)
    procs = Supervisor(stack).processes()
    receiver, processor = procs["fault-receiver"]["pid"], procs["fault-processor"]["pid"]
    redis_pid, postgres_pid = procs["redis"]["pid"], procs["postgres"]["pid"]
    extra = Processors(stack)
    try:
        extra.start(args.processors - 1, processor)
        time.sleep(4 if args.processors > 1 else 1)  # they read NetBox's topology and share the shards
        dead = [p.pid for p in extra.procs if p.poll() is not None]
        if dead:
            raise SystemExit(f"bench processors {dead} exited at start: see {stack.logs / 'bench-processors.log'}")
        measure(stack, args, conn, pool, receiver, [processor, *(p.pid for p in extra.procs)], redis_pid,
                postgres_pid, extra)  # fmt: skip
    finally:
        extra.stop()
        bench_faults.clear_raised(api, stack, alarms_before, tickets_before)
    if not args.smoke and not args.no_compare:
        compare_rsyslog(stack, args, pool)


def measure(stack, args, conn, pool, receiver, processors, redis_pid, postgres_pid, extra) -> None:
    before, drops_before, rows_before = counters(conn), udp_drops(), alarm_event_rows(stack)
    groups = {
        "receivers": lambda: tree(receiver),
        "processors": lambda: [p for p in processors if Path(f"/proc/{p}").exists()],
        "redis": lambda: [redis_pid],
        "postgres": lambda: tree(postgres_pid),
    }
    cpu0 = {g: sum(cpu_seconds(p) for p in pids()) for g, pids in groups.items()}
    manager = multiprocessing.Manager()
    result = manager.dict()
    ports = {"syslog": stack.port("syslog"), "snmp": stack.port("snmptrap")}
    sender = multiprocessing.Process(target=send, args=(ports, pool, args.rate, args.seconds, result))
    t0 = time.monotonic()
    sender.start()
    killed, killed_at = None, 0.0
    peak_queue, samples = 0, []
    print(f"sending {args.rate}/s for {args.seconds:g} s to {args.processors} processor(s)...")
    while sender.is_alive() or not settled(conn, before, result):
        time.sleep(1)
        now = time.monotonic() - t0
        c = counters(conn)
        peak_queue = max(peak_queue, c["queued"])
        done = sum(done_of(c, before, s) for s in SOURCES)
        samples.append((now, done, c["queued"]))
        if args.kill_processor_at is not None and killed is None and now >= args.kill_processor_at:
            killed, killed_at = extra.procs[0].pid, now
            os.kill(killed, signal.SIGKILL)
            print(f"  {now:5.1f} s: kill -9 of processor {killed}")
        if now > args.seconds + 300:
            raise SystemExit("bench: the events were not all stored or rejected within 300 s of the end")
    sender.join()
    end = time.monotonic() - t0
    cpu1 = {g: sum(cpu_seconds(p) for p in pids()) for g, pids in groups.items()}
    sent, send_seconds = dict(result["sent"]), result["seconds"]
    c = counters(conn)
    drops = udp_drops() - drops_before
    rows = alarm_event_rows(stack) - rows_before
    total = sum(sent.values())
    last_done = next((t for t, d, _q in samples if d >= total), end)
    print(f"sent {total} events in {send_seconds:.1f} s = {total / send_seconds:.0f}/s "
          f"(syslog {sent['syslog']}, traps {sent['snmp']})")  # fmt: skip
    print(f"all stored or rejected {last_done:.1f} s after the first sent = {total / last_done:.0f}/s; "
          f"lag after the last sent {max(0.0, last_done - send_seconds):.1f} s; queue peak {peak_queue}")  # fmt: skip
    ok = drops == 0
    stored_total = 0
    for s in SOURCES:
        received = c["received"].get(s, 0) - before["received"].get(s, 0)
        stored = c["stored"].get(s, 0) - before["stored"].get(s, 0)
        rejected = {r: n - before["rejected"].get(s, {}).get(r, 0) for r, n in c["rejected"].get(s, {}).items()}
        rejected = {r: n for r, n in rejected.items() if n}
        stored_total += stored
        good = received == sent[s] == stored + sum(rejected.values())
        ok = ok and good
        print(f"  {s:7} sent {sent[s]:8}  received {received:8}  stored {stored:8}  rejected "
              f"{sum(rejected.values()):7} {rejected}  {'ok' if good else 'MISMATCH'}")  # fmt: skip
    print(f"  kernel UDP receive-buffer drops: {drops}")
    print(f"  alarm_events rows added {rows}, events counted stored {stored_total}: "
          f"{'nothing stored twice, nothing lost' if rows == stored_total else 'MISMATCH'}")  # fmt: skip
    ok = ok and rows == stored_total
    wall = end
    print("CPU (seconds of CPU per second of the run, 2.0 = both cores):")
    for g in groups:
        print(f"  {g:10} {(cpu1[g] - cpu0[g]) / wall:5.2f}")
    print(f"  {'netoss':10} {sum(cpu1[g] - cpu0[g] for g in groups) / wall:5.2f} in all (the sender not counted)")
    if killed:
        print(f"  (processor {killed} killed with SIGKILL {killed_at:.1f} s in: its CPU is counted until then; "
              "its shards and pending entries taken over when its leases lapsed)")  # fmt: skip
    print("result:", "every event accounted for, none stored twice" if ok else "MISMATCH (see above)")
    if not ok:
        raise SystemExit(1)


def done_of(c: dict, before: dict, source: str) -> int:
    stored = c["stored"].get(source, 0) - before["stored"].get(source, 0)
    rejected = sum(c["rejected"].get(source, {}).values()) - sum(before["rejected"].get(source, {}).values())
    return stored + rejected


def settled(conn, before: dict, result) -> bool:
    """The sender is done, nothing is queued, and every event received is stored or rejected
    (what the kernel dropped, if any, never arrives: the accounting shows it)."""
    if "sent" not in result:
        return False
    time.sleep(0.5)  # the receivers' last batches (they flush every 20 ms)
    c = counters(conn)
    received = {s: c["received"].get(s, 0) - before["received"].get(s, 0) for s in SOURCES}
    return c["queued"] == 0 and all(done_of(c, before, s) == received[s] for s in SOURCES)


if __name__ == "__main__":
    main()
