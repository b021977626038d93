"""Incremental facts: after new patients are ingested into a built lake, `dbt build` (MERGE of the rows of the new
ingest run only) leaves every fact and mart exactly as a full refresh would."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from dbt_testkit import BIN, REPO, dbt_env
from dbt_testkit import connect, normalized

FACTS = ["fct_encounter", "fct_condition", "fct_observation", "fct_procedure", "fct_medication", "fct_claim",
         "fct_variant_call", "fct_variant_clinvar", "patient_360", "features_cardiovascular"]
NEW_ROW_TESTS = ("--vars", "{data_tests_scope: new_rows}")


def _run(argv: list[str], lake) -> None:
    proc = subprocess.run(argv, cwd=REPO, env=dbt_env(lake), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def _snapshot(lake) -> dict[str, list[tuple]]:
    con = connect(lake / "warehouse.duckdb")
    try:
        return {t: normalized(con.execute(f"select * from mmhealth_marts.{t}").fetchall()) for t in FACTS}
    finally:
        con.close()


@pytest.fixture(scope="module")
def incremental_vs_full(dbt_scratch, alt_lakes):
    root = dbt_scratch / "incremental"
    data, lake = root / "data", root / "lake"
    _run([str(BIN / "mmhealth"), "generate", "--out", str(data), "--patients", "40", "--genomes", "20",
          "--imaging", "0", "--seed", "5", "--quiet"], lake)
    _run([str(BIN / "mmhealth"), "ingest", str(data), "--lake", str(lake), "--no-progress"], lake)
    alt_lakes.dbt(lake, "build", "--exclude", "path:models/semantic")
    before = _snapshot(lake)
    # new patients in a sub-folder of the same source: the ingest reads only the new files (a new lake_run)
    increment = data / "increment"
    _run([str(BIN / "mmhealth"), "generate", "--out", str(increment), "--patients", "4", "--genomes", "2",
          "--imaging", "0", "--seed", "6", "--quiet"], lake)
    for shared in ("annotation", "reference"):
        shutil.rmtree(increment / shared)
    _run([str(BIN / "mmhealth"), "ingest", str(data), "--lake", str(lake), "--no-progress"], lake)
    # the production incremental mode: data tests of incremental facts read only the newest lake run
    alt_lakes.dbt(lake, "build", "--exclude", "path:models/semantic", *NEW_ROW_TESTS)
    incremental = _snapshot(lake)
    alt_lakes.dbt(lake, "build", "--full-refresh", "--exclude", "path:models/semantic", *NEW_ROW_TESTS)
    full = _snapshot(lake)
    return before, incremental, full


def test_incremental_build_adds_the_new_patients(incremental_vs_full):
    before, incremental, _ = incremental_vs_full
    assert len(incremental["patient_360"]) == len(before["patient_360"]) + 4
    assert len(incremental["fct_encounter"]) > len(before["fct_encounter"])
    assert len(incremental["fct_variant_call"]) > len(before["fct_variant_call"])


@pytest.mark.parametrize("mart", FACTS)
def test_incremental_equals_full_refresh(incremental_vs_full, mart):
    _, incremental, full = incremental_vs_full
    assert incremental[mart] == full[mart]
