"""Running a bench of bench/ at its smoke size from a test (tests/integration/test_bench_smoke.py)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_bench(script: str, *args: str, timeout: int = 900) -> str:
    """Run bench/<script> with ``args``; assert it exits 0; print and return its output. No
    timing is asserted: the figures are printed (pytest -s shows them) with the run's time."""
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    print(f"{script} {' '.join(args)}: exit {proc.returncode} in {time.monotonic() - t0:.1f} s\n{proc.stdout}")
    assert proc.returncode == 0, f"{script} exited {proc.returncode}:\n{(proc.stdout + proc.stderr)[-4000:]}"
    return proc.stdout


def lab_names(config) -> str:
    """A LabConfig as the benches' --lab option names it."""
    return f"{config.ns_prefix},{config.bridge},{config.user}"


def assert_headings(out: str, *headings: str) -> None:
    for heading in headings:
        assert heading in out, f"no {heading!r} in the bench's output:\n{out}"
