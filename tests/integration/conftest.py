"""Integration fixtures: a real NetBox stack of the test run's own.

The test stack lives in <repo>/.state-test on port base 27000 (NetBox on 27080), so it
never touches a stack started by `make up` (.state, port base 17000). It is wiped and
rebuilt at the start of the session: the migrated NetBox database is restored from the
dump cache (about 1 s; the first run on a machine migrates once, 5-6 minutes).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from waiting import wait_for

from netoss.embedded import lab
from netoss.embedded.deployment import wipe
from netoss.embedded.lab.spec import LabConfig
from netoss.embedded.stack import Stack, client_env, down, up

REPO = Path(__file__).resolve().parents[2]
INTENT = REPO / "inventory" / "intent"
# The test network's management subnet, apart from the demo's 198.18.0.0/24 (the `make up` lab).
TEST_MGMT = "198.18.100"
TEST_STATE = Path(os.environ.get("NETOSS_TEST_STATE", REPO / ".state-test"))
TEST_PORT_BASE = int(os.environ.get("NETOSS_TEST_PORT_BASE", "27000"))


def quick_assurance_policy(target: Path) -> Path:
    """The checkout's assurance policy with the intervals a test can wait for: scrapes every 5 s,
    probes every second, SLA windows of 30 s held for 5 s (the thresholds' bounds are the same).
    30 probes a window: at 20 % loss, one without a loss (and so a cleared alarm amid the loss)
    comes once in 800 windows; 10 probes made it one in 9."""
    target.mkdir(parents=True, exist_ok=True)
    for f in sorted((REPO / "assurance").glob("*.yml")):
        doc = yaml.safe_load(f.read_text())
        if "polling" in doc:
            doc["polling"].update(scrape_interval="5s", probe_interval="1s")
        for t in doc.get("thresholds") or []:
            t["for"] = "5s"
            if "window" in t:
                t["window"] = "30s"
        (target / f.name).write_text(yaml.safe_dump(doc, sort_keys=False))
    return target


@pytest.fixture(scope="session")
def stack():
    s = Stack(state_dir=TEST_STATE, port_base=TEST_PORT_BASE)
    wipe(s)
    os.environ["NETOSS_ASSURANCE_POLICY"] = str(quick_assurance_policy(TEST_STATE / "assurance-policy"))
    up(s, seed_intent=False, log=lambda m: print(f"[test stack] {m}"))
    yield s
    down(s, log=lambda m: None)


@pytest.fixture(scope="session")
def test_intent(stack) -> Path:
    """The demo intent, moved to the test management subnet (198.18.100.0/24) and syslog port;
    recorded as the test stack's intent (its portal jobs read it), in its state directory."""
    target = stack.state_dir / "intent"
    shutil.copytree(INTENT, target)
    for f in target.glob("*.yml"):
        text = f.read_text().replace("198.18.0.", TEST_MGMT + ".")
        f.write_text(text.replace("port: 17514", f"port: {TEST_PORT_BASE + 514}"))
    stack.set_intent(target)
    return target


@pytest.fixture
def intent_copy(test_intent, tmp_path) -> Path:
    """A copy of the test intent that a test may edit."""
    target = tmp_path / "intent"
    shutil.copytree(test_intent, target)
    return target


def _test_home(stack) -> Path:
    home = stack.state_dir / "home"
    (home / ".ssh").mkdir(parents=True, exist_ok=True, mode=0o700)
    return home


@pytest.fixture(scope="session")
def nb_env(stack) -> dict[str, str]:
    """Environment for clients of the test stack (Ansible, netoss)."""
    return {
        **os.environ,
        **client_env(stack),
        "NETOSS_STATE": str(stack.state_dir),
        "NETOSS_PORT_BASE": str(stack.port_base),
        "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
        "ANSIBLE_LOCAL_TEMP": str(stack.state_dir / "ansible-tmp"),
        # network_cli (paramiko) records host keys in ~/.ssh/known_hosts: keep the test lab's
        # keys, new every run, out of the user's file.
        "HOME": str(_test_home(stack)),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
    }


@pytest.fixture(scope="session")
def nb(stack):
    """pynetbox API of the test stack."""
    import pynetbox

    return pynetbox.api(stack.netbox_url, token=stack.netbox_token())


@dataclass
class PlaybookRun:
    rc: int
    output: str

    @property
    def recap(self) -> dict[str, int]:
        m = re.search(r"localhost\s*:\s*(ok=.*)$", self.output, re.M)
        assert m, f"no PLAY RECAP in output:\n{self.output[-3000:]}"
        return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}


