"""A synthetic feature table shaped like the features_cardiovascular mart, for tests and benchmarks.

Generative model (documented so results on it can be read honestly): each patient gets clinical features
(age, sex, blood pressure, lipids, BMI, smoking, diabetes), genomic features (APOE e4 and 9p21 risk-allele
dosages, pathogenic variant count) and imaging features (lesion volume, first-order radiomics). Each outcome
is a logistic function of a few of them: stroke <- age, systolic BP, 9p21, lesion volume; hypertension <- BP,
BMI, age; coronary heart disease <- LDL, smoking, 9p21, diabetes; Alzheimer's <- APOE e4, age, imaging
entropy. Modalities are missing at random with the given rates; a missing modality's features are null.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def synthetic_features(n: int = 1300, *, seed: int = 0, p_genomic: float = 0.7, p_imaging: float = 0.5,
                       rows_per_patient: int = 1, oracle: bool = False):
    """The table; with oracle=True, (table, its true probabilities by patient_key) - the ceiling, shaped like the
    generator's evaluation/oracle.csv (ml/ceiling.py), for tests and never a column of the table."""
    rng = np.random.default_rng(seed)
    m = n * rows_per_patient
    pid = np.repeat(np.arange(n), rows_per_patient)
    keys = np.array([hashlib.sha256(f"{seed}-{i}".encode()).hexdigest()[:32] for i in range(n)])[pid]
    base = pd.Timestamp("2020-01-01")
    offsets = rng.integers(0, 365 * 3, size=m)
    index_date = (base + pd.to_timedelta(offsets, unit="D")).normalize()

    age = rng.normal(58, 14, m).clip(18, 95)
    male = rng.integers(0, 2, m)
    sbp = 115 + 0.5 * (age - 50) + rng.normal(0, 15, m)
    dbp = 0.55 * sbp + rng.normal(10, 8, m)
    ldl = rng.normal(125, 35, m).clip(40, 300)
    hdl = rng.normal(52, 14, m).clip(15, 120)
    bmi = rng.normal(28, 5, m).clip(15, 60)
    smoker = rng.random(m) < 0.2
    diabetes = rng.random(m) < 0.12 + 0.004 * (bmi - 28).clip(0)
    apoe = rng.choice([0, 1, 2], p=[0.72, 0.25, 0.03], size=m)
    p9 = rng.choice([0, 1, 2], p=[0.25, 0.5, 0.25], size=m)
    patho = rng.poisson(0.3, m)
    lesion = rng.lognormal(6.0, 1.0, m)
    entropy = rng.normal(4.0, 0.5, m) + 0.15 * apoe
    mean_hu = rng.normal(35, 8, m)

    z = lambda v: (v - v.mean()) / v.std()  # noqa: E731 - local shorthand
    logits = {
        "stroke": -2.4 + 0.8 * z(age) + 0.6 * z(sbp) + 0.45 * p9 + 0.7 * z(np.log(lesion)),
        "hypertension": -0.9 + 1.2 * z(sbp) + 0.5 * z(bmi) + 0.4 * z(age),
        "coronary_heart_disease": -2.2 + 0.7 * z(ldl) + 0.7 * smoker + 0.5 * p9 + 0.6 * diabetes - 0.3 * z(hdl),
        "alzheimers": -3.0 + 1.2 * apoe + 0.9 * z(age) + 0.5 * z(entropy),
    }
    has_genomics = np.repeat(rng.random(n) < p_genomic, rows_per_patient)
    has_imaging = np.repeat(rng.random(n) < p_imaging, rows_per_patient)
    frame = pd.DataFrame({
        "patient_key": keys,
        "index_date": index_date,
        "event_time": index_date,
        "clinical_age_years": age.round(1),
        "clinical_sex": np.where(male == 1, "male", "female"),
        "clinical_systolic_bp_mmhg": sbp.round(0),
        "clinical_diastolic_bp_mmhg": dbp.round(0),
        "clinical_ldl_mg_dl": ldl.round(1),
        "clinical_hdl_mg_dl": hdl.round(1),
        "clinical_bmi": bmi.round(1),
        "clinical_smoker": smoker,
        "clinical_diabetes": diabetes,
        "clinical_last_bp_date": index_date - pd.to_timedelta(rng.integers(0, 400, m), unit="D"),
        "genomic_apoe_e4_dosage": apoe.astype(float),
        "genomic_9p21_risk_dosage": p9.astype(float),
        "genomic_pathogenic_count": patho.astype(float),
        "imaging_lesion_volume_mm3": lesion.round(1),
        "imaging_firstorder_entropy": entropy.round(3),
        "imaging_firstorder_mean": mean_hu.round(2),
        "has_clinical": True,
        "has_genomics": has_genomics,
        "has_imaging": has_imaging,
    })
    for col in ("genomic_apoe_e4_dosage", "genomic_9p21_risk_dosage", "genomic_pathogenic_count"):
        frame.loc[~has_genomics, col] = np.nan
    for col in ("imaging_lesion_volume_mm3", "imaging_firstorder_entropy", "imaging_firstorder_mean"):
        frame.loc[~has_imaging, col] = np.nan
    for outcome, logit in logits.items():
        frame[outcome] = rng.random(m) < _sigmoid(logit)
    if oracle:
        return frame, pd.DataFrame({"patient_key": keys, **{f"p_{o}": _sigmoid(v) for o, v in logits.items()}})
    return frame


def write_local_store(frame: pd.DataFrame, root, feature_group: str = "mmhealth-features-cardiovascular") -> Path:
    """Publish `frame` to a local offline store with the features stage's own writer (definition, typing,
    versioned folder), skipping only its quality gate. Returns the version folder."""
    from mmhealth.features.definition import definition_from_frame, prepare_frame
    from mmhealth.features.local_store import publish_local

    prepared = prepare_frame(frame.drop(columns=["event_time"], errors="ignore"), "2026-01-01T00:00:00Z")
    definition = definition_from_frame(prepared, feature_group)
    digest = hashlib.sha256(pd.util.hash_pandas_object(prepared, index=False).to_numpy().tobytes()).hexdigest()
    result = publish_local(prepared, definition, Path(root), content_hash=digest, quality_run_id="synthetic",
                           source="mmhealth.ml.synthetic")
    return result.path
