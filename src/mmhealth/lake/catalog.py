"""`LAKE/lake.duckdb`: one schema per database, one view per table over exactly the committed Parquet parts.

Views name their parts by absolute path. A relative path would resolve against the working directory of
whoever opens the catalog (dbt runs from the repo root, a notebook from anywhere), so absolute paths are the
choice that works for every reader on this machine. Moving the lake folder breaks them: any `mmhealth ingest`
into the moved lake rebuilds the catalog (it is rebuilt on every run, even when nothing changed), or call
`build_catalog` directly. The file is written beside the old one and swapped in with one rename, so a reader
never sees a half-built catalog.
"""

from __future__ import annotations

import os
from pathlib import Path

from mmhealth.lake.manifest import Manifest, Part
from mmhealth.lake.meta import META_COLUMNS

DATABASES = ("healthlake", "omics", "imaging", "lake_meta")
CATALOG_FILE = "lake.duckdb"


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _q(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def view_sql(root: Path, table: str, parts: list[Part]) -> str:
    """The view over a table's parts. union_by_name (columns matched by name across parts whose schemas differ,
    e.g. FHIR resources that gained a field) makes DuckDB read every part's footer whenever the view is bound;
    when every part has the same recorded schema it is left out, so a query filtered on `lake_run` opens only the
    parts of the runs it asks for."""
    db, name = table.split(".", 1)
    files = ", ".join(_lit(str(root / p.key)) for p in sorted(parts, key=lambda p: p.key))
    fingerprints = {p.schema for p in parts}
    by_name = "" if len(fingerprints) == 1 and "" not in fingerprints else "union_by_name=true, "
    return (
        f"CREATE OR REPLACE VIEW {_q(db)}.{_q(name)} AS SELECT * FROM read_parquet([{files}], "
        f"{by_name}hive_partitioning=true, hive_types={{'lake_run': 'VARCHAR'}})"
    )


def empty_view_sql(table: str, columns: dict[str, str]) -> str:
    db, name = table.split(".", 1)
    cols = ", ".join(f"CAST(NULL AS {t}) AS {_q(c)}" for c, t in columns.items())
    return f"CREATE OR REPLACE VIEW {_q(db)}.{_q(name)} AS SELECT {cols}, CAST(NULL AS VARCHAR) AS lake_run WHERE false"


def build_catalog(root: Path, manifest: Manifest) -> Path:
    import duckdb

    root = root.resolve()
    final = root / CATALOG_FILE
    tmp = root / "_lake" / (CATALOG_FILE + ".tmp")
    for stale in (tmp, Path(str(tmp) + ".wal")):
        stale.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    try:
        for db in DATABASES:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {_q(db)}")
        for table, parts in sorted(manifest.tables.items()):
            if parts:
                con.execute(view_sql(root, table, parts))
        for table, columns in META_COLUMNS.items():
            if not manifest.tables.get(table):
                con.execute(empty_view_sql(table, columns))
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, final)
    Path(str(final) + ".wal").unlink(missing_ok=True)
    return final
