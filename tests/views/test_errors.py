"""What the compiler refuses, and how: unsupported FHIRPath fails compile with one line naming the view, the column
and the path (never wrong rows); a lake without an element still compiles, the element read as empty."""

from __future__ import annotations

import json

import pytest

from .conftest import mmhealth
from mmhealth.views.definition import ViewError, parse_view
from mmhealth.views.dialect import DIALECTS
from mmhealth.views.compiler import Target, compile_view
from mmhealth.views.schema import FhirModelSchema, LakeSchema, SqlType


def _write(tmp_path, view, name="v.json"):
    p = tmp_path / name
    p.write_text(json.dumps(view))
    return p


UNSUPPORTED = {"resource": "Patient", "name": "pt_unsupported", "select": [{"column": [
    {"name": "id", "path": "id"},
    {"name": "kids", "path": "name.descendants().count()", "type": "integer"}]}]}


@pytest.mark.parametrize("command", ["compile", "run"])
def test_unsupported_path_fails_with_one_line_naming_view_column_path(command, tmp_path, synthea_lake):
    folder = tmp_path / "views"
    folder.mkdir()
    view = _write(folder, UNSUPPORTED)
    if command == "compile":
        proc = mmhealth("views", "compile", str(folder), "--out", str(tmp_path / "models"), check=False)
        assert not (tmp_path / "models").exists()
    else:
        proc = mmhealth("views", "run", str(view), "--lake", str(synthea_lake), check=False)
        assert proc.stdout == ""
    assert proc.returncode == 1
    err = proc.stderr.strip()
    assert "\n" not in err and "Traceback" not in err
    assert "'pt_unsupported'" in err and "'kids'" in err and "'name.descendants().count()'" in err
    assert "descendants() is not supported" in err


@pytest.mark.parametrize("path, reason", [
    ("name.family + 1", "needs numbers"),
    ("value", "choice element"),
    ("%missing", "not a constant"),
    ("name.where(", "not FHIRPath"),
])
def test_refusals_name_the_reason(path, reason):
    view = parse_view({"resource": "Observation" if path == "value" else "Patient", "name": "v",
                       "select": [{"column": [{"name": "c", "path": path}]}]})
    root = FhirModelSchema().root(view.resource)
    with pytest.raises(ViewError) as e:
        compile_view(view, DIALECTS["duckdb"], root, Target("t"))
    assert reason in str(e.value) and "column 'c'" in str(e.value)


def test_a_lake_without_the_element_compiles_to_typed_nulls():
    # a lake whose Patient table has only id: name is absent, so the view is statically empty there
    schema = LakeSchema({"patient": SqlType("struct", fields=(("id", SqlType.of("varchar")),))})
    view = parse_view({"resource": "Patient", "name": "v", "select": [
        {"column": [{"name": "id", "path": "id"}, {"name": "family", "path": "name.family.first()", "type": "string"},
                    {"name": "has_name", "path": "name.exists()", "type": "boolean"}]},
        {"forEachOrNull": "address", "column": [{"name": "city", "path": "city"}]}]})
    sql = compile_view(view, DIALECTS["duckdb"], schema.root("Patient"), Target('"t"')).sql
    import duckdb

    con = duckdb.connect()
    con.execute("create table t as select 'p1' as id")
    rows = con.execute(sql).fetchall()
    assert rows == [("p1", None, False, None)]
    types = [str(t) for t in con.sql(sql).types]
    assert types == ["VARCHAR", "VARCHAR", "BOOLEAN", "VARCHAR"]


def test_a_lake_without_the_table_gives_a_typed_empty_result():
    schema = LakeSchema({})
    view = parse_view({"resource": "Encounter", "name": "v", "select": [
        {"column": [{"name": "id", "path": "id"}, {"name": "n", "path": "length", "type": "decimal"}]}]})
    from mmhealth.views.runner import LakeViews

    compiled = LakeViews(schema, DIALECTS["duckdb"]).compile(view)
    import duckdb

    rel = duckdb.connect().sql(compiled.sql)
    assert rel.fetchall() == [] and [str(t) for t in rel.types] == ["VARCHAR", "DOUBLE"]


def test_a_collection_column_that_is_not_declared_one_stops_the_query(synthea_lake, tmp_path):
    view = _write(tmp_path, {"resource": "Patient", "name": "given_names", "select": [
        {"column": [{"name": "given", "path": "name.given", "collection": False}]}]})
    proc = mmhealth("views", "run", str(view), "--lake", str(synthea_lake), check=False)
    assert proc.returncode == 1 and proc.stdout == ""
    assert "given_names" in proc.stderr and "more than one value" in proc.stderr and "\n" not in proc.stderr.strip()
