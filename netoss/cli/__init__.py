"""The `netoss` command: stack control and, as the project grows, jobs, tickets and compliance.

Installed as a console script in the app virtualenv: `.venv/bin/netoss`.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import shlex
import socket
import sys
from pathlib import Path

import click
import yaml

from netoss.cli.starter import StarterError, starter_files, write_starter
from netoss.embedded import jobs as embedded_jobs
from netoss.embedded import lab
from netoss.embedded.lab import helper
from netoss.embedded.stack import (
    HINTS,
    Stack,
    StackError,
    accounts,
    describe,
    down,
    portal_app,
    remote,
    service_status,
    summary,
    up,
)


def _stack() -> Stack:
    try:
        return Stack.from_env()
    except StackError as exc:
        raise click.ClickException(str(exc)) from None


def _portal_login() -> tuple[str, str]:
    """PORTAL_URL and PORTAL_TOKEN from the environment, else this stack's URL and admin token."""
    url, token = os.environ.get("PORTAL_URL"), os.environ.get("PORTAL_TOKEN")
    if not (url and token):
        stack = _stack()
        try:
            url, token = stack.portal_url, stack.load_secrets()["portal_admin_token"]
        except (StackError, KeyError) as exc:
            raise click.ClickException(f"no PORTAL_URL / PORTAL_TOKEN and no stack here: {exc}") from None
    return url, token


def _portal_config() -> None:
    """Point the daemons at this stack's portal configuration, unless NETOSS_PORTAL_CONFIG names one."""
    if not os.environ.get("NETOSS_PORTAL_CONFIG"):
        os.environ["NETOSS_PORTAL_CONFIG"] = str(portal_app.config_file(_stack()))


