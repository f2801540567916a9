"""Configuration management on the real lab: render from NetBox, push, verify, roll back, back up.

The lab has its own names here (c<device>, bridge netoss-cbr0, account netopsc) on the test
management subnet; it is configured the way `make up` does it (netoss.embedded.lab.converge, which
runs playbooks/config_push.yml), then each test works through the playbooks as a user would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from benches import assert_headings, lab_names, run_bench

from netoss.embedded import lab
from netoss.embedded.lab import runtime
from netoss.embedded.lab.spec import LabConfig

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CONFIG_LAB = LabConfig(ns_prefix="c", bridge="netoss-cbr0", user="netopsc")
ROUTERS = ["ce1", "ce2", "ce3", "ce4", "p1", "p2", "pe1", "pe2"]  # ce3, ce4: spare, for service orders
# What NetBox says each router must have up: BGP neighbours and OSPF interfaces.
EXPECTED_BGP = {
    "p1": {"198.19.255.2", "198.19.255.3", "198.19.255.4"},
    "p2": {"198.19.255.1", "198.19.255.3", "198.19.255.4"},
    "pe1": {"198.19.255.1", "198.19.255.2", "198.19.128.1"},
    "pe2": {"198.19.255.1", "198.19.255.2", "198.19.128.3"},
    "ce1": {"198.19.128.0"},
    "ce2": {"198.19.128.2"},
    "ce3": set(),  # spare: no customer, no BGP until a service order
    "ce4": set(),
}
EXPECTED_OSPF = {"p1": 3, "p2": 3, "pe1": 2, "pe2": 2, "ce1": 0, "ce2": 0, "ce3": 0, "ce4": 0}
LOOPBACKS = ["198.19.255.1", "198.19.255.2", "198.19.255.3", "198.19.255.4", "203.0.113.1", "203.0.113.17"]


@pytest.fixture(scope="module")
def configured_lab(stack, nb, demo_synced):
    spec = lab.up(stack, nb, CONFIG_LAB, log=print)
    try:
        assert lab.converge(stack, spec, log=print, force=True)
        yield spec
    finally:
        lab.down(stack, log=print)


@pytest.fixture
def env(nb_env, stack):
    return {**nb_env, **lab.device_env(stack)}


def _vtysh_json(spec, name, command):
    return json.loads(runtime.vtysh(spec.router(name), command))


def _run(env, playbook, *args, timeout=900):
    proc = subprocess.run(
        [str(REPO / ".venv/bin/ansible-playbook"), f"playbooks/{playbook}", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def _recap(output):
    """{host: {ok, changed, failed, unreachable, ...}} from the PLAY RECAP."""
    recap = {}
    for line in output.split("PLAY RECAP", 1)[1].splitlines():
        parts = line.split(":", 1)
        if len(parts) == 2 and "ok=" in parts[1]:
            recap[parts[0].strip()] = {k: int(v) for k, v in (kv.split("=") for kv in parts[1].split())}
    return recap


def _task(output, name):
    """{host: ok|changed|failed|skipping|...} for the task whose title contains ``name``."""
    results = {}
    for block in output.split("\nTASK [")[1:]:
        title, _, body = block.partition("\n")
        if name in title:
            for line in body.splitlines():
                status, _, rest = line.partition(": [")
                if rest and status in ("ok", "changed", "failed", "fatal", "skipping"):
                    results[rest.split("]")[0].split(" ")[0]] = status
    return results


PUSH = "Push the lines that differ"


def _journal(nb, device, since_id=0):
    """The device's journal entries of configuration work since ``since_id``. A broken session
    also opens a fault ticket, which the fault processor mirrors in the same journal ("**TT-"):
    those are fault management's, checked in test_faults.py."""
    dev = nb.dcim.devices.get(name=device)
    entries = nb.extras.journal_entries.filter(assigned_object_type="dcim.device", assigned_object_id=dev.id)
    return [e for e in entries if e.id > since_id and not e.comments.startswith("**TT-")]


