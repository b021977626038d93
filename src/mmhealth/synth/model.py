"""The generative model's parameters: every number that shapes the synthetic population lives here.

`docs/synthetic-data.md` explains each one; `manifest.json` records them (`model`), so a data set says how it was
made. Risks are logistic models of "diagnosed by the reference date"; coefficients are log odds ratios per unit
of the named predictor (an odds ratio is exp(coefficient)). Predictors are centred so intercepts read as the
log odds of a typical adult."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass, field

# The data set is an extract taken on this day: ages, onsets and visit dates are all relative to it.
# Fixed (not today's date) so that a seed always reproduces the same bytes.
REFERENCE_DATE = dt.date(2025, 6, 30)
RECORD_YEARS = 10  # routine visits cover the last ten years of each patient's life before the extract

# Minimum age at diagnosis; younger patients cannot have the condition.
MIN_ONSET_AGE = {
    "hypertension": 20.0,
    "hyperlipidemia": 20.0,
    "diabetes": 20.0,
    "obesity": 18.0,
    "afib": 40.0,
    "chd": 35.0,
    "stroke": 35.0,
    "alzheimers": 55.0,
    "smoker": 15.0,
}
# How long before the extract a diagnosis typically happened: onset = age - Exponential(mean), re-drawn
# uniformly between the minimum onset age and today when that would fall earlier. A mean of eight years puts
# about a third of onsets in the last three years, so index dates a few years back have both prior and new cases.
ONSET_MEAN_YEARS_BEFORE_EXTRACT = 8.0


@dataclass(frozen=True)
class Logistic:
    """log odds = intercept + sum(coef * predictor); predictor names are documented in synthetic-data.md."""

    intercept: float
    coef: dict[str, float]

    def probability(self, x: dict[str, float]) -> float:
        z = self.intercept + sum(c * x[name] for name, c in self.coef.items())
        return 1.0 / (1.0 + math.exp(-z))


@dataclass(frozen=True)
class ModelParams:
    # Population
    share_children: float = 0.12
    adult_age_range: tuple[float, float] = (18.0, 92.0)
    share_male: float = 0.49
    smoking_current: float = 0.15
    smoking_current_male_extra: float = 0.04
    smoking_former_per_decade: float = 0.045  # share of ever-smokers who quit grows with age
    hypertension_alt_code_share: float = 0.25  # share coded 38341003 instead of 59621000

    # Continuous risk factors: mean = base + sum(coef * predictor), plus normal noise with sd.
    bmi: dict[str, float] = field(default_factory=lambda: {"base": 27.5, "age_minus_45": 0.04, "sd": 5.0})
    sbp: dict[str, float] = field(default_factory=lambda: {
        "base": 119.0, "age_minus_45": 0.55, "male": 4.0, "bmi_minus_27_5": 0.9, "agt_rs699_g": 2.0,
        "small_vessel_latent": 2.0, "sd": 12.0})
    dbp: dict[str, float] = field(default_factory=lambda: {"base": 28.0, "per_sbp": 0.42, "male": 2.0, "sd": 6.0})
    ldl: dict[str, float] = field(default_factory=lambda: {
        "base": 112.0, "age_minus_45_capped_65": 0.4, "apoe_e4": 7.0, "apoe_e2": -9.0, "ldlr_rs688_t": 6.0,
        "pcsk9_rs11591147_t": -30.0, "bmi_minus_27_5": 0.6, "sd": 30.0})
    hdl: dict[str, float] = field(default_factory=lambda: {
        "base": 57.0, "male": -9.0, "bmi_minus_27_5": -0.6, "current_smoker": -3.0, "sd": 12.0})
    triglycerides: dict[str, float] = field(default_factory=lambda: {
        "base": 120.0, "bmi_minus_27_5": 3.0, "diabetes": 40.0, "sd": 40.0})

    # Diagnosed conditions: thresholds on measured factors (hypertension, hyperlipidemia, obesity) ...
    hypertension_sbp: float = 140.0
    hypertension_dbp: float = 90.0
    hypertension_detected: float = 0.88  # share of patients above threshold who carry the diagnosis
    hypertension_borderline: float = 0.12  # share of 130-139 mmHg patients who carry it anyway
    hyperlipidemia_ldl: float = 160.0
    hyperlipidemia_total: float = 240.0
    hyperlipidemia_detected: float = 0.85
    obesity_bmi: float = 30.0
    obesity_detected: float = 0.9

    # ... and logistic risk models for the rest.
    diabetes: Logistic = field(default_factory=lambda: Logistic(-3.0, {
        "age_minus_50": 0.045, "bmi_minus_27_5": 0.15, "male": 0.25}))
    afib: Logistic = field(default_factory=lambda: Logistic(-4.0, {
        "age_minus_65": 0.08, "male": 0.5, "sbp_minus_130": 0.02, "pitx2_rs2200733_t": 0.4}))
    chd: Logistic = field(default_factory=lambda: Logistic(-4.0, {
        "age_minus_60": 0.07, "male": 0.6, "current_smoker": 0.6, "former_smoker": 0.25, "ldl_minus_120": 0.011,
        "hdl_minus_50": -0.015, "sbp_minus_130": 0.018, "diabetes": 0.7, "chr9p21_rs1333049_c": 0.25,
        "lpa_rs10455872_g": 0.5}))
    stroke: Logistic = field(default_factory=lambda: Logistic(-4.3, {
        "age_minus_65": 0.075, "sbp_minus_130": 0.028, "diabetes": 0.55, "current_smoker": 0.5, "afib": 1.1,
        "chr9p21_rs1333049_c": 0.15, "f5_rs6025_t": 0.4, "small_vessel_latent": 0.5}))
    alzheimers: Logistic = field(default_factory=lambda: Logistic(-4.3, {
        "age_minus_75": 0.14, "apoe_e4": 1.05, "apoe_e2": -0.45, "female": 0.25, "diabetes": 0.35,
        "sbp_minus_130": 0.008, "small_vessel_latent": 0.3}))
    deceased: Logistic = field(default_factory=lambda: Logistic(-3.4, {
        "age_minus_70": 0.09, "stroke": 0.9, "chd": 0.6, "alzheimers": 0.8}))

    # Treatment effects seen in follow-up measurements after a diagnosis.
    antihypertensive_sbp_drop: float = 10.0
    statin_ldl_drop: float = 35.0
    treated_share: float = 0.8

    # Imaging: log lesion volume (mm3) = log(median) + sum(coef * predictor) + normal(0, sd).
    lesion_median_mm3: float = 1800.0
    lesion_log_volume: dict[str, float] = field(default_factory=lambda: {
        "age_minus_60": 0.015, "prior_stroke": 1.1, "hypertension_at_study": 0.35, "diabetes_at_study": 0.25,
        "alzheimers_at_study": 0.4, "small_vessel_latent": 0.35, "sd": 0.45})
    lesion_volume_range_mm3: tuple[float, float] = (250.0, 40000.0)
    mr_share: float = 0.6
    compressed_share: dict[str, float] = field(default_factory=lambda: {"jpeg2000_lossless": 0.06, "rle_lossless": 0.14})

    def to_manifest(self) -> dict:
        return asdict(self)


DEFAULT_PARAMS = ModelParams()


def reference_ordinal() -> int:
    return REFERENCE_DATE.toordinal()


# What a data set of at least ~1,000 patients should show, computed from its files (tests/synth/test_model.py
# checks these; docs/synthetic-data.md explains them). Prevalence = share of all patients (children included)
# with the condition at the extract date. Odds ratios are crude (unadjusted), among adults unless noted.
EXPECTED_PREVALENCE = {
    "hypertension": (0.22, 0.36),  # 59621000 or 38341003
    "chd": (0.055, 0.13),
    "stroke": (0.025, 0.07),
    "alzheimers": (0.01, 0.045),
    "diabetes": (0.07, 0.15),
    "afib": (0.02, 0.065),
    "hyperlipidemia": (0.08, 0.19),
    "obesity": (0.20, 0.34),
}
EXPECTED_CRUDE_ODDS_RATIOS = {
    "stroke | hypertension": (2.5, 10.0),
    "chd | diabetes": (2.5, 10.0),
    "chd | male": (1.3, 4.0),
    "stroke | atrial fibrillation": (3.0, 30.0),
    "alzheimers | APOE e4 carrier (age 60+)": (1.3, 6.0),
    "chd | age 60+": (5.0, 40.0),
}
