"""Fixtures for the quality gate tests: spec-generated clean marts and a fresh lake per test."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # synthetic_marts is a plain module beside the tests
    sys.path.insert(0, str(HERE))

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import synthetic_marts  # noqa: E402


@pytest.fixture(scope="session")
def project(repo_root) -> Path:
    return repo_root / "expectations"


@pytest.fixture(scope="session")
def spec():
    return synthetic_marts.gate_spec()


@pytest.fixture(scope="session")
def clean_frames(spec):
    return synthetic_marts.all_marts(400, seed=7, spec=spec)


@pytest.fixture()
def frames(clean_frames):
    """A private copy each test may damage."""
    return {name: df.copy() for name, df in clean_frames.items()}


@pytest.fixture()
def lake(tmp_path) -> Path:
    d = tmp_path / "lake"
    d.mkdir()
    return d
