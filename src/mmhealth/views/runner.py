"""Compile views against a local lake and run them there, on the lake's Parquet through DuckDB.

The lake keeps every version of a resource it was sent (docs/ingest.md); like the dbt staging models, a view
reads the current one: the newest meta.lastUpdated, then the newest lake run, then the last source path, then
the later record of the file (`lake_position`)."""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from mmhealth.errors import MMHealthError
from mmhealth.views.compiler import CompiledView, Target, compile_view
from mmhealth.views.definition import ViewDefinition
from mmhealth.views.dialect import Dialect, get_dialect
from mmhealth.views.schema import LakeSchema

LAKE_SCHEMA = "healthlake"


def open_lake(lake: Path):
    """A read-only DuckDB connection to LAKE/lake.duckdb (the catalog `mmhealth ingest` writes)."""
    import duckdb

    catalog = Path(lake) / "lake.duckdb"
    if not catalog.is_file():
        raise MMHealthError(f"{lake}: not a lake (no lake.duckdb) - run `mmhealth ingest SOURCE --lake {lake}` first")
    return duckdb.connect(str(catalog), read_only=True)


def version_filter(d: Dialect, table_sql: str, columns: set[str], alias: str = "r") -> str | None:
    """True for the current version of each resource id (None when the table cannot hold several)."""
    if not {"id", "lake_run", "lake_source"} <= columns:
        return None
    later_copy = (f"newer.lake_run > {alias}.lake_run OR (newer.lake_run = {alias}.lake_run "
                  f"AND newer.lake_source > {alias}.lake_source)")
    if "lake_position" in columns:  # two copies in one file: the later record (ingest numbers such files' records)
        later_copy += (f" OR (newer.lake_run = {alias}.lake_run AND newer.lake_source = {alias}.lake_source "
                       f"AND COALESCE(newer.lake_position, 0) > COALESCE({alias}.lake_position, 0))")
    if "meta" in columns:
        floor = d.timestamp_floor()
        newer_at = f"COALESCE({d.timestamp('newer.meta.lastupdated')}, {floor})"
        this_at = f"COALESCE({d.timestamp(alias + '.meta.lastupdated')}, {floor})"
        cond = f"({newer_at} > {this_at} OR ({newer_at} = {this_at} AND ({later_copy})))"
    else:
        cond = f"({later_copy})"
    return f"NOT EXISTS (SELECT 1 FROM {table_sql} AS newer WHERE newer.id = {alias}.id AND {cond})"


def _has_lastupdated(schema: LakeSchema, resource: str) -> bool:
    root = schema.root(resource)
    meta = root.child("meta") if root else None
    return bool(meta and meta.child("lastUpdated"))


@dataclass
class LakeViews:
    """Compiles views against one lake's schema."""

    schema: LakeSchema
    dialect: Dialect
    current_only: bool = True

    @classmethod
    def of(cls, con, dialect: str = "duckdb", current_only: bool = True) -> "LakeViews":
        return cls(LakeSchema.from_connection(con, LAKE_SCHEMA), get_dialect(dialect), current_only)

    def compile(self, view: ViewDefinition) -> CompiledView:
        root = self.schema.root(view.resource)
        if root is None:
            target = Target(None)
        else:
            table = self.dialect.table(LAKE_SCHEMA, view.resource.lower())
            cols = self.schema.columns(view.resource)
            if not _has_lastupdated(self.schema, view.resource):
                cols = cols - {"meta"}
            vf = version_filter(self.dialect, table, cols) if self.current_only else None
            target = Target(table, vf)
        return compile_view(view, self.dialect, root, target)


def run_compiled(con, compiled: CompiledView) -> tuple[list[str], list[tuple]]:
    cur = con.execute(compiled.sql)
    names = [c[0] for c in cur.description]
    return names, cur.fetchall()


def _jsonable(v):
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)


def write_rows(con, compiled: CompiledView, fmt: str, out: Path | None) -> int:
    """Run one compiled view and write its rows; returns the row count."""
    if fmt == "parquet":
        if out is None:
            raise MMHealthError("--format parquet needs --out PATH (Parquet is not written to a terminal)")
        out.parent.mkdir(parents=True, exist_ok=True)
        target = str(out).replace("'", "''")
        con.execute(f"COPY ({compiled.sql}) TO '{target}' (FORMAT PARQUET, COMPRESSION ZSTD)")
        return con.execute(f"SELECT count(*) FROM read_parquet('{target}')").fetchone()[0]
    names, rows = run_compiled(con, compiled)
    stream = open(out, "w", newline="") if out else sys.stdout
    try:
        if fmt == "ndjson":
            for row in rows:
                stream.write(json.dumps({n: _jsonable(v) for n, v in zip(names, row)}, ensure_ascii=False) + "\n")
        elif fmt == "csv":
            w = csv.writer(stream)
            w.writerow(names)
            for row in rows:
                w.writerow([json.dumps(_jsonable(v)) if isinstance(v, (list, dict)) else
                            ("true" if v is True else "false" if v is False else v) for v in row])
        else:
            raise MMHealthError(f"--format {fmt}: choose ndjson, csv or parquet")
    finally:
        if out:
            stream.close()
    return len(rows)

