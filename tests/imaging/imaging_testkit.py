"""Test kit for imaging: writes small, valid DICOM series with known geometry and lesions, and runs the imaging
reader over a folder.

Each series is a CT volume with a soft-tissue "organ" (an ellipsoid) and a brighter spherical "lesion" inside
it, plus noise. Geometry is real: ImagePositionPatient steps along the slice normal, so ordering can be
checked. File names are chosen by the caller (to test that names never decide slice order).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

ENHANCED_MR = "1.2.840.10008.5.1.4.1.1.4.1"


@dataclass(frozen=True)
class SeriesSpec:
    patient_id: str
    lesion_radius_mm: float
    size: int = 48
    slices: int = 24
    pixel_mm: float = 1.0
    slice_mm: float = 2.0
    seed: int = 0
    study_uid: str = ""
    series_uid: str = ""


def phantom(spec: SeriesSpec) -> np.ndarray:
    """HU volume (z, y, x): air -1000, organ ~40 HU, lesion ~180 HU, Gaussian noise sd 12."""
    rng = np.random.default_rng(spec.seed)
    z, y, x = np.mgrid[0:spec.slices, 0:spec.size, 0:spec.size].astype(np.float32)
    zc, yc, xc = (spec.slices - 1) / 2, (spec.size - 1) / 2, (spec.size - 1) / 2
    zmm, ymm, xmm = (z - zc) * spec.slice_mm, (y - yc) * spec.pixel_mm, (x - xc) * spec.pixel_mm
    vol = np.full(z.shape, -1000.0, np.float32)
    half_depth = spec.slices * spec.slice_mm * 0.45
    organ = (xmm / (spec.size * 0.42)) ** 2 + (ymm / (spec.size * 0.36)) ** 2 + (zmm / half_depth) ** 2 <= 1
    vol[organ] = 40.0
    lesion = (xmm - 3) ** 2 + (ymm + 2) ** 2 + zmm ** 2 <= spec.lesion_radius_mm ** 2
    vol[lesion] = 180.0
    vol += rng.normal(0, 12, vol.shape).astype(np.float32)
    return vol


def write_series(folder: Path, spec: SeriesSpec, name: Callable[[int], str] = lambda i: f"{i + 1}.dcm",
                 origin: tuple[float, float, float] = (-24.0, -24.0, -100.0)) -> list[Path]:
    """One file per slice; slice i (in space) is written to `name(i)`. Returns paths in spatial order."""
    folder.mkdir(parents=True, exist_ok=True)
    vol = phantom(spec)
    study = spec.study_uid or generate_uid()
    series = spec.series_uid or generate_uid()
    slope, intercept = 1.0, -1024.0
    paths = []
    for i in range(spec.slices):
        stored = np.clip(np.round((vol[i] - intercept) / slope), 0, 4095).astype(np.uint16)
        ds = _base(spec.patient_id, study, series, CTImageStorage, "CT")
        ds.InstanceNumber = i + 1
        ds.ImagePositionPatient = [origin[0], origin[1], origin[2] + i * spec.slice_mm]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [spec.pixel_mm, spec.pixel_mm]
        ds.SliceThickness = spec.slice_mm
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
        _pixels(ds, stored)
        path = folder / name(i)
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def write_enhanced(path: Path, spec: SeriesSpec, frame_order: list[int]) -> np.ndarray:
    """One enhanced multi-frame file; frame k holds spatial slice frame_order[k]. Returns the HU volume."""
    vol = phantom(spec)
    ds = _base(spec.patient_id, spec.study_uid or generate_uid(), spec.series_uid or generate_uid(),
               ENHANCED_MR, "MR")
    ds.NumberOfFrames = len(frame_order)
    shared = pydicom.Dataset()
    ori, meas, pvt = pydicom.Dataset(), pydicom.Dataset(), pydicom.Dataset()
    ori.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    meas.PixelSpacing = [spec.pixel_mm, spec.pixel_mm]
    meas.SliceThickness = spec.slice_mm
    pvt.RescaleSlope, pvt.RescaleIntercept, pvt.RescaleType = 1, -1024, "US"
    shared.PlaneOrientationSequence = [ori]
    shared.PixelMeasuresSequence = [meas]
    shared.PixelValueTransformationSequence = [pvt]
    ds.SharedFunctionalGroupsSequence = [shared]
    per_frame = []
    for k in frame_order:
        item, pos = pydicom.Dataset(), pydicom.Dataset()
        pos.ImagePositionPatient = [0.0, 0.0, k * spec.slice_mm]
        item.PlanePositionSequence = [pos]
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = per_frame
    stored = np.clip(np.round(vol[frame_order] + 1024), 0, 4095).astype(np.uint16)
    _pixels(ds, stored)
    ds.save_as(path, enforce_file_format=True)
    return vol


def _base(patient_id: str, study: str, series: str, sop_class: str, modality: str) -> pydicom.Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    sop = generate_uid()
    meta.MediaStorageSOPInstanceUID = sop
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, sop
    ds.PatientID, ds.PatientName = patient_id, f"Test^{patient_id}"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    ds.Modality, ds.StudyDate, ds.SeriesNumber = modality, "20240101", 1
    ds.FrameOfReferenceUID = generate_uid(entropy_srcs=[study])
    return ds


def _pixels(ds: pydicom.Dataset, stored: np.ndarray) -> None:
    ds.Rows, ds.Columns = stored.shape[-2:]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = stored.tobytes()


def lesion_volume_mm3(spec: SeriesSpec) -> float:
    """Ground truth: the voxels the phantom's lesion covers, times the voxel volume."""
    z, y, x = np.mgrid[0:spec.slices, 0:spec.size, 0:spec.size].astype(np.float32)
    zmm = (z - (spec.slices - 1) / 2) * spec.slice_mm
    ymm = (y - (spec.size - 1) / 2) * spec.pixel_mm
    xmm = (x - (spec.size - 1) / 2) * spec.pixel_mm
    lesion = (xmm - 3) ** 2 + (ymm + 2) ** 2 + zmm ** 2 <= spec.lesion_radius_mm ** 2
    return float(lesion.sum()) * spec.pixel_mm * spec.pixel_mm * spec.slice_mm


