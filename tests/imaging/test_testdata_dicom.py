"""Every file of the real DICOM test data ends loaded, quarantined or skipped, and the counts reconcile with
a plain pydicom loop written here (not with project code)."""

from __future__ import annotations

from collections import Counter

import pytest

from imaging_testkit import pydicom_fates, read_folder
from mmhealth.ingest.records import FileDone, Quarantined, Skipped


@pytest.fixture(scope="module")
def testdata_read(testdata, tmp_path_factory):
    root = testdata / "dicom"
    outputs, tables = read_folder(root, tmp_path_factory.mktemp("td"))
    return root, outputs, tables


def test_every_file_has_exactly_one_fate(testdata_read):
    root, outputs, tables = testdata_read
    done = {o.source: o for o in outputs if isinstance(o, FileDone)}
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert set(done) == on_disk
    for d in done.values():
        assert d.read == d.loaded + d.quarantined + d.skipped == 1
    quarantined = {o.source: o.reason for o in outputs if isinstance(o, Quarantined)}
    skipped = {o.source: o.reason for o in outputs if isinstance(o, Skipped)}
    loaded = {s for s, d in done.items() if d.loaded}
    assert set(quarantined) == {s for s, d in done.items() if d.quarantined}
    assert set(skipped) == {s for s, d in done.items() if d.skipped}
    assert all(reason.strip() for reason in list(quarantined.values()) + list(skipped.values()))
    assert sorted(tables["instances"].column("lake_source").to_pylist()) == sorted(loaded)


def test_counts_reconcile_with_plain_pydicom(testdata_read):
    root, outputs, tables = testdata_read
    expected = pydicom_fates(root)
    done = {o.source: o for o in outputs if isinstance(o, FileDone)}
    fate = {s: "loaded" if d.loaded else "quarantined" if d.quarantined else "skipped" for s, d in done.items()}
    # Every file gets the fate pydicom's own reading gives it (localizer series included: their metadata loads).
    assert {rel: v for rel, (v, _) in expected.items()} == fate
    counts = Counter(fate.values())
    assert counts["loaded"] == tables["instances"].num_rows
    assert counts["loaded"] + counts["quarantined"] + counts["skipped"] == len(expected)

    # Loaded rows carry the identifiers pydicom reads from the same file.
    import pydicom

    rows = {r["lake_source"]: r for r in tables["instances"].to_pylist()}
    for rel, row in rows.items():
        ds = pydicom.dcmread(root / rel, stop_before_pixels=True)
        # an empty PatientID (emri_small.dcm) is stored as null: the file loads linked to no patient
        assert (row["patientid"], row["studyinstanceuid"], row["sopinstanceuid"], row["modality"]) == (
            ds.PatientID or None, ds.StudyInstanceUID, ds.SOPInstanceUID, ds.Modality)


def test_known_bad_files_have_named_reasons(testdata_read):
    _, outputs, _ = testdata_read
    quarantined = {o.source: o.reason for o in outputs if isinstance(o, Quarantined)}
    skipped = {o.source: o.reason for o in outputs if isinstance(o, Skipped)}
    assert quarantined["MR_truncated.dcm"].startswith("truncated")
    assert quarantined["MR_truncated.dcm"].endswith("(a copy of this SOPInstanceUID loaded from MR_small.dcm)")
    assert quarantined["no_meta.dcm"].startswith("unreadable")  # a stray byte before the dataset: pydicom
    assert "emri_small.dcm" not in quarantined  # PatientID empty: loaded, linked to no patient
    assert skipped["dicomdirtests/DICOMDIR"].startswith("dicomdir")
    assert skipped["PYDICOM_TEST_FILES_README.txt"] == "not-dicom"
    assert skipped["MR_small_RLE.dcm"].startswith("duplicate-instance")


def test_tables_are_consistent(testdata_read):
    _, _, tables = testdata_read
    inst = tables["instances"].to_pandas()
    image_sets = tables["image_sets"].to_pandas()
    studies = tables["studies"].to_pandas()
    assert set(inst.imagesetid) == set(image_sets.imagesetid)
    assert image_sets.imagesetid.is_unique and studies.studyinstanceuid.is_unique
    assert image_sets.set_index("imagesetid").numberofinstances.to_dict() == inst.groupby("imagesetid").size().to_dict()
    # A series without pixel data (TINY_ALPHA: header-only files) has metadata rows and a reason, no radiomics.
    no_pixels = image_sets[image_sets.radiomics_status.str.startswith("no-pixels")]
    assert len(no_pixels) == 1 and no_pixels.numberofinstances.iloc[0] == 50
    assert not set(no_pixels.imagesetid) & set(tables["radiomics"].column("imagesetid").to_pylist())
    ok = set(image_sets[image_sets.radiomics_status == "ok"].imagesetid)
    assert ok == set(tables["radiomics"].column("imagesetid").to_pylist())
    assert set(["studyinstanceuid", "patientid", "modality", "sopinstanceuid", "rows"]) <= set(inst.columns)


def test_fast_header_path_equals_pydicom_dcmread(testdata, monkeypatch):
    """The file meta is parsed by our own code for speed; with it turned off (pydicom's dcmread does the whole
    job) every real test file must give the same outcome, field for field."""
    from mmhealth.ingest.imaging import header as dicom

    root = testdata / "dicom"
    paths = list(dicom.discover(root))
    fast = [dicom.read_header(p, p.name) for p in paths]
    monkeypatch.setattr(dicom, "_read_file_meta", lambda fp: None)
    slow = [dicom.read_header(p, p.name) for p in paths]
    assert len(fast) == len(slow) > 100
    for a, b in zip(fast, slow):
        assert type(a) is type(b) and vars(a) == vars(b), a.source
