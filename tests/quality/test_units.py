"""Pure parts of the gate: spec parsing, de-identification matchers, logical types, bands, hashes, Athena URL."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mmhealth.errors import MMHealthError
from mmhealth.quality import baseline as bl
from mmhealth.quality.compile import project_files, validations_for
from mmhealth.quality.data import athena_url, content_hash
from mmhealth.quality.gx_deid import identifier_shape_query, name_hits, value_hits
from mmhealth.quality.gx_schema import logical_type, type_mismatches
from mmhealth.quality.spec import parse_spec


@pytest.mark.parametrize("column", [
    "patient_name", "first_name", "family_name", "name", "address", "home_address", "address_line", "city",
    "zip_code", "phone", "telecom", "email", "ssn", "mrn", "birth_date", "birthdate", "dob", "fhir_id",
    "patient_id", "study_instance_uid",
])
def test_identifier_column_names_are_caught(spec, column):
    assert name_hits([column], list(spec.deid.forbidden_column_names)) != {}


@pytest.mark.parametrize("column", [
    "patient_key", "address_state", "gender", "age_at_index", "birth_year", "index_date", "n_encounters",
    "feature_name", "gene_symbol", "has_imaging", "latest_systolic_bp",
])
def test_feature_column_names_are_not_flagged(spec, column):
    assert name_hits([column], list(spec.deid.forbidden_column_names)) == {}


def test_value_shapes_flag_identifiers_and_spare_pseudonymous_keys(spec):
    shapes = spec.deid.identifier_value_shapes
    df = pd.DataFrame({
        "patient_key": pd.array(["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"] * 3, dtype="str"),
        "a": ["(555) 123-4567", "555.123.4567", "ok"],
        "b": ["8c1e0a8a-3b5c-4e8f-9a63-0b1f7c2f6d11", "urn:uuid:8c1e0a8a-3b5c-4e8f-9a63-0b1f7c2f6d11", None],
        "c": ["1987-03-14", "2001-12-01T10:00:00Z", "x"],
        "d": ["Patient/abc-123", "jane@example.org", "1.2.840.113619.2.55.3.2831"],
        "e": ["female", "male", "unknown"],
        "n": [1, 2, 3],
    })
    hits = value_hits(df, shapes)
    assert hits["a"] == {"phone": 2}
    assert hits["b"] == {"uuid": 2}
    assert hits["c"] == {"exact_date": 2}
    assert hits["d"] == {"fhir_reference": 1, "email": 1, "dicom_uid": 1}
    assert "patient_key" not in hits and "e" not in hits and "n" not in hits


def test_identifier_shape_query_pushes_regexp_like_down_for_athena(spec):
    import sqlalchemy as sa
    from pyathena.sqlalchemy.base import AthenaDialect

    table = sa.table("features_cardiovascular", sa.column("patient_key"), sa.column("age"))
    cols = [{"name": "patient_key", "type": sa.VARCHAR()}, {"name": "age", "type": sa.INTEGER()}]
    stmt, labels = identifier_shape_query(table, cols, {"phone": r"\d{3}-\d{4}"})
    sql = str(stmt.compile(dialect=AthenaDialect(), compile_kwargs={"literal_binds": True}))
    assert "regexp_like(trim(patient_key)" in sql and "(?i)^(?:\\d{3}-\\d{4})$" in sql
    assert labels == [("patient_key", "phone")]  # integer columns are not scanned


@pytest.mark.parametrize("engine_type, logical", [
    (np.dtype("int32"), "integer"), (pd.Int64Dtype(), "integer"), (np.dtype("float64"), "float"),
    (np.dtype("bool"), "boolean"), (pd.BooleanDtype(), "boolean"), (pd.StringDtype(), "string"),
    (np.dtype("O"), "string"), (np.dtype("datetime64[us]"), "timestamp"),
    ("BIGINT", "integer"), ("DOUBLE", "float"), ("VARCHAR(255)", "string"), ("DATE", "date"),
    ("TIMESTAMP(3)", "timestamp"), ("BOOLEAN", "boolean"), ("DECIMAL(10, 2)", "float"),
])
def test_logical_types_of_pandas_and_sql_types(engine_type, logical):
    assert logical_type(engine_type) == logical


def test_type_mismatches_accepts_dates_as_pandas_timestamps_and_numbers_as_either():
    found = [{"name": "d", "type": np.dtype("datetime64[us]")}, {"name": "x", "type": np.dtype("int64")},
             {"name": "s", "type": np.dtype("float64")}]
    assert type_mismatches(found, {"d": "date", "x": "number", "s": "string"}) == {
        "s": "declared string, found float"}


def test_spec_rejects_checks_on_undeclared_columns():
    raw = {"marts": {"m": {"key": ["k"], "columns": {"k": "string"}, "ranges": {"age": [0, 120]}}}}
    with pytest.raises(MMHealthError, match=r"columns \['age'\] are checked but not declared"):
        parse_spec(raw)


def test_spec_rejects_unknown_types_and_bad_bands():
    with pytest.raises(MMHealthError, match="unknown type 'int'"):
        parse_spec({"marts": {"m": {"columns": {"k": "int"}}}})
    with pytest.raises(MMHealthError, match="band must satisfy"):
        parse_spec({"marts": {"m": {"columns": {"y": "boolean"}, "labels": {"y": [0.5, 0.1]}}}})


def test_compiled_project_is_deterministic_and_names_per_target(spec):
    assert project_files(spec) == project_files(spec)
    names = [v.name for v in validations_for(spec, "pre_feature_store", "athena")]
    assert "athena__features_cardiovascular__deidentification" in names
    assert all(n.startswith("athena__") for n in names)


def test_label_band_widens_with_few_rows_and_catches_collapse_with_many(spec):
    mart = spec.mart("features_cardiovascular")
    band = next(b for b in mart.labels if b.column == "hypertension")
    small = bl.label_parameters(spec, mart, pd.DataFrame({"hypertension": [True] * 20}))
    large = bl.label_parameters(spec, mart, pd.DataFrame({"hypertension": [True] * 5000}))
    key = "features_cardiovascular__hypertension__prevalence_min"
    assert small[key] < large[key] <= band.min
    assert large[key] > 0  # an all-false label cannot pass at this size


def test_drift_bounds_are_centred_on_the_baseline(spec):
    mart = spec.mart("features_cardiovascular")
    df = pd.DataFrame({c: np.arange(100, dtype=float) for c in mart.drift})
    b = bl.compute_baseline(df, mart, spec.drift, run_id="r", accepted_at="t", content_hash="h", reason="x")
    col = b.columns["age_at_index"]
    assert col.bounds["mean"][0] < col.mean < col.bounds["mean"][1]
    assert col.bounds["stdev"][0] < col.stdev < col.bounds["stdev"][1]
    assert set(b.parameters()) >= {"features_cardiovascular__age_at_index__mean_min"}


def test_content_hash_ignores_order_but_not_values_or_types():
    df = pd.DataFrame({"k": ["a", "b", "c"], "v": [1.0, 2.0, 3.0]})
    assert content_hash(df) == content_hash(df.iloc[::-1].reset_index(drop=True)[["v", "k"]])
    changed = df.copy()
    changed.loc[1, "v"] = 2.5
    assert content_hash(changed) != content_hash(df)
    assert content_hash(df.astype({"v": "float32"})) != content_hash(df)


def test_athena_url_from_env_or_parts():
    assert athena_url({"MMHEALTH_ATHENA_URL": "awsathena+rest://x"}) == "awsathena+rest://x"
    url = athena_url({"AWS_REGION": "eu-west-1", "MMHEALTH_ATHENA_S3_STAGING_DIR": "s3://b/tmp/",
                      "MMHEALTH_ATHENA_SCHEMA": "mmhealth_marts", "MMHEALTH_ATHENA_WORK_GROUP": "primary"})
    assert url == ("awsathena+rest://@athena.eu-west-1.amazonaws.com:443/mmhealth_marts"
                   "?s3_staging_dir=s3%3A%2F%2Fb%2Ftmp%2F&work_group=primary")
    with pytest.raises(MMHealthError, match="MMHEALTH_ATHENA_URL"):
        athena_url({})
