"""`govern local`: a preview of the policy on the embedded engine. For each principal a DuckDB schema
`as_<principal>` holds one view per table it may read, exposing only its columns and rows, so an analyst sees
locally what the role would see on Athena. Not a security boundary: whoever opens the warehouse file can
still read the base tables, ATTACH the lake and read its Parquet (quarantine included) - only Lake Formation
enforces. Lake tables (the quarantine) get no view here; their access shows in `govern access`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mmhealth.errors import MMHealthError
from mmhealth.governance.access import TableAccess, access_matrix
from mmhealth.governance.lakemeta import is_lake_table
from mmhealth.governance.manifest import Catalog
from mmhealth.governance.policy import Policy


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def schema_name(principal: str) -> str:
    return f"as_{principal}"


def _or(filters: tuple[str, ...]) -> str:
    # The canonical text Lake Formation receives, unchanged: the subset means the same in DuckDB (rowfilter.py).
    return " OR ".join(f"({f})" for f in filters)


def view_sql(ta: TableAccess, source: str) -> str:
    """SELECT exposing the allowed cells: rows visible to any grant, and a column's cells only in the rows its
    own grants cover (Lake Formation's cell-level union of data filters)."""
    table_rows = ta.row_filter
    select = []
    for col in sorted(ta.columns):
        rows = ta.columns[col].rows
        if rows is None or rows == table_rows:
            select.append(q(col))
        else:
            select.append(f"CASE WHEN {_or(rows)} THEN {q(col)} END AS {q(col)}")
    sql = f"SELECT {', '.join(select)} FROM {source}"
    if table_rows is not None:
        sql += f" WHERE {_or(table_rows)}"
    return sql


@dataclass
class LocalResult:
    views: dict[str, list[str]] = field(default_factory=dict)  # principal -> views created
    missing: list[str] = field(default_factory=list)  # tables the policy grants but the warehouse lacks
    lake_only: list[str] = field(default_factory=list)  # lake tables (quarantine, ...): governed on Lake Formation only


def build_local(policy: Policy, catalog: Catalog, warehouse: str | Path, principals: list[str] | None = None) -> LocalResult:
    import duckdb

    warehouse = Path(warehouse)
    if not warehouse.exists():
        raise MMHealthError(f"{warehouse}: DuckDB warehouse not found - run `dbt build` first or pass --warehouse")
    matrix = access_matrix(policy, catalog)
    names = principals or sorted(policy.principals)
    unknown = [p for p in names if p not in policy.principals]
    if unknown:
        raise MMHealthError(f"{policy.file}: unknown principal(s) {unknown} - choose from {sorted(policy.principals)}")
    result = LocalResult()
    con = duckdb.connect(str(warehouse))
    try:
        existing = {(s, t) for s, t in con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_catalog = current_database()").fetchall()}
        con.execute("BEGIN TRANSACTION")
        for p in names:
            schema = schema_name(p)
            con.execute(f"DROP SCHEMA IF EXISTS {q(schema)} CASCADE")
            con.execute(f"CREATE SCHEMA {q(schema)}")
            result.views[p] = []
            for fqn, ta in sorted(matrix[p].items()):
                t = catalog.get(fqn)
                if is_lake_table(t):
                    result.lake_only.append(fqn)
                    continue
                if (t.dbt_schema, t.name) not in existing:
                    result.missing.append(f"{t.dbt_schema}.{t.name}")
                    continue
                con.execute(f"CREATE VIEW {q(schema)}.{q(t.name)} AS {view_sql(ta, f'{q(t.dbt_schema)}.{q(t.name)}')}")
                result.views[p].append(t.name)
        con.execute("COMMIT")
    finally:
        con.close()
    result.missing = sorted(set(result.missing))
    result.lake_only = sorted(set(result.lake_only))
    return result
