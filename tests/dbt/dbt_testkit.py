"""Reading built marts and running transpiled Athena SQL on DuckDB, for the dbt tests."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import duckdb
import sqlglot
from sqlglot import exp

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def dbt_env(lake: Path) -> dict[str, str]:
    """dbt's environment for a lake. The pseudonym key file is the session's (MMHEALTH_PSEUDONYM_KEY_FILE, set by
    the fixture pseudonym_key_file in tests/conftest.py), so every build keys patients like the shared pipeline."""
    return {
        **os.environ,
        "DBT_PROFILES_DIR": str(REPO),
        "MMHEALTH_LAKE": str(lake),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "TQDM_DISABLE": "1",
        # Athena target settings: compile needs no AWS with --no-populate-cache and offline_catalog
        "MMHEALTH_ATHENA_S3_STAGING_DIR": "s3://mmhealth-test-results/",
        "AWS_REGION": "us-east-1",
    }


def connect(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """The warehouse read-only, with the lake beside it attached as `lake` the way profiles.yml does: views in the
    staging and intermediate schemas read the lake."""
    con = duckdb.connect(str(warehouse), read_only=True)
    con.execute("set TimeZone = 'UTC'")
    lake = Path(warehouse).parent / "lake.duckdb"
    if lake.exists():
        con.execute(f"attach '{lake}' as lake (read_only)")
    return con


def athena_to_duckdb(sql: str, catalog: str = "awsdatacatalog") -> str:
    """Athena SQL as dbt compiled it, transpiled to DuckDB with sqlglot; `catalog.schema.table` names lose the Glue
    catalog so they resolve to the same schema in the DuckDB warehouse."""
    tree = sqlglot.parse_one(sql, read="athena")
    for table in tree.find_all(exp.Table):
        if table.catalog == catalog:
            table.set("catalog", None)
    return tree.sql(dialect="duckdb")


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[list[str], list[tuple]]:
    cur = con.execute(sql)
    return [d[0] for d in cur.description], cur.fetchall()


def normalized(values: list[tuple], digits: int = 6) -> list[tuple]:
    """Rows made comparable: floats rounded (engines sum in different orders), sorted with nulls first."""
    def norm(v):
        if isinstance(v, float):
            return None if math.isnan(v) else round(v, digits)
        return v
    out = [tuple(norm(v) for v in row) for row in values]
    return sorted(out, key=lambda r: tuple((v is not None, str(v)) for v in r))
