"""Build and tear down the lab on this machine: namespaces, veths, the bridge, FRR and sshd.

Everything is started by PID and stopped by PID: `ip netns pids` lists every process in a
router's namespace, so nothing is left behind even if a daemon forked. Paths outside the
state directory (FRR's /etc/frr/<ns> and /var/run/frr/<ns>, the netops account) are
created by `up` and removed by `down`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ansible_collections.netoss.core.plugins.module_utils.lab_netns import LabError
from netoss.embedded.lab.record import FRR_ETC, FRR_RUN
from netoss.embedded.lab.spec import LabSpec, Link, Router
from netoss.embedded.stack import accounts
from netoss.embedded.stack.config import LAB_CREDENTIALS, write_private
from netoss.embedded.stack.proc import read_pid, run

DAEMONS = ("zebra", "bgpd", "ospfd", "staticd", "bfdd")
DEV_NODES = ("null", "zero", "full", "random", "urandom", "tty", "ptmx")
VTYSH = "/usr/bin/vtysh"

DAEMONS_FILE = """\
# Written by `netoss lab up`.
zebra=yes
bgpd=yes
ospfd=yes
staticd=yes
bfdd=yes
vtysh_enable=yes
zebra_options=" -A 127.0.0.1 -s 90000000 -M snmp"
bgpd_options=" -A 127.0.0.1 -M snmp"
ospfd_options=" -A 127.0.0.1 -M snmp"
staticd_options="-A 127.0.0.1"
bfdd_options=" -A 127.0.0.1"
"""

BASE_CONFIG = """\
frr version 8.4
frr defaults traditional
hostname {name}
log syslog informational
log commands
service integrated-vtysh-config
!
line vty
!
"""

# The router's SNMP agent: net-snmp's snmpd in its namespaces (IF-MIB and the system group from
# the kernel, sysName its UTS hostname), the AgentX master whose sub-agents are FRR's daemons
# (frr-snmp: BGP4-MIB, OSPF-MIB; FRR's `agentx` statement, rendered when the device's config
# context enables SNMP). Read-only, one community (the lab's credentials), on the management
# address only. FRR reaches the master through /var/agentx/master, which is this router's own
# directory bind-mounted in FRR's private mount namespace.
SNMPD_CONFIG = """\
# Written by `netoss lab up` for router {name}.
agentAddress udp:{address}:161
master agentx
agentXSocket {agentx}/master
agentXPerms 0660 0770 frr frr
rocommunity {community} default
sysServices 78
"""
# The router's probe (service assurance): blackbox_exporter in its network namespace, so an ICMP
# probe to a customer's address leaves from the router, as a probe host beside a real PE (or
# the PE's own IP SLA) would. On the management address, basic authentication (the lab's
# credentials), Debian's `prometheus` account, unprivileged ICMP sockets (ping_group_range).
PROBE_PORT = 9115
PROBE_USER = "prometheus"
BLACKBOX = "/usr/bin/prometheus-blackbox-exporter"
BLACKBOX_CONFIG = """\
# Written by `netoss lab up`: ICMP echo from the router, one per probe.
modules:
  icmp:
    prober: icmp
    timeout: 2s
    icmp:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
"""
AGENTX = Path("/var/agentx")  # net-snmp's default AgentX directory: FRR's sub-agents connect there
SNMPD = "/usr/sbin/snmpd"

SSHD_CONFIG = """\
# Written by `netoss lab up` for router {name}: SSH on the management address, vtysh as the session.
ListenAddress {address}
Port 22
HostKey {keys}/ssh_host_ed25519_key
HostKey {keys}/ssh_host_rsa_key
PidFile {run}/sshd.pid
UsePAM no
PermitRootLogin no
AllowUsers {user}
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile none
# The session is vtysh: interactive with a terminal (network_cli), or one vtysh command for
# `ssh router "show ..."` (passed as a single argument: no shell expansion of it).
ForceCommand {force_command}
AllowTcpForwarding no
AllowAgentForwarding no
X11Forwarding no
PermitTunnel no
PrintMotd no
PrintLastLog no
MaxAuthTries 3
LoginGraceTime 20
"""


@dataclass
class LabPaths:
    """Where one lab keeps its files, below the stack's state directory."""

    root: Path  # <state>/lab

    def router(self, ns: str) -> Path:
        return self.root / "routers" / ns

    @property
    def secrets(self) -> Path:
        return self.root / LAB_CREDENTIALS

    @property
    def known_hosts(self) -> Path:
        """The routers' pinned host keys (OpenSSH known_hosts), written by `netoss lab up`."""
        return self.root / "known_hosts"


