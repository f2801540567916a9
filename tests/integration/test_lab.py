"""The lab built from the test NetBox: real FRR routers in namespaces of the test's own names
(t<device>), on the test management subnet, with their own bridge and SSH account."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
from pathlib import Path

import paramiko
import pytest
import yaml
from waiting import wait_for

from ansible_collections.netoss.core.plugins.module_utils.lab_netns import namespace_name
from netoss.embedded import lab
from netoss.embedded.lab import runtime
from netoss.embedded.lab.spec import LabConfig

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

TEST_LAB = LabConfig(ns_prefix="t", bridge="netoss-tbr0", user="netopst")
ROUTERS = ["ce1", "ce2", "ce3", "ce4", "p1", "p2", "pe1", "pe2"]  # ce3, ce4: spare, for service orders


@pytest.fixture(scope="module")
def test_lab(stack, nb, demo_synced):
    spec = lab.up(stack, nb, TEST_LAB, log=print)
    yield spec
    lab.down(stack, log=print)


def _client(stack, router) -> paramiko.SSHClient:
    """An SSH client that trusts exactly the router's host key from the state directory."""
    client = paramiko.SSHClient()
    pub = stack.state_dir / "lab" / "routers" / router.ns / "ssh" / "ssh_host_ed25519_key.pub"
    kind, data = pub.read_text().split()[:2]
    client.get_host_keys().add(str(router.mgmt_ip.ip), kind, paramiko.Ed25519Key(data=base64.b64decode(data)))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    return client


def test_every_frr_device_becomes_a_router(test_lab):
    assert sorted(r.name for r in test_lab.routers) == ROUTERS
    assert all(r.ns == "t" + r.name for r in test_lab.routers)
    assert str(test_lab.bridge_ip) == "198.18.100.1/24"
    for r in test_lab.routers:
        assert runtime.namespace_exists(r.ns)
        assert all(runtime.daemons_alive(r).values()), f"{r.name}: {runtime.daemons_alive(r)}"


def test_cables_are_veths_with_netbox_names(test_lab, nb):
    pe1 = test_lab.router("pe1")
    brief = runtime.vtysh(pe1, "show interface brief json")
    names = set(json.loads(brief))
    assert {"eth1", "eth2", "eth3", "mgmt0", "lo"} <= names
    # eth1 of pe1 is cabled to p1 eth2 in NetBox: the two ends are one veth pair.
    idx = subprocess.run(["ip", "-n", "tpe1", "-j", "link", "show", "eth1"], capture_output=True, text=True, check=True)
    peer_ifindex = json.loads(idx.stdout)[0]["link_index"]
    p1_links = json.loads(
        subprocess.run(["ip", "-n", "tp1", "-j", "link", "show"], capture_output=True, text=True, check=True).stdout
    )
    assert [link["ifname"] for link in p1_links if link["ifindex"] == peer_ifindex] == ["eth2"]


def test_ssh_session_is_vtysh_with_the_device_hostname(test_lab, stack):
    creds = runtime.credentials(runtime.LabPaths(stack.state_dir / "lab"), TEST_LAB.user)
    pe2 = test_lab.router("pe2")
    client = _client(stack, pe2)
    client.connect(
        str(pe2.mgmt_ip.ip),
        username=creds["user"],
        password=creds["password"],
        look_for_keys=False,
        allow_agent=False,
        timeout=10,
    )
    try:
        _stdin, stdout, _stderr = client.exec_command("show running-config", timeout=20)
        output = stdout.read().decode()
    finally:
        client.close()
    assert "hostname pe2" in output and "frr version" in output


def test_wrong_password_is_refused(test_lab, stack):
    client = _client(stack, test_lab.router("p1"))
    with pytest.raises(paramiko.AuthenticationException):
        client.connect(
            str(test_lab.router("p1").mgmt_ip.ip),
            username=TEST_LAB.user,
            password="wrong",
            look_for_keys=False,
            allow_agent=False,
            timeout=10,
        )


