"""Push logic on a fake router: diff, apply, refuse, roll back, verify. And config text checks."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ansible_collections.netoss.core.plugins.module_utils import backup_repo, config_diff, config_push, config_text

DATA = Path(__file__).parent / "test_data"
RUNNING = (DATA / "render" / "pe1-running.cfg").read_text()  # read from the lab's pe1 after a push
INTENDED = (DATA / "render" / "golden" / "frr" / "pe1.cfg").read_text()


class FakeRouter:
    """Keeps a running configuration as text; applies remediation lines the way the differ sees them."""

    def __init__(self, running, refuse=None, ignore=None, state=None):
        self.running = running
        self.refuse = refuse  # a line the router rejects
        self.ignore = ignore  # a line the router accepts but does not keep
        self.state = state or {}
        self.sent = []

    def get_config(self):
        return self.running

    def edit_config(self, lines):
        self.sent.append(list(lines))
        for line in lines:
            if self.refuse and line.strip() == self.refuse:
                raise ConnectionError("% Unknown command: " + line.strip())
        kept = [line for line in lines if not (self.ignore and line.strip() == self.ignore)]
        self.running = _apply(self.running, kept)

    def get(self, command):
        if command in self.state:
            value = self.state[command]
            if isinstance(value, list):  # successive answers; the last one repeats
                return value.pop(0) if len(value) > 1 else value[0]
            return value
        return "FRRouting 8.4.4 (pe1)."


def _apply(text, lines):
    """The configuration after sending ``lines`` (remediation syntax) to a device holding ``text``."""
    tree = config_diff.parse(text, "frr")
    stack = []
    for raw in lines:
        depth = len(raw) - len(raw.lstrip(" "))
        line = raw.strip()
        if line in ("exit", "exit-address-family", "end", "!"):
            continue
        stack = stack[:depth]
        parent = stack[-1] if stack else tree
        if line.startswith("no "):
            child = parent.get_child(equals=line[3:])
            if child is not None:
                child.delete()
            else:  # "no password" removes "password <value>", as on the router
                for other in [c for c in parent.children if c.text.startswith(line[3:] + " ")]:
                    other.delete()
            continue
        child = parent.get_child(equals=line) or parent.add_child(line)
        stack.append(child)
    return "\n".join(tree.dump_simple()) + "\nend\n"


# --- differ ---------------------------------------------------------------------------------


def test_running_equal_to_intended_needs_no_lines():
    assert config_diff.remediation(RUNNING, INTENDED, "frr") == []


def test_remediation_negates_and_adds_in_the_right_section():
    intended = INTENDED.replace(" description p1\n", " description p1-new\n").replace(
        "  neighbor 198.19.255.2 next-hop-self\n", ""
    )
    lines = config_diff.remediation(RUNNING, intended, "frr")
    assert lines == [
        "router bgp 64500",
        " neighbor 198.19.255.1 description p1-new",
        " address-family ipv4 unicast",
        "  no neighbor 198.19.255.2 next-hop-self",
        "  exit-address-family",
        " exit",
    ]
    assert config_diff.summary(lines) == "+1 -1"


def test_a_removed_interface_is_emptied_not_deleted():
    intended = INTENDED.replace(
        "interface eth3\n description ce1:eth1 (Acme Corp)\n ip address 198.19.128.0/31\nexit\n", ""
    )
    lines = config_diff.remediation(RUNNING, intended, "frr")
    assert "no interface eth3" not in lines
    assert lines[:3] == ["interface eth3", " no description ce1:eth1 (Acme Corp)", " no ip address 198.19.128.0/31"]


def test_volatile_lines_and_order_do_not_count():
    shuffled = "Building configuration...\n\nCurrent configuration:\n!\nfrr version 9.9\n" + RUNNING.split("!", 1)[1]
    assert config_diff.remediation(shuffled, INTENDED, "frr") == []
    assert config_diff.unified(RUNNING, INTENDED, "frr") == ""


def test_unknown_platform():
    with pytest.raises(config_diff.DiffError, match="platform 'junos'"):
        config_diff.remediation(RUNNING, INTENDED, "junos")


# --- push -------------------------------------------------------------------------------------


def _drifted():
    return RUNNING.replace(" description p2\n", "").replace("ip prefix-list PL-ACME-CORP-IN", "ip prefix-list OLD")


def test_check_mode_sends_nothing():
    router = FakeRouter(_drifted())
    result = config_push.push(router, INTENDED, "frr", check_mode=True)
    assert result["changed"] and router.sent == []
    assert " neighbor 198.19.255.2 description p2" in result["commands"]
    assert "ip prefix-list OLD" in result["diff"]["before"]
    assert "ip prefix-list OLD" not in result["diff"]["after"]


def test_push_then_push_again_is_a_no_op():
    router = FakeRouter(_drifted())
    first = config_push.push(router, INTENDED, "frr")
    assert first["changed"] and len(router.sent) == 1
    second = config_push.push(router, INTENDED, "frr")
    assert not second["changed"] and len(router.sent) == 1


def test_a_refused_line_rolls_back_everything():
    before = _drifted()
    router = FakeRouter(before, refuse="neighbor 198.19.255.2 description p2")
    with pytest.raises(config_push.PushError, match=r"refused the change: % Unknown command.*rolled back") as err:
        config_push.push(router, INTENDED, "frr")
    assert err.value.rolled_back
    assert config_diff.remediation(router.running, before, "frr") == []


def test_a_change_the_router_does_not_keep_is_rolled_back():
    router = FakeRouter(_drifted(), ignore="neighbor 198.19.255.2 description p2")
    with pytest.raises(
        config_push.PushError,
        match=r"1 line\(s\) still differ .*: router bgp 64500 > neighbor 198.19.255.2 description p2; rolled back",
    ):
        config_push.push(router, INTENDED, "frr")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("Building configuration...\n\n", "only 1 line"),
        ("% Unknown command: show runnning-config\n", "error instead of its configuration"),
        ("Exiting: failed to connect to any daemons.\n", "error instead"),
        (RUNNING.rsplit("router ospf", 1)[0], "truncated: it ends with"),
        ("frr defaults traditional\nend\n", "only 2 line"),
    ],
)
def test_bad_running_configurations_are_refused(text, reason):
    router = FakeRouter(text)
    with pytest.raises(config_text.ConfigTextError, match=reason):
        config_push.push(router, INTENDED, "frr")
    assert router.sent == []


# --- verify -----------------------------------------------------------------------------------


def _frr(name):
    return (DATA / "frr" / name).read_text()


def test_expectations_from_the_structured_data():
    data = {
        "bgp": {"neighbors": [{"address": "198.19.255.1", "description": "p1"}]},
        "interfaces": [
            {"name": "eth1", "ospf": {"passive": False}, "peer": {"device": "p1"}, "enabled": True},
            {"name": "lo", "ospf": {"passive": True}, "peer": None, "enabled": True},
            {"name": "eth3", "ospf": None, "peer": {"device": "ce1"}, "enabled": True},
        ],
    }
    assert config_push.expectations(data) == {
        "bgp": [{"address": "198.19.255.1", "description": "p1"}],
        "ospf": ["eth1"],
    }


def test_verify_waits_then_reports_what_is_down():
    # The shape of FRR 8.4's `show bgp vrf all summary json` (see test_data/frr/).
    peers = ["198.19.255.1", "198.19.255.2"]
    shape = json.loads(_frr("show_bgp_vrf_all_summary.json"))
    peer = next(iter(shape["default"]["ipv4Unicast"]["peers"].values()))
    bgp = json.loads(json.dumps(shape))
    bgp["default"]["ipv4Unicast"]["peers"] = {p: dict(peer, state="Established") for p in peers}
    data = {"bgp": {"neighbors": [{"address": p, "description": "x"} for p in peers]}, "interfaces": []}
    down = json.loads(json.dumps(bgp))
    down["default"]["ipv4Unicast"]["peers"][peers[0]]["state"] = "Active"
    router = FakeRouter(RUNNING, state={"show bgp vrf all summary json": [json.dumps(down), json.dumps(bgp)]})
    ticks = iter(range(100))
    problems, _waited = config_push.verify(
        router, data, "frr", timeout=10, clock=lambda: next(ticks), sleep=lambda s: None
    )
    assert problems == []  # down on the first read, up on the second
    router = FakeRouter(RUNNING, state={"show bgp vrf all summary json": json.dumps(down)})
    ticks = iter(range(100))
    problems, waited = config_push.verify(
        router, data, "frr", timeout=5, clock=lambda: next(ticks), sleep=lambda s: None
    )
    assert problems == [f"BGP neighbour {peers[0]} (x) is Active, not Established"] and waited >= 5


def test_verify_reports_a_silent_device():
    class Dead(FakeRouter):
        def get(self, command):
            raise ConnectionError("timed out")

    ticks = iter(range(100))
    problems, _ = config_push.verify(
        Dead(RUNNING), {}, "frr", timeout=1, clock=lambda: next(ticks), sleep=lambda s: None
    )
    assert problems == ["the device does not answer: timed out"]


# --- config text and backups -----------------------------------------------------------------


def test_stable_and_sanitized():
    text = "Building configuration...\n\nCurrent configuration:\n!\nfrr version 8.4.4\n" + "x\n" * 5 + "end\n"
    assert config_text.stable(text, "frr").startswith("!\nfrr version 8.4.4\n")
    secret = "username bob privilege 15 secret 9 $9$abc\nrouter bgp 1\n neighbor 10.0.0.1 password s3cret\n"
    clean = config_text.sanitize(secret)
    assert "s3cret" not in clean and "$9$abc" not in clean and clean.count("<removed>") == 2


def test_backup_repo_commits_one_device_per_change(tmp_path):
    repo = str(tmp_path / "backups")
    backup_repo.ensure(repo)
    first = backup_repo.store(repo, "pe1", RUNNING, "job-1", "2026-11-26T10:00:00Z")
    assert first["changed"] and first["first"] and first["commit"]
    again = backup_repo.store(repo, "pe1", RUNNING, "job-2", "2026-11-26T11:00:00Z")
    assert not again["changed"]
    changed = RUNNING.replace("router ospf\n", "router ospf\n ospf abr-type cisco\n")
    assert backup_repo.store(repo, "pe1", changed, "job-3", "2026-11-26T12:00:00Z", check_mode=True)["changed"]
    third = backup_repo.store(repo, "pe1", changed, "job-3", "2026-11-26T12:00:00Z")
    assert (third["added"], third["removed"]) == (1, 0) and "+ ospf abr-type cisco" in third["diff"]
    log = subprocess.run(["git", "-C", repo, "log", "--format=%s", "--", "pe1.cfg"], capture_output=True, text=True)
    assert log.stdout.splitlines() == [
        "pe1: +1 -0 (job job-3, 2026-11-26T12:00:00Z)",
        "pe1: first backup (job job-1, 2026-11-26T10:00:00Z)",
    ]


def test_a_policy_removed_in_one_direction_is_negated_and_the_other_kept():
    intended = INTENDED.replace("  neighbor 198.19.128.1 route-map RM-CUSTOMER-OUT-DEFAULT out\n", "")
    assert config_diff.remediation(RUNNING, intended, "frr") == [
        "router bgp 64500",
        " address-family ipv4 unicast",
        "  no neighbor 198.19.128.1 route-map RM-CUSTOMER-OUT-DEFAULT out",
        "  exit-address-family",
        " exit",
    ]
    # A new route-map in the same direction replaces the old one: no negation needed.
    renamed = INTENDED.replace("route-map RM-CUSTOMER-OUT-DEFAULT out", "route-map RM-OTHER out")
    lines = config_diff.remediation(RUNNING, renamed, "frr")
    assert "  neighbor 198.19.128.1 route-map RM-OTHER out" in lines
    assert not any("no neighbor 198.19.128.1 route-map" in line for line in lines)


def _store_many(repo, worker, count):
    with backup_repo.locked(repo):
        backup_repo.ensure(repo)
        for i in range(count):
            backup_repo.store(repo, f"r{worker}-{i}", f"hostname r{worker}-{i}\n", f"job-{worker}", "now")


def test_backup_repo_refuses_a_device_name_that_is_not_a_file_name(tmp_path):
    """Device names come from NetBox, which allows '/' and '..': a backup stays in the repository."""
    repo = str(tmp_path / "backups")
    backup_repo.ensure(repo)
    assert backup_repo.store(repo, "ams-core-router-01.example.net", RUNNING, "job-1", "now")["changed"]
    for name in ("../outside", "a/b", "pe 1", ".hidden", "köln"):
        with pytest.raises(backup_repo.BackupRepoError, match="cannot be a file name in the backup repository"):
            backup_repo.store(repo, name, RUNNING, "job-1", "now")
    assert not (tmp_path / "outside.cfg").exists()


def test_backup_runs_at_once_commit_one_after_the_other(tmp_path):
    """Two runs backing up into one repository at the same time: without the lock, git's
    index.lock makes one of them fail."""
    import multiprocessing

    repo = str(tmp_path / "backups")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_store_many, args=(repo, w, 15)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    log = subprocess.run(["git", "-C", repo, "log", "--format=%s"], capture_output=True, text=True, check=True)
    assert len(log.stdout.splitlines()) == 1 + 3 * 15  # the repository's first commit, then one per device


def test_an_interface_the_intended_configuration_leaves_out_stays_shut_down():
    running = "interface Ethernet48\n description spare\n shutdown\n!\nhostname r1\n"
    lines = config_diff.remediation(running, "hostname r1\n", "ios")
    assert "no shutdown" not in [line.strip() for line in lines]
    assert "no description spare" in [line.strip() for line in lines]


def test_the_backup_lock_needs_no_write_access_beside_the_repository():
    """Jobs run as the service account, which may write the repository but not the state
    directory around it (root's): the lock must live in what the job may use."""
    import os
    import pwd
    import shutil
    import tempfile
    from pathlib import Path

    if os.geteuid() != 0:
        pytest.skip("needs root to run a child as another account")
    nobody = pwd.getpwnam("nobody")
    parent = Path(tempfile.mkdtemp(prefix="netoss-state-"))  # root's, as a state directory is
    try:
        os.chmod(parent, 0o755)  # noqa: S103 - a state directory is 0755, as here
        repo = parent / "backups"
        repo.mkdir()
        os.chown(repo, nobody.pw_uid, nobody.pw_gid)
        pid = os.fork()
        if pid == 0:  # the child: the service account, as a job
            code = 1
            try:
                os.setgid(nobody.pw_gid)
                os.setuid(nobody.pw_uid)
                with backup_repo.locked(str(repo)):
                    code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert sorted(p.name for p in parent.iterdir()) == ["backups"]  # nothing written beside it
    finally:
        shutil.rmtree(parent)


def test_a_root_backup_into_the_service_accounts_repository_runs_git_as_its_owner():
    """A root terminal's backup on a stack whose jobs run as its service account: git refuses
    another account's repository (dubious ownership), and trusting it would let that account's
    git configuration run as root. The work runs as the owner; the files stay the owner's."""
    import os
    import pwd
    import shutil
    import tempfile
    from pathlib import Path

    if os.geteuid() != 0:
        pytest.skip("needs root to own a repository by another account")
    nobody = pwd.getpwnam("nobody")
    parent = Path(tempfile.mkdtemp(prefix="netoss-state-"))
    try:
        os.chmod(parent, 0o755)  # noqa: S103 - a state directory is 0755, as here
        repo = parent / "backups"
        repo.mkdir()
        os.chown(repo, nobody.pw_uid, nobody.pw_gid)

        def work():
            backup_repo.ensure(str(repo))
            return backup_repo.store(str(repo), "edge-9", "hostname edge-9\n", "job-7", "now")

        result = backup_repo.as_owner(str(repo), work)
        assert result["changed"] and result["commit"], result
        assert os.getuid() == 0  # the test's process is still root's
        owners = {p.stat().st_uid for p in repo.rglob("*")}
        assert owners == {nobody.pw_uid}, owners
        log = subprocess.run(
            ["git", "-c", f"safe.directory={repo}", "-C", str(repo), "log", "--format=%s"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert len(log.stdout.splitlines()) == 2
        with pytest.raises(backup_repo.BackupRepoError, match="refused"):
            backup_repo.as_owner(str(repo), lambda: (_ for _ in ()).throw(RuntimeError("refused")))
    finally:
        shutil.rmtree(parent)
