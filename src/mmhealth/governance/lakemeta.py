"""Lake tables governed next to the marts: `mmhealth ingest`'s own bookkeeping (`lake_meta.quarantine`,
`lake_meta.ingest_log`). They are not dbt models, so their columns come from the lake's fixed schemas
(`mmhealth.lake.meta.META_COLUMNS`) and their classification from `META_SENSITIVITY` there, not from the dbt
manifest. A policy database with `lake_database: lake_meta` (instead of `dbt_schemas`) brings them in: they
get LF-Tags from `govern apply` (dbt never re-creates them), and the PHI invariant covers them like any mart,
so the quarantine's raw excerpts are readable only by phi-cleared principals."""

from __future__ import annotations

from mmhealth.governance.manifest import Catalog, Column, Table
from mmhealth.governance.policy import Policy
from mmhealth.lake.glue import PARTITION_KEY
from mmhealth.lake.meta import META_COLUMNS, QUARANTINE, meta_sensitivity

SOURCE = "src/mmhealth/lake/meta.py"
UID_PREFIX = "lake:"


def is_lake_table(table: Table) -> bool:
    return table.unique_id.startswith(UID_PREFIX)


def lake_tables(policy: Policy) -> list[Table]:
    """One Table per lake_meta table for every policy database that declares `lake_database`."""
    out = []
    for db in policy.databases.values():
        if db.lake_database is None:
            continue
        for table, columns in sorted(META_COLUMNS.items()):
            lake_db, name = table.split(".", 1)
            if lake_db != db.lake_database:
                continue
            cols = {c: Column(c, t.lower(), meta_sensitivity(table, c)) for c, t in columns.items()}
            # The Glue table is partitioned by run: the partition column is a column to Lake Formation too.
            cols[PARTITION_KEY] = Column(PARTITION_KEY, "varchar", meta_sensitivity(table, PARTITION_KEY))
            out.append(Table(database=db.name, name=name, dbt_schema=lake_db, relation=f"lake.{lake_db}.{name}",
                             unique_id=f"{UID_PREFIX}{table}", columns=cols, source_file=SOURCE))
    return out


def with_lake_tables(policy: Policy, catalog: Catalog) -> Catalog:
    tables = dict(catalog.tables)
    for t in lake_tables(policy):
        tables[t.fqn] = t
    return Catalog(tables=tables, source=catalog.source)


def governs_quarantine(policy: Policy) -> bool:
    return any(db.lake_database == QUARANTINE.split(".", 1)[0] for db in policy.databases.values())
