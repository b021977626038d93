"""The one place that says which modality a feature column belongs to when the data's own metadata does not.

Order of authority (first that speaks wins), recorded per column in the run's schema.json as `mapped_by`:
  1. the feature group definition: a feature's `meta.modality` / `Parameters` [{"Key": "modality", ...}];
  2. the dbt manifest: the features mart column's `meta.modality` (and `meta.ml_role`);
  3. the column-name patterns below (fnmatch), written against the features_cardiovascular mart's naming
     convention (docs/dbt.md) - one declarative table, not lists scattered through the code.
A column that matches nothing is not used and is listed in the run's schema.json under `ignored`.
"""

MODALITY_PATTERNS: dict[str, tuple[str, ...]] = {
    "clinical": (
        "clinical_*", "clin_*",
        "age_at_index", "gender", "sex",
        "systolic_bp_*", "diastolic_bp_*", "bmi_*", "*cholesterol_*", "hba1c_*",
        "smoking_status", "is_current_smoker",
        "n_observations_*", "n_encounters_*", "n_emergency_encounters_*", "n_medication_requests_*",
        "n_distinct_medications_*",
        "prior_*",
    ),
    "genomic": (
        "genomic_*", "genomics_*", "gen_*",
        "apoe_*_dosage", "*_rs*_dosage", "n_pathogenic*",
    ),
    "imaging": (
        "imaging_*", "img_*",
        "n_image_sets_*", "mask_volume_*", "lesion_volume_*", "firstorder_*", "shape_*", "glcm_*", "glrlm_*",
    ),
}

# Columns that say whether a patient has any data of a modality (the mart's spellings, first found wins).
# Without a flag, "has the modality" means "has a non-null feature of it".
PRESENCE_FLAGS: dict[str, tuple[str, ...]] = {
    "clinical": ("has_clinical",),
    "genomic": ("has_genomics", "has_genomic"),
    "imaging": ("has_imaging_before_index", "has_imaging"),
}

# Columns about the label, not the patient at the index date: never features, and dated after the index
# date by design (so the as-of guard does not apply to them).
LABEL_CONTEXT = ("label_window_end_date", "label_window_start_date", "follow_up_end_date", "label_window_observed")

# True when the data reaches the end of the row's label window (the mart's int_cv_data_end): where it does not, a
# false label means "not seen yet", so training and evaluation leave the row out (docs/ml.md, labels).
OBSERVED_WINDOW_FLAG = "label_window_observed"

# A patient who already had the condition at the index date is a prevalent case; incidence models leave
# them out for that outcome (the mart's advice), and the table says how many.
PREVALENT_FLAG = "prior_{outcome}"

# `meta.ml_role` values understood (the dbt mart sets them): presence goes with `meta.modality`.
ML_ROLES = ("identifier", "index_date", "label", "label_context", "presence", "exclude", "feature")
