{{ config(
    materialized='incremental', incremental_strategy='merge', unique_key='patient_key',
    on_schema_change='append_new_columns', table_type='iceberg', write_compression='zstd'
) }}
{#- One row per patient with clinical facts: what patient_360 says about the patient's whole clinical history
    (counts, first/last encounter, ever-diagnosed groups, latest vitals and labs, claims). It is the part of
    patient_360 that reads every fact row, kept apart so it can be incremental: a scheduled run recomputes only the
    patients with fact rows from newer lake runs (mmh_changed_patients) and merges their rows; patient_360 then
    joins these rows to the patient dimension, the genomic and the imaging summaries (small tables) in full.
    source_lake_run: the newest lake run among the patient's fact rows. -#}
{%- set changed = mmh_changed_patients('patient_key', [
    (ref('fct_encounter'), ['source_lake_run']),
    (ref('fct_condition'), ['source_lake_run']),
    (ref('fct_observation'), ['source_lake_run']),
    (ref('fct_procedure'), ['source_lake_run']),
    (ref('fct_medication'), ['source_lake_run']),
    (ref('fct_claim'), ['source_lake_run'])]) -%}
with encounters as (
    select patient_key, count(*) as n_encounters, min(encounter_date) as first_encounter_date,
        max(encounter_date) as last_encounter_date, max(source_lake_run) as source_lake_run
    from {{ ref('fct_encounter') }}
    where patient_key is not null and {{ changed }}
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
        max(case when condition_group = 'atrial_fibrillation' then 1 else 0 end) as has_atrial_fibrillation,
        max(source_lake_run) as source_lake_run
    from {{ ref('fct_condition') }}
    where patient_key is not null and {{ changed }}
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
        max_by(case when measure = 'smoking_status' then value_code end, case when measure = 'smoking_status' then effective_at end) as latest_smoking_code,
        max(source_lake_run) as source_lake_run
    from {{ ref('fct_observation') }}
    where patient_key is not null and {{ changed }}
    group by patient_key
),

procedures as (
    select patient_key, count(*) as n_procedures, max(source_lake_run) as source_lake_run
    from {{ ref('fct_procedure') }}
    where patient_key is not null and {{ changed }}
    group by patient_key
),

medications as (
    select patient_key, count(*) as n_medication_requests, max(source_lake_run) as source_lake_run
    from {{ ref('fct_medication') }}
    where patient_key is not null and {{ changed }}
    group by patient_key
),

claims as (
    select patient_key, count(*) as n_claims, sum(total_amount) as total_claim_amount,
        max(source_lake_run) as source_lake_run
    from {{ ref('fct_claim') }}
    where patient_key is not null and {{ changed }}
    group by patient_key
),

patients as (
    select patient_key from encounters
    union
    select patient_key from conditions
    union
    select patient_key from observations
    union
    select patient_key from procedures
    union
    select patient_key from medications
    union
    select patient_key from claims
)

select
    cast(p.patient_key as varchar) as patient_key,
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
    cast(o.latest_smoking_code as varchar) as latest_smoking_code,
    cast(coalesce(pr.n_procedures, 0) as bigint) as n_procedures,
    cast(coalesce(m.n_medication_requests, 0) as bigint) as n_medication_requests,
    cast(coalesce(cl.n_claims, 0) as bigint) as n_claims,
    cast(coalesce(cl.total_claim_amount, 0) as double) as total_claim_amount,
    -- Trino's greatest() is null when an argument is null, DuckDB's skips nulls: '' (below every run) agrees on both
    cast(nullif(greatest(
        {%- for a in ['e', 'c', 'o', 'pr', 'm', 'cl'] %}
        coalesce({{ a }}.source_lake_run, ''){{ ',' if not loop.last }}
        {%- endfor %}), '') as varchar) as source_lake_run
from patients as p
left join encounters as e on p.patient_key = e.patient_key
left join conditions as c on p.patient_key = c.patient_key
left join observations as o on p.patient_key = o.patient_key
left join procedures as pr on p.patient_key = pr.patient_key
left join medications as m on p.patient_key = m.patient_key
left join claims as cl on p.patient_key = cl.patient_key
