"""Scale-out on two hosts (docs/scaling.md): the e2e stack listens for another host (`netoss up
--listen`), and a second job worker and a second fault processor run on "another host": a
network namespace of its own (its own hostname, its own state directory written by `netoss
remote-config`), reaching PostgreSQL, Redis, NetBox's API and the portal over a veth pair, TLS
only. Jobs and events are shared between the two hosts; when the other host's worker and
processor are killed (kill -9), this host's take over. Runs last on the e2e stack (file order).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from pathlib import Path

import psycopg
import pytest
import redis
import requests
from stack_e2e import REPO, STATE, exports, netoss
from waiting import wait_for

from netoss.domain.faults import pipeline, shards
from netoss.domain.faults.events import Event

pytestmark = pytest.mark.integration

NS = "netoss-e-host2"
VETH, PEER = "netoss-eh2a", "netoss-eh2b"
HERE, THERE = "198.18.110.1", "198.18.110.2"  # within the lab's 198.18.0.0/15, on a veth of the test's own
ACCOUNT = "netoss"  # the stack's service account: the other host's daemons run as it too
JOBS = "/api/v1/jobs"


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


@pytest.fixture(scope="module")
def stack_env(env):
    """The e2e stack's environment without the intent the session started with (the stack is
    on the user's own network by now: test_own_network)."""
    return {k: v for k, v in env.items() if k != "NETOSS_INTENT"}


@pytest.fixture(scope="module")
def other_host(stack_env):
    """The veth pair and the other host's namespace; the stack listening on this end; the other
    host's state directory (where the stack's account reaches it). Everything taken back after
    (the stack on loopback only again)."""
    env = stack_env
    _ip("netns", "del", NS, check=False)
    _ip("link", "del", VETH, check=False)
    _ip("netns", "add", NS)
    _ip("link", "add", VETH, "type", "veth", "peer", "name", PEER)
    _ip("link", "set", PEER, "netns", NS)
    _ip("addr", "add", f"{HERE}/30", "dev", VETH)
    _ip("link", "set", VETH, "up")
    _ip("-n", NS, "addr", "add", f"{THERE}/30", "dev", PEER)
    _ip("-n", NS, "link", "set", PEER, "up")
    _ip("-n", NS, "link", "set", "lo", "up")
    state = STATE / "host2"
    subprocess.run(["rm", "-rf", str(state)], check=True)
    try:
        proc = netoss(env, "up", "--no-seed", "--no-lab", "--listen", HERE)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        proc = netoss(env, "remote-config", str(state))
        assert proc.returncode == 0, proc.stderr
        subprocess.run(["chown", "-R", f"{ACCOUNT}:{ACCOUNT}", str(state)], check=True)
        yield state
    finally:
        _ip("netns", "del", NS, check=False)
        _ip("link", "del", VETH, check=False)
        proc = netoss(env, "up", "--no-seed", "--no-lab", "--listen", "none")
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


