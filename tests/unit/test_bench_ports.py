"""The benches' own stacks listen where nothing else of netoss does, and below the kernel's
ephemeral range (32768-60999 on Debian): a port in that range can be held, at the moment a
service binds it, as the local port of an outgoing connection (make test met it once, with
bench_assurance's Prometheus), and the stack's start then fails on a port nobody listens on."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

from netoss.embedded.stack.config import DEFAULT_PORT_BASE, PORT_OFFSETS

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"
EPHEMERAL_LOW = 32768  # the kernel's default; these machines' too
TEST_BASES = {"the tests' stack": 27000, "the e2e tests' stack": 28000, "make up's stack": DEFAULT_PORT_BASE}


def _load(name: str):
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


def _ports(base: int) -> set[int]:
    return {base + offset for offset in PORT_OFFSETS.values()}


def test_the_test_stacks_bases_are_the_ones_named_here():
    conftest = (REPO / "tests" / "integration" / "conftest.py").read_text()
    assert '"NETOSS_TEST_PORT_BASE", "27000"' in conftest
    assert "BASE = 28000" in (REPO / "tests" / "e2e" / "stack_e2e.py").read_text()


def test_every_bench_stack_is_below_the_ephemeral_range_and_apart_from_every_other():
    stacks = _load("on_stack").OWN_STACKS
    assert stacks, "bench/on_stack.py lists the benches' own stacks"
    taken: dict[int, str] = {}
    for owner, base in [*TEST_BASES.items(), *((f"bench stack {n}", b) for n, b in stacks.items())]:
        ports = _ports(base)
        assert max(ports) < EPHEMERAL_LOW, f"{owner}: ports up to {max(ports)} reach the ephemeral range"
        for port in ports:
            assert port not in taken, f"{owner} and {taken[port]} both listen on {port}"
            taken[port] = owner
    assurance = _load("bench_assurance")
    devices = max(d for d, _i in assurance.SIZES.values())
    own = {p for k, p in assurance.PORTS.items() if k != "agents"}
    own |= set(range(assurance.PORTS["agents"], assurance.PORTS["agents"] + devices))
    assert max(own) < EPHEMERAL_LOW
    assert not own & set(taken), f"bench_assurance shares {sorted(own & set(taken))}"


def test_no_bench_names_a_port_base_of_its_own():
    """Every bench takes its stack's directory and base from on_stack.OWN_STACKS (one table to
    keep apart), not from a number written in the bench."""
    for path in sorted(BENCH.glob("*.py")):
        if path.name == "on_stack.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "port_base":
                assert not isinstance(node.value, ast.Constant), f"{path.name}:{node.lineno}: port_base written"
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "stack_for":
                assert not any(isinstance(a, ast.Constant) for a in node.args), f"{path.name}:{node.lineno}"
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and isinstance(node.right, ast.Constant):
                name = str(node.right.value)
                assert not name.startswith(".state-bench"), f"{path.name}:{node.lineno}: {name}: use on_stack.own()"
