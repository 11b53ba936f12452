# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck bench clean system-deps

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

# A three-provider comparison against a local mock server (no keys, no network).
demo: $(STAMP)
	$(PY) scripts/demo.py

lint: $(STAMP)
	$(VENV)/bin/ruff check orbit_nb tests bench scripts
	$(VENV)/bin/ruff format --check orbit_nb tests bench scripts

typecheck: $(STAMP)
	$(VENV)/bin/mypy orbit_nb

# Debian packages the tests use: redis-server for the shared-cache tests.
system-deps:
	@command -v redis-server >/dev/null 2>&1 || { \
	  (apt-get update -qq && apt-get install -y -qq redis-server >/dev/null) \
	  || echo "warning: could not install redis-server; the Redis cache tests will be skipped"; }

test: system-deps lint typecheck
	$(VENV)/bin/pytest

bench: $(STAMP)
	$(PY) bench/concurrency.py
	$(PY) bench/cache.py
	$(PY) bench/kernel_responsiveness.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
