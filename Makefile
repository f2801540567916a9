# netoss: the two commands are `make up` and `make test`; see README.md.
# PYTHON=/path/to/python3.12 overrides the interpreter search (scripts/find-python.sh).
# NetBox and the portal run as the account `netoss`; NETOSS_ALLOW_ROOT=1 lets `make up` run as root
# whatever that account cannot reach (it stops and says which directory, without it).
SHELL := /bin/bash
export PYTHON
VENV := .venv
BIN := $(VENV)/bin
PY_SOURCES := netoss plugins tests bench scripts

.PHONY: up down test bootstrap lint unit integration status bench clean help

help:
	@echo "make up      install what is missing, start the stack, seed NetBox, print URLs"
	@echo "make down    stop every process of the stack (data kept in .state/)"
	@echo "make test    install what is missing, lint, run every test (own stack on other ports)"
	@echo "make status  services, pids, ports"
	@echo "make bench   sync, inventory, lab, push and backup timings (see bench/README.md)"

bootstrap:
	@scripts/bootstrap.sh

up: bootstrap
	@$(BIN)/netoss up

down:
	@if [ -x $(BIN)/netoss ]; then $(BIN)/netoss down; else echo "nothing to stop: $(BIN)/netoss is not installed"; fi

status:
	@$(BIN)/netoss status

lint: bootstrap
	$(BIN)/ruff check $(PY_SOURCES)
	$(BIN)/ruff format --check $(PY_SOURCES)
	$(BIN)/lint-imports  # the floors and no cycles: [tool.importlinter] in pyproject.toml
	$(BIN)/yamllint --strict .
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/ansible-lint --profile production
	scripts/sanity.sh
	@if command -v node >/dev/null; then for f in netoss/web/static/*.js; do node --check $$f || exit 1; done; \
	else echo "lint: no node here, the portal's JavaScript is checked by the browser tests only"; fi

unit: bootstrap
	$(BIN)/pytest tests/unit

integration: bootstrap
	$(BIN)/pytest tests/integration tests/e2e

# The browser tests drive Debian's chromium (headless) with Playwright. Two pytest-xdist workers:
# the integration tests (one stack and lab) on one, the end-to-end tests (their own stack, ports,
# lab names and subnets) on the other, side by side; unit tests fill in (tests/conftest.py:
# pytest_xdist_make_scheduler).
TEST_WORKERS ?= 2
test: export NETOSS_WITH_BROWSER=1
test: bootstrap lint
	$(BIN)/pytest -n $(TEST_WORKERS) --durations=30 tests

bench: bootstrap
	$(BIN)/python bench/bench_sot.py
	$(BIN)/python bench/bench_lab.py
	$(BIN)/python bench/bench_config.py
	$(BIN)/python bench/bench_portal.py
	$(BIN)/python bench/bench_faults.py
	$(BIN)/python bench/bench_fault_latency.py
	$(BIN)/python bench/bench_compliance.py
	$(BIN)/python bench/bench_compliance_portal.py
	$(BIN)/python bench/bench_service_orders.py
	$(BIN)/python bench/bench_assurance.py

clean: down
	rm -rf .state .state-test .pytest_cache .ruff_cache
