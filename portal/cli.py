"""The `netoss` command: stack control and, as the project grows, jobs, tickets and compliance.

Installed as a console script in the app virtualenv: `.venv/bin/netoss`.
"""

from __future__ import annotations

import json
import shlex
import sys

import click

from .stack import Stack, StackError, describe, down, service_status, summary, up


def _stack() -> Stack:
    try:
        return Stack.from_env()
    except StackError as exc:
        raise click.ClickException(str(exc)) from None


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
@click.option("--no-seed", is_flag=True, help="Do not apply inventory/intent/ to NetBox.")
def up_cmd(no_seed: bool) -> None:
    """Start every service (idempotent) and seed NetBox from the demo intent."""
    stack = _stack()
    try:
        up(stack, seed_intent=not no_seed, log=_log)
    except StackError as exc:
        raise click.ClickException(f"{exc}\n(logs: {stack.logs})") from None
    click.echo(summary(stack))


@main.command("down")
def down_cmd() -> None:
    """Stop every process of the stack by PID; the data stays in the state directory."""
    try:
        down(_stack(), log=_log)
    except StackError as exc:
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


@main.command("env")
def env_cmd() -> None:
    """Print `export` lines for the stack's endpoints and tokens: eval "$(netoss env)"."""
    stack = _stack()
    try:
        values = {"NETBOX_API": stack.netbox_url, "NETBOX_TOKEN": stack.netbox_token()}
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    for key, value in values.items():
        click.echo(f"export {key}={shlex.quote(value)}")


if __name__ == "__main__":  # pragma: no cover
    main()
