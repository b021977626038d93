"""One dbt manifest reader (mmhealth.manifest), one merge rule, one sensitivity ladder (issue 18).

A column whose top-level `meta` and `config.meta` disagree is classified the same way by every consumer -
governance (catalog and the PHI invariant), features publish, the dashboards (QuickSight data sets), the quality
gate's report and the ML reader - from manifest.json and from the YAML fallback alike. And the rule is dbt's own:
a real `dbt parse` (dbt 1.11) of the same YAML writes the same classification."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from mmhealth.dashboards import quicksight
from mmhealth.features.sensitivity import column_sensitivity, phi_columns
from mmhealth.governance.access import clearance_violations
from mmhealth.governance.manifest import catalog_from_manifest
from mmhealth.governance.policy import CLEARANCES, loads_policy
from mmhealth.manifest import (SENSITIVITY_LEVELS, cleared, is_phi, load_manifest, merged_meta, models_from_yaml,
                               parse_manifest, sensitivity_rank)
from mmhealth.ml.dataset import _merge_manifest_meta
from mmhealth.quality.classification import withheld_columns
from mmhealth.quality.runner import _failure

MART = "patient_360"
# column -> (top-level meta, config.meta): what an older dbt, a hand-written or a tool-written manifest can hold
COLUMNS = {
    "patient_key": ({"sensitivity": "internal"}, None),
    "says_public_config_phi": ({"sensitivity": "public"}, {"sensitivity": "phi"}),
    "says_phi_config_internal": ({"sensitivity": "phi", "owner": "x"}, {"sensitivity": "internal"}),
    "config_only_public": (None, {"sensitivity": "public"}),
    "unclassified": (None, None),
    "unknown_level": ({"sensitivity": "secret"}, None),
}
# dbt's rule, per key: config.meta wins; unclassified and unknown values are PHI
EXPECTED = {"patient_key": "internal", "says_public_config_phi": "phi", "says_phi_config_internal": "internal",
            "config_only_public": "public", "unclassified": None, "unknown_level": "secret"}
TREATED_AS_PHI = {"says_public_config_phi", "unclassified", "unknown_level"}


def _column(name: str) -> dict:
    top, cfg = COLUMNS[name]
    col = {"name": name, "data_type": "varchar", "description": f"{name} for tests"}
    if top is not None:
        col["meta"] = top
    if cfg is not None:
        col["config"] = {"meta": cfg}
    return col


def disagreeing_manifest() -> dict:
    return {"metadata": {"adapter_type": "athena"}, "nodes": {f"model.mmhealth.{MART}": {
        "resource_type": "model", "name": MART, "database": "awsdatacatalog", "schema": "mmhealth_marts",
        "alias": MART, "relation_name": f'"awsdatacatalog"."mmhealth_marts"."{MART}"',
        "original_file_path": f"models/marts/{MART}.sql", "patch_path": "mmhealth://models/marts/_m.yml",
        "config": {"schema": "marts", "meta": {"owner": "config"}}, "meta": {"owner": "top", "grain": "patient"},
        "fqn": ["mmhealth", "marts", MART], "description": "test mart",
        "columns": {name: _column(name) for name in COLUMNS}}}}


@pytest.fixture()
def manifest_file(tmp_path) -> Path:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(disagreeing_manifest()))
    return path


@pytest.fixture()
def models_dir(tmp_path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    doc = {"version": 2, "models": [{"name": MART, "columns": [_column(n) for n in COLUMNS]}]}
    (folder / "_m.yml").write_text(yaml.safe_dump(doc))
    return folder


def test_the_rule_and_the_ladder():
    assert merged_meta({"meta": {"a": 1, "b": 1}, "config": {"meta": {"b": 2, "c": 2}}}) == {"a": 1, "b": 2, "c": 2}
    assert SENSITIVITY_LEVELS == CLEARANCES == ("public", "internal", "phi")  # governance has no ladder of its own
    assert [sensitivity_rank(x) for x in ("public", "internal", "phi", None, "", "secret")] == [0, 1, 2, 2, 2, 2]
    assert cleared("internal", "public") and not cleared("internal", None) and cleared("phi", "secret")
    assert [x for x in ("public", "internal", "phi", None, "secret") if is_phi(x)] == ["phi", None, "secret"]


def test_the_reader_records_each_disagreement(manifest_file):
    model = load_manifest(manifest_file).model(MART)
    assert model.sensitivity() == EXPECTED
    assert model.column("says_public_config_phi").conflicts == {"sensitivity": ("public", "phi")}
    assert model.column("says_phi_config_internal").meta == {"sensitivity": "internal", "owner": "x"}
    assert model.meta == {"owner": "config", "grain": "patient"}


@pytest.mark.parametrize("source", ["manifest", "yaml"])
def test_every_consumer_agrees_on_a_column_whose_two_metas_disagree(source, manifest_file, models_dir, tmp_path):
    manifest = manifest_file if source == "manifest" else None

    # governance: the catalog's classification, and the PHI invariant for an `internal` principal reading it all
    raw = disagreeing_manifest()
    if source == "yaml":  # governance reads only manifests: feed it what dbt would write for the YAML
        raw["nodes"][f"model.mmhealth.{MART}"]["columns"] = {
            c.name: {"name": c.name, "data_type": c.data_type, "meta": dict(c.meta)}
            for c in models_from_yaml(models_dir).model(MART).columns}
    catalog = catalog_from_manifest(raw, {"mmhealth_marts": "db"}, "sensitivity", "manifest.json")
    governance = {c.name: c.sensitivity for c in catalog.tables[f"db.{MART}"].columns.values()}
    policy = loads_policy(yaml.safe_dump({
        "version": 1, "catalog_id": "123456789012", "lf_tags": {"sensitivity": list(SENSITIVITY_LEVELS)},
        "databases": {"db": {"dbt_schemas": ["mmhealth_marts"]}},
        "principals": {"analyst": {"type": "iam_role", "arn": "arn:aws:iam::123456789012:role/analyst",
                                   "clearance": "internal"}},
        "grants": [{"name": "all", "principals": ["analyst"], "table": f"db.{MART}", "permissions": ["SELECT"]}],
    }, sort_keys=False), "policy.yml")
    governance_phi = {v.column for v in clearance_violations(policy, catalog)}

    # features publish: what it leaves behind
    features = column_sensitivity(MART, manifest, models_dir)
    features_phi = set(phi_columns(list(COLUMNS), features))

    # dashboards: a QuickSight data set for a group cleared to `internal` keeps only what it may read
    model = (parse_manifest(disagreeing_manifest(), manifest_file) if source == "manifest"
             else models_from_yaml(models_dir)).model(MART)
    dashboards = {c.name: c.sensitivity for c in model.columns}
    target = quicksight.Target("123456789012", "us-east-1", "arn:ds", "arn:group", group_clearance="internal")
    request = quicksight.data_set_request(model, target, needed=set(), notes=[])
    kept = {c["Name"] for c in next(iter(request["PhysicalTableMap"].values()))["RelationalTable"]["InputColumns"]}
    dashboards_phi = set(COLUMNS) - kept

    # the quality gate: whose observed values its report withholds
    withheld = withheld_columns([MART], manifest, models_dir)[MART]
    quality_phi = set(withheld)
    reported = {name: _failure(MART, "s", SimpleNamespace(
        expectation_config=SimpleNamespace(kwargs={"column": name}, type="expect_column_min_to_be_between", meta={}),
        result={"observed_value": "1961-04-02"}, exception_info=None), withheld).observed for name in COLUMNS}

    # the ML reader's column meta
    ml = {n: m.get("sensitivity") for n, m in _merge_manifest_meta({}, manifest_file, {"source_model": MART}).items()}

    assert governance == features == dashboards == EXPECTED
    if source == "manifest":
        assert ml == EXPECTED
    assert governance_phi == features_phi == dashboards_phi == quality_phi == TREATED_AS_PHI
    assert {n for n, obs in reported.items() if obs == "1961-04-02"} == set(COLUMNS) - TREATED_AS_PHI


def test_quality_withholds_everything_of_a_mart_nothing_classifies(tmp_path):
    assert withheld_columns(["nowhere"], tmp_path / "no-manifest.json", tmp_path) == {"nowhere": None}
    failure = _failure("nowhere", "s", SimpleNamespace(
        expectation_config=SimpleNamespace(kwargs={"column": "x"}, type="expect_column_max_to_be_between", meta={}),
        result={"observed_value": 42}, exception_info=None), None)
    assert failure.observed == "withheld (phi column)"


def test_dbt_itself_merges_config_meta_over_meta(tmp_path):
    """The rule is dbt 1.11's: a real `dbt parse` of a column with both writes the config.meta value (per key) to
    both places, and our reader reads that manifest the same way."""
    project = tmp_path / "p"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: metarule\nversion: '1.0'\nconfig-version: 2\nprofile: metarule\n")
    (project / "profiles.yml").write_text(
        f"metarule:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: {tmp_path / 'x.duckdb'}\n")
    (project / "models" / "m.sql").write_text("select 1 as " + ", 1 as ".join(COLUMNS))
    (project / "models" / "m.yml").write_text(yaml.safe_dump(
        {"version": 2, "models": [{"name": MART, "columns": [_column(n) for n in COLUMNS]}]}))
    (project / "models" / "m.sql").rename(project / "models" / f"{MART}.sql")
    dbt = Path(sys.executable).with_name("dbt")
    proc = subprocess.run([str(dbt), "parse", "--no-partial-parse", "--target-path", str(tmp_path / "target"),
                           "--log-path", str(tmp_path / "logs")], cwd=project, capture_output=True, text=True,
                          env={**os.environ, "DBT_PROFILES_DIR": str(project),
                               "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    written = json.loads((tmp_path / "target" / "manifest.json").read_text())
    node = written["nodes"][f"model.metarule.{MART}"]
    for name, col in node["columns"].items():
        assert col["meta"] == col["config"]["meta"], name  # dbt writes the merged dict to both places
        assert col["meta"].get("sensitivity") == EXPECTED[name], name
    assert load_manifest(tmp_path / "target" / "manifest.json").model(MART).sensitivity() == EXPECTED
