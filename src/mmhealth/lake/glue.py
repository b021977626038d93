"""Glue databases and tables for an S3 lake, so Athena queries the same Parquet the local catalog reads.

Each table is partitioned by `lake_run` (the run that read a part's files: `.../lake_run=<run>/`), and
only committed runs are registered as partitions: the objects of a run that never committed are invisible to
Athena, as they are to the local catalog. Endpoint and region come from the environment as boto3 reads them
(`AWS_ENDPOINT_URL`, `AWS_DEFAULT_REGION`)."""

from __future__ import annotations

from mmhealth.lake.catalog import DATABASES
from mmhealth.lake.manifest import Manifest
from mmhealth.lake.schema import hive_type

PARQUET = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
}
PARTITION_KEY = "lake_run"


def glue_database(prefix: str, db: str) -> str:
    return f"{prefix}{db}"


def _storage(location: str, columns: list[dict] | None = None) -> dict:
    sd = {"Location": location, **PARQUET, "Compressed": True}
    if columns is not None:
        sd["Columns"] = columns
    return sd


def table_input(name: str, location: str, schema: list[list]) -> dict:
    columns = [{"Name": n, "Type": hive_type(t)} for n, t in schema if n != PARTITION_KEY]
    return {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "parquet", "EXTERNAL": "TRUE", "parquet.compression": "ZSTD"},
        "PartitionKeys": [{"Name": PARTITION_KEY, "Type": "string"}],
        "StorageDescriptor": _storage(location, columns),
    }


def sync_glue(store, manifest: Manifest, prefix: str = "") -> None:
    import boto3

    glue = boto3.client("glue")
    existing_dbs = set()
    for page in glue.get_paginator("get_databases").paginate():
        existing_dbs.update(d["Name"] for d in page["DatabaseList"])
    for db in DATABASES:
        name = glue_database(prefix, db)
        if name not in existing_dbs:
            glue.create_database(DatabaseInput={"Name": name, "Description": f"mmhealth lake: {db}"})
    for table, parts in sorted(manifest.tables.items()):
        schema = manifest.schemas.get(table)
        if not parts or not schema:
            continue
        db, name = table.split(".", 1)
        database = glue_database(prefix, db)
        location = store.location(f"{db}/{name}")
        ti = table_input(name, location, schema)
        try:
            glue.get_table(DatabaseName=database, Name=name)
            glue.update_table(DatabaseName=database, TableInput=ti)
        except glue.exceptions.EntityNotFoundException:
            glue.create_table(DatabaseName=database, TableInput=ti)
        wanted = sorted({p.run for p in parts})
        have = set()
        for page in glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=name):
            have.update(p["Values"][0] for p in page["Partitions"])
        new = [r for r in wanted if r not in have]
        for i in range(0, len(new), 100):
            glue.batch_create_partition(
                DatabaseName=database, TableName=name,
                PartitionInputList=[
                    {"Values": [r], "StorageDescriptor": _storage(f"{location}{PARTITION_KEY}={r}/", ti["StorageDescriptor"]["Columns"])}
                    for r in new[i : i + 100]
                ],
            )
        stale = sorted(have - set(wanted))
        for i in range(0, len(stale), 25):
            glue.batch_delete_partition(
                DatabaseName=database, TableName=name,
                PartitionsToDelete=[{"Values": [r]} for r in stale[i : i + 25]],
            )
