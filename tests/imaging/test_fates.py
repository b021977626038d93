"""Issue 15, imaging: every file one fate, decided after decoding.

One lake holds every file of ../shared/testdata/dicom (DICOMDIRs, READMEs and LICENSE files included), real
pydicom test files that show the issue's problems, and the awkward cases written by `awkward_cases`. Every file
under SOURCE must have exactly one stored fate - an instance row, a quarantine row or a skipped row - and that
fate must be the one pydicom's own reading of the file gives (`imaging_testkit.pydicom_fates`). The tests after
the first check each DICOM bullet of the issue on the same lake."""

from __future__ import annotations

import duckdb
import pydicom
import pytest

from awkward_cases import BAD_SLICE
from imaging_testkit import pydicom_fates


@pytest.fixture(scope="module")
def awkward_lake(awkward_imaging_lake):
    src, cases, lake, summary = awkward_imaging_lake
    con = duckdb.connect(str(lake / "lake.duckdb"), read_only=True)
    yield src, cases, summary, con
    con.close()


def rows(con, sql, *params):
    return con.execute(sql, list(params)).fetchall()


def fate_rows(con):
    """lake_source -> [(fate, reason)] over the three tables where a file can end."""
    out: dict[str, list[tuple[str, str]]] = {}
    for table, fate in (("imaging.instances", "loaded"), ("lake_meta.quarantine", "quarantined"),
                        ("lake_meta.skipped", "skipped")):
        reason = "''" if fate == "loaded" else "reason"
        for source, why in rows(con, f"select lake_source, {reason} from {table}"):
            out.setdefault(source, []).append((fate, why))
    return out


def test_every_file_has_exactly_one_stored_fate_reconciled_with_pydicom(awkward_lake):
    src, _, summary, con = awkward_lake
    on_disk = {p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file()}
    stored = fate_rows(con)
    assert set(stored) == on_disk
    assert {s: len(f) for s, f in stored.items() if len(f) != 1} == {}
    assert all(why.strip() for fates in stored.values() for fate, why in fates if fate != "loaded")

    expected = pydicom_fates(src)
    assert set(expected) == on_disk
    assert {s: f[0][0] for s, f in stored.items()} == {s: v for s, (v, _) in expected.items()}

    assert summary.read == len(on_disk) == summary.loaded + summary.quarantined + summary.skipped
    assert summary.skipped == rows(con, "select sum(record_count) from lake_meta.skipped")[0][0]
    # Loaded rows carry the identifiers pydicom reads from the same file (an empty PatientID stored as null).
    for source, patient, sop, series in rows(con, "select lake_source, patientid, sopinstanceuid, seriesinstanceuid "
                                                  "from imaging.instances"):
        ds = pydicom.dcmread(src / source, stop_before_pixels=True, force=True)
        assert (patient, sop, series) == (str(ds.get("PatientID", "")).strip() or None, ds.SOPInstanceUID,
                                          ds.SeriesInstanceUID), source


def test_the_copy_that_decodes_wins(awkward_lake):
    _, cases, _, con = awkward_lake
    fates = {s: f[0] for s, f in fate_rows(con).items()}
    # Real pydicom files: JPEG-lossy.dcm sorts first and does not decode; JPGExtended.dcm, the same instance, does.
    assert fates["awkward/pydicom/JPGExtended.dcm"][0] == "loaded"
    lossy = fates["awkward/pydicom/JPEG-lossy.dcm"]
    assert lossy[0] == "quarantined" and lossy[1].startswith("undecodable-pixels")
    assert lossy[1].endswith("(a copy that decodes was loaded from awkward/pydicom/JPGExtended.dcm)")
    # Written here: a broken RLE copy (first by path), the original, a good RLE copy.
    dup = {k: f"awkward/{v}" for k, v in cases["dup"].items()}
    assert fates[dup["broken"]][0] == "quarantined" and fates[dup["broken"]][1].startswith("undecodable-pixels")
    assert fates[dup["winner"]][0] == "loaded"
    fate, reason = fates[dup["loser"]]  # decodes too, but the original sorts first among lossless copies
    assert fate == "skipped" and reason.startswith("duplicate-instance: SOPInstanceUID ")
    assert f"loaded from {dup['winner']}" in reason
    # The series of the duplicated slice is whole: it has its radiomics.
    status = rows(con, "select i.radiomics_status from imaging.image_sets i join imaging.instances n "
                       "using (imagesetid) where n.lake_source = ?", dup["winner"])
    assert status == [("ok",)]


