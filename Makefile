# Two commands on a fresh clone: `make demo` and `make test`. Everything else is set up on the way.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DATA ?= demo-data
DEMO_LAKE ?= demo-lake

.PHONY: demo test bench lint venv clean browser

venv: $(STAMP)

# pyradiomics ships only an sdist whose build needs numpy and an old setuptools already present
# (../shared/STACK.md), so it is built without isolation before the rest is installed against the lock.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt numpy setuptools wheel
	$(BIN)/pip install -q -c constraints.txt --no-build-isolation pyradiomics
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
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

clean:
	rm -rf $(DEMO_DATA) $(DEMO_LAKE) target dbt_packages logs bench-scratch
