"""The ceiling: the generator's true probabilities beside every cell. No model may beat them beyond their
interval (a leak would), the file never reaches the lake, and on a real generated cohort the oracle agrees with
the mart about who is indexed when and how many new cases to expect."""

import json

import duckdb
import numpy as np
import pandas as pd
import pytest

from mmhealth.ml.ceiling import above_ceiling, load_oracle
from mmhealth.ml.dataset import load_local
from mmhealth.ml.synthetic import synthetic_features, write_local_store
from mmhealth.ml.train import TrainConfig, evaluate_cell
from mmhealth.ml.estimators import ModelParams


def test_every_evaluated_cell_is_under_the_oracle(trained_run):
    results = json.loads((trained_run / "results.json").read_text())
    checked = 0
    for cell in results["results"]:
        if cell["status"] != "ok":
            continue
        ceiling = cell["oracle"]["oracle"]["auroc"]["ci95"][1]
        for model, metrics in cell["models"].items():
            assert metrics["auroc"]["value"] <= ceiling, (cell["outcome"], cell["modalities"], model)
            checked += 1
        assert cell["gap_auroc"] is not None and cell["gap_auroc"] < 0.05
    assert checked >= 20


def _leaky(tmp_path):
    frame, oracle = synthetic_features(400, seed=3, oracle=True)
    rng = np.random.default_rng(0)
    # a "feature" that is the label plus noise: what a leak through a post-index column looks like
    frame["clinical_leak_score"] = frame["stroke"].astype(float) + rng.normal(0, 0.3, len(frame))
    write_local_store(frame, tmp_path / "store")
    data = load_local(tmp_path / "store")
    data.oracle = oracle.set_index("patient_key")
    return data


def test_a_leak_beats_the_ceiling_and_the_check_catches_it(tmp_path):
    data = _leaky(tmp_path)
    config = TrainConfig(outcomes=("stroke",), modality_sets=(("clinical",),), repeats=1, n_boot=200,
                         params=ModelParams(n_estimators=10))
    cell = evaluate_cell(data, "stroke", ("clinical",), "has_set", config)
    assert cell.status == "ok" and "oracle" in cell.oracle
    assert cell.metrics["selected"]["auroc"].value > cell.oracle["oracle"]["auroc"].high
    assert above_ceiling(cell) == ["logistic", "lightgbm", "stacked", "selected"]


def test_the_oracle_file_is_written_and_no_ingest_reader_claims_it(small_data):
    from mmhealth.lake.modalities import READERS, load_reader

    oracle = small_data.data / "evaluation" / "oracle.csv"
    assert oracle.is_file()
    for name in READERS:
        claimed = list(load_reader(name).discover(small_data.data))
        assert claimed and not [p for p in claimed if "evaluation" in p.parts], name
    manifest = json.loads((small_data.data / "manifest.json").read_text())
    assert "evaluation" in manifest["conventions"]


@pytest.fixture(scope="module")
def mart_and_oracle(small_pipeline):
    with duckdb.connect(str(small_pipeline.warehouse), read_only=True) as con:
        schema = con.sql("select table_schema from information_schema.tables "
                         "where table_name = 'features_cardiovascular'").fetchone()[0]
        mart = con.sql(f"select * from {schema}.features_cardiovascular").df()
        columns = {r[0] for r in con.sql("select column_name from information_schema.columns").fetchall()}
    oracle = pd.read_csv(small_pipeline.data / "evaluation" / "oracle.csv")
    return mart, oracle, load_oracle(small_pipeline.data / "evaluation" / "oracle.csv"), columns


def test_the_lake_holds_no_oracle_column(mart_and_oracle):
    *_, columns = mart_and_oracle
    assert not [c for c in columns if c.startswith("p_stroke") or c.startswith("p_alzheimers")]


def test_the_oracle_indexes_the_same_patients_on_the_same_days_as_the_mart(mart_and_oracle):
    mart, raw, oracle, _ = mart_and_oracle
    # joined through the session's pseudonym key, in memory
    assert set(mart["patient_key"]) == set(oracle.index)
    from mmhealth.pseudonym import patient_key, read_key

    key = read_key()
    days = {patient_key(key, pid): d for pid, d in zip(raw["patient_id"], raw["index_date"])}
    assert all(str(d.date() if hasattr(d, "date") else d) == days[k] for k, d in zip(mart["patient_key"],
                                                                                     mart["index_date"]))


@pytest.mark.parametrize("outcome", ["stroke", "hypertension", "coronary_heart_disease", "alzheimers"])
def test_the_oracle_expects_as_many_new_cases_as_the_mart_has(mart_and_oracle, outcome):
    """Its probabilities are the model's: summed over the patients at risk they predict the count of new
    diagnoses (Poisson-binomial sd; 150 patients, so the check is loose)."""
    mart, _, oracle, _ = mart_and_oracle
    at_risk = mart[~mart[f"prior_{outcome}"].astype(bool) & mart["label_window_observed"].astype(bool)]
    p = oracle.loc[at_risk["patient_key"], f"p_{outcome}"].to_numpy()
    cases = int(at_risk[outcome].astype(bool).sum())
    sd = float(np.sqrt((p * (1 - p)).sum()))
    assert abs(cases - p.sum()) <= 3 * sd + 1.5, (cases, p.sum())
