"""Print the row count of every table the dbt build made in the warehouse, grouped by schema."""

import sys

import duckdb

path = sys.argv[1] if len(sys.argv) > 1 else "demo-lake/warehouse.duckdb"
with duckdb.connect(path, read_only=True) as con:
    tables = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_catalog = current_database() and table_type = 'BASE TABLE' order by 1, 2"
    ).fetchall()
    print(f"{'table':55} {'rows':>10}")
    for schema, name in tables:
        (n,) = con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()
        print(f"{schema + '.' + name:55} {n:>10,}")
