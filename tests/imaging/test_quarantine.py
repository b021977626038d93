"""Bad DICOM written by the test: each kind of bad file lands in the quarantine with a reason naming it, files
whose header is fine load (metadata) even when their series cannot form a volume, and the rest of the folder
still loads."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate
from pydicom.uid import RLELossless, generate_uid

from imaging_testkit import SeriesSpec, read_folder, write_series
from mmhealth.ingest.records import FileDone, Quarantined, Skipped

BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"


@pytest.fixture(scope="module")
def bad_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    good = write_series(root / "good", SeriesSpec("p-good", 6.0, size=24, slices=8, seed=1))

    truncated = write_series(root / "trunc", SeriesSpec("p-trunc", 6.0, size=24, slices=3, seed=2))
    data = truncated[1].read_bytes()
    truncated[1].write_bytes(data[: len(data) - 300])  # pixel data cut short
    truncated[2].write_bytes(data[:200])  # cut inside the header

    ids = write_series(root / "ids", SeriesSpec("p-ids", 6.0, size=24, slices=2, seed=3))
    ds = pydicom.dcmread(ids[0])
    ds.PatientID = ""
    ds.save_as(ids[0])
    ds = pydicom.dcmread(ids[1])
    del ds.StudyInstanceUID
    ds.save_as(ids[1])

    geometry = write_series(root / "geom", SeriesSpec("p-geom", 6.0, size=24, slices=4, seed=4))
    ds = pydicom.dcmread(geometry[2])
    ds.Rows, ds.Columns = 12, 48  # same byte count, different frame size
    ds.save_as(geometry[2])

    undecodable = write_series(root / "rle", SeriesSpec("p-rle", 6.0, size=24, slices=3, seed=5))
    ds = pydicom.dcmread(undecodable[1])
    ds.file_meta.TransferSyntaxUID = RLELossless
    ds.PixelData = encapsulate([b"\x02\x00\x00\x00" + b"\xff" * 60])  # an RLE header pointing nowhere
    ds["PixelData"].VR = "OB"
    ds.save_as(undecodable[1], enforce_file_format=True)

    sr = pydicom.dcmread(good[0], stop_before_pixels=True)
    sr.SOPClassUID = sr.file_meta.MediaStorageSOPClassUID = BASIC_TEXT_SR
    sr.SOPInstanceUID = sr.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    sr.SeriesInstanceUID = generate_uid()
    sr.Modality = "SR"
    for kw in ("Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation",
               "SamplesPerPixel", "PhotometricInterpretation", "ImagePositionPatient"):
        if kw in sr:
            delattr(sr, kw)
    sr.save_as(root / "good" / "report.sr", enforce_file_format=True)

    (root / "notes.txt").write_text("not an image")
    (root / "broken.dcm").write_bytes(b"\x00" * 50)
    return root


@pytest.fixture(scope="module")
def bad_read(bad_folder, tmp_path_factory):
    return read_folder(bad_folder, tmp_path_factory.mktemp("bad-staging"))


def fates(outputs):
    q = {o.source: o.reason for o in outputs if isinstance(o, Quarantined)}
    s = {o.source: o.reason for o in outputs if isinstance(o, Skipped)}
    d = {o.source: o for o in outputs if isinstance(o, FileDone)}
    return q, s, d


def test_each_kind_of_bad_file_is_quarantined_with_its_reason(bad_read):
    outputs, _ = bad_read
    q, s, _ = fates(outputs)
    assert q["trunc/2.dcm"].startswith("truncated")
    assert q["trunc/3.dcm"].startswith(("truncated", "unreadable"))
    assert "ids/1.dcm" not in q  # PatientID empty: loads, linked to no patient
    assert q["ids/2.dcm"].startswith("missing-studyinstanceuid")
    assert not any(f.startswith("geom/") for f in q)  # a series that cannot form a volume still loads its files
    assert q["rle/2.dcm"].startswith("undecodable-pixels")
    assert q["broken.dcm"].startswith("unreadable")
    assert s["notes.txt"] == "not-dicom"


def test_good_files_still_load_and_counts_add_up(bad_folder, bad_read):
    outputs, tables = bad_read
    q, s, d = fates(outputs)
    on_disk = {p.relative_to(bad_folder).as_posix() for p in bad_folder.rglob("*") if p.is_file()}
    assert set(d) == on_disk
    loaded = {k for k, v in d.items() if v.loaded}
    assert loaded.isdisjoint(q) and loaded.isdisjoint(s) and set(q).isdisjoint(s)
    assert len(loaded) + len(q) + len(s) == len(on_disk)
    assert {f"good/{i}.dcm" for i in range(1, 9)} <= loaded
    assert {"trunc/1.dcm", "rle/1.dcm", "rle/3.dcm", "good/report.sr", "ids/1.dcm"} <= loaded
    assert {f"geom/{i}.dcm" for i in range(1, 5)} <= loaded
    assert sorted(tables["instances"].column("lake_source").to_pylist()) == sorted(loaded)


def test_image_sets_without_usable_pixels_keep_metadata_and_a_reason(bad_read):
    _, tables = bad_read
    sets = tables["image_sets"].to_pandas().set_index("modality", drop=False)
    rad_ids = set(tables["radiomics"].column("imagesetid").to_pylist())
    sr = sets[sets.modality == "SR"]
    assert len(sr) == 1 and sr.radiomics_status.iloc[0].startswith("no-pixels")
    assert sr.imagesetid.iloc[0] not in rad_ids
    rle = tables["image_sets"].to_pandas()
    rle = rle[rle.patientid == "p-rle"]
    assert rle.radiomics_status.iloc[0].startswith("undecodable-pixels: 1 of 3 files do not decode (rle/2.dcm: ")
    assert rle.numberofinstances.iloc[0] == 2
    by_patient = tables["image_sets"].to_pandas().set_index("patientid")
    assert by_patient.loc["p-geom", "radiomics_status"].startswith("inconsistent-geometry: frame sizes differ")
    assert by_patient.loc["p-geom", "numberofinstances"] == 4
    trunc = by_patient.loc["p-trunc", "radiomics_status"]
    assert trunc.startswith("incomplete-series: 1 of 2 files quarantined (trunc/2.dcm: truncated: pixel data")
    assert "trunc/3.dcm" in trunc  # cut inside its header (no series known), but in the same folder
    # ids/1.dcm has no PatientID and ids/2.dcm, the only file that names the patient, is quarantined.
    ids = tables["image_sets"].to_pandas()
    ids = ids[ids.seriesinstanceuid.isin(tables["instances"].to_pandas().query("lake_source == 'ids/1.dcm'")
                                         .seriesinstanceuid)]
    assert ids.patientid.isna().all() and ids.radiomics_status.iloc[0].startswith("incomplete-series: 1 of 2 files")
    good = tables["image_sets"].to_pandas()
    good = good[(good.patientid == "p-good") & (good.modality == "CT")]
    assert good.radiomics_status.iloc[0] == "ok" and good.imagesetid.iloc[0] in rad_ids
    assert (good.width.iloc[0], good.height.iloc[0], good.depth.iloc[0]) == (24, 24, 8)
    assert (good.spacing_x.iloc[0], good.spacing_y.iloc[0], good.spacing_z.iloc[0]) == (1.0, 1.0, 2.0)


def test_image_set_id_is_stable(bad_folder, tmp_path):
    _, first = read_folder(bad_folder, tmp_path / "a")
    _, second = read_folder(bad_folder, tmp_path / "b", radiomics=False)
    assert sorted(first["image_sets"].column("imagesetid").to_pylist()) == sorted(
        second["image_sets"].column("imagesetid").to_pylist())
    statuses = set(second["image_sets"].column("radiomics_status").to_pylist())
    assert "not-computed: radiomics turned off for this run" in statuses
    ids = first["image_sets"].column("imagesetid").to_pylist()
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert np.unique(ids).size == len(ids)
