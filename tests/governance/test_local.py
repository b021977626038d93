"""`govern local`: per-principal DuckDB schemas over a small warehouse built from the fixture manifest."""

from __future__ import annotations

import duckdb
import pytest

from mmhealth.cli import main
from mmhealth.governance.access import ColumnAccess, TableAccess
from mmhealth.governance.local import build_local, view_sql

from .conftest import FIXTURES

DUCK = {"varchar": "VARCHAR", "date": "DATE", "timestamp": "TIMESTAMP", "integer": "INTEGER", "bigint": "BIGINT",
        "double": "DOUBLE", "boolean": "BOOLEAN", "array<varchar>": "VARCHAR[]"}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory, loaded):
    """warehouse.duckdb with every fixture mart; 10 patients, the even ones consented to research."""
    _, catalog = loaded
    path = tmp_path_factory.mktemp("wh") / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA mmhealth_marts")
    for t in catalog.tables.values():
        cols = ", ".join(f'"{c.name}" {DUCK[c.data_type]}' for c in t.columns.values())
        con.execute(f'CREATE TABLE mmhealth_marts."{t.name}" ({cols})')
    con.execute("""INSERT INTO mmhealth_marts.features_cardiovascular
                   SELECT 'k' || i, 40 + i, 'F', 120.0 + i, 3.0, i % 3, i % 2 = 0, i % 4 = 0 FROM range(10) r(i)""")
    con.execute("""INSERT INTO mmhealth_marts.dim_patient
                   SELECT 'k' || i, 'p' || i, DATE '1970-01-01' + i::INTEGER, 'F', 'x', '0210' || i, i % 2 = 0 FROM range(10) r(i)""")
    con.close()
    return path


@pytest.fixture(scope="module")
def built(warehouse, loaded):
    policy, catalog = loaded
    return build_local(policy, catalog, warehouse)


def q(path, sql):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_phi_column_is_not_selectable_for_a_non_cleared_principal(warehouse, built):
    with pytest.raises(duckdb.BinderException, match="patient_id"):
        q(warehouse, "SELECT patient_id FROM as_data_scientists.dim_patient")
    with pytest.raises(duckdb.BinderException):
        q(warehouse, "SELECT birth_date FROM as_data_scientists.dim_patient")
    # the de-identified columns are there, and a cleared principal sees the phi ones
    assert len(q(warehouse, "SELECT patient_key, sex FROM as_data_scientists.dim_patient")) == 10
    assert q(warehouse, "SELECT patient_id FROM as_clinicians.dim_patient ORDER BY patient_id LIMIT 1") == [("p0",)]


def test_rows_outside_the_row_filter_are_not_visible(warehouse, built):
    rows = q(warehouse, "SELECT patient_key FROM as_external_research.features_cardiovascular ORDER BY patient_key")
    assert [r[0] for r in rows] == ["k0", "k2", "k4", "k6", "k8"]
    # the filter excludes the consent column itself, and the partner has no other table
    with pytest.raises(duckdb.BinderException):
        q(warehouse, "SELECT research_consent FROM as_external_research.features_cardiovascular")
    assert built.views["external_research"] == ["features_cardiovascular"]


def test_tables_without_a_grant_have_no_view(warehouse, built):
    assert sorted(built.views["quicksight_analysts"]) == ["population_clinical", "population_genomic", "population_imaging"]
    with pytest.raises(duckdb.CatalogException):
        q(warehouse, "SELECT * FROM as_quicksight_analysts.dim_patient")


def test_cell_level_union_of_grants():
    """Unfiltered access to some columns plus a filter for others: rows are all rows, and filtered columns
    are null outside their filter (Lake Formation's cell-level semantics)."""
    ta = TableAccess("p", "db.t", {
        "a": ColumnAccess("a", "internal", None, ("g1",)),
        "b": ColumnAccess("b", "internal", ("x = 1",), ("f1",)),
    })
    sql = view_sql(ta, "src")
    con = duckdb.connect()
    con.execute("CREATE TABLE src AS SELECT * FROM (VALUES (1, 'a1', 'b1'), (2, 'a2', 'b2')) v(x, a, b)")
    assert con.execute(f"{sql} ORDER BY a").fetchall() == [("a1", "b1"), ("a2", None)]
    only_filtered = TableAccess("p", "db.t", {"b": ColumnAccess("b", "internal", ("x = 1", "x = 2"), ("f1", "f2"))})
    assert con.execute(view_sql(only_filtered, "src") + " ORDER BY b").fetchall() == [("b1",), ("b2",)]


def test_cli_local_rebuilds_idempotently(warehouse, capsys):
    args = ["govern", "local", "--policy", str(FIXTURES / "policy.yml"), "--manifest", str(FIXTURES / "manifest.json"),
            "--warehouse", str(warehouse), "--principal", "radiologists"]
    assert main(args) == 0
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "as_radiologists: 2 view(s): fct_imaging_studies, population_imaging" in out
    with pytest.raises(duckdb.BinderException):
        q(warehouse, "SELECT study_instance_uid FROM as_radiologists.fct_imaging_studies")