def _log(msg: str) -> None:
    click.echo(f"[netoss] {msg}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="netoss")
def main() -> None:
    """netoss: an Operational Support System on NetBox, Ansible and FRR.

    The stack is chosen by NETOSS_STATE (default: .state in the checkout) and
    NETOSS_PORT_BASE (default 17000: NetBox on 17080, PostgreSQL 17432, Redis 17379).
    """


@main.command("up")
@click.option("--no-seed", is_flag=True, help="Do not apply the intent to NetBox.")
@click.option("--no-lab", is_flag=True, help="Do not build the FRR lab.")
@click.option("--no-push", is_flag=True, help="Build the lab but do not push the configurations rendered from NetBox.")
@click.option(
    "--intent",
    type=click.Path(path_type=Path),
    default=None,
    help="The network's intent (a directory of YAML files, or one file); recorded for the stack, "
    "so later commands, `netoss env` and the portal's jobs use it. Default: NETOSS_INTENT, else the "
    "stack's recorded intent, else the checkout's demo network.",
)
@click.option(
    "--confirm-prune",
    is_flag=True,
    help="Let the seeding delete more than half of the objects netoss manages in NetBox "
    "(when the stack moves to another network's intent).",
)
@click.option(
    "--listen",
    metavar="ADDRESS",
    default=None,
    help="An address of this host that other hosts reach it at: PostgreSQL, Redis, NetBox's API and "
    "the portal are served there too, over TLS only, for workers and fault processors on those hosts "
    "(docs/scaling.md); recorded for the stack. `--listen none`: loopback only again.",
)
def up_cmd(
    no_seed: bool, no_lab: bool, no_push: bool, intent: Path | None, confirm_prune: bool, listen: str | None
) -> None:
    """Start every service (idempotent), seed NetBox from the intent, build the lab from NetBox
    and push the configurations rendered from NetBox to it."""
    stack = _stack()
    try:
        up(stack, seed_intent=not no_seed, intent=intent, confirm_prune=confirm_prune, listen=listen, log=_log)
        if not no_lab:
            spec = lab.up(stack, _nb_api(stack), lab.config_from_env(), log=_log)
            if not no_push:
                lab.converge(stack, spec, log=_log)
    except (StackError, lab.LabError) as exc:
        raise click.ClickException(f"{exc}\n(logs: {stack.logs})") from None
    # start-up time: the service order logic only for this command
    from netoss.domain.provisioning.free_ports import network_lines

    click.echo(summary(stack))
    click.echo("\n".join(network_lines(_nb_api(stack), stack.intent_dir, stack.repo / "services" / "catalog.yml")))
    click.echo(lab.summary(stack))
    click.echo(HINTS)


@main.command("down")
def down_cmd() -> None:
    """Take the lab down, then stop every process of the stack by PID; the data stays."""
    stack = _stack()
    try:
        lab.down(stack, log=_log)
        down(stack, log=_log)
    except (StackError, lab.LabError) as exc:
        raise click.ClickException(str(exc)) from None


@main.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status_cmd(as_json: bool) -> None:
    """Each service: up or down, pid and port. Exit status 1 if any is down."""
    stack = _stack()
    services = service_status(stack)
    if as_json:
        click.echo(json.dumps(describe(stack), indent=2))
    else:
        click.echo(f"stack {stack.state_dir} (port base {stack.port_base})")
        click.echo(f"{'SERVICE':<15} {'STATE':<6} {'PID':>8} {'PORT':>6}  {'USER':<9} DETAIL")
        for s in services:
            mark = "up" if s.healthy else "DOWN"
            click.echo(f"{s.name:<15} {mark:<6} {s.pid or '-':>8} {s.port or '-':>6}  {s.user or '-':<9} {s.detail}")
    sys.exit(0 if all(s.healthy for s in services) else 1)


@main.command("init")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--operator", required=True, help="The operator's name (a NetBox tenant), e.g. 'Nordic Fibre AS'.")
@click.option("--asn", type=int, required=True, help="The provider AS number.")
@click.option("--site", required=True, help="The first site's name, e.g. osl1.")
@click.option("--management", required=True, help="The management prefix (IPv4), where the devices' primary IPs are.")
@click.option(
    "--collector",
    default=None,
    help="Where the devices send syslog, HOST:PORT. Default: the first address of the management prefix "
    "(the lab's management bridge) and this stack's syslog port.",
)
@click.option("--rir", default=None, help="The RIR of a public --asn (private and documentation ASNs need none).")
def init_cmd(directory: Path, operator: str, asn: int, site: str, management: str, collector, rir) -> None:
    """Write a minimal, valid intent for a new network into DIRECTORY (new or empty).

    It holds what netoss needs in NetBox (tags, custom fields, platforms), the operator, its AS,
    a site, the roles, the management prefix and the config contexts the templates read, with
    comments, and no device yet. Then: add your devices, and `netoss up --intent DIRECTORY`.
    """
    # start-up time: jsonschema and the intent's schema only for this command
    from ansible_collections.netoss.core.plugins.module_utils.intent_load import load_intent
    from ansible_collections.netoss.core.plugins.module_utils.intent_schema import IntentError

    stack = Stack.from_env()
    if collector is None:
        try:
            first = next(ipaddress.ip_network(management).hosts())
        except (ValueError, StopIteration):
            first = "?"
        collector = f"{first}:{stack.port('syslog')}"

    def validate(path: Path) -> None:
        try:
            load_intent(path)
        except IntentError as exc:
            raise StarterError(f"the starter intent does not validate (a netoss bug):\n{exc}") from None

    try:
        catalog = yaml.safe_load((stack.repo / "services" / "catalog.yml").read_text())
        files = starter_files(
            stack.repo / "inventory" / "intent" / "00-netoss.yml",
            catalog,
            operator=operator,
            asn=asn,
            site=site,
            management=management,
            collector=collector,
            rir=rir,
        )
        written = write_starter(directory, files, validate)
    except StarterError as exc:
        raise click.ClickException(str(exc)) from None
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(
        f"\nNext: add your devices to {directory}/30-devices.yml (docs/intent.md: Your own network), then\n"
        f"  .venv/bin/netoss up --intent {directory}"
    )


@main.group("fleet")
def fleet_group() -> None:
    """A provider network of any size, for scale tests and benchmarks (docs/scale.md)."""


@fleet_group.command("generate")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--devices", type=click.IntRange(3, 1_000_000), required=True, help="How many devices (P, PE and CE).")
@click.option("--sites", type=click.IntRange(1, 999), required=True, help="Across how many sites.")
@click.option("--addressing", default="10.0.0.0/8", show_default=True,
              help="One IPv4 block, cut into management, core links, access links and loopbacks.")  # fmt: skip
@click.option("--site-stem", default="pop", show_default=True, help="Sites are named <stem>001, <stem>002...")
@click.option("--operator", default="Fleet Carrier", show_default=True, help="The operator (a NetBox tenant).")
@click.option("--asn", type=int, default=4200000000, show_default=True, help="The provider AS number.")
def fleet_generate_cmd(directory: Path, devices: int, sites: int, addressing: str, site_stem: str, operator: str,
                       asn: int) -> None:  # fmt: skip
    """Write the intent of a generated network of DEVICES routers into DIRECTORY (new or empty).

    About 10% P, 25% PE and 65% CE routers, 10 interfaces each, the P routers in a ring, two
    uplinks per PE, an access circuit per CE with about one customer per ten CEs. The files are
    validated like any intent before they are written. Apply them with sot_sync, or load them
    fast into the stack's NetBox with `netoss fleet load`.
    """
    from ansible_collections.netoss.core.plugins.module_utils.intent_load import load_intent
    from ansible_collections.netoss.core.plugins.module_utils.intent_schema import IntentError
    from netoss.cli import fleet

    stack = Stack.from_env()

    def validate(path: Path) -> None:
        try:
            load_intent(path)
        except IntentError as exc:
            raise StarterError(f"the generated intent does not validate (a netoss bug):\n{exc}") from None

    try:
        catalog = yaml.safe_load((stack.repo / "services" / "catalog.yml").read_text())
        files = fleet.generate(
            devices=devices, sites=sites, catalog=catalog, netoss_file=stack.repo / "inventory/intent/00-netoss.yml",
            operator=operator, asn=asn, site_stem=site_stem, addressing=addressing,
        )  # fmt: skip
        fleet.write(directory, files, validate)
    except StarterError as exc:
        raise click.ClickException(str(exc)) from None
    n = fleet.counts(files)
    click.echo(f"wrote {directory}: {n['devices']} devices, {n['interfaces']} interfaces, {n['cables']} cables, "
               f"{n['circuits']} circuits in {sites} sites")  # fmt: skip


@fleet_group.command("load")
@click.argument("directory", type=click.Path(exists=True, path_type=Path))
@click.option("--trace-paths", is_flag=True, help="Then run NetBox's trace_paths (cable paths; minutes at size).")
def fleet_load_cmd(directory: Path, trace_paths: bool) -> None:
    """Write the intent in DIRECTORY into the stack's NetBox, fast, through NetBox's ORM (for benchmarks).

    NetBox must have no device yet. The objects are the ones sot_sync would write, with the
    managed tag, so a sot_sync of the same intent afterwards has nothing to do.
    """
    from netoss.embedded import fleet as fleet_load

    try:
        done = fleet_load.load(_stack(), directory, log=_log, trace_paths=trace_paths)
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    counts = ", ".join(f"{n} {kind}" for kind, n in done["counts"].items())
    took = ", ".join(f"{step} {s:.1f} s" for step, s in done["seconds"].items())
    click.echo(f"loaded {counts} ({took})")


@main.command("env")
def env_cmd() -> None:
    """Print `export` lines for the stack's endpoints and tokens: eval "$(netoss env)"."""
    stack = _stack()
    try:
        values = {
            "NETBOX_API": stack.netbox_url,
            "NETBOX_TOKEN": stack.netbox_token(),
            "NETOSS_STATE": str(stack.state_dir),
            # The stack's intent: playbooks/sot_sync.yml applies it (never the demo by mistake).
            "NETOSS_INTENT": str(stack.intent_dir),
            "PORTAL_URL": stack.portal_url,
            "PORTAL_TOKEN": stack.load_secrets()["portal_admin_token"],
        }
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    values.update(lab.device_env(stack))
    for key, value in values.items():
        click.echo(f"export {key}={shlex.quote(value)}")


@main.command("remote-config")
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--path",
    "path_there",
    type=click.Path(path_type=Path),
    default=None,
    help="Where the directory will be on the other host (default: TARGET): the paths written in it.",
)
def remote_config_cmd(target: Path, path_there: Path | None) -> None:
    """Write TARGET: the state directory of another host that runs job workers and fault
    processors for this stack (`netoss up --listen` first). Copy it there, then run
    `NETOSS_STATE=<it> netoss worker` and `NETOSS_STATE=<it> netoss faults process`. It holds
    credentials: keep it private (its files are 0600)."""
    try:
        written = remote.write(_stack(), target, path_there)
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {written}: copy it to the other host (as {path_there or written})")


