"""The gate and local publishing on the marts dbt builds from generated data (the shared small pipeline)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
MMHEALTH = Path(os.environ.get("VIRTUAL_ENV", REPO / ".venv")) / "bin" / "mmhealth"


@pytest.fixture()
def real_lake(small_pipeline, tmp_path):
    """A private lake holding a copy of the pipeline's warehouse (the shared pipeline stays read-only)."""
    lake = tmp_path / "lake"
    lake.mkdir()
    shutil.copy2(small_pipeline.warehouse, lake / "warehouse.duckdb")
    return lake


def _mmhealth(pipeline, lake, *args):
    env = {**pipeline.env, "MMHEALTH_LAKE": str(lake)}
    return subprocess.run([str(MMHEALTH), *args], env=env, capture_output=True, text=True, cwd=REPO)


def test_real_marts_pass_the_gate_and_publish_locally(small_pipeline, real_lake):
    check = _mmhealth(small_pipeline, real_lake, "quality", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "PASSED" in check.stdout

    pub = _mmhealth(small_pipeline, real_lake, "features", "publish", "--to", "local",
                    "--manifest", str(small_pipeline.manifest))
    assert pub.returncode == 0, pub.stdout + pub.stderr
    assert "left in the lake (classified phi): index_date, label_window_end_date" in pub.stdout
    con = duckdb.connect(str(real_lake / "warehouse.duckdb"), read_only=True)
    mart = con.sql("SELECT * FROM mmhealth_marts.features_cardiovascular").df()
    con.close()
    published = pd.read_parquet(real_lake / "feature_store" / "mmhealth-features-cardiovascular" / "v1"
                                / "data.parquet")
    assert len(published) == len(mart) > 0
    assert set(published["patient_key"]) == set(mart["patient_key"])


def test_real_marts_with_out_of_range_vitals_fail_and_publish_refuses(small_pipeline, real_lake):
    assert _mmhealth(small_pipeline, real_lake, "quality", "check").returncode == 0
    con = duckdb.connect(str(real_lake / "warehouse.duckdb"))
    con.execute("UPDATE mmhealth_marts.features_cardiovascular SET systolic_bp_last = systolic_bp_last * 10 "
                "WHERE patient_key IN (SELECT patient_key FROM mmhealth_marts.features_cardiovascular "
                "WHERE systolic_bp_last IS NOT NULL LIMIT 3)")
    con.close()

    check = _mmhealth(small_pipeline, real_lake, "quality", "check")
    assert check.returncode == 1
    assert "systolic_bp_last" in check.stdout
    pub = _mmhealth(small_pipeline, real_lake, "features", "publish", "--to", "local")
    assert pub.returncode == 1 and "FAILED" in pub.stderr
