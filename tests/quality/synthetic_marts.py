"""Mart-shaped DataFrames built from the documented intent of the dbt marts, for gate and publish tests
(and the benchmark) that must not wait for a dbt build. Deterministic for a seed."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd


def _keys(n: int, seed: int) -> list[str]:
    # Keyed-hash shaped (hex), like dbt's pseudonymous patient_key: never UUID-shaped.
    return [hashlib.sha256(f"{seed}:{i}".encode()).hexdigest() for i in range(n)]


def features_cardiovascular(n: int = 400, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(25, 90, n)
    sbp = np.round(rng.normal(120 + 0.4 * (age - 50), 14, n), 1)
    has_genome = rng.random(n) < 0.6
    has_image = rng.random(n) < 0.25
    labs = rng.random(n) < 0.85

    def lab(mean, sd):
        v = np.round(rng.normal(mean, sd, n), 1)
        return pd.array(np.where(labs, v, np.nan), dtype="float64")

    df = pd.DataFrame({
        "patient_key": _keys(n, seed),
        "index_date": pd.to_datetime("2020-01-01").to_numpy().repeat(n).astype("datetime64[us]"),
        "age": age.astype("int32"),
        "sex": rng.choice(["female", "male"], n),
        "systolic_bp": sbp,
        "diastolic_bp": np.round(sbp * 0.62 + rng.normal(0, 6, n), 1),
        "bmi": np.round(rng.normal(27, 4.5, n), 1),
        "total_cholesterol": lab(195, 35),
        "ldl_cholesterol": lab(115, 30),
        "hdl_cholesterol": lab(52, 12),
        "hba1c": lab(5.8, 0.8),
        "smoker": rng.random(n) < 0.18,
        "apoe_e4_dosage": pd.array(np.where(has_genome, rng.choice([0, 1, 2], n, p=[0.74, 0.24, 0.02]), None),
                                   dtype="Int32"),
        "rs1333049_dosage": pd.array(np.where(has_genome, rng.choice([0, 1, 2], n, p=[0.25, 0.5, 0.25]), None),
                                     dtype="Int32"),
        "lesion_volume_mm3": np.where(has_image, np.round(rng.lognormal(6, 1, n), 1), np.nan),
        "stroke": rng.random(n) < 0.05,
        "hypertension": rng.random(n) < (0.15 + 0.004 * (age - 25)),
        "coronary_heart_disease": rng.random(n) < 0.08,
        "alzheimers": rng.random(n) < 0.03,
    })
    df["sex"] = df["sex"].astype("str")
    return df


def patient_360(features: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "patient_key": features["patient_key"],
        "sex": features["sex"],
        "age": features["age"],
        "has_clinical": True,
        "has_genomics": features["apoe_e4_dosage"].notna().to_numpy(),
        "has_imaging": features["lesion_volume_mm3"].notna().to_numpy(),
    })


def _suppress(counts: pd.Series, threshold: int = 11) -> pd.Series:
    return counts.astype("Int64").where(counts >= threshold)


def population_clinical(features: pd.DataFrame) -> pd.DataFrame:
    bands = pd.cut(features["age"], [0, 40, 60, 80, 120], labels=["<40", "40-59", "60-79", "80+"], right=False)
    out = features.assign(age_band=bands.astype("str")).groupby(["age_band", "sex"], observed=True).size()
    out = out.rename("n_patients").reset_index()
    out["n_patients"] = _suppress(out["n_patients"])
    return out


def population_genomic(n_genes: int = 12, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    genes = [f"GENE{i}" for i in range(n_genes)]
    sig = ["pathogenic", "likely_pathogenic", "uncertain_significance", "benign"]
    rows = [(g, s, int(rng.integers(0, 60))) for g in genes for s in sig]
    df = pd.DataFrame(rows, columns=["gene", "clinical_significance", "n_patients"])
    df["n_patients"] = _suppress(df["n_patients"])
    return df


def population_imaging(seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    feats = ["mean", "median", "entropy", "energy", "skewness"]
    rows = [(m, f, int(rng.integers(5, 200))) for m in ("CT", "MR") for f in feats]
    df = pd.DataFrame(rows, columns=["modality", "feature_name", "n_image_sets"])
    df["n_image_sets"] = _suppress(df["n_image_sets"])
    return df


def all_marts(n: int = 400, seed: int = 7) -> dict[str, pd.DataFrame]:
    f = features_cardiovascular(n, seed)
    return {
        "features_cardiovascular": f,
        "patient_360": patient_360(f),
        "population_clinical": population_clinical(f),
        "population_genomic": population_genomic(seed=seed),
        "population_imaging": population_imaging(seed=seed),
    }
