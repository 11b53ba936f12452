# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# One stamp per set of extras: `make demo` installs only what the demo needs.
DEMO_STAMP := $(VENV)/.installed-demo
LAB_STAMP  := $(VENV)/.installed-lab
STAMP      := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: demo lab test lint typecheck bench clean system-deps

# --no-compile: byte-compiling every installed file costs the demo's first install
# about a minute; Python compiles what it imports on first use instead.
PIP := $(PY) -m pip install --quiet --no-compile --disable-pip-version-check

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(DEMO_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PIP) -e ".[demo]"
	touch $@

$(LAB_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PIP) -e ".[lab]"
	touch $@ $(DEMO_STAMP)

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PIP) -e ".[dev]"
	touch $@ $(LAB_STAMP) $(DEMO_STAMP)

# The benchmarks' reference clients (LiteLLM) on top of dev.
$(BENCH_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PIP) -e ".[bench]"
	touch $@ $(STAMP) $(LAB_STAMP) $(DEMO_STAMP)

# A three-provider comparison against a local mock server (no keys, no network),
# written to reports/provider_comparison.html.
demo: $(DEMO_STAMP)
	$(PY) scripts/demo.py

# JupyterLab on 127.0.0.1 with the quickstart notebook open (LLMock plays the
# providers when no keys are set).
lab: $(LAB_STAMP)
	$(PY) scripts/lab.py

lint: $(STAMP)
	$(VENV)/bin/ruff check orbit_nb tests bench scripts
	$(VENV)/bin/ruff format --check orbit_nb tests bench scripts

typecheck: $(STAMP)
	$(VENV)/bin/mypy orbit_nb

# Debian packages the tests use: redis-server for the shared-cache tests and
# chromium for the browser tests (Playwright drives it; it cannot download its own).
system-deps:
	@missing=""; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	  || echo "warning: could not install$$missing; the tests that need them will fail"; \
	fi

# The suite in TEST_WORKERS processes, each test file whole in one of them (a file's
# JupyterLab, kernel and servers are started once): much of it waits on servers,
# kernels and browsers, so two workers halve its time on two cores.
TEST_WORKERS ?= 2
test: system-deps lint typecheck
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile

bench: $(BENCH_STAMP)
	$(PY) bench/concurrency.py
	$(PY) bench/cache.py
	$(PY) bench/kernel_responsiveness.py
	$(PY) bench/result_view.py --write
	$(PY) bench/clients.py --write
	$(PY) bench/footprint.py --write

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