def test_skipped_files_have_a_stored_reason(awkward_lake):
    _, cases, _, con = awkward_lake
    skipped = dict(rows(con, "select lake_source, reason from lake_meta.skipped where modality = 'imaging'"))
    other = {k: f"awkward/{v}" for k, v in cases["other"].items()}
    assert skipped[other["nifti"]].startswith("other-format: NIfTI")
    assert skipped[other["readme"]] == "not-dicom"
    assert skipped["real/dicomdirtests/DICOMDIR"].startswith("dicomdir")
    assert skipped["real/LICENSE-pydicom-data"] == "not-dicom"
    assert skipped["real/MR_small_RLE.dcm"].startswith("duplicate-instance")
    quarantined = dict(rows(con, "select lake_source, reason from lake_meta.quarantine"))
    assert quarantined[other["fake_dcm"]].startswith("unreadable")
    assert set(skipped) & set(quarantined) == set()


def _radiomics_status_by_file(con):
    return dict(rows(con, "select n.lake_source, i.radiomics_status from imaging.instances n "
                          "join imaging.image_sets i using (imagesetid)"))


def test_deflated_files_load_with_their_pixels(awkward_lake):
    src, cases, _, con = awkward_lake
    loaded = _radiomics_status_by_file(con)
    deflate = cases["deflate"]
    # Pixels decoded and used: each has a radiomics row (the real one, image_dfl.dcm, has no PatientID too).
    for rel in (deflate["whole"], "pydicom/image_dfl.dcm"):
        assert loaded[f"awkward/{rel}"] == "ok", rel
    assert rows(con, "select transfersyntaxuid from imaging.instances where lake_source = ?",
                f"awkward/{deflate['whole']}") == [("1.2.840.10008.1.2.1.99",)]
    cut = rows(con, "select reason from lake_meta.quarantine where lake_source = ?", f"awkward/{deflate['cut']}")
    assert cut[0][0].startswith("truncated")
    # The deflated file's image set has its real size (the voxels themselves: tests/imaging/test_volume.py).
    ds = pydicom.dcmread(src / "awkward" / deflate["whole"])
    size = rows(con, "select i.width, i.height from imaging.image_sets i join imaging.instances n using (imagesetid) "
                     "where n.lake_source = ?", f"awkward/{deflate['whole']}")
    assert size == [(ds.Columns, ds.Rows)]


def test_files_without_preamble_have_headers_and_pixels_read(awkward_lake):
    _, cases, _, con = awkward_lake
    loaded = _radiomics_status_by_file(con)
    nopre = cases["nopreamble"]
    for rel in (nopre["with_meta"], nopre["bare"]):  # pixels decoded: the series has its radiomics
        assert loaded[f"awkward/{rel}"] == "ok", rel
    # Real files without preamble or file meta load too (two copies of one RT plan, no pixels: one loads).
    assert "awkward/pydicom/ExplVR_BigEndNoMeta.dcm" in loaded
    # A file pydicom reads although it is cut inside an element is still found out.
    q = dict(rows(con, "select lake_source, reason from lake_meta.quarantine"))
    assert q["awkward/pydicom/rtplan_truncated.dcm"].startswith("truncated")