def _ip(*args: str, ns: str | None = None) -> str:
    argv = ["ip", *(["-n", ns] if ns else []), *args]
    return run(argv, what=" ".join(argv[:6]))


def if_indexes(r: Router) -> dict[str, int]:
    """The kernel's ifindex of each interface in the router's namespace: the ifIndex its SNMP
    agent (net-snmp's IF-MIB on Linux) and its traps give, FRR's `show interface` too."""
    return {link["ifname"]: int(link["ifindex"]) for link in json.loads(_ip("-j", "link", "show", ns=r.ns) or "[]")}


def namespace_exists(ns: str) -> bool:
    return Path("/var/run/netns", ns).exists()


def _link_exists(name: str, ns: str | None = None) -> bool:
    argv = ["ip", *(["-n", ns] if ns else []), "link", "show", "dev", name]
    return subprocess.run(argv, capture_output=True, check=False).returncode == 0


def credentials(paths: LabPaths, user: str, stack_secrets: dict[str, str] | None = None) -> dict[str, str]:
    """The lab's credentials (mode 0600, never in git): the SSH login (``user``, ``password``,
    made once), and what the stack's assurance polls and probes the routers with: the SNMP
    community (``snmp_community``, the stack's, which its trap receiver takes too) and the
    probes' password (``probe_password``, basic authentication as ``netoss``): the stack's
    when ``stack_secrets`` gives them, else the lab's own."""
    data = json.loads(paths.secrets.read_text()) if paths.secrets.exists() else {}
    given = {
        "snmp_community": (stack_secrets or {}).get("snmp_community"),
        "probe_password": (stack_secrets or {}).get("assurance_password"),
    }
    alphabet = string.ascii_letters + string.digits
    wanted = dict(data)
    if data.get("user") != user or not data.get("password"):
        wanted = {"user": user, "password": "".join(secrets.choice(alphabet) for _ in range(24))}
    for key, value in given.items():
        wanted[key] = value or wanted.get(key) or "".join(secrets.choice(alphabet) for _ in range(20))
    if wanted != data:
        write_private(paths.secrets, json.dumps(wanted, indent=2) + "\n")
    return wanted


def ensure_user(user: str, password: str) -> None:
    """The SSH account of the lab; its session is vtysh (sshd's ForceCommand)."""
    with accounts.passwd_lock():
        _ensure_user(user, password)


def _ensure_user(user: str, password: str) -> None:
    exists = subprocess.run(["id", "-u", user], capture_output=True, check=False).returncode == 0
    if not exists:
        run(
            [
                "useradd",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/bin/sh",
                "--groups",
                "frrvty,frr",
                "--comment",
                "netoss lab (vtysh over SSH)",
                user,
            ],
            what=f"useradd {user}",
        )
    run(["chpasswd"], input=f"{user}:{password}\n", what=f"chpasswd {user}")


def remove_user(user: str) -> None:
    with accounts.passwd_lock():
        if subprocess.run(["id", "-u", user], capture_output=True, check=False).returncode == 0:
            run(["userdel", user], what=f"userdel {user}")


