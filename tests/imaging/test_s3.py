"""`--lake s3://...` for imaging against the moto server: Glue tables of database `imaging` with the right
column types, the radiomics Parquet on S3 equal to a local lake's, and skipped files stored in lake_meta.skipped
there too."""

from __future__ import annotations

import io
import shutil

import boto3
import pyarrow.parquet as pq

from mmhealth.lake.ingest import run_ingest

BUCKET = "mmhealth-imaging-test"


def test_imaging_to_s3_and_glue(cohort, moto_reset, monkeypatch, tmp_path):
    cohort_root, manifest = cohort
    root = tmp_path / "source"
    shutil.copytree(cohort_root, root)
    (root / "README.txt").write_text("export notes\n")  # skipped: its row must reach S3 and Glue as well
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_reset)
    monkeypatch.setenv("MMHEALTH_CACHE", str(tmp_path / "cache"))
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    report = run_ingest(root, f"s3://{BUCKET}/lake", ["imaging"], {"workers": 1}, progress=False)
    assert report.modalities["imaging"].loaded == sum(m["n_slices"] for m in manifest)

    glue = boto3.client("glue")
    tables = {t["Name"]: t for t in glue.get_tables(DatabaseName="imaging")["TableList"]}
    assert {"image_sets", "studies", "series", "instances", "radiomics"} <= set(tables)

    def columns(name):
        return {c["Name"]: c["Type"] for c in tables[name]["StorageDescriptor"]["Columns"]}

    inst = columns("instances")
    assert inst["studyinstanceuid"] == "string" and inst["rows"] == "bigint"
    assert inst["imagepositionpatient"] == "array<double>" and inst["imagetype"] == "array<string>"
    rad = columns("radiomics")
    assert rad["mask_volume_mm3"] == "double" and rad["original_shape_meshvolume"] == "double"
    assert rad["original_glcm_contrast"] == "double" and rad["segmentation_method"] == "string"
    assert columns("studies")["modalitiesinstudy"] == "array<string>"
    skipped = glue.get_table(DatabaseName="lake_meta", Name="skipped")["Table"]
    assert {c["Name"]: c["Type"] for c in skipped["StorageDescriptor"]["Columns"]} == {
        "run_id": "string", "lake_source": "string", "position": "string", "modality": "string", "reason": "string",
        "record_count": "bigint", "skipped_at": "timestamp"}

    s3 = boto3.client("s3")
    [key] = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="lake/lake_meta/skipped/")["Contents"]]
    rows = pq.read_table(io.BytesIO(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())).to_pylist()
    assert [(r["lake_source"], r["modality"], r["reason"]) for r in rows] == [("README.txt", "imaging", "not-dicom")]

    # The radiomics rows on S3 are the ones a local lake gets.
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="lake/imaging/radiomics/")["Contents"]]
    remote = pq.read_table(io.BytesIO(s3.get_object(Bucket=BUCKET, Key=keys[0])["Body"].read())).to_pandas()
    local_report = run_ingest(root, str(tmp_path / "local"), ["imaging"], {"workers": 1}, progress=False)
    assert local_report.modalities["imaging"].loaded == report.modalities["imaging"].loaded
    local = pq.read_table(next((tmp_path / "local" / "imaging" / "radiomics").rglob("*.parquet"))).to_pandas()
    cols = ["imagesetid", "mask_volume_mm3", "original_firstorder_mean", "original_shape_sphericity"]
    assert remote[cols].sort_values("imagesetid").reset_index(drop=True).equals(
        local[cols].sort_values("imagesetid").reset_index(drop=True))
