{#- One row per patient across all modalities, keyed by the pseudonymous patient_key: demographics, clinical
    activity and latest vitals/labs, outcome flags (ever diagnosed), genomic summary and imaging summary, with
    has_clinical / has_genomics / has_imaging. Built from the marts only, in SQL both engines share. The clinical
    history (every fact row of the patient) comes from int_patient_clinical_history, which a scheduled run updates
    for the patients with new rows only; this table joins per-patient rows and is rebuilt in full, so a change of
    the patient dimension (ages move with the date) or of imaging is always current. -#}
with patients as (
    select * from {{ ref('dim_patient') }}
),

studies as (
    select patient_key, count(*) as n_imaging_studies, max(study_date) as last_imaging_study_date
    from {{ ref('dim_imaging_study') }}
    group by patient_key
),

radiomics as (
    select
        patient_key,
        count(*) as n_image_sets,
        sum(case when has_radiomics then 1 else 0 end) as n_image_sets_with_radiomics,
        avg(mask_volume_mm3) as mean_mask_volume_mm3,
        max_by(mask_volume_mm3, study_date) as latest_mask_volume_mm3
    from {{ ref('fct_radiomics') }}
    group by patient_key
),

history as (
    select * from {{ ref('int_patient_clinical_history') }}
)

select
    cast(p.patient_key as varchar) as patient_key,
    cast(p.gender as varchar) as gender,
    cast(p.birth_year as integer) as birth_year,
    cast(p.age_years as integer) as age_years,
    cast(p.is_deceased as boolean) as is_deceased,
    cast(p.race as varchar) as race,
    cast(p.ethnicity as varchar) as ethnicity,
    cast(p.address_state as varchar) as address_state,
    cast(p.has_clinical as boolean) as has_clinical,
    cast(p.has_genomics as boolean) as has_genomics,
    cast(p.has_imaging as boolean) as has_imaging,
    cast((case when p.has_clinical then 1 else 0 end) + (case when p.has_genomics then 1 else 0 end)
        + (case when p.has_imaging then 1 else 0 end) as integer) as n_modalities,
    cast(coalesce(h.n_encounters, 0) as bigint) as n_encounters,
    cast(h.first_encounter_date as date) as first_encounter_date,
    cast(h.last_encounter_date as date) as last_encounter_date,
    cast(coalesce(h.n_conditions, 0) as bigint) as n_conditions,
    cast(coalesce(h.has_stroke, false) as boolean) as has_stroke,
    cast(coalesce(h.has_hypertension, false) as boolean) as has_hypertension,
    cast(coalesce(h.has_coronary_heart_disease, false) as boolean) as has_coronary_heart_disease,
    cast(coalesce(h.has_alzheimers, false) as boolean) as has_alzheimers,
    cast(coalesce(h.has_diabetes, false) as boolean) as has_diabetes,
    cast(coalesce(h.has_hyperlipidemia, false) as boolean) as has_hyperlipidemia,
    cast(coalesce(h.has_obesity, false) as boolean) as has_obesity,
    cast(coalesce(h.has_atrial_fibrillation, false) as boolean) as has_atrial_fibrillation,
    cast(coalesce(h.n_observations, 0) as bigint) as n_observations,
    cast(h.latest_systolic_bp as double) as latest_systolic_bp,
    cast(h.latest_diastolic_bp as double) as latest_diastolic_bp,
    cast(h.latest_bmi as double) as latest_bmi,
    cast(h.latest_total_cholesterol as double) as latest_total_cholesterol,
    cast(h.latest_ldl_cholesterol as double) as latest_ldl_cholesterol,
    cast(h.latest_hdl_cholesterol as double) as latest_hdl_cholesterol,
    cast(h.latest_hba1c as double) as latest_hba1c,
    cast(sm.smoking_status as varchar) as smoking_status,
    cast(coalesce(h.n_procedures, 0) as bigint) as n_procedures,
    cast(coalesce(h.n_medication_requests, 0) as bigint) as n_medication_requests,
    cast(coalesce(h.n_claims, 0) as bigint) as n_claims,
    cast(coalesce(h.total_claim_amount, 0) as double) as total_claim_amount,
    cast(g.n_pathogenic as bigint) as n_pathogenic,
    cast(g.n_likely_pathogenic as bigint) as n_likely_pathogenic,
    cast(g.p_lp_gene_counts as varchar) as p_lp_gene_counts,
    cast(g.apoe_genotype as varchar) as apoe_genotype,
    cast(g.apoe_e4_dosage as integer) as apoe_e4_dosage,
    cast(g.chr9p21_rs1333049_dosage as integer) as chr9p21_rs1333049_dosage,
    cast(coalesce(st.n_imaging_studies, 0) as bigint) as n_imaging_studies,
    cast(st.last_imaging_study_date as date) as last_imaging_study_date,
    cast(coalesce(r.n_image_sets, 0) as bigint) as n_image_sets,
    cast(coalesce(r.n_image_sets_with_radiomics, 0) as bigint) as n_image_sets_with_radiomics,
    cast(r.mean_mask_volume_mm3 as double) as mean_mask_volume_mm3,
    cast(r.latest_mask_volume_mm3 as double) as latest_mask_volume_mm3
from patients as p
left join history as h on p.patient_key = h.patient_key
left join {{ ref('smoking_status_codes') }} as sm on h.latest_smoking_code = sm.snomed_code
left join {{ ref('patient_genomic_summary') }} as g on p.patient_key = g.patient_key
left join studies as st on p.patient_key = st.patient_key
left join radiomics as r on p.patient_key = r.patient_key