@main.command("worker")
@click.option("--burst", is_flag=True, help="Run the queued jobs, then exit.")
@click.option("--name", default=None, help="Worker name (default: host:pid).")
def worker_cmd(burst: bool, name: str | None) -> None:
    """Run portal jobs from the queue (RQ on the stack's Redis); `make up` starts one.

    More workers, on this host or others sharing the stack's Redis and PostgreSQL, run more
    jobs at once. Each job gets the stack's NetBox token and the lab's device login.
    """
    from netoss.daemons import worker  # start-up time: RQ, Flask and SQLAlchemy only for this command

    stack = _stack()
    record = remote.load(stack.state_dir)
    if record is not None:  # another host's state directory (netoss remote-config)
        os.environ.update(remote.daemon_environment(stack.state_dir, record, "portal-worker"))
        worker.run(name or f"{socket.gethostname()}:{os.getpid()}", burst, _log, lambda env: {})
        return
    try:
        # The credentials and directories of this stack's jobs; the lab's device login and the
        # recorded intent are read at each job (netoss.embedded.jobs.environment).
        os.environ.update(embedded_jobs.worker_environment(stack))
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    worker.run(name or f"{socket.gethostname()}:{os.getpid()}", burst, _log, embedded_jobs.environment)


@main.group("faults")
def faults_group() -> None:
    """Fault management: the receivers and the processor `make up` runs, and their counters."""


