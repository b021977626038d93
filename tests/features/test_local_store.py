"""Publishing to the local, versioned offline store."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from mmhealth.errors import MMHealthError
from mmhealth.features.definition import FeatureGroupDefinition, definition_from_frame, prepare_frame, records
from mmhealth.features.local_store import read_version, versions
from mmhealth.features.publish import PublishOptions, publish
from mmhealth.quality.runner import run_check
from gatekit import MARTS, options, sql

FC = "features_cardiovascular"


@pytest.fixture()
def lake(gated_lake, tmp_path):
    dest = tmp_path / "lake"
    shutil.copytree(gated_lake, dest)
    return dest


def opts(lake, **kw):
    # Classification from the checked-in model YAML, not from whatever target/manifest.json the checkout holds.
    kw.setdefault("manifest", lake / "no-manifest.json")
    return PublishOptions(to="local", lake=lake, checkpoint="features_only", **kw)


def test_local_publish_writes_a_version_pandas_reads(lake, features_frame):
    report = publish(opts(lake), features_frame)

    assert (report.version, report.written, report.rows) == (1, len(features_frame), len(features_frame))
    group_dir = lake / "feature_store" / "mmhealth-features-cardiovascular"
    df = pd.read_parquet(group_dir / "v1" / "data.parquet")
    # dbt classifies the exact index and label-window dates as phi: they stay in the lake.
    assert report.excluded == ["index_date", "label_window_end_date"]
    assert list(df.columns) == [c for c in features_frame.columns if c not in report.excluded] + ["event_time"]
    assert df["patient_key"].tolist() == features_frame["patient_key"].tolist()
    assert set(df["stroke"].dropna().unique()) <= {0, 1}
    assert df["event_time"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").all()
    definition = FeatureGroupDefinition.from_json((group_dir / "v1" / "feature_group.json").read_text())
    types = {f.name: f.type for f in definition.features}
    assert (definition.record_identifier, definition.event_time) == ("patient_key", "event_time")
    assert types["age_at_index"] == "Integral" and types["bmi_last"] == "Fractional"
    assert types["gender"] == "String" and types["stroke"] == "Integral"
    manifest = json.loads((group_dir / "v1" / "manifest.json").read_text())
    assert manifest["rows"] == len(features_frame) and manifest["quality_run_id"] == report.quality_run_id


def test_include_phi_publishes_every_column_with_dates_as_iso_strings(lake, features_frame):
    report = publish(opts(lake, include_phi=True), features_frame)
    assert report.excluded == []
    df = pd.read_parquet(f"{report.path}/data.parquet")
    assert list(df.columns) == list(features_frame.columns) + ["event_time"]
    assert df["index_date"].str.fullmatch(r"\d{4}-\d\d-\d\d").all()


def test_publish_without_a_sensitivity_classification_is_refused(lake, features_frame, tmp_path):
    with pytest.raises(MMHealthError, match="no sensitivity classification"):
        publish(opts(lake, manifest=tmp_path / "none.json", models_dir=tmp_path), features_frame)


def test_republishing_the_same_content_is_a_no_op_and_new_content_is_a_new_version(lake, features_frame,
                                                                                   gate_project, small_pipeline):
    publish(opts(lake), features_frame)
    again = publish(opts(lake), features_frame)
    assert (again.version, again.written) == (1, 0)

    first = features_frame["patient_key"].iloc[0]
    sql(lake, f"update {MARTS}.{FC} set bmi_last = 29.5 where patient_key = ?", first)
    assert run_check(options(gate_project, lake, small_pipeline.manifest, checkpoint="features_only")).success
    newer = features_frame.copy()
    newer.loc[0, "bmi_last"] = 29.5
    report = publish(opts(lake), newer)
    root = lake / "feature_store"
    assert report.version == 2 and versions(root, "mmhealth-features-cardiovascular") == [1, 2]
    v2, v1 = (read_version(root, "mmhealth-features-cardiovascular", v).set_index("patient_key") for v in (2, 1))
    assert v2.loc[first, "bmi_last"] == 29.5 and v1.loc[first, "bmi_last"] != 29.5


def test_a_new_gate_run_over_the_same_content_publishes_no_new_version(lake, features_frame, gate_project,
                                                                      small_pipeline):
    # What a re-run of the demo does: the gate runs again (a new run id) over marts whose content did not change.
    first = publish(opts(lake), features_frame)
    assert run_check(options(gate_project, lake, small_pipeline.manifest, checkpoint="features_only")).success
    again = publish(opts(lake), features_frame)
    assert again.quality_run_id != first.quality_run_id
    assert (again.version, again.written, again.group_action) == (1, 0, "v1 unchanged")
    assert versions(lake / "feature_store", "mmhealth-features-cardiovascular") == [1]


def test_definition_rejects_names_sagemaker_cannot_store():
    df = pd.DataFrame({"patient_key": ["a"], "write_time": [1]})
    with pytest.raises(MMHealthError, match="cannot be SageMaker feature names"):
        definition_from_frame(df, "g")
    with pytest.raises(MMHealthError, match="not valid for SageMaker"):
        definition_from_frame(pd.DataFrame({"patient_key": ["a"]}), "bad name!")


def test_records_omit_nulls_and_format_by_feature_type():
    df = pd.DataFrame({
        "patient_key": ["k1", "k2"],
        "age": pd.array([70, None], dtype="Int64"),
        "bmi": [27.25, float("nan")],
        "stroke": [True, False],
        "index_date": pd.to_datetime(["2020-01-01", "2020-02-01"]),
    })
    prepared = prepare_frame(df, event_time="2026-01-02T03:04:05+00:00")
    definition = definition_from_frame(prepared, "g")
    recs = records(prepared, definition)
    assert recs[0] == [
        {"FeatureName": "patient_key", "ValueAsString": "k1"},
        {"FeatureName": "age", "ValueAsString": "70"},
        {"FeatureName": "bmi", "ValueAsString": "27.25"},
        {"FeatureName": "stroke", "ValueAsString": "1"},
        {"FeatureName": "index_date", "ValueAsString": "2020-01-01"},
        {"FeatureName": "event_time", "ValueAsString": "2026-01-02T03:04:05Z"},
    ]
    assert [f["FeatureName"] for f in recs[1]] == ["patient_key", "stroke", "index_date", "event_time"]
