"""DuckDB connections for readers: bounded memory, spilling into the run's staging area."""

from __future__ import annotations

from pathlib import Path


def connect(staging_dir: Path, memory_limit: str = "1GB"):
    import duckdb

    tmp = staging_dir / "duckdb-tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    conn = duckdb.connect()
    # Insertion order is kept only where a query asks for it; dropping it lets COPY stream with less memory.
    conn.execute(f"SET memory_limit='{memory_limit}'")
    conn.execute(f"SET temp_directory='{sql_str(str(tmp))}'")
    conn.execute("SET preserve_insertion_order=false")
    return conn


def sql_str(value: str) -> str:
    """`value` escaped for use inside a single-quoted SQL literal."""
    return value.replace("'", "''")


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