@pytest.fixture(scope="session")
def playbook(nb_env, test_intent):
    """Run a playbook of the repository against the test stack; return rc and output.

    sot_sync applies the test intent unless the arguments name another (a later -e wins).
    """

    def run(name: str, *args: str, env: dict | None = None, timeout: int = 1200) -> PlaybookRun:
        defaults = ["-e", f"sot_sync_intent_dir={test_intent}"]
        proc = subprocess.run(
            [str(REPO / ".venv/bin/ansible-playbook"), f"playbooks/{name}", *defaults, *args],
            cwd=REPO,
            env={**nb_env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return PlaybookRun(proc.returncode, proc.stdout + proc.stderr)

    return run


@pytest.fixture(scope="session")
def demo_synced(playbook) -> PlaybookRun:
    """The first sot_sync of the demo intent into the empty test NetBox (run once per session)."""
    run = playbook("sot_sync.yml")
    assert run.rc == 0, run.output[-4000:]
    return run


@pytest.fixture(scope="session")
def portal_api(stack):
    """A requests session on the test stack's portal, as its admin (a Bearer token)."""
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {stack.load_secrets()['portal_admin_token']}"
    return session


@pytest.fixture(scope="session")
def run_job(stack, portal_api):
    """Launch a job through the portal's API and wait for its end: run_job(body) -> the job."""

    def run(body: dict, timeout: float = 300, relaunch_of: int | None = None) -> dict:
        url = f"{stack.portal_url}/api/v1/jobs"
        if relaunch_of is None:
            resp = portal_api.post(url, json=body, timeout=30)
        else:
            resp = portal_api.post(f"{url}/{relaunch_of}/relaunch", json=body, timeout=30)
        assert resp.status_code == 202, resp.text
        job = resp.json()
        return wait_for(
            f"job {job['id']} to end",
            lambda: (
                (j := portal_api.get(f"{url}/{job['id']}", timeout=10).json())["status"]
                in ("successful", "failed", "error", "canceled")
                and j
            ),
            timeout,
            interval=0.5,
        )

    return run


BROWSER_PASSWORD = "browser-test-password"


@pytest.fixture(scope="session")
def users(stack):
    """Portal accounts for browser tests: erin (engineer) and olga (operator)."""
    import requests

    admin = {"Authorization": f"Bearer {stack.load_secrets()['portal_admin_token']}"}
    for name, role in (("erin", "engineer"), ("olga", "operator")):
        resp = requests.post(
            f"{stack.portal_url}/api/v1/users",
            headers=admin,
            json={"username": name, "password": BROWSER_PASSWORD, "role": role},
            timeout=10,
        )
        assert resp.status_code in (201, 409), resp.text
    return ("erin", "olga")


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium, headless, driven by Playwright (make test installs it)."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is not installed: make test installs it (NETOSS_WITH_BROWSER=1 scripts/bootstrap.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="session")
def sign_in(browser, stack, users):
    """sign_in(user) -> a page of a new browser context, signed in to the test portal."""

    def page_of(user: str):
        page = browser.new_context().new_page()
        page.goto(f"{stack.portal_url}/login")
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", BROWSER_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{stack.portal_url}/")
        return page

    return page_of


# The configured lab of the fault modules (test_faults.py, then test_faults_assurance.py, which
# follows it): built once for both, taken down after the last test that uses it (another
# module's lab has the same management subnet: two at once would route it twice).
FAULT_LAB = LabConfig(ns_prefix="f", bridge="netoss-fbr0", user="netopsf")
_FAULT_LAB: dict = {}


@pytest.fixture
def fault_lab(stack, nb, demo_synced):
    """The fault modules' lab (f<device>, netoss-fbr0), built and configured from NetBox once."""
    if "spec" not in _FAULT_LAB:
        spec = lab.up(stack, nb, FAULT_LAB, log=print)
        _FAULT_LAB.update(spec=spec, stack=stack)
        assert lab.converge(stack, spec, log=print, force=True)
    return _FAULT_LAB["spec"]


def pytest_runtest_teardown(item, nextitem):
    """The fault modules' lab goes down after the last test in a row that uses it."""
    uses = "spec" in _FAULT_LAB and "fault_lab" in getattr(item, "fixturenames", ())
    if uses and (nextitem is None or "fault_lab" not in getattr(nextitem, "fixturenames", ())):
        lab.down(_FAULT_LAB.pop("stack"), log=print)
        _FAULT_LAB.clear()


def pytest_collection_modifyitems(config, items):
    """The benches' smoke runs (test_bench_smoke.py) go last on the shared test stack: they put
    back what they change, but what they raise stays in the fault processor's memory (a ticket
    whose problem recurs within the hour is reopened, not opened anew), so a later test of the
    same link would meet the bench's ticket instead of its own."""
    benches = [i for i in items if i.path.name == "test_bench_smoke.py"]
    if benches:
        items[:] = [i for i in items if i.path.name != "test_bench_smoke.py"] + benches
