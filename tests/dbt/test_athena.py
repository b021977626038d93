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
    assert "from_iso8601_timestamp" in sql
    # staging reads the FHIR through the compiled ViewDefinition (models/views, docs/views.md), which reads the lake
    view = (athena_compiled / "models" / "views" / "view_encounter.sql").read_text()
    assert "element_at(" in view
    for text in (sql, view):
        assert "list_extract" not in text and "list_filter" not in text
    assert '"awsdatacatalog"."healthlake"."encounter"' in view
    annotations = (athena_compiled / "models" / "staging" / "omics" / "stg_omics__annotations.sql").read_text()
    assert "element_at(attributes, 'CLNSIG')" in annotations


def _athena_key_table(con: duckdb.DuckDBPyConnection, key_file) -> None:
    """The one-row key table the Athena SQL reads (`mmhealth_secrets.pseudonym_key`, dbt vars), as a deployment
    creates it from the same key file (docs/governance.md), in its own catalog beside the DuckDB connection."""
    con.execute("attach ':memory:' as mmhealth_secrets")
    con.execute("create table mmhealth_secrets.main.pseudonym_key as select ? as key_hex",
                [key_file.read_text().strip()])


def test_athena_engine_macros_pass_their_cases(athena_compiled, pseudonym_key_file):
    compiled = athena_compiled / "tests" / "dbt" / "data_tests" / "engine_macros_behave.sql"
    sql = compiled.read_text()
    assert sql.count("union all") >= 30
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    _athena_key_table(con, pseudonym_key_file)
    failing = con.execute(athena_to_duckdb(sql)).fetchall()
    assert failing == []


@pytest.mark.parametrize("folder, mart, min_rows", [("patient", "patient_360", 100),
                                                    ("features", "features_cardiovascular", 100),
                                                    # counts distinct variants as rows (ROW constructor on Trino)
                                                    ("population", "population_genomic", 5)])
def test_athena_sql_returns_the_duckdb_rows(folder, mart, min_rows, athena_compiled, small_pipeline):
    athena_sql = (athena_compiled / "models" / "marts" / folder / f"{mart}.sql").read_text()
    con = connect(small_pipeline.warehouse)
    try:
        cols_a, from_athena = rows(con, athena_to_duckdb(athena_sql))
        cols_d, from_duckdb = rows(con, f"select * from mmhealth_marts.{mart}")
    finally:
        con.close()
    assert cols_a == cols_d
    assert len(from_duckdb) > min_rows
    assert normalized(from_athena) == normalized(from_duckdb)


def test_athena_and_duckdb_give_the_same_patient_key(athena_compiled, small_pipeline, pseudonym_key_file):
    """The key is named, never inlined: the Athena SQL reads the restricted key table, DuckDB the key file, and
    the same key gives the same patient_key for every patient (the SQL itself holds neither the key nor a hash)."""
    athena_sql = (athena_compiled / "models" / "intermediate" / "int_patient_spine.sql").read_text()
    key = pseudonym_key_file.read_text().strip()
    assert key not in athena_sql and '"awsdatacatalog"."mmhealth_secrets"."pseudonym_key"' in athena_sql
    # the warehouse and lake attached read-only under the names dbt gives them, beside a writable key catalog
    con = duckdb.connect()
    con.execute(f"attach '{small_pipeline.warehouse}' as warehouse (read_only)")
    con.execute(f"attach '{small_pipeline.lake / 'lake.duckdb'}' as lake (read_only)")
    con.execute("set TimeZone = 'UTC'")
    try:
        _athena_key_table(con, pseudonym_key_file)
        con.execute("use warehouse")
        _, from_athena = rows(con, f"select patient_id, patient_key from ({athena_to_duckdb(athena_sql)})")
        _, from_duckdb = rows(con, "select patient_id, patient_key from mmhealth_intermediate.int_patient_spine")
    finally:
        con.close()
    assert len(from_duckdb) == 150
    assert sorted(from_athena) == sorted(from_duckdb)


def test_athena_key_table_without_a_row_fails_the_key_test(athena_compiled):
    """An empty key table would null every patient_key; pseudonym_key_is_usable returns a failing row for it."""
    sql = (athena_compiled / "tests" / "dbt" / "data_tests" / "pseudonym_key_is_usable.sql").read_text()
    con = duckdb.connect()
    con.execute("attach ':memory:' as mmhealth_secrets")
    con.execute("create table mmhealth_secrets.main.pseudonym_key (key_hex varchar)")
    assert con.execute(athena_to_duckdb(sql)).fetchall() == [(0, None, None)]
    con.execute("insert into mmhealth_secrets.main.pseudonym_key values ('abc123')")  # too short
    assert con.execute(athena_to_duckdb(sql)).fetchall() == [(1, 6, 0)]
    con.execute("delete from mmhealth_secrets.main.pseudonym_key")
    con.execute("insert into mmhealth_secrets.main.pseudonym_key values (?)", ["ab" * 32])
    assert con.execute(athena_to_duckdb(sql)).fetchall() == []


def test_athena_partitions_the_big_facts(athena_compiled):
    import json

    manifest = json.loads((athena_compiled.parents[1] / "manifest.json").read_text())
    parts = {n["name"]: n["config"].get("partitioned_by") for n in manifest["nodes"].values()
             if n["resource_type"] == "model"}
    assert parts["fct_observation"] == ["year(effective_at)"] and parts["fct_encounter"] == ["year(started_at)"]
    assert parts["fct_variant_call"] == ["contig"]


def test_athena_facts_and_genome_tables_keep_the_iceberg_merge(athena_compiled):
    """The insert-or-merge strategy is DuckDB's (macros/incremental.sql); dbt-athena knows no such strategy."""
    import json

    manifest = json.loads((athena_compiled.parents[1] / "manifest.json").read_text())
    strategy = {n["name"]: n["config"].get("incremental_strategy") for n in manifest["nodes"].values()
                if n["resource_type"] == "model"}
    tables = ("stg_omics__variant_calls", "fct_variant_call", "fct_variant_clinvar", "fct_encounter", "fct_condition",
              "fct_observation", "fct_procedure", "fct_medication", "fct_claim", "patient_timeline")
    assert {strategy[t] for t in tables} == {"merge"}