def host_keys(keys: Path) -> None:
    """Each router keeps its SSH host keys across `lab down`/`up` (clients pin them)."""
    keys.mkdir(parents=True, exist_ok=True)
    os.chmod(keys, 0o700)
    for kind, extra in (("ed25519", []), ("rsa", ["-b", "3072"])):
        key = keys / f"ssh_host_{kind}_key"
        if not key.exists():
            run(
                ["ssh-keygen", "-q", "-N", "", "-t", kind, *extra, "-f", str(key), "-C", keys.parent.name],
                what=f"ssh-keygen {kind}",
            )


def known_hosts_lines(spec: LabSpec, paths: LabPaths) -> list[str]:
    """One OpenSSH known_hosts line per router host key (ed25519, rsa), by management address."""
    lines = []
    for r in spec.routers:
        for kind in ("ed25519", "rsa"):
            pub = paths.router(r.ns) / "ssh" / f"ssh_host_{kind}_key.pub"
            if pub.exists():
                key_type, key = pub.read_text().split()[:2]
                lines.append(f"{r.mgmt_ip.ip} {key_type} {key}")
    return lines


def write_known_hosts(spec: LabSpec, paths: LabPaths, *targets: Path) -> None:
    """The lab's pinned host keys, as an OpenSSH known_hosts file, to each target (mode 0600).

    <state>/lab/known_hosts is the lab's own; <state>/home/.ssh/known_hosts is the copy that
    network_cli (paramiko reads ~/.ssh/known_hosts only) checks the routers against in every
    playbook netoss runs (HOME=<state>/home). ansible.cfg turns checking on and never adds an
    unknown key, so a router whose key differs from its pinned one is refused.
    """
    text = "\n".join(known_hosts_lines(spec, paths)) + "\n"
    for target in (paths.known_hosts, *targets):
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if target.parent.name == ".ssh":
            os.chmod(target.parent, 0o700)
        write_private(target, text)
        if target.parent.name == ".ssh":
            # The playbooks' HOME belongs to the account that runs them (the portal's, see
            # netoss.embedded.stack.prepare_state): .ssh and known_hosts are that account's too.
            home = target.parent.parent.stat()
            for path in (target.parent, target):
                os.chown(path, home.st_uid, home.st_gid)


def merge_known_hosts(lines: list[str], target: Path) -> int:
    """Put ``lines`` in the known_hosts file ``target`` (a user's ~/.ssh/known_hosts): lines
    for the same addresses are replaced, every other line is kept. Returns how many were written."""
    hosts = {line.split()[0] for line in lines}
    kept = []
    if target.exists():
        for line in target.read_text().splitlines():
            fields = line.split()
            if fields and not line.startswith("#") and set(fields[0].split(",")) & hosts:
                continue
            kept.append(line)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private(target, "\n".join([*kept, *lines]) + "\n")
    return len(lines)


def build_bridge(spec: LabSpec) -> None:
    """The management bridge in the root namespace, holding the first address of the management prefix."""
    br = spec.config.bridge
    if not _link_exists(br):
        _ip("link", "add", br, "type", "bridge")
    # Exactly that address: the management prefix may have changed since the bridge was made
    # (the stack moved to another network's intent).
    held = [
        f"{a['local']}/{a['prefixlen']}"
        for link in json.loads(_ip("-j", "-4", "addr", "show", "dev", br) or "[]")
        for a in link.get("addr_info", [])
    ]
    if held != [str(spec.bridge_ip)]:
        if held:
            _ip("-4", "addr", "flush", "dev", br)
        _ip("addr", "add", str(spec.bridge_ip), "dev", br)
    _ip("link", "set", br, "up")


def build_router_network(spec: LabSpec, r: Router) -> None:
    """The router's namespace and its management veth to the bridge."""
    if not namespace_exists(r.ns):
        _ip("netns", "add", r.ns)
    _ip("link", "set", "lo", "up", ns=r.ns)
    if not _link_exists(r.mgmt_if, r.ns):
        _ip("link", "add", r.bridge_port, "type", "veth", "peer", "name", r.mgmt_if, "netns", r.ns)
        _ip("addr", "add", str(r.mgmt_ip), "dev", r.mgmt_if, ns=r.ns)
    _ip("link", "set", r.bridge_port, "master", spec.config.bridge, "up")
    _ip("link", "set", r.mgmt_if, "up", ns=r.ns)