@pytest.mark.parametrize("kind", ["truncated", "no-pixeldata", "short-pixels", "empty-patientid"])
def test_one_bad_slice_does_not_take_its_siblings_down(awkward_lake, kind):
    _, cases, _, con = awkward_lake
    bad = f"awkward/{cases['bad_slice'][kind]}"
    folder = bad.rsplit("/", 1)[0]
    loaded = {s for (s,) in rows(con, "select lake_source from imaging.instances where lake_source like ?",
                                 folder + "/%")}
    siblings = {f"{folder}/{i + 1}.dcm" for i in range(22) if i != BAD_SLICE}
    assert siblings <= loaded  # the 21 healthy slices always load their metadata
    (status, n), = rows(con, "select radiomics_status, numberofinstances from imaging.image_sets where imagesetid in "
                             "(select imagesetid from imaging.instances where lake_source like ?)", folder + "/%")
    quarantined = dict(rows(con, "select lake_source, reason from lake_meta.quarantine"))
    if kind in ("truncated", "short-pixels"):  # bad input: quarantined on its own; the volume is refused
        assert quarantined[bad].startswith("truncated") and n == 21
        assert status.startswith(f"incomplete-series: 1 of 22 files quarantined ({bad}: truncated")
    elif kind == "no-pixeldata":  # its header is fine: it loads as metadata; the volume is refused
        assert bad in loaded and n == 22
        assert status == f"incomplete-series: 1 of 22 files have no Pixel Data ({bad})"
    else:  # no PatientID: it loads linked to no patient; the series is whole
        assert bad in loaded and n == 22 and status == "ok"
        assert rows(con, "select patientid from imaging.instances where lake_source = ?", bad) == [(None,)]
        assert rows(con, "select distinct patientid from imaging.image_sets where imagesetid in (select imagesetid "
                         "from imaging.instances where lake_source = ?)", bad) == [("p-empty-patientid",)]


def test_files_without_patientid_load_linked_to_no_patient(awkward_lake):
    _, cases, _, con = awkward_lake
    files = [f"awkward/{f}" for f in cases["nopatient"]]
    got = rows(con, "select lake_source, patientid from imaging.instances where lake_source in (?, ?, ?, ?)", *files)
    assert sorted(got) == [(f, None) for f in sorted(files)]
    (isid, patient, status), = rows(con, "select imagesetid, patientid, radiomics_status from imaging.image_sets "
                                         "where imagesetid in (select imagesetid from imaging.instances "
                                         "where lake_source = ?)", files[0])
    assert patient is None and status == "ok"
    assert rows(con, "select patientid from imaging.radiomics where imagesetid = ?", isid) == [(None,)]
    # The real file with an empty PatientID loads the same way.
    assert rows(con, "select patientid from imaging.instances where lake_source = 'real/emri_small.dcm'") == [(None,)]


def test_no_volume_in_mm3_without_real_geometry(awkward_lake):
    _, cases, _, con = awkward_lake
    for source in (f"awkward/{cases['nogeometry']}", "real/emri_small.dcm"):
        (volume, geometry, voxels, shape, mean), = rows(
            con, "select mask_volume_mm3, geometry_status, mask_voxels, original_shape_meshvolume, "
                 "original_firstorder_mean from imaging.radiomics where imagesetid in "
                 "(select imagesetid from imaging.instances where lake_source = ?)", source)
        assert volume is None and shape is None, source
        assert geometry.startswith("no-geometry: no PixelSpacing") and "slice spacing unknown" in geometry
        assert voxels > 0 and mean is not None  # features that need no spacing are still there
    # Where the headers give the spacing, the volume is voxels x spacing.
    ok = rows(con, "select r.mask_volume_mm3, r.mask_voxels, i.spacing_x * i.spacing_y * i.spacing_z from "
                   "imaging.radiomics r join imaging.image_sets i using (imagesetid) "
                   "where r.geometry_status = 'ok' and i.depth > 1")
    assert ok and all(v == pytest.approx(n * s) for v, n, s in ok)


def test_summary_names_every_image_set_without_features(awkward_lake):
    _, _, summary, con = awkward_lake
    without = rows(con, "select imagesetid, radiomics_status from imaging.image_sets where radiomics_status <> 'ok'")
    assert len(without) >= 8  # localizers, incomplete series, DICOMDIR-tree series without pixels, ...
    for isid, status in without:
        named = [n for n in summary.notes if f"image set {isid} " in n]
        assert len(named) == 1 and named[0].endswith(f"no radiomics - {status}"), isid
    ok = {i for (i,) in rows(con, "select imagesetid from imaging.image_sets where radiomics_status = 'ok'")}
    assert ok == {i for (i,) in rows(con, "select imagesetid from imaging.radiomics")}