def write_volume(folder: Path, image, patient_id: str, names: Callable[[int], str] = lambda i: f"{i}.dcm") -> None:
    """A SimpleITK image (integer voxels) written as one classic DICOM file per slice, geometry preserved."""
    import SimpleITK as sitk

    folder.mkdir(parents=True, exist_ok=True)
    arr = sitk.GetArrayFromImage(image)
    d = image.GetDirection()
    row_dir, col_dir = (d[0], d[3], d[6]), (d[1], d[4], d[7])
    sx, sy, _ = image.GetSpacing()
    study, series = generate_uid(), generate_uid()
    offset = int(min(arr.min(), 0))
    for k in range(arr.shape[0]):
        ds = _base(patient_id, study, series, "1.2.840.10008.5.1.4.1.1.4", "MR")
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = list(image.TransformIndexToPhysicalPoint((0, 0, k)))
        ds.ImageOrientationPatient = list(row_dir) + list(col_dir)
        ds.PixelSpacing = [sy, sx]
        ds.RescaleSlope, ds.RescaleIntercept = 1, offset
        _pixels(ds, (arr[k] - offset).astype(np.uint16))
        ds.BitsStored, ds.HighBit = 16, 15
        ds.save_as(folder / names(k), enforce_file_format=True)


def read_folder(root: Path, staging: Path, **options):
    """Run the imaging reader over every file under `root`; returns (outputs, {table: pyarrow.Table})."""
    import pyarrow.parquet as pq

    from mmhealth.ingest.imaging.reader import ImagingReader
    from mmhealth.ingest.records import ParquetPart, ReadContext, SourceFile

    reader = ImagingReader()
    files = [SourceFile(p, p.relative_to(root).as_posix(), p.stat().st_size, "") for p in reader.discover(root)]
    options.setdefault("workers", 1)
    options.setdefault("progress", False)
    ctx = ReadContext("test", staging, options=options)
    outputs = list(reader.read(files, ctx))
    tables = {o.table: pq.read_table(o.path) for o in outputs if isinstance(o, ParquetPart)}
    return outputs, tables



