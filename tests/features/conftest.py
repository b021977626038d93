"""Fixtures for publishing tests: a lake holding the small pipeline's marts whose `features_only` check passed."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import duckdb
import pytest

QUALITY_TESTS = Path(__file__).resolve().parents[1] / "quality"
if str(QUALITY_TESTS) not in sys.path:  # reuse the gate tests' helpers
    sys.path.insert(0, str(QUALITY_TESTS))
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

from gatekit import MARTS, compile_project, copy_lake, copy_project, options  # noqa: E402

from mmhealth.quality.runner import run_check  # noqa: E402

FC = "features_cardiovascular"


@pytest.fixture(scope="session")
def gate_project(small_pipeline, tmp_path_factory) -> Path:
    """expectations/ without a baseline (invariants only: the shipped baseline describes the demo, not this lake)."""
    proj = copy_project(tmp_path_factory.mktemp("features-project") / "expectations", baseline=False)
    compile_project(proj, small_pipeline.manifest)
    return proj


@pytest.fixture(scope="session")
def gated_lake(small_pipeline, gate_project, tmp_path_factory) -> Path:
    """A lake where `features_only` passed for the small pipeline's feature mart (read-only: copy before changing)."""
    lake = copy_lake(small_pipeline.lake, tmp_path_factory.mktemp("gated") / "lake")
    result = run_check(options(gate_project, lake, small_pipeline.manifest, checkpoint="features_only"))
    assert result.success, result.failures
    return lake


@pytest.fixture(scope="session")
def features_frame(gated_lake):
    """The feature mart the gate passed, as publishing reads it."""
    with duckdb.connect(str(gated_lake / "warehouse.duckdb"), read_only=True) as con:
        return con.sql(f"select * from {MARTS}.{FC}").df()
