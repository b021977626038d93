"""`mmhealth generate --corrupt N`: every injected DICOM corruption gets its fate with a reason naming it - a
truncated file is quarantined, a file without PatientID loads linked to no patient - and every other file of the
data set loads."""

from __future__ import annotations

import json

import duckdb

from mmhealth.cli import main


def test_injected_dicom_corruptions_get_their_fate(tmp_path):
    data, lake = tmp_path / "data", tmp_path / "lake"
    assert main(["generate", "--out", str(data), "--patients", "12", "--genomes", "0", "--imaging", "4",
                 "--corrupt", "2", "--seed", "21", "--jobs", "1", "--quiet"]) == 0
    injected = [c for c in json.loads((data / "corruptions.json").read_text()) if c["kind"].startswith("dicom")]
    truncated = {c["file"] for c in injected if c["kind"] == "dicom_truncated"}
    no_patient = {c["file"] for c in injected if c["kind"] == "dicom_missing_patient_id"}
    assert len(truncated) == len(no_patient) == 2
    assert main(["ingest", str(data), "--lake", str(lake), "--modality", "imaging", "--jobs", "1",
                 "--quiet"]) == 0
    con = duckdb.connect(str(lake / "lake.duckdb"), read_only=True)
    quarantined = dict(con.sql("select lake_source, reason from lake_meta.quarantine "
                               "where modality = 'imaging'").fetchall())
    # both name files relative to the generator's output folder
    assert set(quarantined) == truncated
    assert all(reason.startswith("truncated") for reason in quarantined.values())

    # A slice without PatientID loads, linked to no patient; its image set keeps its siblings' patient.
    rows = dict(con.sql("select lake_source, patientid from imaging.instances").fetchall())
    assert all(rows[f] is None for f in no_patient)
    unlinked_sets = con.sql(f"""select count(*) from imaging.image_sets where patientid is null or imagesetid in
        (select imagesetid from imaging.instances where lake_source in ({', '.join(repr(f) for f in no_patient)})
         and imagesetid not in (select imagesetid from imaging.image_sets where patientid is not null))""").fetchone()
    assert unlinked_sets == (0,)

    dicom_files = sum(1 for p in (data / "dicom").rglob("*.dcm"))
    assert con.sql("select count(*) from imaging.instances").fetchone()[0] == dicom_files - len(truncated)
    # The generator's bad files are extra slices, copies of a slice at its position with a new SOPInstanceUID.
    # A series that lost a slice cut inside its pixel data keeps its metadata, gets no volume and names the
    # file; one that holds the extra slice without PatientID has two frames at one position, and says so.
    statuses = dict(con.sql("select imagesetid, radiomics_status from imaging.image_sets").fetchall())
    refused = {i: s for i, s in statuses.items() if s != "ok"}
    assert all(s.startswith(("incomplete-series: 1 of ", "inconsistent-geometry: two frames at the same position"))
               for s in refused.values()), refused
    cut_in_pixels = {f for f, reason in quarantined.items() if "pixel data" in reason}
    assert cut_in_pixels and {f for s in refused.values() for f in cut_in_pixels if f in s} == cut_in_pixels
    assert con.sql("select count(*) from imaging.radiomics").fetchone()[0] == 4 - len(refused)
