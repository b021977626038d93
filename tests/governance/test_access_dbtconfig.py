"""`govern access` (the review matrix) and `govern dbt-config` (dbt-athena lf_tags_config from the policy)."""

from __future__ import annotations

import json

import yaml

from mmhealth.cli import main
from mmhealth.governance.dbtconfig import lf_tags_config

from .conftest import FIXTURES

BASE = ["--policy", str(FIXTURES / "policy.yml"), "--manifest", str(FIXTURES / "manifest.json")]


def test_access_json_matrix(capsys):
    assert main(["govern", "access", *BASE, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["access"]
    by = {(r["principal"], r["table"].split(".")[1], r["column"]): r for r in rows}
    # clinicians read phi, data scientists read none, analysts only population marts, partner only consented rows
    assert by[("clinicians", "dim_patient", "patient_id")]["classification"] == "phi"
    assert not [r for r in rows if r["principal"] != "clinicians" and r["classification"] == "phi"]
    assert {t for p, t, _ in by if p == "quicksight_analysts"} == {"population_clinical", "population_genomic", "population_imaging"}
    partner = [r for r in rows if r["principal"] == "external_research"]
    assert partner and all(r["rows"] == "research_consent = TRUE" for r in partner)  # canonical form
    assert {r["via"][0] for r in partner} == {"filter:consented_research_features"}
    assert {t for p, t, _ in by if p == "bioinformaticians"} == {"fct_variants", "population_genomic"}


def test_access_markdown_for_one_principal(capsys):
    assert main(["govern", "access", *BASE, "--principal", "data_scientists"]) == 0
    md = capsys.readouterr().out
    assert "## data_scientists (iam_user, clearance internal)" in md
    assert "| mmhealth_marts.dim_patient |" in md and "_3 column(s) hidden_" in md
    assert "## clinicians" not in md and "(phi)" not in md


def test_unknown_principal_is_a_one_line_error(capsys):
    assert main(["govern", "access", *BASE, "--principal", "nurses"]) == 1
    assert "unknown principal(s) ['nurses']" in capsys.readouterr().err


def test_lf_tags_config_follows_policy_and_manifest(loaded):
    policy, catalog = loaded
    cfg = lf_tags_config(policy, catalog)
    path, dim = cfg["dim_patient"]
    assert path == ("mmhealth", "marts", "patient", "dim_patient")
    assert dim["tags"] == {"modality": "multimodal"}
    assert dim["inherited_tags"] == ["layer", "modality"]  # so dbt-athena does not strip them from the columns
    assert dim["tags_columns"]["sensitivity"]["phi"] == ["birth_date", "patient_id", "postal_code"]
    assert cfg["features_cardiovascular"][1]["tags"] == {"layer": "features", "modality": "multimodal"}


def test_dbt_config_file_and_check(tmp_path, capsys):
    out = tmp_path / "lf_tags.yml"
    assert main(["govern", "dbt-config", *BASE, "--out", str(out)]) == 0
    block = yaml.safe_load(out.read_text())
    leaf = block["models"]["mmhealth"]["marts"]["genomic"]["fct_variants"]["+lf_tags_config"]
    assert leaf["enabled"] is True and leaf["tags"] == {"modality": "genomic"}
    assert main(["govern", "dbt-config", *BASE, "--check", str(out)]) == 0
    out.write_text(out.read_text().replace("genomic", "clinical"))
    assert main(["govern", "dbt-config", *BASE, "--check", str(out)]) == 2
    assert "stale" in capsys.readouterr().err
