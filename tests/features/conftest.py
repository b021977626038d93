"""Fixtures for publishing tests: a lake whose features mart passed the gate."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

QUALITY_TESTS = Path(__file__).resolve().parents[1] / "quality"
if str(QUALITY_TESTS) not in sys.path:  # reuse the spec-generated marts
    sys.path.insert(0, str(QUALITY_TESTS))
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import synthetic_marts  # noqa: E402

from mmhealth.quality.runner import CheckOptions, run_check  # noqa: E402

FC = "features_cardiovascular"


@pytest.fixture(scope="session")
def features_frame():
    spec = synthetic_marts.gate_spec()
    return synthetic_marts.mart_frame(spec, spec.mart(FC), 60, seed=11)


@pytest.fixture(scope="session")
def gated_lake(tmp_path_factory, repo_root, features_frame) -> Path:
    """A lake where `features_only` passed for `features_frame` (read-only for tests: copy before changing)."""
    lake = tmp_path_factory.mktemp("gated") / "lake"
    lake.mkdir()
    opts = CheckOptions(project=repo_root / "expectations", lake=lake, checkpoint="features_only", data_docs=False)
    result = run_check(opts, frames={FC: features_frame})
    assert result.success, result.failures
    return lake
