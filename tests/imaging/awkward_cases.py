"""The awkward imaging input of issue 15, written by the tests (plus real pydicom test files that show the same
problems): copies of one instance of which only some decode, deflated and preamble-less files, one bad slice in a
22-slice series, files without PatientID, a multi-frame image without geometry, a NIfTI volume and stray files.

`write_awkward(root)` writes them all under `root` and returns what each case is, so that tests can name files.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
from pydicom.encaps import encapsulate
from pydicom.uid import DeflatedExplicitVRLittleEndian, RLELossless, generate_uid

from imaging_testkit import SeriesSpec, _base, _pixels, phantom, write_series

# Real files of the pydicom wheel pinned in constraints.txt, read from the installed package (never copied into
# the repository): JPEG-lossy.dcm and JPGExtended.dcm hold the same SOP instance and only the second decodes;
# image_dfl.dcm is Deflated Explicit VR Little Endian; ExplVR_{Lit,Big}EndNoMeta.dcm have neither preamble nor
# file meta; rtplan_truncated.dcm is cut inside an element (pydicom reads it without complaint).
PYDICOM_FILES = ("JPEG-lossy.dcm", "JPGExtended.dcm", "image_dfl.dcm", "ExplVR_LitEndNoMeta.dcm",
                 "ExplVR_BigEndNoMeta.dcm", "rtplan_truncated.dcm")
SECONDARY_CAPTURE_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.7.3"  # Multi-frame Grayscale Word SC: no geometry
BAD_SLICE = 10  # the slice (0-based, of 22) spoiled in each "one bad slice" series: in the middle, so it leaves a gap


def pydicom_test_file(name: str) -> Path:
    return Path(pydicom.__file__).parent / "data" / "test_files" / name


def copy_pydicom_files(dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name in PYDICOM_FILES:
        shutil.copyfile(pydicom_test_file(name), dest / name)


def write_awkward(root: Path) -> dict[str, object]:
    root.mkdir(parents=True, exist_ok=True)
    cases: dict[str, object] = {}

    # Three copies of one instance: an RLE copy whose segments are garbage (first by path), the original and a
    # good RLE copy. The original and the good RLE copy decode; lossless both, so the first by path wins.
    src = write_series(root / "dup", SeriesSpec("p-dup", 5.0, size=16, slices=3, seed=31))
    middle = src[1]
    good = pydicom.dcmread(middle)
    good.save_as(root / "dup" / "b-original.dcm", enforce_file_format=True)
    rle = pydicom.dcmread(middle)
    rle.compress(RLELossless, generate_instance_uid=False)
    rle.save_as(root / "dup" / "c-rle.dcm", enforce_file_format=True)
    broken = pydicom.dcmread(root / "dup" / "c-rle.dcm")
    broken.PixelData = encapsulate([b"\x02\x00\x00\x00" + b"\xff" * 60])  # an RLE header pointing nowhere
    broken.save_as(root / "dup" / "a-broken-rle.dcm", enforce_file_format=True)
    middle.unlink()
    cases["dup"] = {"broken": "dup/a-broken-rle.dcm", "winner": "dup/b-original.dcm", "loser": "dup/c-rle.dcm"}

    # Deflated Explicit VR Little Endian, whole and cut short.
    ds = pydicom.dcmread(write_series(root / "deflate-src", SeriesSpec("p-dfl", 5.0, size=16, slices=1, seed=32))[0])
    shutil.rmtree(root / "deflate-src")
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    (root / "deflate").mkdir()
    ds.save_as(root / "deflate" / "deflated.dcm", enforce_file_format=True)
    data = (root / "deflate" / "deflated.dcm").read_bytes()
    (root / "deflate" / "deflated-cut.dcm").write_bytes(data[: len(data) - 40])
    cases["deflate"] = {"whole": "deflate/deflated.dcm", "cut": "deflate/deflated-cut.dcm"}

    # No preamble: one with file meta, one a bare implicit-VR dataset (old ACR-NEMA style), both with pixels.
    paths = write_series(root / "nopreamble", SeriesSpec("p-nopre", 5.0, size=16, slices=2, seed=33))
    ds = pydicom.dcmread(paths[0])
    ds.preamble = None
    ds.save_as(paths[0], enforce_file_format=False)
    ds = pydicom.dcmread(paths[1])
    del ds.file_meta
    with open(paths[1], "wb") as fh:
        fp = pydicom.filebase.DicomFileLike(fh)
        fp.is_little_endian, fp.is_implicit_VR = True, True
        pydicom.filewriter.write_dataset(fp, ds)
    cases["nopreamble"] = {"with_meta": "nopreamble/1.dcm", "bare": "nopreamble/2.dcm"}

    # One bad slice among 22, four ways.
    bad = {}
    for i, kind in enumerate(("truncated", "no-pixeldata", "short-pixels", "empty-patientid")):
        folder = root / f"bad-{kind}"
        paths = write_series(folder, SeriesSpec(f"p-{kind}", 5.0, size=16, slices=22, seed=40 + i))
        target = paths[BAD_SLICE]
        if kind == "truncated":
            data = target.read_bytes()
            target.write_bytes(data[: len(data) - 100])
        else:
            ds = pydicom.dcmread(target)
            if kind == "no-pixeldata":
                del ds.PixelData
            elif kind == "short-pixels":
                ds.PixelData = ds.PixelData[: len(ds.PixelData) // 2]
            else:
                ds.PatientID = ""
            ds.save_as(target, enforce_file_format=True)
        bad[kind] = target.relative_to(root).as_posix()
    cases["bad_slice"] = bad

    # A whole series without PatientID (absent in one file, empty in the others).
    paths = write_series(root / "nopatient", SeriesSpec("x", 5.0, size=16, slices=4, seed=50))
    for k, p in enumerate(paths):
        ds = pydicom.dcmread(p)
        if k == 0:
            del ds.PatientID
        else:
            ds.PatientID = "  "
        ds.save_as(p, enforce_file_format=True)
    cases["nopatient"] = [p.relative_to(root).as_posix() for p in paths]

    # A multi-frame image without PixelSpacing, positions or SliceThickness (a secondary capture).
    spec = SeriesSpec("p-nogeom", 5.0, size=24, slices=8, seed=51)
    ds = _base(spec.patient_id, generate_uid(), generate_uid(), SECONDARY_CAPTURE_MULTIFRAME, "OT")
    ds.NumberOfFrames = spec.slices
    _pixels(ds, np.clip(np.round(phantom(spec) + 1024), 0, 4095).astype(np.uint16))
    (root / "nogeometry").mkdir()
    ds.save_as(root / "nogeometry" / "multiframe.dcm", enforce_file_format=True)
    cases["nogeometry"] = "nogeometry/multiframe.dcm"

    # Other formats and stray files.
    import SimpleITK as sitk

    (root / "other").mkdir()
    volume = sitk.GetImageFromArray(phantom(SeriesSpec("n", 4.0, size=16, slices=6, seed=52)).astype(np.int16))
    volume.SetSpacing((1.0, 1.0, 2.0))
    sitk.WriteImage(volume, str(root / "other" / "brain.nii.gz"))
    (root / "other" / "README.txt").write_text("exported from the PACS on request 4711\n")
    (root / "other" / "notes.dcm").write_text("not a DICOM file despite its name\n")
    cases["other"] = {"nifti": "other/brain.nii.gz", "readme": "other/README.txt", "fake_dcm": "other/notes.dcm"}

    copy_pydicom_files(root / "pydicom")
    return cases
