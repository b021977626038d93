"""Fixtures of the quality gate tests: the shared small pipeline's marts (generate -> ingest -> dbt build) in a private
lake per test, and private copies of expectations/ so `quality baseline` and `compile` never touch the repository."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PLUGINS = HERE.parents[1] / "expectations" / "gx" / "plugins"
for folder in (HERE, PLUGINS):  # gatekit beside the tests; the GE project's own plugin (unit tests import it)
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

from gatekit import compile_project, copy_lake, copy_project, options  # noqa: E402


@pytest.fixture(scope="session")
def project(repo_root) -> Path:
    return repo_root / "expectations"


@pytest.fixture()
def lake(small_pipeline, tmp_path) -> Path:
    return copy_lake(small_pipeline.lake, tmp_path / "lake")


@pytest.fixture()
def invariants_project(tmp_path, small_pipeline) -> Path:
    """A project without baseline.yml, compiled for it: invariants only."""
    proj = copy_project(tmp_path / "expectations-invariants", baseline=False)
    compile_project(proj, small_pipeline.manifest)
    return proj


@pytest.fixture(scope="module")
def baselined(small_pipeline, tmp_path_factory):
    """A lake of the small pipeline's marts and a project whose baseline.yml was made from them (read-only: copy)."""
    from mmhealth.quality.runner import run_baseline

    root = tmp_path_factory.mktemp("baselined")
    lake = copy_lake(small_pipeline.lake, root / "lake")
    proj = copy_project(root / "expectations")
    report = run_baseline(options(proj, lake, small_pipeline.manifest))
    return lake, proj, report

