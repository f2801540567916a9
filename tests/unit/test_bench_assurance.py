"""bench/bench_assurance.py at its smoke size (4 simulated devices, 5 s scrapes): it needs no
stack and no root (its own Prometheus and snmp_exporter on loopback), so it runs with the unit
tests. No timing is asserted: it must run to its end (every device scraped, a utilisation series
for every interface, which it checks itself), exit 0 and print its figures."""

from __future__ import annotations

from test_bench_compliance import run_bench


def test_bench_assurance_smoke():
    out = run_bench("bench_assurance.py", "--smoke", timeout=180)
    assert "| size | devices | interfaces | up |" in out
    row = next(line for line in out.splitlines() if line.startswith("| smoke |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:4] == ["4", "12", "4"], row