def build_link(spec: LabSpec, link: Link) -> None:
    """One veth pair for a NetBox cable, each end named as its interface."""
    a, b = spec.router(link.a_router), spec.router(link.b_router)
    if not _link_exists(link.a_if, a.ns):
        _ip("link", "add", link.a_if, "netns", a.ns, "type", "veth", "peer", "name", link.b_if, "netns", b.ns)
    _ip("link", "set", link.a_if, "up", ns=a.ns)
    _ip("link", "set", link.b_if, "up", ns=b.ns)


def build_network(spec: LabSpec) -> None:
    """Namespaces, the management bridge, management veths and one veth pair per cable."""
    build_bridge(spec)
    for r in spec.routers:
        build_router_network(spec, r)
    for link in spec.links:
        build_link(spec, link)


def remove_link(ns: str, interface: str) -> bool:
    """Delete a veth pair by one end (its peer goes with it); False when it was not there."""
    if not namespace_exists(ns) or not _link_exists(interface, ns):
        return False
    _ip("link", "del", interface, ns=ns)
    return True


def probe_files(home: Path, probe_web: str) -> tuple[Path, Path]:
    """The router's probe configuration and web configuration (``probe_web``: basic
    authentication, stack.config.web_config), readable by the probe's account only."""
    probe = home / "probe"
    probe.mkdir(exist_ok=True)
    config, web = probe / "blackbox.yml", probe / "web.yml"
    for path, text in ((config, BLACKBOX_CONFIG), (web, probe_web)):
        write_private(path, text)
        shutil.chown(path, PROBE_USER, PROBE_USER)
    shutil.chown(probe, PROBE_USER, PROBE_USER)
    os.chmod(probe, 0o700)
    return config, web


def probe_address(r: Router) -> str:
    """host:port of the router's probe (blackbox_exporter), as Prometheus reaches it."""
    return f"{r.mgmt_ip.ip}:{PROBE_PORT}"


def snmp_agent_alive(r: Router, paths: LabPaths) -> bool:
    """Whether the router's snmpd runs (a router started before netoss gave routers an agent has none)."""
    return _running(paths.router(r.ns) / "run" / "snmpd.pid") is not None