@faults_group.command("receive")
@click.option("--syslog-port", type=int, default=None, help="UDP port (default: the stack's port base + 514).")
@click.option("--trap-port", type=int, default=None, help="UDP port (default: the stack's port base + 162).")
@click.option("--rules", "rules_file", type=click.Path(dir_okay=False), default=None, help="Syslog rules file.")
@click.option(
    "--processes",
    type=click.IntRange(1, 32),
    default=None,
    help="Receiver processes sharing the ports (default: FAULTS_RECEIVER_PROCESSES, else one per core, at most 4).",
)
def faults_receive_cmd(
    syslog_port: int | None, trap_port: int | None, rules_file: str | None, processes: int | None
) -> None:
    """Receive syslog (RFC 3164 and 5424) and SNMPv2c traps on loopback and the lab's bridge."""
    from netoss.daemons import faults  # start-up time: Redis, Flask and SQLAlchemy only for this command
    from netoss.domain.faults.rules import RuleError

    faults.setup_logging()
    stack = _stack()
    _portal_config()
    try:
        faults.run_receivers(
            Path(rules_file) if rules_file else stack.repo / "faults" / "syslog.yml",
            syslog_port or stack.port("syslog"),
            trap_port or stack.port("snmptrap"),
            lambda: lab.bridge_address(stack),
            _log,
            processes,
        )
    except (RuleError, faults.DaemonError) as exc:
        raise click.ClickException(str(exc)) from None


@faults_group.command("process")
def faults_process_cmd() -> None:
    """Turn queued events into alarms, correlate them, and open and resolve tickets."""
    from netoss.daemons import faults  # start-up time: the processor's modules only for this command

    faults.setup_logging()
    _portal_config()
    state = _stack().state_dir
    record = remote.load(state)
    if record is not None:  # another host's state directory (netoss remote-config)
        os.environ.update(remote.daemon_environment(state, record, "fault-processor"))
    try:
        faults.run_processor(_log)
    except faults.DaemonError as exc:
        raise click.ClickException(str(exc)) from None


@faults_group.command("counters")
@click.option("--json", "as_json", is_flag=True)
def faults_counters_cmd(as_json: bool) -> None:
    """Events received, stored and rejected (by reason), per source; and still queued."""
    from netoss.daemons import faults  # start-up time: Redis, Flask and SQLAlchemy only for this command

    _portal_config()
    c = faults.counters()
    if as_json:
        click.echo(json.dumps(c, indent=2, sort_keys=True))
        return
    for source in sorted(set(c["received"]) | set(c["stored"]) | set(c["rejected"]) | set(c["dead"])):
        rejected = c["rejected"].get(source, {})
        reasons = ", ".join(f"{r} {n}" for r, n in sorted(rejected.items()))
        click.echo(
            f"{source:13} received {c['received'].get(source, 0):>8}  stored {c['stored'].get(source, 0):>8}"
            f"  rejected {sum(rejected.values()):>8}  dead {c['dead'].get(source, 0):>6}"
            + (f"  ({reasons})" if reasons else "")
        )
    click.echo(f"queued       {c['queued']:>8}")
    click.echo(f"dead letters {c['dead_letters']:>8}  (kept for reading: GET /api/v1/faults/dead-letters)")


@main.group("assurance")
def assurance_group() -> None:
    """Service assurance: what Prometheus measures and alarms on (docs/assurance.md)."""


