{#- One row per indexed patient: features from all three modalities as of the patient's index date and the four
    outcome labels over the horizon after it (design: _features__models.yml and docs/dbt.md).
    Leakage rule: every dated input is filtered to on or before index_date; labels alone look after it.
    Genotype is germline - fixed at conception - so it is used whenever the patient has a genome.
    The features read from the clinical facts (observations, encounters, prescriptions) come from
    int_cv_history_features, which a scheduled run updates for the affected patients only; this table joins
    per-patient rows (and the few image sets) and is rebuilt in full. -#}
{%- set markers = cv_marker_alleles() -%}
with idx as (
    select l.*, k.patient_key, i.lookback_start_date
    from {{ ref('int_cv_labels') }} as l
    inner join {{ ref('int_cv_index_dates') }} as i on l.patient_id = i.patient_id
    inner join {{ ref('int_patient_spine') }} as k on l.patient_id = k.patient_id
),

img as (
    select
        r.patient_key,
        count(*) as n_image_sets_before_index,
        max_by(r.mask_volume_mm3, r.study_date) as mask_volume_mm3_last,
        max_by(r.original_firstorder_mean, r.study_date) as firstorder_mean_last,
        max_by(r.original_firstorder_entropy, r.study_date) as firstorder_entropy_last,
        max_by(r.original_shape_sphericity, r.study_date) as shape_sphericity_last
    from {{ ref('fct_radiomics') }} as r
    inner join idx as i on r.patient_key = i.patient_key
    -- only the lesion segmenter's masks: a whole-foreground fallback mask describes another structure
    -- (fct_radiomics.segmentation_fallback_reason; population_imaging reads the same set)
    where r.study_date <= i.index_date and r.has_radiomics and r.segmentation_fallback_reason is null
    group by r.patient_key
)

select
    cast(i.patient_key as varchar) as patient_key,
    cast(i.index_date as date) as index_date,
    cast(i.label_window_end_date as date) as label_window_end_date,
    cast({{ mmh_years_between('p.birth_date', 'i.index_date') }} as integer) as age_at_index,
    cast(p.gender as varchar) as gender,
    cast(h.systolic_bp_last as double) as systolic_bp_last,
    cast(h.diastolic_bp_last as double) as diastolic_bp_last,
    cast(h.systolic_bp_mean_lookback as double) as systolic_bp_mean_lookback,
    cast(h.bmi_last as double) as bmi_last,
    cast(h.total_cholesterol_last as double) as total_cholesterol_last,
    cast(h.ldl_cholesterol_last as double) as ldl_cholesterol_last,
    cast(h.hdl_cholesterol_last as double) as hdl_cholesterol_last,
    cast(h.hba1c_last as double) as hba1c_last,
    cast(sm.smoking_status as varchar) as smoking_status,
    -- the last smoking-status observation decides; without one, a smoker diagnosis before the index date
    cast(coalesce(sm.is_current_smoker, i.prior_smoker) as boolean) as is_current_smoker,
    cast(coalesce(h.n_observations_before_index, 0) as bigint) as n_observations_before_index,
    cast(coalesce(h.n_encounters_before_index, 0) as bigint) as n_encounters_before_index,
    cast(coalesce(h.n_encounters_lookback, 0) as bigint) as n_encounters_lookback,
    cast(coalesce(h.n_emergency_encounters_lookback, 0) as bigint) as n_emergency_encounters_lookback,
    cast(coalesce(h.n_medication_requests_before_index, 0) as bigint) as n_medication_requests_before_index,
    cast(coalesce(h.n_distinct_medications_lookback, 0) as bigint) as n_distinct_medications_lookback,
    cast(i.prior_hypertension as boolean) as prior_hypertension,
    cast(i.prior_diabetes as boolean) as prior_diabetes,
    cast(i.prior_hyperlipidemia as boolean) as prior_hyperlipidemia,
    cast(i.prior_obesity as boolean) as prior_obesity,
    cast(i.prior_atrial_fibrillation as boolean) as prior_atrial_fibrillation,
    cast(i.prior_myocardial_infarction as boolean) as prior_myocardial_infarction,
    cast(i.prior_stroke as boolean) as prior_stroke,
    cast(i.prior_coronary_heart_disease as boolean) as prior_coronary_heart_disease,
    cast(i.prior_alzheimers as boolean) as prior_alzheimers,
    cast(g.patient_key is not null as boolean) as has_genomics,
    cast(g.apoe_e4_dosage as integer) as apoe_e4_dosage,
    cast(g.apoe_e2_dosage as integer) as apoe_e2_dosage
    {%- for mk in markers %},
    cast(g.{{ mk.column }}_dosage as integer) as {{ mk.column }}_dosage
    {%- endfor %},
    cast(coalesce(g.n_pathogenic, 0) + coalesce(g.n_likely_pathogenic, 0) as bigint) as n_pathogenic_or_likely,
    cast(im.patient_key is not null as boolean) as has_imaging_before_index,
    cast(coalesce(im.n_image_sets_before_index, 0) as bigint) as n_image_sets_before_index,
    cast(im.mask_volume_mm3_last as double) as mask_volume_mm3_last,
    cast(im.firstorder_mean_last as double) as firstorder_mean_last,
    cast(im.firstorder_entropy_last as double) as firstorder_entropy_last,
    cast(im.shape_sphericity_last as double) as shape_sphericity_last,
    cast(i.stroke as boolean) as stroke,
    cast(i.hypertension as boolean) as hypertension,
    cast(i.coronary_heart_disease as boolean) as coronary_heart_disease,
    cast(i.alzheimers as boolean) as alzheimers,
    cast(i.label_window_observed as boolean) as label_window_observed,
    cast(coalesce(cs.research_consent, false) as boolean) as research_consent
from idx as i
inner join {{ ref('dim_patient') }} as p on i.patient_key = p.patient_key
left join {{ ref('int_cv_history_features') }} as h on i.patient_key = h.patient_key
left join {{ ref('smoking_status_codes') }} as sm on h.smoking_code_last = sm.snomed_code
left join {{ ref('patient_genomic_summary') }} as g on i.patient_key = g.patient_key
left join img as im on i.patient_key = im.patient_key
left join {{ ref('int_research_consent') }} as cs on i.patient_key = cs.patient_key