class Host2:
    """Daemons of the other host: in its namespace, with a hostname of their own, as the
    stack's account, from its state directory; stopped by PID."""

    def __init__(self, state: Path):
        self.state, self.procs = state, {}

    def start(self, name: str, *args: str) -> int:
        log = (self.state / f"{name}.log").open("ab")
        command = " ".join(
            [
                "hostname host2 &&",
                "exec setpriv --reuid",
                ACCOUNT,
                "--regid",
                ACCOUNT,
                "--init-groups env",
                f"NETOSS_STATE={self.state}",
                f"HOME={self.state}",
                str(REPO / ".venv/bin/netoss"),
                *args,
            ]
        )
        self.procs[name] = subprocess.Popen(
            ["ip", "netns", "exec", NS, "unshare", "--uts", "sh", "-c", command],
            cwd=REPO,
            env={"PATH": os.environ["PATH"], "LANG": "C.UTF-8"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self.procs[name].pid

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop(self) -> None:
        for name in list(self.procs):
            with contextlib.suppress(ProcessLookupError):
                self.kill(name)

    def log(self, name: str) -> str:
        return (self.state / f"{name}.log").read_text(errors="replace")[-3000:]


@pytest.fixture(scope="module")
def host2(other_host):
    h = Host2(other_host)
    yield h
    h.stop()


@pytest.fixture(scope="module")
def shell(stack_env):
    return exports(stack_env)


def _in_ns(*argv, timeout=30):
    return subprocess.run(["ip", "netns", "exec", NS, *argv], capture_output=True, text=True, timeout=timeout)


def test_the_other_host_reaches_the_stack_over_tls_only(other_host, stack_env):
    """From the other host: PostgreSQL and Redis answer with TLS verified against the stack's
    CA, and refuse without it; NetBox's API and the portal answer over HTTPS only."""
    config = json.loads((other_host / "portal" / "portal.json").read_text())
    ca = str(other_host / "tls" / "ca.crt")
    base = int(json.loads((STATE / "stack.json").read_text())["port_base"])
    dsn = config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg://", "postgresql://")
    script = (
        "import psycopg, redis, requests, sys\n"
        f"c = psycopg.connect({dsn!r}); print('pg', c.info.pgconn.ssl_in_use)\n"
        f"plain = {dsn.split('?')[0] + '?sslmode=disable'!r}\n"
        "try:\n    psycopg.connect(plain, connect_timeout=5); print('pg-plain accepted')\n"
        "except psycopg.OperationalError as e:\n    print('pg-plain refused', 'no encryption' in str(e))\n"
        f"r = redis.Redis.from_url({config['REDIS_URL']!r}); print('redis', r.ping())\n"
        f"p = redis.Redis(host={HERE!r}, port={base + 379}, password='x', socket_timeout=5)\n"
        "try:\n    p.ping(); print('redis-plain accepted')\n"
        "except Exception as e:\n    print('redis-plain refused', type(e).__name__)\n"
        "from netoss.data.netbox import auth_header\n"
        f"status, token = {config['NETBOX_URL'] + '/api/status/'!r}, {config['NETBOX_TOKEN']!r}\n"
        "auth = {'Authorization': auth_header(token)}\n"
        f"print('netbox', requests.get(status, headers=auth, verify={ca!r}, timeout=10).status_code)\n"
        f"print('portal', requests.get({config['PORTAL_URL'] + '/healthz'!r}, verify={ca!r}, timeout=10).status_code)\n"
        "try:\n"
        f"    requests.get('http://{HERE}:{base + 80}/api/status/', timeout=5); print('netbox-http accepted')\n"
        "except requests.RequestException:\n    print('netbox-http refused')\n"
    )
    proc = _in_ns(str(REPO / ".venv/bin/python"), "-c", script, timeout=90)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.split("\n")
    assert "pg True" in lines and "pg-plain refused True" in lines
    assert "redis True" in lines and any(line.startswith("redis-plain refused") for line in lines)
    assert "netbox 200" in lines and "portal 200" in lines and "netbox-http refused" in lines
    # this host's programs went on through Redis's socket and loopback
    assert netoss(stack_env, "status").returncode == 0


def _api(shell) -> requests.Session:
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {shell['PORTAL_TOKEN']}"
    return api


def _launch(api, shell, n: int) -> list[int]:
    ids = []
    for _ in range(n):
        resp = api.post(f"{shell['PORTAL_URL']}{JOBS}", json={"template": "sot-sync", "check": True}, timeout=30)
        assert resp.status_code == 202, resp.text
        ids.append(resp.json()["id"])
    return ids


def _ended(api, shell, ids: list[int], timeout: float = 600) -> list[dict]:
    def done():
        jobs = [api.get(f"{shell['PORTAL_URL']}{JOBS}/{i}", timeout=10).json() for i in ids]
        return all(j["finished_at"] for j in jobs) and jobs

    return wait_for("the jobs to end", done, timeout=timeout, interval=1)


def test_jobs_are_shared_by_the_workers_of_both_hosts_and_the_survivor_takes_over(host2, shell):
    host2.start("worker", "worker", "--name", "host2-worker")
    api = _api(shell)
    jobs = _ended(api, shell, _launch(api, shell, 6))
    assert all(j["status"] == "successful" for j in jobs), [(j["id"], j["status"], j["error"]) for j in jobs]
    workers = {j["worker"] for j in jobs}
    assert "host2-worker" in workers and len(workers) == 2, (workers, host2.log("worker"))
    # kill -9 of the other host's worker: this host's runs everything that comes
    host2.kill("worker")
    jobs = _ended(api, shell, _launch(api, shell, 3))
    assert all(j["status"] == "successful" and j["worker"] != "host2-worker" for j in jobs), jobs


def _devices_on_every_shard() -> list[str]:
    """Device names whose events fall on every shard (NetBox need not have them: the
    processor that reads an event rejects it as unknown_device, which is handling it too)."""
    names, seen, n = [], set(), 0
    while len(seen) < shards.SHARDS:
        name = f"two-hosts-{n:03d}"
        shard = shards.shard_of(name, "", shards.SHARDS)
        if shard not in seen:
            seen.add(shard)
            names.append(name)
        n += 1
    return names


def _publish(conn, devices: list[str], tag: str) -> None:
    """A raise and a clear of an interface of each device."""
    events = [
        Event(
            source="api",
            action=action,
            device=device,
            object_type="interface",
            object_name=f"eth-{tag}",
            condition="interface-down",
            specific_problem=f"two hosts {tag}",
        )
        for device in devices
        for action in ("raise", "clear")
    ]
    pipeline.publish(conn, events)


def _progress(dsn: str) -> dict[int, str]:
    with psycopg.connect(dsn) as c:
        return dict(c.execute("SELECT shard, last_id FROM fault_shards").fetchall())


def test_events_are_shared_by_the_processors_of_both_hosts_and_the_survivor_takes_over(host2):
    config = json.loads((STATE / "portal" / "portal.json").read_text())
    conn = redis.Redis.from_url(config["REDIS_URL"])
    dsn = config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg://", "postgresql://")
    host2.start("processor", "faults", "process")

    def split():
        holders = shards.holders(conn, shards.SHARDS)
        return len(set(holders.values())) == 2 and None not in holders.values() and holders

    holders = wait_for("both processors to hold shards", split, timeout=60, interval=1)
    theirs = {k for k, h in holders.items() if h.startswith("host2:")}
    assert theirs and len(theirs) < shards.SHARDS, (holders, host2.log("processor"))
    devices = _devices_on_every_shard()
    before, progress = pipeline.counters(conn), _progress(dsn)
    _publish(conn, devices, "a")

    def handled(n):
        c = pipeline.counters(conn)
        done = c["stored"].get("api", 0) - before["stored"].get("api", 0)
        done += sum(c["rejected"].get("api", {}).values()) - sum(before["rejected"].get("api", {}).values())
        return c["queued"] == 0 and done >= n and done

    assert wait_for("the events handled", lambda: handled(2 * len(devices)), timeout=60) == 2 * len(devices)
    moved = {k for k, last in _progress(dsn).items() if last != progress.get(k)}
    assert moved & theirs and moved - theirs, (moved, theirs)  # stored by the processors of both hosts
    # kill -9 of the other host's processor: its shards are taken over when its leases lapse
    host2.kill("processor")
    wait_for(
        "this host's processor to hold every shard",
        lambda: (
            len(set(shards.holders(conn, shards.SHARDS).values()) - {None}) == 1
            and None not in shards.holders(conn, shards.SHARDS).values()
            and not any(h.startswith("host2:") for h in shards.holders(conn, shards.SHARDS).values())
        ),
        timeout=60,
        interval=1,
    )
    progress = _progress(dsn)
    _publish(conn, devices, "b")
    assert wait_for("the events handled", lambda: handled(4 * len(devices)), timeout=60) == 4 * len(devices)
    moved = {k for k, last in _progress(dsn).items() if last != progress.get(k)}
    assert theirs <= moved  # the dead processor's shards too, by this host's
