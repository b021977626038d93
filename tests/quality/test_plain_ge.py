"""The GE project is a standard Great Expectations 1.x project: plain `great_expectations` - no mmhealth import -
loads it (its custom expectations come from the project's plugin), runs a checkpoint against the local marts and gets
the same result as `mmhealth quality check`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from gatekit import BIN, MARTS, copy_lake, copy_project, pipeline_env, run, sql

FC = "features_cardiovascular"

# What a GE user types: no mmhealth, just the project folder and the lake whose warehouse to read.
PLAIN_GE = r"""
import json, sys
import great_expectations as gx

ctx = gx.get_context(mode="file", project_root_dir=sys.argv[1])
result = ctx.checkpoints.get(sys.argv[2]).run()
rows = []
for vr in result.run_results.values():
    asset = vr.meta["active_batch_definition"]["data_asset_name"]
    for er in vr.results:
        c = er.expectation_config
        rows.append([vr.suite_name, asset, c.type, c.kwargs.get("column"), bool(er.success)])
loaded = sorted(m for m in sys.modules if m == "mmhealth" or m.startswith("mmhealth."))
print(json.dumps({"success": bool(result.success), "rows": rows, "mmhealth_modules": loaded}))
"""


@pytest.fixture()
def damaged(baselined, tmp_path):
    """The baselined build with vitals out of range in three rows: a result with failures worth comparing."""
    lake, proj, _ = baselined
    lake, proj = copy_lake(lake, tmp_path / "lake"), copy_project(tmp_path / "expectations", src=proj)
    sql(lake, f"""update {MARTS}.{FC} set systolic_bp_last = 400 where patient_key in (
                  select patient_key from {MARTS}.{FC} where systolic_bp_last is not null limit 3)""")
    return lake, proj


@pytest.mark.parametrize("checkpoint", ["pre_feature_store", "features_only"])
def test_plain_ge_checkpoint_run_equals_mmhealth_quality_check(damaged, small_pipeline, tmp_path, checkpoint):
    lake, proj = damaged
    env = {**pipeline_env(lake), "MMHEALTH_LAKE": str(lake)}
    plain = subprocess.run([sys.executable, "-c", PLAIN_GE, str(proj), f"{checkpoint}__local"], env=env,
                           cwd=tmp_path, capture_output=True, text=True)
    assert plain.returncode == 0, plain.stderr[-3000:]
    ge = json.loads(plain.stdout.strip().splitlines()[-1])
    assert ge["mmhealth_modules"] == []  # nothing of mmhealth was needed, or imported

    ours = run(lake, str(BIN / "mmhealth"), "quality", "check", "--checkpoint", checkpoint, "--project", str(proj),
               "--manifest", str(small_pipeline.manifest), "--json", "--no-docs", check=False)
    assert ours.returncode == 1, ours.stderr
    result = json.loads(ours.stdout)

    assert ge["success"] is False and result["success"] is False
    assert result["evaluated"] == len(ge["rows"])
    ge_failed = sorted((suite, type_, col or None) for suite, _, type_, col, ok in ge["rows"] if not ok)
    our_failed = sorted((f["suite"], f["expectation"], f["column"]) for f in result["failures"])
    assert ge_failed == our_failed
    assert ("features_cardiovascular__invariants", "expect_column_values_to_be_between", "systolic_bp_last") in ge_failed