def test_status_reports_every_router_healthy(test_lab, stack):
    rows = lab.status(stack)
    assert sorted(r["router"] for r in rows) == ROUTERS
    assert all(r["healthy"] and r["ssh"] for r in rows), rows


def test_up_again_changes_nothing(test_lab, stack, nb):
    before = {r.name: sorted(runtime.router_pids(r)) for r in test_lab.routers}
    lab.up(stack, nb, TEST_LAB, log=print)
    assert {r.name: sorted(runtime.router_pids(r)) for r in test_lab.routers} == before


# --- any network's names, devices the lab cannot build, devices NetBox no longer has (issue 14) ---


@pytest.fixture(scope="module")
def extra_devices(test_lab, nb):
    """Add FRR devices to the test NetBox, like the first of the lab's, with a management
    interface and a primary IPv4 (the lab's subnet, from its end); every one is deleted, with
    its addresses, when the module ends. ``add(name, mgmt_if) -> (device, address)``,
    ``remove(device)``."""
    template = nb.dcim.devices.get(name=test_lab.routers[0].name)
    free = [ip for ip in reversed(list(test_lab.mgmt_prefix.hosts()))
            if ip not in {r.mgmt_ip.ip for r in test_lab.routers}]  # fmt: skip
    made = {}

    def add(name: str, mgmt_if: str = "mgmt0"):
        device = nb.dcim.devices.create(
            name=name,
            site=template.site.id,
            role=template.role.id,
            device_type=template.device_type.id,
            platform=template.platform.id,
            status="active",
        )
        made[device.id] = device
        intf = nb.dcim.interfaces.create(device=device.id, name=mgmt_if, type="1000base-t")
        address = f"{free.pop(0)}/{test_lab.mgmt_prefix.prefixlen}"
        ip = nb.ipam.ip_addresses.create(
            address=address, assigned_object_type="dcim.interface", assigned_object_id=intf.id
        )
        device.update({"primary_ip4": ip.id})
        return device, address

    def remove(device) -> None:
        device.update({"primary_ip4": None})
        for ip in nb.ipam.ip_addresses.filter(device_id=device.id):
            ip.delete()
        device.delete()
        made.pop(device.id, None)

    yield type("Devices", (), {"add": staticmethod(add), "remove": staticmethod(remove)})
    for device in list(made.values()):
        remove(device)


FQDN = "ams-core-router-01.example.net"  # 30 characters, dotted
ACCENTED = "köln-pe1"  # non-ASCII
BAD_PORTS = "bad-ports-1"  # its management interface cannot be a Linux interface
BAD_IF = "GigabitEthernet0/0/0/12"


def test_devices_of_any_name_are_built_under_safe_namespace_names(test_lab, stack, nb, nb_env, extra_devices):
    """A long dotted name and a non-ASCII one get routers under safe namespace names, reachable
    and shown by `netoss lab status`; a device the lab cannot build is skipped with a warning
    naming it and why, and every other router is built (and left running as it was)."""
    before = {r.name: sorted(runtime.router_pids(r)) for r in test_lab.routers}
    extra_devices.add(FQDN)
    extra_devices.add(ACCENTED)
    extra_devices.add(BAD_PORTS, mgmt_if=BAD_IF)
    logs: list[str] = []
    spec = lab.up(stack, nb, TEST_LAB, log=logs.append)
    assert sorted(r.name for r in spec.routers) == sorted([*ROUTERS, FQDN, ACCENTED])
    assert any(
        line.startswith(f"lab: warning: no router for {BAD_PORTS}: its management interface '{BAD_IF}' cannot be")
        for line in logs
    ), logs
    assert {r.name: sorted(runtime.router_pids(r)) for r in test_lab.routers} == before
    rows = {row["router"]: row for row in lab.status(stack)}
    for name in (FQDN, ACCENTED):
        r = spec.router(name)
        assert r.ns == namespace_name(TEST_LAB.ns_prefix, name) and r.ns.isascii() and len(r.ns) <= 15, r.ns
        assert runtime.namespace_exists(r.ns) and all(runtime.daemons_alive(r).values()), runtime.daemons_alive(r)
        assert runtime.ssh_answers(r), f"{name}: no SSH on {r.mgmt_ip.ip}"
        assert f"hostname {r.hostname}\n" in runtime.vtysh(r, "show running-config")
        assert rows[name]["namespace"] == r.ns and rows[name]["healthy"], rows[name]
        # Its syslog socket: the running relay follows the lab's record.
        wait_for(
            f"{name}'s syslog socket", lambda r=r: (stack.state_dir / "lab/routers" / r.ns / "log.sock").exists(), 10
        )
    assert spec.router(FQDN).hostname == FQDN  # a configuration's hostname: the device's name
    assert spec.router(ACCENTED).hostname == spec.router(ACCENTED).ns  # not one: its namespace's
    text = subprocess.run(
        [str(REPO / ".venv/bin/netoss"), "lab", "status"], env=nb_env, capture_output=True, text=True, timeout=120
    ).stdout
    for name in (FQDN, ACCENTED):
        assert re.search(rf"^{re.escape(name)} +{spec.router(name).ns} ", text, re.M), text


