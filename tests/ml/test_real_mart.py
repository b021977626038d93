"""The trainer on the real features_cardiovascular mart of the shared small pipeline (generate -> ingest ->
dbt build), published with the features stage's writer: column roles come from the mart's dbt metadata and
agree with the fallback patterns; the as-of guard accepts the mart; predict scores its rows."""

import json

import duckdb
import pandas as pd
import pytest

from mmhealth.cli import main
from mmhealth.ml.dataset import load_local
from mmhealth.ml.synthetic import write_local_store


@pytest.fixture(scope="module")
def real_store(small_pipeline, tmp_path_factory):
    with duckdb.connect(str(small_pipeline.warehouse), read_only=True) as con:
        schema = con.sql("select table_schema from information_schema.tables "
                         "where table_name = 'features_cardiovascular'").fetchone()[0]
        frame = con.sql(f"select * from {schema}.features_cardiovascular").df()
    # What `features publish` does by default: columns dbt classifies phi (the exact dates) stay behind.
    from mmhealth.features.sensitivity import column_sensitivity, phi_columns

    phi = phi_columns(list(frame.columns), column_sensitivity("features_cardiovascular", small_pipeline.manifest,
                                                              None))
    root = tmp_path_factory.mktemp("real-store")
    write_local_store(frame, root)
    root_published = tmp_path_factory.mktemp("real-store-published")
    write_local_store(frame.drop(columns=phi), root_published)
    return root, frame, root_published, phi


def test_roles_from_dbt_meta_match_the_patterns(real_store, small_pipeline):
    root, frame, _, _ = real_store
    with_meta = load_local(root, manifest=small_pipeline.manifest)
    without = load_local(root)
    assert {f.name: f.modality for f in with_meta.schema.features} == \
        {f.name: f.modality for f in without.schema.features}
    assert set(with_meta.schema.mapped_by.values()) == {"dbt manifest meta"}
    assert {f.modality for f in with_meta.schema.features} == {"clinical", "genomic", "imaging"}
    assert set(with_meta.schema.labels) == {"stroke", "hypertension", "coronary_heart_disease", "alzheimers"}
    assert with_meta.schema.presence.get("genomic") == "has_genomics"
    # The label window is after the index date by design: not a feature, not subject to the as-of guard,
    # which let every other column of the mart through (load_local would have raised).
    assert "label_window_end_date" in with_meta.schema.ignored
    assert "label_window_end_date" not in with_meta.schema.dated_columns
    assert with_meta.provenance.extra["as_of_check"].startswith("passed")
    assert len(with_meta.frame) == len(frame)


def test_the_phi_free_published_store_trains_and_says_the_as_of_check_could_not_run(real_store, small_pipeline):
    _, frame, published, phi = real_store
    assert "index_date" in phi
    data = load_local(published, manifest=small_pipeline.manifest)
    assert data.schema.index_date_column is None
    assert data.provenance.extra["as_of_check"].startswith("not applicable")
    assert {f.name for f in data.schema.features} == {f.name for f in load_local(real_store[0]).schema.features}


def test_train_and_predict_on_the_real_mart(real_store, small_pipeline, tmp_path):
    _, frame, root, _ = real_store  # the store as publish writes it by default (no phi columns)
    out = tmp_path / "run"
    assert main(["train", "--store", str(root), "--manifest", str(small_pipeline.manifest),
                 "--outcomes", "hypertension", "--modalities", "clinical,clinical+genomic", "--repeats", "1",
                 "--bootstrap", "100", "--trees", "10", "--out", str(out), "--quiet"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert {r["modalities"] for r in results["results"]} == {"clinical", "clinical+genomic"}
    for r in results["results"]:  # evaluated, or a stated reason - never a silent gap
        assert r["status"] == "ok" or r["status"].startswith("too few")
    published = pd.read_parquet(next((root).rglob("data.parquet")))
    published.head(20).to_parquet(tmp_path / "in.parquet")
    models = json.loads((out / "manifest.json").read_text())["models"]
    if not models:
        pytest.skip("no model could be fit on this small sample (too few positives)")
    mods = "+".join(models[0]["modalities"])
    assert main(["predict", "--model", str(out), "--modalities", mods, "--input", str(tmp_path / "in.parquet"),
                 "--out", str(tmp_path / "out.csv")]) == 0
    scores = pd.read_csv(tmp_path / "out.csv")
    assert len(scores) == 20 and scores["probability_hypertension"].between(0, 1).all()