def _last_journal_id(nb):
    return max([e.id for e in nb.extras.journal_entries.all()] or [0])


# --- convergence -----------------------------------------------------------------------------


def test_the_lab_converges_from_netbox_rendered_configs(configured_lab):
    for name in ROUTERS:
        bgp = _vtysh_json(configured_lab, name, "show bgp summary json").get("ipv4Unicast", {}).get("peers", {})
        assert set(bgp) == EXPECTED_BGP[name], name
        assert all(p["state"] == "Established" for p in bgp.values()), (name, bgp)
        ospf = _vtysh_json(configured_lab, name, "show ip ospf neighbor json").get("neighbors", {})
        full = [n for entries in ospf.values() for n in entries if n["nbrState"].startswith("Full")]
        assert len(full) == EXPECTED_OSPF[name], (name, ospf)
    routes = _vtysh_json(configured_lab, "p1", "show ip route json")
    for loopback in LOOPBACKS:
        assert f"{loopback}/32" in routes, f"p1 has no route to {loopback}"


def test_customer_loopbacks_reach_each_other_across_sites(configured_lab):
    """Real traffic: ce1 (Amsterdam, AS64501) opens TCP to ce2 (Frankfurt, AS64502), loopback to loopback."""
    server = subprocess.Popen(
        [
            "ip", "netns", "exec", "cce2", sys.executable, "-c",
            "import socket; s = socket.socket(); s.bind(('203.0.113.17', 7070)); s.listen(1); s.settimeout(20);"
            " c, a = s.accept(); c.sendall(a[0].encode()); c.close()",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        client = subprocess.run(
            [
                "ip", "netns", "exec", "cce1", sys.executable, "-c",
                "import socket, time\n"
                "for _ in range(40):\n"
                "    try:\n"
                "        s = socket.create_connection(('203.0.113.17', 7070), 2, ('203.0.113.1', 0)); break\n"
                "    except OSError: time.sleep(0.25)\n"
                "print(s.recv(64).decode())",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )  # fmt: skip
        assert client.stdout.strip() == "203.0.113.1", client.stderr
    finally:
        server.kill()
        server.wait()


# --- push --------------------------------------------------------------------------------------


def test_push_again_changes_nothing(configured_lab, env):
    rc, out = _run(env, "config_push.yml")
    assert rc == 0, out[-3000:]
    recap = _recap(out)
    assert sorted(recap) == ROUTERS
    assert all(r["changed"] == 0 and r["failed"] == 0 for r in recap.values()), recap


def test_a_second_lab_up_with_nothing_changed_in_netbox_pushes_nothing(
    configured_lab, stack, nb, test_intent, intent_copy
):
    """Whether `lab up` pushes follows what the lab builds from NetBox, not the intent's files:
    the stack's intent moved to another directory and edited, not synced, is no reason to push."""
    first = sorted(intent_copy.glob("*.yml"))[0]
    first.write_text(first.read_text() + "# edited, not synced\n")
    stack.set_intent(intent_copy)
    try:
        spec = lab.up(stack, nb, CONFIG_LAB, log=print)
        assert lab.converge(stack, spec, log=print) == []
    finally:
        stack.set_intent(test_intent)


def test_a_netbox_change_is_pushed_to_the_router_it_concerns_only(configured_lab, stack, nb):
    """An interface description changed in NetBox (not in the intent): `lab up` pushes that
    router, and only it; set back, it pushes it again."""
    router = next(r for r in configured_lab.routers if r.interfaces)
    intf = nb.dcim.interfaces.get(device=router.name, name=router.interfaces[0])
    before = intf.description
    try:
        intf.update({"description": "changed in NetBox by test_config"})
        assert lab.converge(stack, configured_lab, log=print) == [router.name]
        assert " description changed in NetBox by test_config\n" in runtime.vtysh(router, "show running-config")
    finally:
        intf.update({"description": before})
        assert lab.converge(stack, configured_lab, log=print) == [router.name]
    assert " description changed in NetBox by test_config" not in runtime.vtysh(router, "show running-config")


def test_check_diff_shows_the_lines_then_push_applies_and_records(configured_lab, env, nb):
    pe1 = configured_lab.router("pe1")
    runtime.vtysh(pe1, "configure terminal", "router bgp 64500", "no neighbor 198.19.255.2 description p2")
    drifted = runtime.vtysh(pe1, "show running-config")
    rc, out = _run(env, "config_push.yml", "--check", "--diff", "--limit", "pe1")
    assert rc == 0, out[-3000:]
    assert "+ neighbor 198.19.255.2 description p2" in out
    assert _task(out, PUSH) == {"pe1": "changed"}
    assert runtime.vtysh(pe1, "show running-config") == drifted  # check mode touched nothing

    since = _last_journal_id(nb)
    rc, out = _run({**env, "NETOSS_USER": "alice", "NETOSS_JOB_ID": "job-7"}, "config_push.yml", "--limit", "pe1")
    assert rc == 0, out[-3000:]
    assert " neighbor 198.19.255.2 description p2" in runtime.vtysh(pe1, "show running-config")
    entries = _journal(nb, "pe1", since)
    assert len(entries) == 1 and entries[0].kind.value == "success"
    assert entries[0].comments.startswith("**config-push** by alice (job job-7): +1 -0")
    assert "neighbor 198.19.255.2 description p2" in entries[0].comments


def test_a_push_that_breaks_a_session_is_rolled_back(configured_lab, env, nb):
    """NetBox now says Acme is AS64599, but ce1 still speaks AS64501: pe1's session cannot come up."""
    acme = nb.ipam.asns.get(asn=64501)
    since = _last_journal_id(nb)
    acme.asn = 64599
    acme.save()
    try:
        rc, out = _run(env, "config_push.yml", "--limit", "pe1", "-e", "config_push_verify_timeout=15")
    finally:
        acme.asn = 64501
        acme.save()
    assert rc != 0
    assert "pe1: verification failed after" in out
    assert "BGP neighbour 198.19.128.1 (ce1 (Acme Corp, ACME-AMS-0001)) is" in out and "not Established" in out
    assert "rolled back to the configuration read before the push" in out
    running = runtime.vtysh(configured_lab.router("pe1"), "show running-config")
    assert "neighbor 198.19.128.1 remote-as 64501" in running and "64599" not in running
    kinds = [e.kind.value for e in _journal(nb, "pe1", since)]
    assert kinds == ["danger"]
    # The rollback restored the session.
    rc, out = _run(env, "config_push.yml", "--limit", "pe1,ce1")
    assert rc == 0 and _task(out, PUSH) == {"pe1": "ok", "ce1": "ok"}, out[-3000:]


# --- backup ------------------------------------------------------------------------------------


def test_backup_then_hand_change_then_backup_shows_the_diff(configured_lab, env, nb, stack):
    repo = stack.state_dir / "backups"
    rc, out = _run(env, "config_backup.yml")
    assert rc == 0, out[-3000:]
    assert (repo / "pe1.cfg").read_text().rstrip().endswith("end")
    since = _last_journal_id(nb)
    runtime.vtysh(
        configured_lab.router("pe1"), "configure terminal", "ip prefix-list HANDMADE seq 5 permit 192.0.2.0/24"
    )
    try:
        rc, out = _run(env, "config_backup.yml", "-e", "config_backup_job=job-42")
        assert rc == 0, out[-3000:]
        log = subprocess.run(
            ["git", "-c", f"safe.directory={repo}", "-C", str(repo), "log", "-1", "-p", "--format=%s", "--", "pe1.cfg"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert log.startswith("pe1: +1 -0 (job job-42, ")
        assert "+ip prefix-list HANDMADE seq 5 permit 192.0.2.0/24" in log
        # One commit per changed device: the others did not change.
        subjects = subprocess.run(
            ["git", "-c", f"safe.directory={repo}", "-C", str(repo), "log", "--format=%s", "-3"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        assert subjects[0].startswith("pe1: +1 -0") and not subjects[1].startswith("pe1:")
        entries = _journal(nb, "pe1", since)
        assert len(entries) == 1 and entries[0].kind.value == "warning"
        assert "config-backup" in entries[0].comments and "HANDMADE" in entries[0].comments
        assert nb.dcim.devices.get(name="pe1").custom_fields["netoss_last_backup"]
        assert not _journal(nb, "p1", since)  # no change, no entry
    finally:
        rc, out = _run(env, "config_push.yml", "--limit", "pe1")  # the push removes the hand change
        assert rc == 0, out[-3000:]
    assert "HANDMADE" not in runtime.vtysh(configured_lab.router("pe1"), "show running-config")


def test_a_router_with_no_pinned_host_key_is_refused_and_not_learned(configured_lab, env, stack, tmp_path):
    """The inventory's connection (from NetBox) never trusts an SSH host on first use: with
    pe1's key missing from the playbooks' known_hosts, a read-only run (a push in check mode:
    it reads each running configuration) refuses pe1 with an error that names its address and
    says how to pin the key, and the key is not added; p1, pinned, is read in the same run."""
    pe1 = str(configured_lab.router("pe1").mgmt_ip.ip)
    pinned = (stack.ansible_home / ".ssh" / "known_hosts").read_text().splitlines()
    assert any(line.split()[0] == pe1 for line in pinned)
    without_pe1 = "".join(line + "\n" for line in pinned if line.split()[0] != pe1)
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    known_hosts = home / ".ssh" / "known_hosts"
    known_hosts.write_text(without_pe1)

    rc, out = _run({**env, "HOME": str(home)}, "config_push.yml", "--check", "--limit", "pe1,p1")

    assert rc != 0, out[-3000:]
    recap = _recap(out)
    assert recap["pe1"]["unreachable"] == 1 or recap["pe1"]["failed"] == 1, recap
    assert recap["p1"]["unreachable"] == 0 and recap["p1"]["failed"] == 0, out[-3000:]
    assert f"{pe1} is not a known SSH host" in out, out[-3000:]
    assert str(known_hosts) in out and "netoss lab trust" in out and "ssh-keyscan" in out
    assert "host_key_auto_add=True" not in out  # never advised
    # Not learned: the file is as it was.
    assert known_hosts.read_text() == without_pe1


# --- bad input: a clear error per device, the others go on, nothing half-pushed --------------


@pytest.fixture
def odd_devices(nb):
    """Devices a real NetBox has: one without a primary IP, one whose address answers nobody,
    one on a platform without templates."""
    site = nb.dcim.sites.get(slug="ams1")
    role = nb.dcim.device_roles.get(slug="pe")
    dtype = nb.dcim.device_types.get(slug="frr-router")
    frr = nb.dcim.platforms.get(slug="frr")
    junos = nb.dcim.platforms.create(name="Junos (test)", slug="junos")
    made = []  # (device, [(interface, ip)])

    def device(name, platform, loopback, address=None):
        dev = nb.dcim.devices.create(name=name, site=site.id, role=role.id, device_type=dtype.id, platform=platform.id)
        parts = []
        made.append((dev, parts))
        for ifname, ip, extra in (("lo", loopback, {"role": "loopback"}), ("mgmt0", address, {})):
            if ip is None:
                continue
            intf = nb.dcim.interfaces.create(
                device=dev.id, name=ifname, type="virtual" if ifname == "lo" else "1000base-t"
            )
            ip = nb.ipam.ip_addresses.create(
                address=ip, assigned_object_type="dcim.interface", assigned_object_id=intf.id, **extra
            )
            parts.append((intf, ip))
        if address:
            dev.primary_ip4 = parts[-1][1].id
            dev.save()

    try:
        device("noip1", frr, "198.19.255.97/32")
        # In the lab's management subnet (on the lab bridge), where no router answers.
        device("gone1", frr, "198.19.255.99/32", "198.18.100.99/24")
        device("jun1", junos, "198.19.255.98/32", "198.18.100.98/24")
        yield
    finally:
        for dev, parts in made:
            dev.primary_ip4 = None
            dev.save()
            for intf, ip in parts:
                ip.delete()
                intf.delete()
            dev.delete()
        junos.delete()


def test_bad_devices_fail_alone_with_clear_errors(configured_lab, env, odd_devices):
    rc, out = _run(env, "config_push.yml", "--limit", "pe1,noip1,gone1")
    assert rc != 0
    recap = _recap(out)
    assert recap["pe1"]["failed"] == 0 and recap["pe1"]["unreachable"] == 0
    assert "noip1 has no primary IPv4 address in NetBox" in out
    assert recap["noip1"]["failed"] == 1
    assert recap["gone1"]["unreachable"] == 1 or recap["gone1"]["failed"] == 1
    assert "198.18.100.99" in out or "gone1" in out

    rc, out = _run(env, "config_render.yml", "--limit", "pe1,jun1")
    assert rc != 0
    assert "jun1: no templates for platform 'junos'" in out and "platforms with templates: eos, frr, ios" in out
    assert _recap(out)["pe1"]["failed"] == 0


def test_wrong_credentials_fail_each_device_and_change_nothing(configured_lab, env):
    before = runtime.vtysh(configured_lab.router("pe1"), "show running-config")
    rc, out = _run({**env, "NETOSS_DEVICE_PASSWORD": "not-the-password"}, "config_push.yml", "--limit", "pe1,pe2")
    assert rc != 0
    recap = _recap(out)
    assert all(r["unreachable"] == 1 or r["failed"] == 1 for r in recap.values()), recap
    assert "Authentication failed" in out or "authentication" in out.lower()
    assert runtime.vtysh(configured_lab.router("pe1"), "show running-config") == before


def test_a_template_error_stops_before_anything_is_pushed(configured_lab, env, tmp_path):
    before = runtime.vtysh(configured_lab.router("pe1"), "show running-config")
    templates = tmp_path / "templates"
    (templates / "frr").mkdir(parents=True)
    for f in (REPO / "roles/config_render/templates/frr").glob("*.j2"):
        (templates / "frr" / f.name).write_text(f.read_text())
    (templates / "frr" / "60-bgp.j2").write_text("router bgp {{ bgp.asn }}\n neighbor {{ bgp.no_such_key }}\n")
    rc, out = _run(env, "config_push.yml", "--limit", "pe1,p1", "-e", f"config_render_templates={templates}")
    assert rc != 0
    assert "pe1: template frr/60-bgp.j2 line 2:" in out and "no_such_key" in out
    assert "Push the lines" not in out  # every device stopped at rendering: nothing was sent
    assert runtime.vtysh(configured_lab.router("pe1"), "show running-config") == before
    rc, out = _run(env, "config_push.yml", "--limit", "pe1,p1")
    assert rc == 0 and _task(out, PUSH) == {"pe1": "ok", "p1": "ok"}, out[-3000:]


def test_bench_config_smoke(configured_lab, stack):
    """bench/bench_config.py at its smoke size on this module's lab (tests/integration/test_bench_smoke.py);
    last in the module: its pushes change nothing, its backups follow the module's."""
    out = run_bench("bench_config.py", "--smoke", "--stack", str(stack.state_dir), "--lab", lab_names(CONFIG_LAB))
    assert_headings(out, "push (on a configured lab)", "backup ", "routers configured:")
