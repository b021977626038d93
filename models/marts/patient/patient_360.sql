{#- One row per patient across all modalities, keyed by the pseudonymous patient_key: demographics, clinical
    activity and latest vitals/labs, outcome flags (ever diagnosed), genomic summary and imaging summary, with
    has_clinical / has_genomics / has_imaging. Built from the marts only, in SQL both engines share. -#}
with patients as (
    select * from {{ ref('dim_patient') }}
),

encounters as (
    select patient_key, count(*) as n_encounters, min(encounter_date) as first_encounter_date,
        max(encounter_date) as last_encounter_date
    from {{ ref('fct_encounter') }}
    group by patient_key
),

conditions as (
    select
        patient_key,
        count(*) as n_conditions,
        max(case when condition_group = 'stroke' then 1 else 0 end) as has_stroke,
        max(case when condition_group = 'hypertension' then 1 else 0 end) as has_hypertension,
        max(case when condition_group = 'coronary_heart_disease' then 1 else 0 end) as has_coronary_heart_disease,
        max(case when condition_group = 'alzheimers' then 1 else 0 end) as has_alzheimers,
        max(case when condition_group = 'diabetes' then 1 else 0 end) as has_diabetes,
        max(case when condition_group = 'hyperlipidemia' then 1 else 0 end) as has_hyperlipidemia,
        max(case when condition_group = 'obesity' then 1 else 0 end) as has_obesity,
        max(case when condition_group = 'atrial_fibrillation' then 1 else 0 end) as has_atrial_fibrillation
    from {{ ref('fct_condition') }}
    group by patient_key
),

observations as (
    select
        patient_key,
        count(*) as n_observations,
        max_by(case when measure = 'systolic_bp' then value_numeric end, case when measure = 'systolic_bp' then effective_at end) as latest_systolic_bp,
        max_by(case when measure = 'diastolic_bp' then value_numeric end, case when measure = 'diastolic_bp' then effective_at end) as latest_diastolic_bp,
        max_by(case when measure = 'bmi' then value_numeric end, case when measure = 'bmi' then effective_at end) as latest_bmi,
        max_by(case when measure = 'total_cholesterol' then value_numeric end, case when measure = 'total_cholesterol' then effective_at end) as latest_total_cholesterol,
        max_by(case when measure = 'ldl_cholesterol' then value_numeric end, case when measure = 'ldl_cholesterol' then effective_at end) as latest_ldl_cholesterol,
        max_by(case when measure = 'hdl_cholesterol' then value_numeric end, case when measure = 'hdl_cholesterol' then effective_at end) as latest_hdl_cholesterol,
        max_by(case when measure = 'hba1c' then value_numeric end, case when measure = 'hba1c' then effective_at end) as latest_hba1c,
        max_by(case when measure = 'smoking_status' then value_code end, case when measure = 'smoking_status' then effective_at end) as latest_smoking_code
    from {{ ref('fct_observation') }}
    group by patient_key
),

procedures as (
    select patient_key, count(*) as n_procedures from {{ ref('fct_procedure') }} group by patient_key
),

medications as (
    select patient_key, count(*) as n_medication_requests from {{ ref('fct_medication') }} group by patient_key
),

claims as (
    select patient_key, count(*) as n_claims, sum(total_amount) as total_claim_amount
    from {{ ref('fct_claim') }}
    group by patient_key
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
    cast(coalesce(e.n_encounters, 0) as bigint) as n_encounters,
    cast(e.first_encounter_date as date) as first_encounter_date,
    cast(e.last_encounter_date as date) as last_encounter_date,
    cast(coalesce(c.n_conditions, 0) as bigint) as n_conditions,
    cast(coalesce(c.has_stroke, 0) = 1 as boolean) as has_stroke,
    cast(coalesce(c.has_hypertension, 0) = 1 as boolean) as has_hypertension,
    cast(coalesce(c.has_coronary_heart_disease, 0) = 1 as boolean) as has_coronary_heart_disease,
    cast(coalesce(c.has_alzheimers, 0) = 1 as boolean) as has_alzheimers,
    cast(coalesce(c.has_diabetes, 0) = 1 as boolean) as has_diabetes,
    cast(coalesce(c.has_hyperlipidemia, 0) = 1 as boolean) as has_hyperlipidemia,
    cast(coalesce(c.has_obesity, 0) = 1 as boolean) as has_obesity,
    cast(coalesce(c.has_atrial_fibrillation, 0) = 1 as boolean) as has_atrial_fibrillation,
    cast(coalesce(o.n_observations, 0) as bigint) as n_observations,
    cast(o.latest_systolic_bp as double) as latest_systolic_bp,
    cast(o.latest_diastolic_bp as double) as latest_diastolic_bp,
    cast(o.latest_bmi as double) as latest_bmi,
    cast(o.latest_total_cholesterol as double) as latest_total_cholesterol,
    cast(o.latest_ldl_cholesterol as double) as latest_ldl_cholesterol,
    cast(o.latest_hdl_cholesterol as double) as latest_hdl_cholesterol,
    cast(o.latest_hba1c as double) as latest_hba1c,
    cast(sm.smoking_status as varchar) as smoking_status,
    cast(coalesce(pr.n_procedures, 0) as bigint) as n_procedures,
    cast(coalesce(m.n_medication_requests, 0) as bigint) as n_medication_requests,
    cast(coalesce(cl.n_claims, 0) as bigint) as n_claims,
    cast(coalesce(cl.total_claim_amount, 0) as double) as total_claim_amount,
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
left join encounters as e on p.patient_key = e.patient_key
left join conditions as c on p.patient_key = c.patient_key
left join observations as o on p.patient_key = o.patient_key
left join {{ ref('smoking_status_codes') }} as sm on o.latest_smoking_code = sm.snomed_code
left join procedures as pr on p.patient_key = pr.patient_key
left join medications as m on p.patient_key = m.patient_key
left join claims as cl on p.patient_key = cl.patient_key
left join {{ ref('patient_genomic_summary') }} as g on p.patient_key = g.patient_key
left join studies as st on p.patient_key = st.patient_key
left join radiomics as r on p.patient_key = r.patient_key