def start_router(r: Router, paths: LabPaths, user: str, community: str, probe_web: str) -> None:
    """snmpd, FRR, sshd and the probe inside the router's namespace and its own UTS namespace
    (its hostname)."""
    if router_pids(r):
        return  # already running
    etc, run_dir = FRR_ETC / r.ns, FRR_RUN / r.ns
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "daemons").write_text(DAEMONS_FILE)
    (etc / "vtysh.conf").write_text("service integrated-vtysh-config\n")
    conf = etc / "frr.conf"
    if not conf.exists():
        conf.write_text(BASE_CONFIG.format(name=r.hostname))
    shutil.chown(etc, "frr", "frr")
    for f in etc.iterdir():
        shutil.chown(f, "frr", "frr")
        os.chmod(f, 0o640)
    # vtysh users (group frrvty) must reach the daemons' sockets: frrinit would make it 0750.
    run_dir.mkdir(parents=True, exist_ok=True)
    shutil.chown(run_dir, "frr", "frr")
    os.chmod(run_dir, 0o755)  # noqa: S103 (sockets stay 0770 frr:frrvty; the directory must be traversable)

    home = paths.router(r.ns)
    keys, ssh_run = home / "ssh", home / "run"
    host_keys(keys)
    ssh_run.mkdir(parents=True, exist_ok=True)
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    sshd_conf = home / "sshd_config"
    vt = f"{VTYSH} -N {r.ns}"
    force_command = f'if [ -n "$SSH_ORIGINAL_COMMAND" ]; then exec {vt} -c "$SSH_ORIGINAL_COMMAND"; else exec {vt}; fi'
    write_private(
        sshd_conf,
        SSHD_CONFIG.format(
            name=r.ns, address=r.mgmt_ip.ip, keys=keys, run=ssh_run, user=user, force_command=force_command
        ),
    )
    agentx = home / "agentx"
    agentx.mkdir(exist_ok=True)
    shutil.chown(agentx, "frr", "frr")
    os.chmod(agentx, 0o770)  # noqa: S103 - snmpd (group frr) and FRR only
    AGENTX.mkdir(mode=0o755, exist_ok=True)  # the mount point of each router's own
    snmpd_conf = home / "snmpd.conf"
    write_private(snmpd_conf, SNMPD_CONFIG.format(name=r.ns, address=r.mgmt_ip.ip, agentx=agentx, community=community))
    dev = home / "dev"
    dev.mkdir(exist_ok=True)
    # A private /dev (mount namespace) whose log is the relay's socket for this router; the
    # device nodes are the host's, bind-mounted. The mounts vanish with the router's processes.
    nodes = " ".join(DEV_NODES)
    frr = (
        "set -e; "
        f"for n in {nodes}; do [ -e {dev}/$n ] || touch {dev}/$n; mount --bind /dev/$n {dev}/$n; done; "
        f"mkdir -p {dev}/shm; mount -t tmpfs -o mode=1777,size=16m tmpfs {dev}/shm; "
        f"ln -sfn /proc/self/fd {dev}/fd; ln -sfn {home / 'log.sock'} {dev}/log; "
        f"mount --rbind {dev} /dev; mount --bind {agentx} {AGENTX}; "
        f"exec /usr/lib/frr/frrinit.sh start {r.ns} >/dev/null"
    )
    # snmpd first (FRR's sub-agents connect to it; it drops to its own account, group frr for
    # the AgentX socket; no MIB files are loaded: it serves numeric OIDs). FRR in a private
    # mount namespace (its /dev/log, its AgentX directory); sshd beside it in the same network
    # and UTS namespaces but with the real /dev, which its ptys need. The hostname is written to
    # the UTS namespace's /proc entry: hostname(1) refuses '_', which a configuration allows.
    snmpd = (
        f"MIBS= MIBDIRS=/nonexistent {SNMPD} -C -c {snmpd_conf} -p {home / 'run' / 'snmpd.pid'} "
        f"-Lf {home / 'snmpd.log'} -u Debian-snmp -g frr"
    )
    blackbox_conf, blackbox_web = probe_files(home, probe_web)
    probe = (
        f"echo '0 2147483647' > /proc/sys/net/ipv4/ping_group_range; "
        f"setsid setpriv --reuid={PROBE_USER} --regid={PROBE_USER} --clear-groups {BLACKBOX} "
        f"--config.file={blackbox_conf} --web.config.file={blackbox_web} "
        f"--web.listen-address={probe_address(r)} >{home / 'probe.log'} 2>&1 </dev/null &"
    )
    script = (
        f"set -e; printf %s {shlex.quote(r.hostname)} > /proc/sys/kernel/hostname; {snmpd}; {probe} "
        f"unshare --mount --propagation private sh -c {shlex.quote(frr)}; "
        f"/usr/sbin/sshd -f {sshd_conf} -E {home / 'sshd.log'}"
    )
    run(["ip", "netns", "exec", r.ns, "unshare", "--uts", "sh", "-c", script], what=f"start router {r.name} ({r.ns})")


def router_pids(r: Router) -> list[int]:
    """Every process in the router's namespace."""
    return namespace_pids(r.ns)


def namespace_pids(ns: str) -> list[int]:
    """Every process in network namespace ``ns``."""
    if not namespace_exists(ns):
        return []
    out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, check=False).stdout
    return [int(p) for p in out.split()]


