"""The benches' --stack and --lab options: run on a stack (and a lab) that is already up.

Without them, a bench that needs a stack starts one of its own in its own state directory,
wipes it first and stops it at the end. With ``--stack STATE_DIR`` it works on the stack already
running in that directory (its port base is the one the stack recorded): it neither wipes nor
stops it, and it puts back what it changed in it. ``--lab NS_PREFIX,BRIDGE,ACCOUNT`` names a lab
already built on that stack, which the bench uses and leaves up. The smoke tests
(tests/integration/test_bench_smoke.py and the test modules that own a lab) run the benches so,
on the test stack.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

from netoss.embedded.deployment import wipe
from netoss.embedded.lab.spec import LabConfig
from netoss.embedded.stack import Stack, down, portal_app, up

REPO = Path(__file__).resolve().parents[1]

# The benches' own stacks: state directory (in the checkout) -> port base. Every stack's ports
# (the base plus netoss.embedded.stack.config.PORT_OFFSETS, up to +514) lie below the kernel's
# ephemeral range (32768-), where an outgoing connection's local port can hold one at the moment
# a service binds it, and apart from each other, from `make up`'s 17000, the tests' 27000 and
# 28000 and bench_assurance's 30090-31200 (tests/unit/test_bench_ports.py keeps it so).
OWN_STACKS = {
    ".state-bench-scale": 18000,  # bench_scale
    ".state-bench": 19000,  # bench_sot, bench_config, bench_portal (one after the other)
    ".state-bench-faults": 20000,  # bench_faults, bench_ingest
    ".state-bench-compliance": 21000,  # bench_compliance_portal
    ".state-bench-orders": 22000,  # bench_service_orders
    ".state-bench-fault-latency": 23000,  # bench_fault_latency
    ".state-bench-inventory": 24000,  # bench_inventory
    ".state-bench-lists": 25000,  # bench_lists
}


def own(name: str) -> tuple[Path, int]:
    """(state directory, port base) of the bench stack ``name`` (a key of OWN_STACKS)."""
    return REPO / name, OWN_STACKS[name]


def add_options(ap: argparse.ArgumentParser, lab: bool = False) -> None:
    ap.add_argument(
        "--stack",
        type=Path,
        metavar="STATE_DIR",
        help="run on the stack already up in this state directory instead of one of the bench's own; "
        "it is neither wiped nor stopped, and what the bench changes in it is put back",
    )
    if lab:
        ap.add_argument(
            "--lab",
            metavar="NS_PREFIX,BRIDGE,ACCOUNT",
            help="with --stack: the lab already built on that stack, with these names; the bench uses it "
            "and leaves it up",
        )


def lab_config(text: str) -> LabConfig:
    parts = text.split(",")
    if len(parts) != 3 or not all(parts):
        raise SystemExit(f"--lab {text!r}: expected NS_PREFIX,BRIDGE,ACCOUNT (three names separated by commas)")
    return LabConfig(ns_prefix=parts[0], bridge=parts[1], user=parts[2])


def existing(state: Path) -> Stack:
    """The stack running in ``state`` (SystemExit naming what is wrong when there is none)."""
    record = state / "stack.json"
    if not record.is_file():
        raise SystemExit(f"--stack {state}: no stack.json there: not the state directory of a stack")
    stack = Stack(state_dir=state.resolve(), port_base=int(json.loads(record.read_text())["port_base"]))
    if not portal_app.healthy(stack):
        raise SystemExit(f"--stack {state}: its portal does not answer at {stack.portal_url}: is the stack up?")
    return stack


@contextlib.contextmanager
def stack_for(
    args: argparse.Namespace,
    state: Path,
    port_base: int,
    seed_intent: bool,
    log: Callable[[str], None] = lambda _m: None,
    keep: bool = False,
) -> Iterator[tuple[Stack, bool]]:
    """(stack, own): the stack of ``--stack``, else one of the bench's own in ``state`` (wiped,
    started, stopped at the end unless ``keep``). ``own`` says which."""
    if args.stack is not None:
        yield existing(args.stack), False
        return
    stack = Stack(state_dir=state, port_base=port_base)
    wipe(stack)
    up(stack, seed_intent=seed_intent, log=log)
    try:
        yield stack, True
    finally:
        if keep:
            print(f"stack left up: NETOSS_STATE={stack.state_dir} NETOSS_PORT_BASE={stack.port_base}", flush=True)
        else:
            down(stack, log=lambda _m: None)