@assurance_group.command("serve")
def assurance_serve_cmd() -> None:
    """Keep Prometheus' targets and NetBox's info series in step with NetBox (the stack runs it)."""
    from netoss.daemons import assurance  # start-up time: only for this command

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _portal_config()
    try:
        assurance.serve(_log)
    except assurance.DaemonError as exc:
        raise click.ClickException(str(exc)) from None


@assurance_group.command("check")
@click.argument("policy", type=click.Path(path_type=Path), required=False)
@click.option("--rules", "show_rules", is_flag=True, help="Print the Prometheus rules the policy renders into.")
def assurance_check_cmd(policy: Path | None, show_rules: bool) -> None:
    """Check the assurance policy (default: the stack's, assurance/ in the checkout) and the
    service catalog's objectives; every problem is listed with its file and key."""
    import yaml

    from ansible_collections.netoss.core.plugins.module_utils import service_catalog
    from netoss.domain.assurance import policy as assurance_policy
    from netoss.embedded.stack import assurance

    stack = _stack()
    path = policy or assurance.policy_dir(stack)
    try:
        loaded = assurance_policy.load(path)
        service_catalog.load_catalog(assurance.catalog_path(stack))
    except (assurance_policy.PolicyError, service_catalog.CatalogError) as exc:
        raise click.ClickException(str(exc)) from None
    if show_rules:
        click.echo(yaml.safe_dump(assurance_policy.rules(loaded), sort_keys=False, width=1000), nl=False)
        return
    click.echo(
        f"{path}: valid: {len(loaded.thresholds)} thresholds, scrape every {loaded.scrape_interval}, "
        f"probes every {loaded.probe_interval}"
    )


@main.group("tickets")
def tickets_group() -> None:
    """Trouble tickets."""


@tickets_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="The TMF621 JSON of each ticket.")
@click.option("--status", default=None, help="Only this TMF621 status, or 'open' for every open one.")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
def tickets_list_cmd(as_json: bool, status: str | None, limit: int) -> None:
    """The tickets, most recently changed first (through the portal's TMF621 API: PORTAL_URL and PORTAL_TOKEN)."""
    # start-up time: requests only for the commands that call the portal
    from netoss.data.portal_client import ClientError, PortalClient

    url, token = _portal_login()
    params = {"limit": limit, **({"status": status} if status else {})}
    try:
        tickets = PortalClient(url, token)._call("GET", "/tmf-api/troubleTicket/v4/troubleTicket", params=params)
    except ClientError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(tickets, indent=2))
        return
    if not tickets:
        click.echo("no tickets")
    for t in tickets:
        devices = ",".join(r["name"] for r in t.get("relatedEntity", []) if r.get("@referredType") == "Device")
        click.echo(
            f"{t['id']}  {t['status']:12} {t['severity']:9} P{t['priority']}  {t['creationDate'][:16]}  "
            f"{devices or '-':12} {t['name']}"
        )


@main.group("compliance")
def compliance_group() -> None:
    """Configuration compliance (through the portal's API: PORTAL_URL and PORTAL_TOKEN)."""


@compliance_group.command("report")
@click.option("--json", "as_json", is_flag=True, help="The overview JSON of the portal's API.")
@click.option("--device", default=None, help="Only this device.")
@click.option(
    "--days", type=click.IntRange(1, 3660), default=30, show_default=True, help="Days of the series over time."
)
def compliance_report_cmd(as_json: bool, device: str | None, days: int) -> None:
    """Each device's latest compliance, feature by feature, and what is wrong where it is not
    compliant. Exit 0 whenever the report could be read, compliant or not."""
    # start-up time: requests only for the commands that call the portal
    from netoss.data.portal_client import ClientError, PortalClient
    from netoss.domain.compliance.report import text_report  # start-up time: the compliance domain only here

    url, token = _portal_login()
    params = {"days": days, **({"device": device} if device else {})}
    try:
        overview = PortalClient(url, token)._call("GET", "/api/v1/compliance/overview", params=params)
    except ClientError as exc:
        raise click.ClickException(f"cannot read the compliance report: {exc}") from None
    if as_json:
        click.echo(json.dumps(overview, indent=2))
    elif device and not overview["devices"]:
        click.echo(f"no compliance result for {device}")
    else:
        click.echo(text_report(overview))


