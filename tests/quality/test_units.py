"""Pure parts of the gate: the plugin's de-identification matchers and declared types, spec parsing, profile bands,
hashes, the Athena URL."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gate_expectations.deidentification import identifier_shape_query, name_hits, value_hits
from gate_expectations.schema import logical_type, type_mismatches

from mmhealth.errors import MMHealthError
from mmhealth.quality import baseline as bl
from mmhealth.quality.data import athena_url, content_hash
from mmhealth.quality.spec import ProfileTolerances, load_spec, parse_spec


@pytest.fixture(scope="module")
def spec(project):
    return load_spec(project / "gate.yml")


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


def test_declared_dbt_types_match_engine_types_by_logical_type():
    found = [{"name": "d", "type": np.dtype("datetime64[us]")}, {"name": "x", "type": pd.Int64Dtype()},
             {"name": "s", "type": np.dtype("float64")}, {"name": "b", "type": pd.BooleanDtype()},
             {"name": "v", "type": pd.StringDtype()}]
    declared = {"d": "date", "x": "bigint", "s": "varchar", "b": "boolean", "v": "varchar"}
    assert type_mismatches(found, declared) == {"s": "declared varchar, found float"}
    assert type_mismatches([{"name": "x", "type": "DOUBLE"}], {"x": "integer"}) == {
        "x": "declared integer, found float"}


def test_spec_rejects_bad_ranges_unknown_marts_and_relationships():
    base = {"checkpoints": {"c": {"marts": ["m", "n"]}}}
    with pytest.raises(MMHealthError, match=r"ranges.age: min 120.0 > max 0.0"):
        parse_spec({**base, "invariants": {"m": {"ranges": {"age": [120, 0]}}}})
    with pytest.raises(MMHealthError, match="invariants.x: no checkpoint reads this mart"):
        parse_spec({**base, "invariants": {"x": {}}})
    with pytest.raises(MMHealthError, match="relationships.r: expected `from: mart.column`"):
        parse_spec({**base, "relationships": {"r": {"from": "m", "to": "n.k"}}})


def test_share_bands_widen_for_few_rows_and_catch_a_halved_share_at_any_size():
    tol = ProfileTolerances()
    small, large = bl.share_band(19, 20, tol), bl.share_band(1900, 2000, tol)
    assert small.min < large.min < 0.95 < large.max
    for k, n in ((20, 20), (15, 20), (950, 1000), (100, 1000)):
        band = bl.share_band(k, n, tol)
        assert band.min <= k / n <= band.max
        assert not band.min <= (k / n) / 2 <= band.max, (k, n)  # halving always falls outside
    # a share of 1 at 20 rows still has room for one more missing value next build
    assert bl.share_band(20, 20, tol).min < 19 / 21


def test_numeric_bands_are_centred_and_a_constant_column_gets_one_too():
    tol = ProfileTolerances()
    bands = bl.numeric_bands(pd.Series(np.arange(100, dtype=float)), tol)
    assert bands["mean"].min < 49.5 < bands["mean"].max
    assert bands["stdev"].min < bands["stdev"].value < bands["stdev"].max
    constant = bl.numeric_bands(pd.Series([3.0] * 10), tol)
    assert constant["mean"].min < 3 < constant["mean"].max and constant["stdev"].value == 0
    assert bl.numeric_bands(pd.Series([1.0, None]), tol) == {}  # one value: no distribution


def test_baseline_yaml_round_trips(spec):
    from mmhealth.quality.contract import MartContract

    c = MartContract("m", "s", {"k": "varchar", "x": "double", "y": "boolean"}, unique=("k",), not_null=("k",))
    df = pd.DataFrame({"k": list("abcd"), "x": [1.0, 2.0, None, 4.0], "y": [True, False, True, None]})
    b = bl.make_baseline({"m": df}, {"m": c}, ProfileTolerances(), created="2026-01-02", lake="lake")
    assert set(b.marts["m"].columns) == {"x", "y"}  # k: dbt tests not_null, and text has no distribution
    assert b.marts["m"].columns["y"]["true_share"].value == pytest.approx(2 / 3)
    text = bl.to_yaml(b)
    assert "varchar" not in text and "double" not in text  # bands only, never types
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "baseline.yml").write_text(text)
        again = bl.load_baseline(Path(d) / "baseline.yml")
    assert again.marts["m"].columns["x"]["mean"].value == pytest.approx(7 / 3)
    assert again.created == "2026-01-02" and again.marts["m"].rows.value == 4


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
