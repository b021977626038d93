"""gate.yml and the dbt models describe the same marts: same columns, compatible types, and the classification
the de-identification suite relies on."""

from __future__ import annotations

import pytest

from mmhealth.manifest import models_from_yaml
from mmhealth.quality.gx_schema import ACCEPTS, logical_type


def _dbt_columns(repo_root, mart):
    import yaml

    for path in sorted((repo_root / "models").rglob("*.yml")):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models") or []:
            if model.get("name") == mart:
                return {c["name"]: c.get("data_type") for c in model.get("columns") or []}
    return None


@pytest.mark.parametrize("mart", ["patient_360", "features_cardiovascular", "population_clinical",
                                  "population_genomic", "population_imaging"])
def test_gate_columns_and_types_match_the_dbt_contract(spec, repo_root, mart):
    dbt = _dbt_columns(repo_root, mart)
    if dbt is None:
        pytest.skip(f"dbt model {mart} has no YAML yet")
    declared = spec.mart(mart).columns
    assert set(declared) == set(dbt), "update expectations/gate.yml to the dbt model, then `mmhealth quality compile`"
    wrong = {c: (declared[c], t) for c, t in dbt.items() if t and logical_type(t) not in ACCEPTS[declared[c]]}
    assert wrong == {}


@pytest.mark.parametrize("mart", ["patient_360", "features_cardiovascular"])
def test_record_key_is_not_phi_in_deidentified_marts(repo_root, mart):
    model = models_from_yaml(repo_root / "models").find(mart)
    if model is None:
        pytest.skip(f"dbt model {mart} has no YAML yet")
    assert model.sensitivity()["patient_key"] == "internal"
