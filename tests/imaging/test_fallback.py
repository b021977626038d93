"""Radiomics works on real series by default (issue 15): when the default segmenter's mask is empty or implausible,
the documented fallback (`otsu-foreground`) runs and the row records which one ran and why.

The 128-slice MR series are built from real pixel data: the pyradiomics brain1 MR (../shared/testdata/imaging-nrrd),
resampled to 128 slices of 128 x 128 and written as one DICOM file per slice - once as acquired, once as a PACS
export with a display window burned in (values above the window clip at 255: half the head at the maximum, which
is what leaves the default segmenter with an empty mask on real exports)."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from imaging_testkit import read_folder, write_volume
from mmhealth.ingest.imaging import segment
from mmhealth.ingest.imaging.radiomics import ImageSetTask, process_image_set

SLICES, SIZE = 128, 128


def brain1_128(testdata) -> sitk.Image:
    image = sitk.ReadImage(str(testdata / "imaging-nrrd" / "brain1_image.nrrd"))
    size, spacing = image.GetSize(), image.GetSpacing()
    new_spacing = (spacing[0] * size[0] / SIZE, spacing[1] * size[1] / SIZE, spacing[2] * size[2] / SLICES)
    return sitk.Resample(image, (SIZE, SIZE, SLICES), sitk.Transform(), sitk.sitkLinear, image.GetOrigin(),
                         new_spacing, image.GetDirection(), 0, image.GetPixelID())


def windowed_export(image: sitk.Image) -> sitk.Image:
    """8-bit export with a window whose upper edge is the median of the tissue: half the head clips at 255."""
    values = sitk.GetArrayFromImage(image).astype(np.float32)
    tissue = values[values > np.percentile(values, 30)]
    upper = float(np.percentile(tissue, 50))
    out = sitk.GetImageFromArray(np.round(np.clip(values / upper * 255, 0, 255)).astype(np.int16))
    out.CopyInformation(image)
    return out


def rimmed_body() -> sitk.Image:
    """A body whose enhancing wall is its brightest structure: the default segmenter fills the wall and so takes
    the whole body (CT-like values, 2 mm slices)."""
    rng = np.random.default_rng(3)
    z, y, x = np.mgrid[0:40, 0:48, 0:48].astype(np.float32)
    r = np.sqrt(((z - 19.5) * 2) ** 2 + (y - 23.5) ** 2 + (x - 23.5) ** 2)
    values = np.where(r <= 20, 40.0, -1000.0) + np.where((r > 17.5) & (r <= 20), 160.0, 0.0)
    image = sitk.GetImageFromArray(np.round(values + rng.normal(0, 12, r.shape)).astype(np.int16))
    image.SetSpacing((1.0, 1.0, 2.0))
    return image


@pytest.fixture(scope="module")
def series(testdata, tmp_path_factory):
    root = tmp_path_factory.mktemp("mr128")
    brain = brain1_128(testdata)
    write_volume(root / "as-acquired", brain, "p-brain")
    write_volume(root / "windowed", windowed_export(brain), "p-brain-export")
    write_volume(root / "rimmed", rimmed_body(), "p-rim")
    _, tables = read_folder(root, tmp_path_factory.mktemp("mr128-staging"))
    by_patient = {r["patientid"]: r for r in tables["radiomics"].to_pylist()}
    sets = {r["patientid"]: r for r in tables["image_sets"].to_pylist()}
    return root, by_patient, sets


def test_a_real_128_slice_mr_export_gets_radiomics_through_the_fallback(series):
    root, rad, sets = series
    assert sets["p-brain-export"]["radiomics_status"] == "ok"
    assert sets["p-brain-export"]["depth"] == SLICES
    row = rad["p-brain-export"]
    assert row["segmentation_method"] == segment.FALLBACK_SEGMENTER
    assert row["segmentation_fallback_reason"].startswith(
        f"{segment.DEFAULT_SEGMENTER} found no structure (empty mask)")
    # The fallback mask is the head: compared with the voxels pydicom reads above a tenth of the maximum.
    pixels = np.stack([pydicom.dcmread(p).pixel_array for p in sorted((root / "windowed").iterdir())])
    head = int((pixels > 0.1 * pixels.max()).sum())
    assert 0.8 < row["mask_voxels"] / head < 1.25, (row["mask_voxels"], head)
    assert row["mask_volume_mm3"] == pytest.approx(row["mask_voxels"] * np.prod(
        [sets["p-brain-export"][k] for k in ("spacing_x", "spacing_y", "spacing_z")]))
    # Texture and intensity features are there; shape features of the field of view are not computed.
    assert row["original_firstorder_mean"] is not None and row["original_glcm_contrast"] is not None
    assert row.get("original_shape_meshvolume") is None


def test_a_plausible_default_mask_is_kept(series):
    _, rad, _ = series
    row = rad["p-brain"]  # the same series as acquired: the brightest structure is a small one
    assert row["segmentation_method"] == segment.DEFAULT_SEGMENTER and row["segmentation_fallback_reason"] is None
    assert 0 < row["mask_voxels"] < 0.05 * SLICES * SIZE * SIZE
    assert row["original_shape_meshvolume"] > 0


def test_a_default_mask_over_half_the_body_falls_back(series):
    _, rad, _ = series
    row = rad["p-rim"]
    assert row["segmentation_method"] == segment.FALLBACK_SEGMENTER
    assert "covering 100% of the foreground (more than 50%" in row["segmentation_fallback_reason"]


def test_implausible_masks():
    image = sitk.GetImageFromArray(np.pad(np.full((6, 10, 10), 100, np.int16), 3))
    mask = np.zeros((12, 16, 16), np.uint8)
    assert segment.implausible(_like(mask, image), image) == "found no structure (empty mask)"
    mask[5, 6, 3:9] = 1  # a line
    assert "spanning fewer than 2 dimensions" in segment.implausible(_like(mask, image), image)
    mask[5, 5:8, 3:9] = 1  # a small patch: plausible
    assert segment.implausible(_like(mask, image), image) is None
    mask[3:9, 3:13, 3:13] = 1  # the whole body
    assert "covering 100% of the foreground" in segment.implausible(_like(mask, image), image)


def test_a_named_segmenter_does_not_fall_back(tmp_path):
    @segment.register("test-nothing", version="t")
    def nothing(volume):
        return segment._empty_like(volume)

    try:
        write_volume(tmp_path / "s", rimmed_body(), "p")
        _, tables = read_folder(tmp_path, tmp_path / "staging", segmenter="test-nothing")
    finally:
        segment._REGISTRY.pop("test-nothing")
    status = tables["image_sets"].column("radiomics_status").to_pylist()
    assert status == ["empty-mask: segmenter test-nothing found no structure"]


def test_a_flat_image_still_has_no_features(tmp_path):
    image = sitk.GetImageFromArray(np.full((4, 16, 16), 500, np.int16))
    write_volume(tmp_path / "flat", image, "p-flat")
    _, tables = read_folder(tmp_path, tmp_path / "staging")
    (status,) = tables["image_sets"].column("radiomics_status").to_pylist()
    assert status.startswith("empty-mask: segmenter otsu-brightest found no structure (empty mask), and its "
                             "fallback otsu-foreground found no foreground either")


def _like(arr: np.ndarray, image: sitk.Image) -> sitk.Image:
    mask = sitk.GetImageFromArray(arr)
    mask.CopyInformation(image)
    return mask


def test_process_image_set_records_the_fallback_reason(tmp_path):
    from mmhealth.ingest.imaging.header import read_header
    from mmhealth.ingest.imaging.volume import SliceSource

    # One slice (a scout, say) whose brightest voxel is a lone hot pixel: the default finds a structure of one
    # voxel, which pyradiomics would refuse ("mask has too few dimensions").
    values = np.full((1, 24, 24), -1000, np.int16)
    values[0, 4:20, 4:20] = 40
    values[0, 12, 12] = 900
    image = sitk.GetImageFromArray(values)
    write_volume(tmp_path / "scout", image, "p-scout")
    (path,) = sorted((tmp_path / "scout").iterdir())
    h = read_header(path, path.name)
    task = ImageSetTask("x", "CT", (SliceSource(h.path, h.source, h.sop_uid, h.instance_number,
                                                tuple(h.frame_geometry), h.has_pixels),))
    result = process_image_set(task)
    assert result.status == "ok"
    assert result.features["segmentation_method"] == segment.FALLBACK_SEGMENTER
    assert "found a structure of 1 voxel(s) spanning fewer than 2 dimensions" in \
        result.features["segmentation_fallback_reason"]
    assert result.features["mask_voxels"] == 16 * 16  # the body, hot pixel included