def _gone(pid: int) -> bool:
    """Exited, or a zombie waiting for init to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except (OSError, IndexError):
        return True


def stop_router(r: Router, timeout: float = 10) -> list[int]:
    """Stop every process of the router by PID (TERM, then KILL); return their pids."""
    return stop_namespace(r.ns, timeout)


def stop_namespace(ns: str, timeout: float = 10) -> list[int]:
    """Stop every process in network namespace ``ns`` by PID (TERM, then KILL); return their pids."""
    pids = namespace_pids(ns)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(_gone(p) for p in pids):
        time.sleep(0.05)
    for pid in pids:
        if not _gone(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    return pids


def remove_router(r: Router) -> None:
    remove_namespace(r.ns, r.bridge_port)


def remove_namespace(ns: str, bridge_port: str, dirs: list[Path] | None = None) -> None:
    """The namespace (with the veth ends in it), FRR's directories (``dirs``, by default
    /etc/frr/<ns> and /var/run/frr/<ns>), and the management veth's end on the bridge. Its
    processes must be stopped first."""
    if namespace_exists(ns):
        _ip("netns", "del", ns)
    for path in [FRR_ETC / ns, FRR_RUN / ns] if dirs is None else dirs:
        shutil.rmtree(path, ignore_errors=True)
    # Deleting the namespace deletes the veth's peer too, asynchronously: it may be gone already.
    subprocess.run(["ip", "link", "del", bridge_port], capture_output=True, check=False)


def remove_bridge(bridge: str) -> None:
    if _link_exists(bridge):
        _ip("link", "del", bridge)


def _running(pidfile: Path) -> int | None:
    """The pid in a pidfile if that process runs (a zombie does not)."""
    pid = read_pid(pidfile)
    return pid if pid and not _gone(pid) else None


def daemons_alive(r: Router) -> dict[str, int | None]:
    """PID of each FRR daemon of the router, or None when it is not running."""
    return {d: _running(FRR_RUN / r.ns / f"{d}.pid") for d in ("watchfrr", *DAEMONS)}


def ssh_answers(r: Router, timeout: float = 2) -> bool:
    """True if an SSH server answers with its banner on the router's management address."""
    try:
        with socket.create_connection((str(r.mgmt_ip.ip), 22), timeout=timeout) as s:
            return s.recv(64).startswith(b"SSH-2.0-")
    except OSError:
        return False


def vtysh(r: Router, *commands: str, timeout: float = 30) -> str:
    """Run vtysh commands in the router (as root, through the namespace), one `-c` each."""
    argv = ["ip", "netns", "exec", r.ns, VTYSH, "-N", r.ns]
    for command in commands:
        argv += ["-c", command]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise LabError(f"{r.name}: vtysh {' / '.join(commands)!r} failed: {(proc.stdout + proc.stderr).strip()[:500]}")
    return proc.stdout


def relay_pidfile(paths: LabPaths) -> Path:
    return paths.root / "syslog-relay.pid"


def relay_pid(paths: LabPaths) -> int | None:
    return _running(relay_pidfile(paths))


def start_relay(paths: LabPaths, host: str, port: int) -> int:
    """Start the syslog relay (routers' /dev/log -> UDP host:port) unless it runs to that very
    collector; one sending elsewhere (the management prefix changed) is restarted. Its pid."""
    pid = relay_pid(paths)
    target = paths.root / "syslog-relay.target"
    wanted = f"{host}:{port}"
    if pid and target.exists() and target.read_text().strip() == wanted:
        return pid
    if pid:
        stop_relay(paths)
    log = open(paths.root / "syslog-relay.log", "ab")  # noqa: SIM115 (handed to the child)
    proc = subprocess.Popen(
        [sys.executable, "-m", "netoss.embedded.lab.syslog_relay", str(paths.root), host, str(port)],
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        cwd=str(Path(__file__).resolve().parents[3]),
    )
    log.close()
    relay_pidfile(paths).write_text(f"{proc.pid}\n")
    target.write_text(wanted + "\n")
    return proc.pid


def stop_relay(paths: LabPaths) -> None:
    pid = relay_pid(paths)
    if pid:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not _gone(pid):
            time.sleep(0.05)
    relay_pidfile(paths).unlink(missing_ok=True)
