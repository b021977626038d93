#!/usr/bin/env bash
# Regenerates the locks with pip-compile (pip-tools), hashes included:
#   requirements-build.lock  what pyradiomics' source build needs installed first (numpy, old setuptools, wheel)
#   requirements.lock        everything `pip install -e '.[dev]'` needs, resolved from pyproject.toml
# Existing pins are kept (pip-compile's default); `scripts/lock.sh --upgrade-package NAME` moves one.
# Run through `make lock`; it uses a throwaway venv so pip-tools never enters the project's.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${LOCK_VENV:-.lock-venv}
PYTHON=${PYTHON:-python3}
test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q --require-hashes -r requirements-build.lock
"$VENV/bin/pip" install -q pip-tools==7.6.2

common=(--quiet --generate-hashes --allow-unsafe --no-emit-index-url --no-emit-find-links --no-strip-extras)
"$VENV/bin/pip-compile" "${common[@]}" "$@" -o requirements-build.lock requirements-build.in
# pyradiomics' metadata is only built with numpy importable, hence --no-build-isolation (as in the Makefile).
"$VENV/bin/pip-compile" "${common[@]}" "$@" --no-build-isolation --extra dev -o requirements.lock pyproject.toml
echo "requirements.lock and requirements-build.lock regenerated; review the diff and commit both"