@main.group("job")
def job_group() -> None:
    """Portal jobs from a terminal (PORTAL_URL and PORTAL_TOKEN, else this stack's admin token)."""


@job_group.command("run")
@click.argument("template")
@click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE", help="A parameter (repeatable).")
@click.option("--check", is_flag=True, help="Check mode: show what would change, change nothing.")
@click.option("--wait/--no-wait", default=True, help="Follow the live output; exit 0 only on success.")
def job_run_cmd(template: str, params: tuple[str, ...], check: bool, wait: bool) -> None:
    """Launch TEMPLATE, print its live output, exit 0 only if it succeeded."""

    # start-up time: requests only for the commands that call the portal
    from netoss.data.portal_client import ClientError, PortalClient, run

    url, token = _portal_login()
    try:
        code = run(PortalClient(url, token), template, list(params), check, wait, click.echo)
    except ClientError as exc:
        raise click.ClickException(str(exc)) from None
    sys.exit(code)


@main.group("lab")
def lab_group() -> None:
    """The FRR lab built from NetBox: one namespace per router."""


def _nb_api(stack: Stack):
    # start-up time: pynetbox only for the commands that read NetBox
    from netoss.data.netbox import NetBox, NetboxError

    try:
        api = NetBox.from_stack(stack, "reader").api()  # the lab only reads NetBox
    except (NetboxError, StackError) as exc:
        raise click.ClickException(f"{exc} (is the stack up? `make up`)") from None
    return api


@lab_group.command("up")
@click.option("--no-push", is_flag=True, help="Do not push the configurations rendered from NetBox.")
@click.option("--force-push", is_flag=True, help="Push even if nothing changed since the last push.")
def lab_up_cmd(no_push: bool, force_push: bool) -> None:
    """Build the lab NetBox describes, start its routers and push their configurations (idempotent)."""
    stack = _stack()
    try:
        spec = lab.up(stack, _nb_api(stack), lab.config_from_env(), log=_log)
        if not no_push:
            lab.converge(stack, spec, log=_log, force=force_push)
    except (lab.LabError, StackError) as exc:
        raise click.ClickException(str(exc)) from None


@lab_group.command("down")
def lab_down_cmd() -> None:
    """Stop every router by PID and remove everything the lab made."""
    try:
        lab.down(_stack(), log=_log)
    except (lab.LabError, StackError) as exc:
        raise click.ClickException(str(exc)) from None


