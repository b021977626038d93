"""Generator output (`mmhealth generate`) through `mmhealth ingest`: radiomics per series that tracks the
generated lesions, and the reference system's imaging query on the local lake."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest


@pytest.fixture(scope="module")
def con(demo_lake):
    _, lake = demo_lake
    c = duckdb.connect(str(lake / "lake.duckdb"), read_only=True)
    yield c
    c.close()


def ranks(values):
    return np.argsort(np.argsort(np.asarray(values, dtype=float))).astype(float)


def test_one_radiomics_row_per_generated_series(demo_lake, con):
    manifest, _ = demo_lake
    assert len(manifest) == 15
    rows = con.sql("select seriesinstanceuid, count(*) from imaging.radiomics group by 1").fetchall()
    assert dict(rows) == {m["series_instance_uid"]: 1 for m in manifest}


def test_mask_volume_tracks_generated_lesion_volume(demo_lake, con):
    manifest, _ = demo_lake
    measured = dict(con.sql("select seriesinstanceuid, mask_volume_mm3 from imaging.radiomics").fetchall())
    truth = [m["lesion_volume_mm3"] for m in manifest]
    got = [measured[m["series_instance_uid"]] for m in manifest]
    rho = float(np.corrcoef(ranks(truth), ranks(got))[0, 1])
    assert rho > 0.8, rho


def test_shape_features_vary_across_image_sets(con):
    n, distinct_volume, distinct_sphericity, distinct_elong = con.sql(
        "select count(*), count(distinct original_shape_meshvolume), "
        "count(distinct round(original_shape_sphericity, 6)), "
        "count(distinct round(original_shape_elongation, 6)) from imaging.radiomics").fetchone()
    assert n == 15 and distinct_volume > 10 and distinct_sphericity > 10 and distinct_elong > 10


def test_reference_imaging_query_joins_fhir_to_radiomics(demo_lake, con):
    """FHIR ImagingStudy identifier `urn:oid:<StudyInstanceUID>` joined to imaging.studies and, through the
    image sets, to imaging.radiomics on imagesetid; patients agree on both sides."""
    manifest, _ = demo_lake
    rows = con.sql("""
        select s.id, st.studyinstanceuid, r.imagesetid, r.mask_volume_mm3, r.original_firstorder_mean, p.id
        from healthlake.imagingstudy s
        join imaging.studies st on s.identifier[1].value = 'urn:oid:' || st.studyinstanceuid
        join imaging.image_sets i on i.studyinstanceuid = st.studyinstanceuid
        join imaging.radiomics r on r.imagesetid = i.imagesetid
        join healthlake.patient p on s.subject.reference = 'Patient/' || p.id and p.id = st.patientid
    """).fetchall()
    assert len(rows) == len(manifest)
    assert {r[1] for r in rows} == {m["study_instance_uid"] for m in manifest}
    assert all(r[3] > 0 for r in rows)


def test_imaging_reads_only_dicom_files_of_a_mixed_source(demo_lake, con):
    """The generator's folder also holds NDJSON, VCF, FASTA and manifest.json: the imaging reader logs exactly
    the DICOM files, all loaded."""
    manifest, lake = demo_lake
    data = lake.parent / "data"
    dicom_files = {p.relative_to(data).as_posix() for p in (data / "dicom").rglob("*") if p.is_file()}
    logged = con.sql("select lake_source, records_loaded from lake_meta.ingest_log "
                     "where modality = 'imaging'").fetchall()
    assert {s for s, _ in logged} == dicom_files
    assert all(n == 1 for _, n in logged)
    assert sum(m["n_slices"] for m in manifest) == len(dicom_files)
