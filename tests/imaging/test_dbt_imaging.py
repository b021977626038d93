"""What the lake accepts, dbt builds: the whole project over the lake of every real DICOM test file and the awkward
cases of issue 15 (files without PatientID, series refused a volume, features without geometry, fallback masks),
and the imaging marts say what the lake says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def built(awkward_imaging_lake, tmp_path_factory):
    _, cases, lake, _ = awkward_imaging_lake
    scratch = tmp_path_factory.mktemp("dbt-imaging")
    env = {**os.environ, "DBT_PROFILES_DIR": str(REPO), "MMHEALTH_LAKE": str(lake),
           "MMHEALTH_PSEUDONYM_KEY": "test-pseudonym-key-not-secret", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    proc = subprocess.run([str(Path(sys.executable).parent / "dbt"), "build", "--exclude", "path:models/semantic",
                           "--target-path", str(scratch / "target"), "--log-path", str(scratch / "logs")],
                          cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    con = duckdb.connect(str(lake / "warehouse.duckdb"), read_only=True)
    con.execute(f"attach '{lake / 'lake.duckdb'}' as lake (read_only)")
    yield cases, proc.stdout, con
    con.close()


def test_the_whole_project_builds_green(built):
    _, out, _ = built
    summary = out.split("Done.")[-1]
    assert "ERROR=0" in summary and "SKIP=0" in summary  # nothing failed, nothing skipped downstream of a failure


def test_fct_radiomics_has_every_image_set_and_says_why_features_are_missing(built):
    _, _, con = built
    mart = {r[0]: r[1:] for r in con.execute(
        "select image_set_id, has_radiomics, radiomics_status, segmentation_fallback_reason, geometry_status, "
        "mask_volume_mm3 from mmhealth_marts.fct_radiomics").fetchall()}
    lake = dict(con.execute("select imagesetid, radiomics_status from lake.imaging.image_sets").fetchall())
    assert set(mart) == set(lake)
    for isid, (has, kind, _, _, _) in mart.items():
        assert kind == lake[isid].split(":", 1)[0] and has == (kind == "ok"), isid
    assert any(fallback for _, _, fallback, _, _ in mart.values())
    no_geometry = [v for v in mart.values() if v[3] and v[3] != "ok"]
    assert no_geometry and all(v[4] is None for v in no_geometry)


def test_image_sets_without_patientid_are_kept_unlinked(built):
    cases, _, con = built
    unlinked = con.execute("select image_set_id, patient_key from mmhealth_marts.fct_radiomics "
                           "where patient_unlinked").fetchall()
    lake = {r[0] for r in con.execute("select imagesetid from lake.imaging.image_sets where patientid is null")
            .fetchall()}
    assert {i for i, _ in unlinked} == lake and len(lake) >= 3  # nopatient/, emri_small.dcm, image_dfl.dcm, ...
    assert all(key is None for _, key in unlinked)
    studies = con.execute("select count(*) filter (where patient_unlinked), count(*) filter (where patient_key is "
                          "null) from mmhealth_marts.dim_imaging_study").fetchone()
    assert studies[0] >= 1 and studies[0] == studies[1]
    # No patient is made up for them.
    assert con.execute("select count(*) from mmhealth_marts.patient_360 where patient_key is null").fetchone() == (0,)
    patients = {r[0] for r in con.execute("select patientid from lake.imaging.image_sets where patientid is not null")
                .fetchall()}
    assert con.execute("select count(*) from mmhealth_marts.patient_360").fetchone()[0] == len(patients)
