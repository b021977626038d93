"""What each imaging study will be, decided before any pixel is drawn, so that the FHIR ImagingStudy and the
DICOM files are written from the same plan (and can be written by different processes)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mmhealth.synth import ids
from mmhealth.synth.model import ModelParams
from mmhealth.synth.patients import DAYS_PER_YEAR, PatientProfile

EXPLICIT_LE = "1.2.840.10008.1.2.1"
JPEG2000_LOSSLESS = "1.2.840.10008.1.2.4.90"
RLE_LOSSLESS = "1.2.840.10008.1.2.5"

_SIZES = (64, 96, 128, 192, 256)
_SIZE_WEIGHTS = (0.3, 0.25, 0.25, 0.12, 0.08)


@dataclass(frozen=True)
class StudyPlan:
    patient_index: int
    patient_id: str
    study_uid: str
    series_uid: str
    frame_of_reference_uid: str
    sop_uids: tuple[str, ...]
    accession: str
    modality: str  # "MR" | "CT"
    transfer_syntax: str
    study_ord: int
    study_seconds: int  # seconds after midnight, local time
    n_slices: int
    size: int  # rows = columns
    pixel_spacing: float  # mm
    slice_thickness: float  # mm (slices are contiguous)
    lesion_target_mm3: float
    lesion_contrast: float  # 0..1, how far the lesion's intensity sits above its minimum

    @property
    def n_instances(self) -> int:
        return self.n_slices


def _lesion_predictors(p: PatientProfile, study_ord: int) -> dict[str, float]:
    return {
        "age_minus_60": p.age_at(study_ord) - 60,
        "prior_stroke": float(p.has("stroke", study_ord)),
        "hypertension_at_study": float(p.has("hypertension", study_ord)),
        "diabetes_at_study": float(p.has("diabetes", study_ord)),
        "alzheimers_at_study": float(p.has("alzheimers", study_ord)),
        "small_vessel_latent": p.small_vessel_latent,
    }


def plan_study(seed: int, p: PatientProfile, params: ModelParams) -> StudyPlan:
    rng = np.random.default_rng([seed, p.index, 3])
    earliest = max(p.record_start_ord, p.birth_ord + int(18 * DAYS_PER_YEAR) + 1)
    latest = p.end_ord - 1
    # Spread over twelve years so that most studies precede a typical index date and can serve as features.
    study_ord = max(earliest, latest - int(rng.uniform(0, 12) * DAYS_PER_YEAR))
    modality = "MR" if rng.random() < params.mr_share else "CT"
    r = rng.random()
    j2k, rle = params.compressed_share["jpeg2000_lossless"], params.compressed_share["rle_lossless"]
    ts = JPEG2000_LOSSLESS if r < j2k else (RLE_LOSSLESS if r < j2k + rle else EXPLICIT_LE)
    size = int(rng.choice(_SIZES, p=_SIZE_WEIGHTS))
    if ts == JPEG2000_LOSSLESS:
        size = min(size, 128)  # JPEG 2000 encoding costs ~10 ms per 256 px slice: keep those series small
    n_slices = 16 + int(round(48 * rng.beta(1.4, 3.4)))
    fov = float(rng.uniform(200.0, 240.0))
    spacing = round(fov / size, 4)
    # Through-plane coverage of ~150 mm, so thin-slice series have many slices and thick ones few.
    thickness = round(float(np.clip(150.0 / n_slices, 2.0, 6.0)), 2)

    x = _lesion_predictors(p, study_ord)
    spec = params.lesion_log_volume
    log_v = math.log(params.lesion_median_mm3) + sum(c * x[k] for k, c in spec.items() if k != "sd")
    log_v += rng.normal(0.0, spec["sd"])
    lo, hi = params.lesion_volume_range_mm3
    target = float(np.clip(math.exp(log_v), lo, hi))
    contrast = float(np.clip(0.35 + 0.35 * x["prior_stroke"] + 0.15 * x["hypertension_at_study"]
                             + rng.normal(0, 0.12), 0.0, 1.0))

    series_uid = ids.dicom_uid(seed, "series", p.index)
    return StudyPlan(
        patient_index=p.index, patient_id=p.id,
        study_uid=ids.dicom_uid(seed, "study", p.index), series_uid=series_uid,
        frame_of_reference_uid=ids.dicom_uid(seed, "frame", p.index),
        sop_uids=tuple(ids.dicom_uid(seed, "sop", p.index, k) for k in range(1, n_slices + 1)),
        accession=f"ACC{int(rng.integers(10**8, 10**9))}", modality=modality, transfer_syntax=ts,
        study_ord=study_ord, study_seconds=int(rng.integers(8 * 3600, 17 * 3600)), n_slices=n_slices,
        size=size, pixel_spacing=spacing, slice_thickness=thickness, lesion_target_mm3=target,
        lesion_contrast=contrast)