@lab_group.command("trust")
def lab_trust_cmd() -> None:
    """Add the lab routers' pinned host keys to ~/.ssh/known_hosts (for Ansible from a terminal)."""
    try:
        count = lab.trust(_stack())
    except (lab.LabError, StackError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{count} host keys of the lab's routers in ~/.ssh/known_hosts (old lines of their addresses replaced)")


@lab_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def lab_status_cmd(as_json: bool) -> None:
    """Each router: its device, namespace, daemons, management IP, SSH. Exit status 1 if any is unhealthy."""
    routers = lab.status(_stack())
    if as_json:
        click.echo(json.dumps(routers, indent=2, ensure_ascii=False))
    elif not routers:
        click.echo("no lab: `netoss lab up` builds it from NetBox")
    else:
        wide = max(len("DEVICE"), *(len(r["router"]) for r in routers))
        click.echo(f"{'DEVICE':<{wide}} {'NAMESPACE':<15} {'MGMT IP':<18} {'SSH':<5} DAEMONS")
        for r in routers:
            daemons = " ".join(f"{d}:{pid or 'DOWN'}" for d, pid in r["daemons"].items())
            ssh = "up" if r["ssh"] else "DOWN"
            click.echo(f"{r['router']:<{wide}} {r['namespace']:<15} {r['mgmt_ip']:<18} {ssh:<5} {daemons}")
        relay = routers[0]["syslog_relay"]
        click.echo(f"syslog relay: {'pid ' + str(relay) if relay else 'DOWN'} (routers' /dev/log -> UDP on the bridge)")
    sys.exit(0 if routers and all(r["healthy"] for r in routers) else 1)


@lab_group.command("helper")
def lab_helper_cmd() -> None:
    """Serve the lab's privileged operations to the portal's jobs (as root; `make up` starts it).

    Patching a circuit into the lab and pinging from inside a router need root; the jobs run
    as `netoss` and ask this helper over <state>/lab-helper/helper.sock (group netoss).
    """
    if os.geteuid() != 0:
        raise click.ClickException("the lab helper acts on network namespaces: it must run as root")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stack = _stack()
    group = accounts.SERVICE_USER if accounts.exists(accounts.SERVICE_USER) else None
    helper.serve(stack.state_dir, group)


@main.group("gitops")
def gitops_group() -> None:
    """GitOps: a change is a commit of the intent repository (docs/gitops.md)."""


@gitops_group.command("plan")
@click.option("--ref", required=True, help="The commit to plan: a commit id, branch or tag of the repository.")
@click.option("--base", default=None, help="The commit it is compared with (shown in the plan).")
@click.option(
    "--repo",
    "repo_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="The intent repository (a clone or a bare repository).",
)
@click.option("--name", default=None, help="The NetBox branch's name (default gitops-<sha12>), e.g. mr-42.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True)
@click.option("--inventory", default=None, help="Ansible inventory (default: the project's inventory/netbox.yml).")
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Also write the plan to this file."
)
@click.option(
    "--rehearse",
    is_flag=True,
    help="Also build a twin of the lab from the branch, push it, and report what would break (root; the stack's lab).",
)
@click.option(
    "--twin-subnet",
    default=None,
    metavar="CIDR",
    help="The twin's management subnet, apart from every other on this host (default 198.18.254.0/24).",
)
@click.option(
    "--converge", type=click.IntRange(10, 900), default=90, show_default=True, help="Seconds the twin has to converge."
)
def gitops_plan_cmd(
    ref: str,
    base: str | None,
    repo_dir: Path,
    name: str | None,
    fmt: str,
    inventory: str | None,
    output: Path | None,
    rehearse: bool,
    twin_subnet: str | None,
    converge: int,
) -> None:
    """Plan a commit: validate it, apply its intent into a NetBox branch, show the NetBox plan
    and the lines each device would get, run the compliance policy on them.

    NetBox's URL and a token that may write and branch come from NETBOX_API and NETBOX_TOKEN
    (eval "$(netoss env)"), the devices' login from the environment as for any playbook. Exit
    status: 0 the change may merge, 1 it breaks something (conflicts, compliance, a device
    that cannot be planned), 2 it is invalid or could not be planned.

    With --rehearse, the change is also rehearsed on a twin of the stack's lab built from the
    branch (its own namespaces and management subnet, beside the running lab; torn down at the
    end): every router pushed, the network given --converge seconds, and what would break
    (health checks that fail, prefixes the live network reaches and the twin does not) makes
    the exit status 1.
    """
    import tempfile

    from netoss.data.context import REPO
    from netoss.data.netbox import NetBox, NetboxError
    from netoss.domain.gitops.plan import plan
    from netoss.domain.gitops.repo import GitError, Repository
    from netoss.domain.gitops.report import FORMATS
    from netoss.domain.jobs.playbooks import run_playbook

    try:
        netbox = NetBox(os.environ.get("NETBOX_API", ""), os.environ.get("NETBOX_TOKEN", ""), timeout=60)
        netbox.check()
        repo = Repository(repo_dir)
        with tempfile.TemporaryDirectory(prefix="netoss-plan-") as work:
            result = plan(
                repo,
                ref,
                netbox,
                run_playbook,
                project=REPO,
                workdir=Path(work),
                env=dict(os.environ),
                base=base,
                name=name,
                inventory=inventory,
                log=_log,
            )
            if rehearse and result.branch is not None and not (result.problems or result.errors):
                result.rehearsal = _rehearse(result, netbox, Path(work), inventory, twin_subnet, converge)
    except (GitError, NetboxError) as exc:
        raise click.ClickException(str(exc)) from None
    report = FORMATS[fmt](result)
    if output is not None:
        output.write_text(report)
    click.echo(report, nl=False)
    sys.exit(0 if result.ok else 2 if (result.problems or result.errors) else 1)


def _rehearse(result, netbox, work: Path, inventory: str | None, subnet: str | None, converge: int):
    """The plan's rehearsal on a twin of this stack's lab (netoss.embedded.twin)."""
    from netoss.data.context import REPO
    from netoss.domain.gitops.rehearse import rehearse
    from netoss.domain.jobs.playbooks import run_playbook
    from netoss.embedded import twin

    stack = _stack()
    settings = result.settings
    templates = str(work / "commit" / settings.templates) if settings and settings.templates else None

    def factory(schema: str):
        return twin.twin(stack, netbox.in_branch(schema).api(), subnet or twin.DEFAULT_SUBNET, _log)

    return rehearse(
        result,
        factory,
        run_playbook,
        project=REPO,
        workdir=work,
        env=dict(os.environ),
        templates=templates,
        inventory=inventory,
        timeout=converge,
        log=_log,
    )


@gitops_group.command("apply")
@click.option("--ref", required=True, help="The commit to apply (a commit id; with --repo, any ref of it).")
@click.option("--repository", required=True, help="The repository, as named in the portal's GitOps repositories file.")
@click.option(
    "--repo",
    "repo_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="A clone of it, to turn --ref into a commit id.",
)
@click.option("--wait/--no-wait", default=True, help="Follow the deployment's job; exit 0 only if it succeeded.")
def gitops_apply_cmd(ref: str, repository: str, repo_dir: Path | None, wait: bool) -> None:
    """Apply a commit of the protected branch: queue its deployment on the portal (what the git
    host's webhook does on a merge) and follow it.

    The portal's worker plans it again, merges its NetBox branch, pushes the devices it changes
    and checks them; on failure it reverts and pushes them back, and opens a ticket. PORTAL_URL
    and PORTAL_TOKEN (an engineer's), else this stack's admin token. Exit status: 0 applied (or
    superseded by a newer merge), 1 refused, rolled back or failed.
    """
    from netoss.data.portal_client import ClientError, PortalClient, follow
    from netoss.domain.gitops.repo import GitError, Repository

    if repo_dir is not None:
        try:
            ref = Repository(repo_dir).commit(ref).sha
        except GitError as exc:
            raise click.ClickException(str(exc)) from None
    url, token = _portal_login()
    try:
        client = PortalClient(url, token)
        deployment = client.deploy(repository, ref)
        page = f"{client.url}/gitops/deployments/{deployment['id']}"
        click.echo(f"deployment {deployment['id']} of {ref[:12]} queued: {page}")
        if not wait:
            return
        follow(client, deployment["job_id"], click.echo)
        deployment = client.deployment(deployment["id"])
    except ClientError as exc:
        raise click.ClickException(str(exc)) from None
    error = f": {deployment['error']}" if deployment.get("error") else ""
    click.echo(f"deployment {deployment['id']} {deployment['status']}{error}")
    sys.exit(0 if deployment["status"] in ("succeeded", "superseded") else 1)


@gitops_group.command("notify")
@click.option(
    "--url", required=True, help="The portal's webhook URL, e.g. https://portal/api/v1/gitops/webhook/github."
)
@click.option("--repository", required=True, help="The repository's name, as in the portal's GitOps repositories file.")
@click.option(
    "--secret-file",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The webhook secret (a file readable by the git server's account only).",
)
@click.option(
    "--provider",
    type=click.Choice(["github", "gitea", "forgejo"]),
    default="github",
    show_default=True,
    help="Whose webhook format and signature (they share GitHub's push body).",
)
def gitops_notify_cmd(url: str, repository: str, secret_file: Path, provider: str) -> None:
    """A post-receive hook for a git server without webhooks: reads git's "<old> <new> <ref>"
    lines on stdin and sends the portal one signed push event per branch updated, as
    PROVIDER's webhook would. Run it from the bare repository's hooks/post-receive."""
    import uuid

    import requests

    from netoss.domain.gitops.repo import GitError, Repository
    from netoss.domain.gitops.webhooks import push_event, signed_headers

    secret = secret_file.read_text().strip()
    repo = Repository(os.environ.get("GIT_DIR") or ".")
    failed = 0
    for line in sys.stdin:
        parts = line.split()
        if len(parts) != 3 or not parts[2].startswith("refs/heads/"):
            continue
        before, after, ref = parts
        try:
            author = repo.commit(after).author if set(after) != {"0"} else None
        except GitError:
            author = None
        body = json.dumps(push_event(repository, ref, before, after, author)).encode()
        headers = signed_headers(provider, secret, body, "push", str(uuid.uuid4()))
        headers["Content-Type"] = "application/json"
        try:
            resp = requests.post(url, data=body, headers=headers, timeout=30)
            click.echo(f"netoss: {ref} {after[:12]}: {resp.status_code} {resp.text.strip()[:300]}")
            failed += resp.status_code >= 300
        except requests.RequestException as exc:
            click.echo(f"netoss: {ref} {after[:12]}: the portal could not be reached: {exc}", err=True)
            failed += 1
    sys.exit(1 if failed else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
