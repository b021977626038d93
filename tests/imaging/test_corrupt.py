"""`mmhealth generate --corrupt N`: every injected DICOM corruption is quarantined with a reason naming it,
and every other file of the data set loads."""

from __future__ import annotations

import json

import duckdb

from mmhealth.cli import main

# corruptions.json kind -> the stable start of our quarantine reason
EXPECTED_REASON = {"dicom_truncated": "truncated", "dicom_missing_patient_id": "missing-patientid"}


def test_injected_dicom_corruptions_are_quarantined(tmp_path):
    data, lake = tmp_path / "data", tmp_path / "lake"
    assert main(["generate", "--out", str(data), "--patients", "12", "--genomes", "0", "--imaging", "4",
                 "--corrupt", "2", "--seed", "21", "--jobs", "1", "--quiet"]) == 0
    injected = [c for c in json.loads((data / "corruptions.json").read_text()) if c["kind"].startswith("dicom")]
    assert len(injected) == 4
    assert main(["ingest", str(data), "--lake", str(lake), "--modality", "imaging", "--workers", "1",
                 "--no-progress"]) == 0
    con = duckdb.connect(str(lake / "lake.duckdb"), read_only=True)
    quarantined = dict(con.sql("select lake_source, reason from lake_meta.quarantine "
                               "where modality = 'imaging'").fetchall())
    for c in injected:  # both name files relative to the generator's output folder
        assert c["file"] in quarantined, c
        assert quarantined[c["file"]].startswith(EXPECTED_REASON[c["kind"]]), (c, quarantined[c["file"]])
    assert len(quarantined) == len(injected)
    dicom_files = sum(1 for p in (data / "dicom").rglob("*.dcm"))
    loaded = con.sql("select count(*) from imaging.instances").fetchone()[0]
    assert loaded == dicom_files - len(injected)
    assert con.sql("select count(*) from imaging.radiomics").fetchone()[0] == 4
