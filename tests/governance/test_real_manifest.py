"""The sample policy in governance/ against the real dbt project: `dbt parse` (private target path), then
validate, and check the reference system's access rules hold on the real marts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mmhealth.governance.access import access_matrix
from mmhealth.governance.dbtconfig import lf_tags_config
from mmhealth.governance.validate import validate


@pytest.fixture(scope="session")
def real_manifest(repo_root, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dbt")
    dbt = Path(sys.executable).with_name("dbt")
    env = {**os.environ, "DBT_PROFILES_DIR": str(repo_root), "MMHEALTH_LAKE": str(out)}
    proc = subprocess.run([str(dbt), "parse", "--target-path", str(out / "target"), "--log-path", str(out / "logs")],
                          cwd=repo_root, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"dbt parse failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}"
    return out / "target" / "manifest.json"


@pytest.fixture(scope="session")
def sample(repo_root, real_manifest):
    policy, catalog, findings = validate(repo_root / "governance" / "policy.yml", real_manifest)
    return policy, catalog, findings


def test_sample_policy_validates_against_the_real_manifest(sample):
    policy, catalog, findings = sample
    assert not findings, [str(f) for f in findings]  # not even a warning
    for mart in ("dim_patient", "patient_360", "patient_timeline", "population_clinical", "population_genomic",
                 "population_imaging", "features_cardiovascular"):
        assert f"mmhealth_marts.{mart}" in catalog.tables
    assert not [f for f in findings if "has no value for LF-Tag" in f.message], [str(f) for f in findings]


def test_reference_users_see_what_they_should(sample):
    policy, catalog, _ = sample
    m = access_matrix(policy, catalog)
    phi_cols = {(fqn, c.name) for fqn, t in catalog.tables.items() for c in t.columns.values() if c.sensitivity == "phi"}
    assert phi_cols

    def cols(p):
        return {(fqn, c) for fqn, ta in m[p].items() for c in ta.columns}

    marts = {fqn: t for fqn, t in catalog.tables.items() if t.database == "mmhealth_marts"}
    # clinicians: every column of every mart, phi included (not the lake's quarantine: stewards only)
    assert cols("clinicians") == {(fqn, c) for fqn, t in marts.items() for c in t.columns}
    quarantine = "mmhealth_lake_meta.quarantine"
    assert {p for p in m if quarantine in m[p]} == {"clinical_data_stewards"}
    assert {c.sensitivity for c in catalog.get(quarantine).columns.values()} == {"phi"}
    # nobody else below phi sees a phi column
    for p, spec in policy.principals.items():
        if spec.clearance != "phi":
            assert not cols(p) & phi_cols, p
    # bioinformaticians: genomic marts only; radiologists: imaging only
    genomic = {fqn for fqn in catalog.tables if "variant" in fqn or "genomic" in fqn}
    assert {fqn for fqn, _ in cols("bioinformaticians")} == genomic
    assert {fqn for fqn, _ in cols("radiologists")} == {f"mmhealth_marts.{t}" for t in (
        "dim_imaging_study", "fct_radiomics", "population_imaging", "patient_360")}
    assert {c for fqn, c in cols("radiologists") if fqn.endswith("patient_360")} == {
        "patient_key", "gender", "age_years", "has_imaging", "n_imaging_studies", "n_image_sets"}
    # analysts: population-level aggregates only (every column they see is public; the population marts are among them)
    public = {(fqn, c.name) for fqn, t in catalog.tables.items() for c in t.columns.values() if c.sensitivity == "public"}
    assert cols("quicksight_analysts") == public
    assert {f"mmhealth_marts.population_{x}" for x in ("clinical", "genomic", "imaging")} <= {fqn for fqn, _ in public}
    # data scientists: features and de-identified marts
    assert ("mmhealth_marts.features_cardiovascular", "age_at_index") in cols("data_scientists")
    # the external account: one table, through the filter, rows limited
    [(fqn, ta)] = m["external_research"].items()
    assert fqn == "mmhealth_marts.features_cardiovascular" and ta.row_filter is not None


def test_every_mart_gets_a_dbt_lf_tags_config(sample):
    policy, catalog, _ = sample
    cfg = lf_tags_config(policy, catalog)
    # every dbt model; the lake's own tables are tagged by `govern apply` (dbt does not create them)
    assert set(cfg) == {t.name for t in catalog.tables.values() if t.database == "mmhealth_marts"}
    assert not {"quarantine", "ingest_log"} & set(cfg)
    for name, (path, c) in cfg.items():
        assert path[0] == "mmhealth" and path[-1] == name
        assert "modality" in c["tags"] and c["tags_columns"]["sensitivity"]


def test_generated_dbt_lf_tags_config_is_current(repo_root, real_manifest):
    """governance/generated/dbt_project_lf_tags.yml is what dbt-athena applies; it must follow policy and models."""
    from mmhealth.cli import main

    generated = repo_root / "governance" / "generated" / "dbt_project_lf_tags.yml"
    code = main(["govern", "dbt-config", "--manifest", str(real_manifest), "--check", str(generated)])
    assert code == 0, "regenerate: mmhealth govern dbt-config --out governance/generated/dbt_project_lf_tags.yml"
