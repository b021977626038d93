"""Reading marts for the gate and for publishing, and the content hash that ties a gate result to the data.

Locally the marts live in dbt's DuckDB warehouse (`$MMHEALTH_LAKE/warehouse.duckdb`). Great Expectations cannot
validate DuckDB through SQLAlchemy (GE issue 11579), so the marts are read with DuckDB into pandas and validated as
dataframes. On AWS they are Athena tables, read through PyAthena's SQLAlchemy dialect.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from urllib.parse import quote_plus

import pandas as pd

from mmhealth.errors import MMHealthError
from mmhealth.paths import lake_catalog, warehouse_path

ATHENA_URL_ENV = "MMHEALTH_ATHENA_URL"
SCHEMA_ENV = "MMHEALTH_MARTS_SCHEMA"
# dbt-duckdb writes marts into `main` or `main_<custom schema>`; searched in this order when several hold the name.
_PREFERRED_SCHEMAS = ("mmhealth_marts", "marts", "main_marts", "analytics", "main")


def read_local_marts(lake: Path, names: list[str] | tuple[str, ...]) -> dict[str, pd.DataFrame]:
    import duckdb

    wh = warehouse_path(lake)
    if not wh.exists():
        raise MMHealthError(f"{wh}: dbt warehouse not found - run `dbt build` (MMHEALTH_LAKE={lake}) first")
    # read_only: the gate must never block or alter a dbt run that holds the file.
    con = duckdb.connect(str(wh), read_only=True)
    try:
        lake_db = lake_catalog(lake)
        if lake_db.exists():
            # Marts materialized as views read the lake through this alias, as in profiles.yml.
            try:
                con.execute(f"ATTACH '{lake_db}' AS lake (READ_ONLY)")
            except duckdb.Error:
                pass
        frames = {}
        for name in names:
            schema = _find_schema(con, name, wh)
            frames[name] = con.sql(f'SELECT * FROM "{schema}"."{name}"').df()
        return frames
    finally:
        con.close()


def _find_schema(con, table: str, wh: Path) -> str:
    rows = con.execute(
        "SELECT DISTINCT table_schema FROM information_schema.tables "
        "WHERE table_name = ? AND table_catalog = current_database()",
        [table],
    ).fetchall()
    schemas = [r[0] for r in rows]
    wanted = os.environ.get(SCHEMA_ENV)
    if wanted:
        if wanted not in schemas:
            raise MMHealthError(f"{wh}: no table {wanted}.{table} - check {SCHEMA_ENV} or run `dbt build`")
        return wanted
    if not schemas:
        raise MMHealthError(f"{wh}: mart {table!r} not found - run `dbt build` so the marts exist")
    for preferred in _PREFERRED_SCHEMAS:
        if preferred in schemas:
            return preferred
    return sorted(schemas)[0]


def athena_url(env: dict[str, str] | None = None) -> str:
    """PyAthena SQLAlchemy URL: `MMHEALTH_ATHENA_URL` as given, else built from the dbt-athena variables."""
    env = dict(os.environ if env is None else env)
    if env.get(ATHENA_URL_ENV):
        return env[ATHENA_URL_ENV]
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    staging = env.get("MMHEALTH_ATHENA_S3_STAGING_DIR") or env.get("ATHENA_S3_STAGING_DIR")
    schema = env.get("MMHEALTH_ATHENA_SCHEMA") or env.get("MMHEALTH_MARTS_SCHEMA")
    if not (region and staging and schema):
        raise MMHealthError(
            f"Athena connection not configured - set {ATHENA_URL_ENV} "
            "(awsathena+rest://@athena.<region>.amazonaws.com:443/<schema>?s3_staging_dir=s3://...) or "
            "AWS_REGION, MMHEALTH_ATHENA_S3_STAGING_DIR and MMHEALTH_ATHENA_SCHEMA"
        )
    query = f"s3_staging_dir={quote_plus(staging)}"
    if env.get("MMHEALTH_ATHENA_WORK_GROUP"):
        query += f"&work_group={quote_plus(env['MMHEALTH_ATHENA_WORK_GROUP'])}"
    return f"awsathena+rest://@athena.{region}.amazonaws.com:443/{schema}?{query}"


def read_athena_marts(url: str, names: list[str] | tuple[str, ...]) -> dict[str, pd.DataFrame]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as con:
            return {name: pd.read_sql_table(name, con) for name in names}
    finally:
        engine.dispose()


def read_marts(lake: Path, target: str, names: list[str] | tuple[str, ...]) -> dict[str, pd.DataFrame]:
    if target == "local":
        return read_local_marts(lake, names)
    if target == "athena":
        return read_athena_marts(athena_url(), names)
    raise MMHealthError(f"unknown target {target!r} - use local or athena")


def content_hash(df: pd.DataFrame) -> str:
    """SHA-256 of a table's schema and rows, independent of row and column order (tables have neither)."""
    cols = sorted(df.columns)
    h = hashlib.sha256(json.dumps([[str(c), str(df[c].dtype)] for c in cols]).encode())
    h.update(str(len(df)).encode())
    if len(df):
        rows = pd.util.hash_pandas_object(df[cols], index=False).to_numpy().copy()
        rows.sort()
        h.update(rows.tobytes())
    return h.hexdigest()
