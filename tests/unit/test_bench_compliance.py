"""The benchmarks that need no stack and no root run here at a smoke size, so a change that breaks
one fails the tests (bench/README.md). No timing is asserted: each must run to its end, exit 0
and print its figures. The benches that need the stack or the lab run in
tests/integration/test_bench_smoke.py."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"
GOLDEN_DATA = REPO / "tests" / "unit" / "test_data" / "render" / "golden" / "data"
# Lists the compliance bench leaves empty on purpose (its fleet is the one of the published
# figures): their items' fields are not required.
EMPTY_ON_PURPOSE = {".static_routes"}


def run_bench(script: str, *args: str, timeout: int = 300) -> str:
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = (proc.stdout + proc.stderr)[-4000:]
    assert proc.returncode == 0, f"{script} {' '.join(args)} exited {proc.returncode}:\n{output}"
    return proc.stdout


def _paths(value, path: str = "") -> set[str]:
    """Every key path of a nested structure: 'bgp.neighbors[].max_prefix'."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            found |= {f"{path}.{key}"} | _paths(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            found |= _paths(item, f"{path}[]")
    return found


def test_bench_compliance_generates_every_field_device_data_gives():
    """The generated fleet's structured data has every field of device_data.build's output (the
    golden render data): a field the templates gained is a field the bench must give."""
    sys.path.insert(0, str(BENCH))
    try:
        import bench_compliance
    finally:
        sys.path.remove(str(BENCH))
    golden = set().union(*(_paths(yaml.safe_load(f.read_text())) for f in sorted(GOLDEN_DATA.glob("*.yml"))))
    for plat in ("frr", "eos", "ios"):
        data = bench_compliance.device_data(1, plat, random.Random(1))  # noqa: S311 - the bench's seeded fleet
        generated = _paths(data)
        missing = {p for p in golden - generated if not any(p.startswith(f"{e}[]") for e in EMPTY_ON_PURPOSE)}
        assert missing == set(), f"{plat}: fields the bench does not generate"
        assert all(data[e.lstrip(".")] == [] for e in EMPTY_ON_PURPOSE)


def test_bench_compliance_smoke():
    out = run_bench("bench_compliance.py", "--smoke")
    for heading in (
        "machine:",
        "generated ",
        "compliance of ",
        "wall, median",
        "peak memory",
        "verified:",
        "side by side",
        "netutils compliance()",
    ):
        assert heading in out, f"no {heading!r} in:\n{out}"
