# Two commands on a fresh clone: `make demo` and `make test`. Everything else is set up on the way.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DATA ?= demo-data
DEMO_LAKE ?= demo-lake

.PHONY: demo test bench lint venv clean browser lock

venv: $(STAMP)

# The locks (pip-compile, with hashes) pin every package. pyradiomics ships only an sdist whose build needs numpy
# and an old setuptools already present (../shared/STACK.md): requirements-build.lock installs those first, then
# the whole lock is installed without build isolation, then the project itself without dependencies.
$(STAMP): pyproject.toml requirements.lock requirements-build.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes -r requirements-build.lock
	$(BIN)/pip install -q --require-hashes --no-build-isolation -r requirements.lock
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	DEMO_DATA=$(DEMO_DATA) DEMO_LAKE=$(DEMO_LAKE) scripts/demo.sh

# The browser tests need Chromium: installed from Debian's packages when missing (scripts/ensure_chromium.sh).
browser:
	scripts/ensure_chromium.sh

test: $(STAMP) browser
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python scripts/bench.py

lint: $(STAMP)
	$(BIN)/python -m sqlfluff lint models --dialect athena

# Regenerate requirements.lock / requirements-build.lock (keeps existing pins; see scripts/lock.sh).
lock:
	scripts/lock.sh

clean:
	rm -rf $(DEMO_DATA) $(DEMO_LAKE) target dbt_packages logs bench-scratch .lock-venv