def test_a_device_netbox_no_longer_has_is_removed_by_lab_up(test_lab, stack, nb, extra_devices):
    """Its processes, namespace, management veth and FRR directories go; the rest stays."""
    gone = runtime_router(stack, FQDN)
    pids = runtime.router_pids(gone)
    extra_devices.remove(nb.dcim.devices.get(name=FQDN))
    logs: list[str] = []
    spec = lab.up(stack, nb, TEST_LAB, log=logs.append)
    assert FQDN not in [r.name for r in spec.routers] and ACCENTED in [r.name for r in spec.routers]
    assert any(f"router {FQDN} (namespace {gone.ns}) removed" in line for line in logs), logs
    _assert_removed(gone, pids)
    assert all(r["healthy"] for r in lab.status(stack))
    assert gone.ns not in json.loads((stack.state_dir / "lab" / "built.json").read_text())["resources"]["routers"]


def runtime_router(stack, name):
    """The router of device ``name`` as the lab's record holds it."""
    return next(r for r in lab._built(stack)[1] if r.name == name)


def _assert_removed(router, pids) -> None:
    wait_for(f"{router.name}'s processes to end", lambda: all(runtime._gone(p) for p in pids), 10)
    assert not runtime.namespace_exists(router.ns)
    assert not Path("/etc/frr", router.ns).exists() and not Path("/var/run/frr", router.ns).exists()
    assert subprocess.run(["ip", "link", "show", router.bridge_port], capture_output=True).returncode != 0


def test_down_leaves_nothing_behind_then_up_again(test_lab, stack, nb, extra_devices):
    """Everything the lab recorded goes, also a router whose device NetBox no longer has
    (lab down reads only the lab's record)."""
    removed = runtime_router(stack, ACCENTED)
    removed_pids = runtime.router_pids(removed)
    extra_devices.remove(nb.dcim.devices.get(name=ACCENTED))
    pids = [p for r in test_lab.routers for p in runtime.router_pids(r)]
    lab.down(stack, log=print)
    _assert_removed(removed, removed_pids)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(runtime._gone(p) for p in pids):
        time.sleep(0.1)
    assert all(runtime._gone(p) for p in pids)
    for r in test_lab.routers:
        assert not runtime.namespace_exists(r.ns)
        assert not Path("/etc/frr", r.ns).exists() and not Path("/var/run/frr", r.ns).exists()
        assert subprocess.run(["ip", "link", "show", r.bridge_port], capture_output=True).returncode != 0
    assert subprocess.run(["ip", "link", "show", TEST_LAB.bridge], capture_output=True).returncode != 0
    assert subprocess.run(["id", TEST_LAB.user], capture_output=True).returncode != 0
    assert lab.status(stack) == []
    # Host keys stay in the state directory: the routers come back with the same keys.
    keys = stack.state_dir / "lab" / "routers" / "tpe1" / "ssh" / "ssh_host_ed25519_key.pub"
    key_before = keys.read_text()
    lab.up(stack, nb, TEST_LAB, log=print)
    assert keys.read_text() == key_before
    assert all(r["healthy"] for r in lab.status(stack))


