"""The Athena side, without AWS: `dbt compile --target athena --no-populate-cache` (catalog not read), every compiled
model parsed with sqlglot's Athena dialect, the athena__ macro implementations checked on literal cases, and the
Athena SQL of patient_360 and features_cardiovascular - transpiled to DuckDB - returning the DuckDB target's rows."""

from __future__ import annotations

import duckdb
import pytest
import sqlglot

from dbt_testkit import athena_to_duckdb, connect, normalized, rows


def test_every_compiled_model_parses_as_athena(athena_compiled):
    models = sorted((athena_compiled / "models").rglob("*.sql"))
    assert len(models) >= 40
    for path in models:
        sqlglot.parse(path.read_text(), read="athena")  # raises on anything Athena's grammar does not have


def test_athena_sql_uses_athena_functions(athena_compiled):
    sql = (athena_compiled / "models" / "staging" / "fhir" / "stg_fhir__encounter.sql").read_text()
    assert "from_iso8601_timestamp" in sql and "element_at(" in sql
    assert "list_extract" not in sql and "list_filter" not in sql
    assert '"awsdatacatalog"."healthlake"."encounter"' in sql
    annotations = (athena_compiled / "models" / "staging" / "omics" / "stg_omics__annotations.sql").read_text()
    assert "element_at(attributes, 'CLNSIG')" in annotations


def test_athena_engine_macros_pass_their_cases(athena_compiled):
    compiled = athena_compiled / "tests" / "dbt" / "data_tests" / "engine_macros_behave.sql"
    sql = compiled.read_text()
    assert sql.count("union all") >= 30
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    failing = con.execute(athena_to_duckdb(sql)).fetchall()
    assert failing == []


@pytest.mark.parametrize("mart", ["patient_360", "features_cardiovascular"])
def test_athena_sql_returns_the_duckdb_rows(mart, athena_compiled, small_pipeline):
    athena_sql = (athena_compiled / "models" / "marts" / ("patient" if mart == "patient_360" else "features")
                  / f"{mart}.sql").read_text()
    con = connect(small_pipeline.warehouse)
    try:
        cols_a, from_athena = rows(con, athena_to_duckdb(athena_sql))
        cols_d, from_duckdb = rows(con, f"select * from mmhealth_marts.{mart}")
    finally:
        con.close()
    assert cols_a == cols_d
    assert len(from_duckdb) > 100
    assert normalized(from_athena) == normalized(from_duckdb)
