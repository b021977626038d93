"""Volume assembly: geometric slice order whatever the file names, InstanceNumber fallback, rescale, and
enhanced multi-frame images."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from imaging_testkit import SeriesSpec, phantom, write_enhanced, write_series
from mmhealth.ingest.imaging.header import DicomHeader, read_header
from mmhealth.ingest.imaging.volume import SliceSource, assemble


def sources(paths, root):
    out = []
    for p in paths:
        h = read_header(p, p.relative_to(root).as_posix())
        assert isinstance(h, DicomHeader), h
        out.append(SliceSource(h.path, h.source, h.sop_uid, h.instance_number, tuple(h.frame_geometry),
                               h.has_pixels))
    return out


SPEC = SeriesSpec("p-order", lesion_radius_mm=6.0, size=32, slices=12, seed=7)
# Spatial slice i goes to file slice{NAMES[i]}.dcm: slice10.dcm holds the first slice and sorts (as text) before
# slice2.dcm, so any ordering by name, natural or lexical, gets it wrong.
NAMES = [10, 3, 7, 1, 12, 5, 2, 11, 9, 4, 8, 6]


def test_files_named_out_of_order_assemble_in_geometric_order(tmp_path):
    paths = write_series(tmp_path, SPEC, name=lambda i: f"slice{NAMES[i]}.dcm")
    assert sorted(p.name for p in tmp_path.iterdir())[:2] == ["slice1.dcm", "slice10.dcm"]
    by_name = sorted(tmp_path.iterdir(), key=lambda p: p.name)
    image = assemble(sources(by_name, tmp_path))
    got = sitk.GetArrayFromImage(image)
    expected = np.stack([pydicom.dcmread(p).pixel_array.astype(np.float32) - 1024 for p in paths])
    np.testing.assert_array_equal(got, expected)
    assert image.GetSize() == (SPEC.size, SPEC.size, SPEC.slices)
    assert image.GetSpacing() == (SPEC.pixel_mm, SPEC.pixel_mm, SPEC.slice_mm)
    assert image.GetOrigin() == (-24.0, -24.0, -100.0)


def test_rescale_gives_hounsfield_units(tmp_path):
    paths = write_series(tmp_path, SPEC)
    got = sitk.GetArrayFromImage(assemble(sources(paths, tmp_path)))
    truth = phantom(SPEC)
    # Stored values are rounded and clipped to 12 bits; after slope/intercept they are the phantom's HU.
    assert np.abs(got - np.clip(np.round(truth + 1024), 0, 4095) + 1024).max() == 0
    assert got.min() < -900 and got.max() > 150


def test_instance_number_orders_slices_without_positions(tmp_path):
    paths = write_series(tmp_path, SPEC, name=lambda i: f"slice{NAMES[i]}.dcm")
    expected = np.stack([pydicom.dcmread(p).pixel_array for p in paths]).astype(np.float32) - 1024
    for p in paths:
        ds = pydicom.dcmread(p)
        del ds.ImagePositionPatient
        ds.save_as(p)
    got = sitk.GetArrayFromImage(assemble(sources(sorted(paths, key=lambda p: p.name), tmp_path)))
    np.testing.assert_array_equal(got, expected)


def test_descending_positions_are_ordered_along_the_normal(tmp_path):
    # Slices written head-to-foot (z decreasing with InstanceNumber): geometry, not InstanceNumber, decides.
    spec = SeriesSpec("p-desc", 5.0, size=24, slices=6, seed=3)
    paths = write_series(tmp_path, spec, name=lambda i: f"{i}.dcm")
    for i, p in enumerate(paths):
        ds = pydicom.dcmread(p)
        ds.InstanceNumber = spec.slices - i  # contradicts geometry on purpose
        ds.save_as(p)
    image = assemble(sources(list(reversed(paths)), tmp_path))
    assert image.GetOrigin()[2] == -100.0
    first = pydicom.dcmread(paths[0]).pixel_array.astype(np.float32) - 1024
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image)[0], first)


def test_enhanced_multiframe_orders_frames_by_position(tmp_path):
    spec = SeriesSpec("p-mf", 5.0, size=24, slices=8, seed=5)
    order = [3, 0, 7, 5, 1, 6, 2, 4]  # frame k of the file holds spatial slice order[k]
    path = tmp_path / "enhanced.dcm"
    truth = write_enhanced(path, spec, order)
    header = read_header(path, "enhanced.dcm")
    assert isinstance(header, DicomHeader) and header.frames == 8
    image = assemble(sources([path], tmp_path))
    got = sitk.GetArrayFromImage(image)
    expected = np.clip(np.round(truth + 1024), 0, 4095) - 1024
    np.testing.assert_array_equal(got, expected)
    assert image.GetSpacing()[2] == spec.slice_mm


def test_broken_orientation_keeps_identity_direction(tmp_path):
    spec = SeriesSpec("p-iop", 5.0, size=16, slices=1, seed=2)
    paths = write_series(tmp_path, spec)
    ds = pydicom.dcmread(paths[0])
    ds.ImageOrientationPatient = [0, 0, 0, 0, 0, 0]
    ds.save_as(paths[0])
    image = assemble(sources(paths, tmp_path))
    assert image.GetDirection() == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


@pytest.mark.parametrize("variant", ["MR_small_RLE.dcm", "MR_small_bigendian.dcm", "MR_small_implicit.dcm",
                                     "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm"])
def test_every_lossless_transfer_syntax_gives_the_same_volume(testdata, variant):
    """The same MR image in six transfer syntaxes (in the ingest, five are skipped as duplicates of one SOP
    instance, so the decoders are exercised here): identical voxels, geometry and rescale."""
    root = testdata / "dicom"
    reference = assemble(sources([root / "MR_small.dcm"], root))
    other = assemble(sources([root / variant], root))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(other), sitk.GetArrayFromImage(reference))
    assert other.GetSpacing() == reference.GetSpacing() and other.GetOrigin() == reference.GetOrigin()


def test_deflated_and_preambleless_files_give_pydicoms_voxels(tmp_path):
    """The awkward encodings decode to the voxels pydicom reads (rescaled), through the header reader."""
    from awkward_cases import write_awkward

    cases = write_awkward(tmp_path)
    for rel in (cases["deflate"]["whole"], cases["nopreamble"]["with_meta"], cases["nopreamble"]["bare"]):
        ds = pydicom.dcmread(tmp_path / rel, force=True)
        if "TransferSyntaxUID" not in ds.file_meta:
            ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
        expected = ds.pixel_array.astype(np.float32) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        got = sitk.GetArrayFromImage(assemble(sources([tmp_path / rel], tmp_path)))
        np.testing.assert_array_equal(got[0], expected, err_msg=rel)
