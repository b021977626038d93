"""models/semantic on Athena, without AWS: compiled with `dbt compile --target athena --no-populate-cache`, parsed
by sqlglot's Athena grammar, and - transpiled to DuckDB - returning the rows the DuckDB build holds. That is what
QuickSight will read, so it must mean the same thing on both engines. Also linted with the project's sqlfluff."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import duckdb
import pytest
import sqlglot
from sqlglot import exp

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".venv" / "bin"
SEMANTIC_MODELS = sorted(p.stem for p in (REPO / "models" / "semantic").glob("*.sql"))


@pytest.fixture(scope="module")
def athena_compiled(small_pipeline, tmp_path_factory) -> Path:
    scratch = tmp_path_factory.mktemp("athena-semantic")
    proc = subprocess.run(
        [str(BIN / "dbt"), "compile", "--target", "athena", "--no-populate-cache", "--vars", "{offline_catalog: true}",
         "--select", "path:models/semantic", "--target-path", str(scratch / "target"),
         "--log-path", str(scratch / "logs")],
        cwd=REPO, env=small_pipeline.env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
    return scratch / "target" / "compiled" / "mmhealth" / "models" / "semantic"


def _to_duckdb(sql: str) -> str:
    tree = sqlglot.parse_one(sql, read="athena")
    for table in tree.find_all(exp.Table):
        if table.catalog == "awsdatacatalog":  # the Glue catalog: same schema names in the DuckDB warehouse
            table.set("catalog", None)
    return tree.sql(dialect="duckdb")


def _normalized(rows: list[tuple]) -> list[tuple]:
    def norm(v):
        if isinstance(v, float):
            return None if math.isnan(v) else round(v, 6)
        return v

    return sorted((tuple(norm(v) for v in r) for r in rows), key=lambda r: tuple((v is not None, str(v)) for v in r))


def test_every_semantic_model_compiles_for_athena(athena_compiled):
    compiled = sorted(p.stem for p in athena_compiled.glob("*.sql"))
    assert compiled == SEMANTIC_MODELS
    for name in compiled:
        sql = (athena_compiled / f"{name}.sql").read_text()
        sqlglot.parse(sql, read="athena")  # raises on anything Athena's grammar lacks
        assert '"awsdatacatalog"' in sql or name == "metricflow_time_spine"
    spine = (athena_compiled / "metricflow_time_spine.sql").read_text()
    assert "date_add('day', n, cast('1900-01-01' as date))" in spine  # dbt.dateadd, Athena's argument order


@pytest.mark.parametrize("model", SEMANTIC_MODELS)
def test_athena_sql_returns_the_duckdb_rows(model, athena_compiled, small_pipeline):
    con = duckdb.connect(str(small_pipeline.warehouse), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        schema = con.execute(
            "select table_schema from information_schema.tables where table_name = ?", [model]).fetchone()[0]
        athena = con.execute(_to_duckdb((athena_compiled / f"{model}.sql").read_text()))
        cols_a, rows_a = [d[0] for d in athena.description], athena.fetchall()
        local = con.execute(f'select * from "{schema}"."{model}"')
        cols_d, rows_d = [d[0] for d in local.description], local.fetchall()
    finally:
        con.close()
    assert cols_a == cols_d
    assert rows_d and _normalized(rows_a) == _normalized(rows_d)


def test_semantic_sql_is_lint_clean():
    proc = subprocess.run([str(BIN / "sqlfluff"), "lint", "--disable-progress-bar", "models/semantic"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:]
