"""`--lake s3://...` against the moto server: objects, Glue tables (columns and types), Parquet read back."""

from __future__ import annotations

import io
import json

import boto3
import pyarrow.parquet as pq
import pytest

from mmhealth.lake.ingest import run_ingest

from .conftest import MODALITIES, connect

BUCKET = "mmhealth-test-lake"


@pytest.fixture()
def source(generated, tmp_path):
    import shutil

    dest = tmp_path / "src"
    shutil.copytree(generated, dest, ignore=shutil.ignore_patterns("dicom"))
    return dest


@pytest.fixture()
def s3_lake(moto_reset, monkeypatch, tmp_path, source):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_reset)  # boto3 reads it for every client
    monkeypatch.setenv("MMHEALTH_CACHE", str(tmp_path / "cache"))
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    opts = {"reference": source / "reference/panel.fa"}
    report = run_ingest(source, f"s3://{BUCKET}/lake", MODALITIES, opts, progress=False)
    return report


def _table_from_s3(s3, keys):
    import pyarrow as pa

    tables = [pq.read_table(io.BytesIO(s3.get_object(Bucket=BUCKET, Key=f"lake/{k}")["Body"].read())) for k in keys]
    return pa.concat_tables(tables, promote_options="permissive")


def test_s3_lake_objects_glue_tables_and_parquet_equal_local(s3_lake, generated_lake, source, tmp_path):
    s3 = boto3.client("s3")
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key="lake/_lake/manifest.json")["Body"].read())
    keys = {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="lake/")
            for o in page.get("Contents", [])}
    for table, parts in manifest["tables"].items():
        for part in parts:
            assert f"lake/{part['key']}" in keys, part["key"]

    glue = boto3.client("glue")
    assert {"healthlake", "omics", "imaging", "lake_meta"} <= {d["Name"] for d in glue.get_databases()["DatabaseList"]}
    variants = glue.get_table(DatabaseName="omics", Name="variants")["Table"]
    cols = {c["Name"]: c["Type"] for c in variants["StorageDescriptor"]["Columns"]}
    assert cols == {
        "sampleid": "string", "contigname": "string", "start": "bigint", "end": "bigint",
        "names": "array<string>", "referenceallele": "string", "alternatealleles": "array<string>",
        "qual": "double", "filters": "array<string>", "phased": "boolean", "calls": "array<int>",
        "attributes": "map<string,string>", "depth": "int", "genotypequality": "int",
        "alleledepths": "array<int>", "lake_source": "string",
    }
    assert variants["PartitionKeys"] == [{"Name": "lake_run", "Type": "string"}]
    assert variants["StorageDescriptor"]["Location"] == f"s3://{BUCKET}/lake/omics/variants/"
    assert "ParquetHiveSerDe" in variants["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"]
    parts = glue.get_partitions(DatabaseName="omics", TableName="variants")["Partitions"]
    assert [p["Values"] for p in parts] == [[s3_lake.run_id]]
    patient = {c["Name"]: c["Type"] for c in glue.get_table(DatabaseName="healthlake", Name="patient")["Table"]
               ["StorageDescriptor"]["Columns"]}
    assert patient["id"] == "string"
    assert patient["extension"] == "array<string>"
    assert patient["name"].startswith("array<struct<") and "given:array<string>" in patient["name"]

    # The Parquet on S3 holds exactly what the local lake holds.
    local_lake, _ = generated_lake
    con = connect(local_lake)
    for table, parts in manifest["tables"].items():
        if table.startswith("lake_meta."):
            continue
        remote = _table_from_s3(s3, [p["key"] for p in parts])
        local = con.execute(f"SELECT * EXCLUDE (lake_run) FROM {table}").arrow()
        local = local.read_all() if hasattr(local, "read_all") else local
        assert remote.num_rows == local.num_rows, table
        key = sorted(remote.column_names)
        assert sorted(json.dumps(x, sort_keys=True, default=str) for x in _plain(remote.select(key).to_pylist())) == \
            sorted(json.dumps(x, sort_keys=True, default=str) for x in _plain(local.select(key).to_pylist())), table

    # Same input again: nothing read, nothing added.
    again = run_ingest(source, f"s3://{BUCKET}/lake", MODALITIES, {}, progress=False)
    assert all(m.files_read == 0 for m in again.modalities.values())
    assert again.tables == s3_lake.tables

    # A changed file replaces its rows on S3 too (old parts fetched, rewritten, deleted; Glue follows).
    cond = source / "fhir/Condition.ndjson"
    lines = cond.read_text().splitlines(keepends=True)
    cond.write_text("".join(lines[:-5]))
    changed = run_ingest(source, f"s3://{BUCKET}/lake", MODALITIES, {"reference": source / "reference/panel.fa"},
                         progress=False)
    assert changed.modalities["fhir"].files_read == 1
    fresh = run_ingest(source, str(tmp_path / "fresh"), MODALITIES, {"reference": source / "reference/panel.fa"},
                       progress=False)
    expect = {t: n for t, n in fresh.tables.items() if t != "lake_meta.ingest_log"}
    assert {t: n for t, n in changed.tables.items() if t != "lake_meta.ingest_log"} == expect
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key="lake/_lake/manifest.json")["Body"].read())
    live = {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="lake/")
            for o in page.get("Contents", []) if o["Key"].endswith(".parquet")}
    assert live == {f"lake/{p['key']}" for parts in manifest["tables"].values() for p in parts}
    runs = {p["run"] for p in manifest["tables"]["healthlake.condition"]}
    parts = glue.get_partitions(DatabaseName="healthlake", TableName="condition")["Partitions"]
    assert {p["Values"][0] for p in parts} == runs


def _plain(rows):
    """Arrow maps come back as lists of pairs; make both sides plain dicts before comparing."""
    def conv(v):
        if isinstance(v, list) and v and all(isinstance(x, tuple) and len(x) == 2 for x in v):
            return {k: conv(x) for k, x in v}
        if isinstance(v, list):
            return [conv(x) for x in v]
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        return v
    return [conv(r) for r in rows]