# --- netoss.core.frr over netoss.core.network_cli (ansible.netcommon.network_cli, host keys checked) -


@pytest.fixture(scope="module")
def lab_inventory(test_lab, stack, tmp_path_factory) -> Path:
    creds = runtime.credentials(runtime.LabPaths(stack.state_dir / "lab"), TEST_LAB.user)
    hosts = {r.name: {"ansible_host": str(r.mgmt_ip.ip)} for r in test_lab.routers}
    inventory = {
        "all": {
            "hosts": hosts,
            "vars": {
                "ansible_connection": "netoss.core.network_cli",
                "ansible_network_os": "netoss.core.frr",
                "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                "ansible_user": creds["user"],
                "ansible_password": creds["password"],
                # Host keys are checked (ansible.cfg) against the ones `lab up` pinned in the test
                # HOME's .ssh/known_hosts (<state>/home, nb_env's HOME).
            },
        }
    }
    path = tmp_path_factory.mktemp("lab-inventory") / "hosts.yml"
    path.write_text(yaml.safe_dump(inventory))
    return path


def _adhoc(nb_env, inventory: Path, hosts: str, module: str, args: str) -> dict:
    env = {**nb_env, "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"}
    proc = subprocess.run(
        [str(REPO / ".venv/bin/ansible"), hosts, "-i", str(inventory), "-m", module, "-a", args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    data = json.loads(proc.stdout[proc.stdout.index("{") :])
    return data["plays"][0]["tasks"][0]["hosts"]


def test_cli_command_reads_every_router(lab_inventory, nb_env):
    results = _adhoc(nb_env, lab_inventory, "all", "ansible.netcommon.cli_command", "command='show version'")
    assert sorted(results) == ROUTERS
    for result in results.values():
        assert not result.get("failed"), result
        assert "FRRouting 8.4" in result["stdout"]


def test_lab_up_pins_every_router_host_key(test_lab, stack):
    pinned = (stack.state_dir / "lab" / "known_hosts").read_text()
    assert (stack.ansible_home / ".ssh" / "known_hosts").read_text() == pinned
    for r in test_lab.routers:
        pub = stack.state_dir / "lab" / "routers" / r.ns / "ssh" / "ssh_host_ed25519_key.pub"
        assert f"{r.mgmt_ip.ip} {' '.join(pub.read_text().split()[:2])}" in pinned.splitlines()


def test_a_router_whose_host_key_differs_from_the_pinned_one_is_refused(
    lab_inventory, nb_env, test_lab, stack, tmp_path
):
    """network_cli with ansible.cfg's settings: pe1's pinned key is p1's (as if something else
    answered on pe1's address): refused; p1, pinned right, still answers."""
    pe1, p1 = test_lab.router("pe1"), test_lab.router("p1")
    pinned = (stack.state_dir / "lab" / "known_hosts").read_text().splitlines()
    p1_keys = [line.split(" ", 1)[1] for line in pinned if line.split()[0] == str(p1.mgmt_ip.ip)]
    lines = [line for line in pinned if line.split()[0] != str(pe1.mgmt_ip.ip)]
    lines += [f"{pe1.mgmt_ip.ip} {key}" for key in p1_keys]
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    (home / ".ssh" / "known_hosts").write_text("\n".join(lines) + "\n")
    env = {**nb_env, "HOME": str(home)}
    results = _adhoc(env, lab_inventory, "pe1,p1", "ansible.netcommon.cli_command", "command='show version'")
    assert "FRRouting 8.4" in results["p1"].get("stdout", ""), results["p1"]
    assert (results["pe1"].get("unreachable") or results["pe1"].get("failed")) and "stdout" not in results["pe1"]
    assert "host key" in results["pe1"]["msg"].lower() or "does not match" in results["pe1"]["msg"], results["pe1"]
    # The pinned keys stay as they were: a mismatch never replaces one.
    assert (home / ".ssh" / "known_hosts").read_text() == "\n".join(lines) + "\n"


def test_a_router_with_no_pinned_host_key_is_refused(lab_inventory, nb_env, test_lab, stack, tmp_path):
    """No trust on first use: with pe1's keys absent from known_hosts, pe1 is refused with an
    error naming its address and how to pin the key, and nothing is added; p1 still answers."""
    pe1 = str(test_lab.router("pe1").mgmt_ip.ip)
    pinned = (stack.state_dir / "lab" / "known_hosts").read_text().splitlines()
    without_pe1 = "".join(line + "\n" for line in pinned if line.split()[0] != pe1)
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    (home / ".ssh" / "known_hosts").write_text(without_pe1)
    env = {**nb_env, "HOME": str(home)}
    results = _adhoc(env, lab_inventory, "pe1,p1", "ansible.netcommon.cli_command", "command='show version'")
    assert "FRRouting 8.4" in results["p1"].get("stdout", ""), results["p1"]
    assert (results["pe1"].get("unreachable") or results["pe1"].get("failed")) and "stdout" not in results["pe1"]
    assert f"{pe1} is not a known SSH host" in results["pe1"]["msg"], results["pe1"]
    assert "netoss lab trust" in results["pe1"]["msg"] and f"ssh-keyscan -t ssh-ed25519 {pe1}" in results["pe1"]["msg"]
    assert (home / ".ssh" / "known_hosts").read_text() == without_pe1


def test_cli_errors_fail_the_task(lab_inventory, nb_env):
    result = _adhoc(nb_env, lab_inventory, "p1", "ansible.netcommon.cli_command", "command='show bogus thing'")["p1"]
    assert result.get("failed") and "Unknown command" in result["msg"]


def test_cli_config_changes_the_running_config_once(lab_inventory, nb_env, test_lab):
    args = "config='ip prefix-list NETOSS-TEST seq 5 permit 203.0.113.0/24'"
    first = _adhoc(nb_env, lab_inventory, "pe1", "ansible.netcommon.cli_config", args)["pe1"]
    assert not first.get("failed") and first["changed"], first.get("msg")
    assert "ip prefix-list NETOSS-TEST seq 5 permit 203.0.113.0/24" in runtime.vtysh(
        test_lab.router("pe1"), "show running-config"
    )
    second = _adhoc(nb_env, lab_inventory, "pe1", "ansible.netcommon.cli_config", args)["pe1"]
    assert not second.get("failed") and not second["changed"], second


def test_frr_state_returns_interfaces_as_data(lab_inventory, nb_env, test_lab):
    result = _adhoc(nb_env, lab_inventory, "pe1", "netoss.core.frr_state", "")["pe1"]
    assert not result.get("failed"), result.get("msg")
    interfaces = {i["name"]: i for i in result["interfaces"]}
    assert {"eth1", "eth2", "eth3", "lo", "mgmt0"} <= set(interfaces)
    assert interfaces["mgmt0"]["addresses"] == [str(test_lab.router("pe1").mgmt_ip)]
    assert all(interfaces[n]["oper_up"] for n in ("eth1", "eth2", "eth3"))
    # Nothing is configured yet (the rendered configs come with config_push): no sessions.
    assert result["bgp"] == [] and result["ospf"] == []


def test_router_logs_reach_the_fault_receiver_on_the_bridge_over_udp(test_lab, stack):
    """The stack's fault receiver is the collector: it listens on the lab's bridge once the lab
    exists, and counts every line a router logs (the relay's RFC 3164 framing, with the
    router's name as HOSTNAME, is unit-tested in test_syslog_relay.py)."""
    import json

    import redis

    from netoss.domain.faults.pipeline import counters
    from netoss.embedded.stack import portal_app

    conn = redis.Redis.from_url(json.loads(portal_app.config_file(stack).read_text())["REDIS_URL"])
    before = counters(conn)["received"].get("syslog", 0)
    # The receiver starts listening on a new lab's bridge within about 2 s: probe until it counts one.
    deadline = time.monotonic() + 30
    for seq in range(5, 1000, 5):
        runtime.vtysh(
            test_lab.router("pe2"), "configure terminal", f"ip prefix-list SYSLOG-PROBE seq {seq} permit 203.0.113.0/24"
        )
        time.sleep(1)
        if counters(conn)["received"].get("syslog", 0) > before:
            break
        assert time.monotonic() < deadline, "no syslog line from pe2 reached the fault receiver on the bridge"
    log = (stack.logs / "fault-receiver.log").read_text()
    assert f"listening for syslog on udp/{test_lab.bridge_ip.ip}:{stack.port('syslog')}" in log


def _snmp(stack, router, *oids: str, walk: bool = False) -> dict[str, str]:
    """OID -> value from the router's SNMP agent, asked from the host at its management address
    with the lab's community (as snmp_exporter asks it)."""
    creds = runtime.credentials(runtime.LabPaths(stack.state_dir / "lab"), TEST_LAB.user)
    argv = ["snmpwalk" if walk else "snmpget", "-v2c", "-c", creds["snmp_community"], "-On", "-Oq", "-t", "2"]
    out = subprocess.run(
        [*argv, str(router.mgmt_ip.ip), *oids],
        capture_output=True,
        text=True,
        check=True,
        env={"MIBS": "", "MIBDIRS": "/nonexistent", "PATH": "/usr/bin:/bin"},
    ).stdout
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def test_routers_answer_snmp_with_if_mib_and_frr_bgp4_mib(test_lab, stack):
    """snmpd in each router's namespaces: sysName is its hostname, IF-MIB names its NetBox
    interfaces; FRR's bgpd reaches it over AgentX once `agentx` is configured."""
    pe1 = test_lab.router("pe1")
    assert _snmp(stack, pe1, ".1.3.6.1.2.1.1.5.0") == {".1.3.6.1.2.1.1.5.0": '"pe1"'}
    names = {v.strip('"') for v in _snmp(stack, pe1, ".1.3.6.1.2.1.31.1.1.1.1", walk=True).values()}
    assert {"eth1", "eth2", "eth3", "mgmt0", "lo"} <= names
    indexes = runtime.if_indexes(pe1)
    status = _snmp(stack, pe1, f".1.3.6.1.2.1.2.2.1.8.{indexes['mgmt0']}")
    assert list(status.values()) == ["1"]  # up
    runtime.vtysh(pe1, "configure terminal", "agentx", "router bgp 64999", "end")
    try:
        wait_for(
            "bgpd's BGP4-MIB over AgentX (bgpLocalAs)",
            lambda: _snmp(stack, pe1, ".1.3.6.1.2.1.15.2.0").get(".1.3.6.1.2.1.15.2.0") == "64999",
            20,
            0.5,
        )
    finally:
        runtime.vtysh(pe1, "configure terminal", "no router bgp 64999", "end")
    # Another community is refused (no answer: SNMPv2c says nothing to a wrong community).
    wrong = subprocess.run(
        ["snmpget", "-v2c", "-c", "wrong", "-t", "1", "-r", "0", str(pe1.mgmt_ip.ip), ".1.3.6.1.2.1.1.5.0"],
        capture_output=True,
        text=True,
        check=False,
        env={"MIBS": "", "MIBDIRS": "/nonexistent", "PATH": "/usr/bin:/bin"},
    )
    assert wrong.returncode != 0 and "Timeout" in wrong.stdout + wrong.stderr