# ---------------------------------------------------------------------------------------------------- reconciliation
# The documented fate rules (docs/imaging.md, "Every file has one fate") restated with pydicom alone, so that the
# reader's fates are checked against an independent reading of every file, not against our own code.
DICOMDIR_CLASS = "1.2.840.10008.1.3.10"
LOSSY_SYNTAXES = {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.81",
                  "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.93", "1.2.840.10008.1.2.4.203"}
OTHER_FORMATS = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd", ".mgz", ".mgh")


def _pydicom_read(path: Path):
    """The dataset pydicom reads from `path` (forced for files without preamble), or None when pydicom finds no
    DICOM object in it."""
    from pydicom.errors import InvalidDicomError

    try:
        return pydicom.dcmread(path)
    except InvalidDicomError:
        pass
    except Exception:
        return None
    try:
        ds = pydicom.dcmread(path, force=True)
    except Exception:
        return None
    # Forced, pydicom reads anything (a README gives garbage elements): only a dataset naming its object counts.
    return ds if ("SOPClassUID" in ds or "StudyInstanceUID" in ds) else None


def _cut_short(ds) -> bool:
    """pydicom reads a file cut inside an element without complaint: the raw value is just shorter than the
    length its header declares."""
    for tag in ds.keys():
        elem = ds.get_item(tag)
        length = getattr(elem, "length", None)
        if getattr(elem, "is_raw", False) and length not in (None, 0xFFFFFFFF) and \
                elem.value is not None and len(elem.value) < length:
            return True
    return False


def _decodes(ds) -> bool:
    if "PixelData" not in ds:
        return True
    try:
        if "TransferSyntaxUID" not in ds.file_meta:  # no file meta: pydicom needs to be told how it was read
            implicit, little = ds.original_encoding
            ds.file_meta.TransferSyntaxUID = ("1.2.840.10008.1.2" if implicit else
                                              "1.2.840.10008.1.2.1" if little else "1.2.840.10008.1.2.2")
        ds.pixel_array
        return True
    except Exception:
        return False


def pydicom_fates(root: Path) -> dict[str, tuple[str, str]]:
    """rel path -> (loaded | quarantined | skipped, why) for every file under `root`, from pydicom alone."""
    fates: dict[str, tuple[str, str]] = {}
    copies: dict[tuple, list[tuple[tuple, str]]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        name = path.name.lower()
        if name.endswith((".json", ".ndjson", ".vcf", ".vcf.gz", ".fa", ".csv")):
            continue  # other modalities' files: not imaging input at all
        ds = _pydicom_read(path)
        if ds is None:
            fates[rel] = (("quarantined", "not readable") if name.endswith((".dcm", ".dicom", ".dic", ".ima"))
                          else ("skipped", "other format") if name.endswith(OTHER_FORMATS)
                          else ("skipped", "not DICOM"))
            continue
        meta = getattr(ds, "file_meta", None) or {}
        if ds.get("SOPClassUID", meta.get("MediaStorageSOPClassUID")) == DICOMDIR_CLASS or \
                "DirectoryRecordSequence" in ds:
            fates[rel] = ("skipped", "DICOMDIR")
            continue
        uids = [str(ds.get(k, "") or "").strip() for k in ("StudyInstanceUID", "SeriesInstanceUID")]
        sop = str(ds.get("SOPInstanceUID", "") or meta.get("MediaStorageSOPInstanceUID", "") or "").strip()
        if not all(uids) or not sop:
            fates[rel] = ("quarantined", "identifiers")
            continue
        if _cut_short(ds) or not _decodes(ds):
            fates[rel] = ("quarantined", "truncated or pixels")
            continue
        ts = str(meta.get("TransferSyntaxUID", ""))
        lossy = ts in LOSSY_SYNTAXES or ds.get("LossyImageCompression") == "01"
        copies.setdefault((*uids, sop), []).append((("PixelData" not in ds, lossy, rel), rel))
    for group in copies.values():
        ranked = [rel for _, rel in sorted(group)]
        fates[ranked[0]] = ("loaded", "")
        for rel in ranked[1:]:
            fates[rel] = ("skipped", f"duplicate of {ranked[0]}")
    return fates
