{{ config(
    materialized='incremental', incremental_strategy='merge', unique_key='patient_key',
    on_schema_change='append_new_columns', table_type='iceberg', write_compression='zstd',
    post_hook="{{ mmh_delete_unindexed_patients() }}"
) }}
{#- One row per indexed patient (int_cv_index_dates): the features of features_cardiovascular that read the
    patient's clinical facts - observations, encounters, prescriptions - as of the index date (leakage rule: only
    rows dated on or before it). Kept apart from the mart so it can be incremental: a scheduled run recomputes the
    patients with fact rows from newer lake runs (mmh_changed_patients), the newly indexed ones and those whose
    index date or lookback start moved, merges their rows, and deletes the rows of patients no longer indexed
    (post-hook). source_lake_run: the newest lake run among all the patient's observation, encounter and
    prescription rows (before or after the index date). -#}
{%- set changed = mmh_changed_patients('i.patient_key', [
    (ref('fct_observation'), ['source_lake_run']),
    (ref('fct_encounter'), ['source_lake_run']),
    (ref('fct_medication'), ['source_lake_run'])]) -%}
with indexed as (
    select k.patient_key, i.index_date, i.lookback_start_date
    from {{ ref('int_cv_index_dates') }} as i
    inner join {{ ref('int_patient_spine') }} as k on i.patient_id = k.patient_id
),

idx as (
    select i.*
    from indexed as i
    {%- if changed != 'true' %}
    left join {{ this }} as t on i.patient_key = t.patient_key
    where {{ changed }} or t.patient_key is null or t.index_date <> i.index_date
        or t.lookback_start_date <> i.lookback_start_date
    {%- endif %}
),

obs as (
    select
        o.patient_key,
        max_by(case when o.measure = 'systolic_bp' then o.value_numeric end, case when o.measure = 'systolic_bp' then o.effective_at end) as systolic_bp_last,
        max_by(case when o.measure = 'diastolic_bp' then o.value_numeric end, case when o.measure = 'diastolic_bp' then o.effective_at end) as diastolic_bp_last,
        avg(case when o.measure = 'systolic_bp' and o.effective_date >= i.lookback_start_date then o.value_numeric end) as systolic_bp_mean_lookback,
        max_by(case when o.measure = 'bmi' then o.value_numeric end, case when o.measure = 'bmi' then o.effective_at end) as bmi_last,
        max_by(case when o.measure = 'total_cholesterol' then o.value_numeric end, case when o.measure = 'total_cholesterol' then o.effective_at end) as total_cholesterol_last,
        max_by(case when o.measure = 'ldl_cholesterol' then o.value_numeric end, case when o.measure = 'ldl_cholesterol' then o.effective_at end) as ldl_cholesterol_last,
        max_by(case when o.measure = 'hdl_cholesterol' then o.value_numeric end, case when o.measure = 'hdl_cholesterol' then o.effective_at end) as hdl_cholesterol_last,
        max_by(case when o.measure = 'hba1c' then o.value_numeric end, case when o.measure = 'hba1c' then o.effective_at end) as hba1c_last,
        max_by(case when o.measure = 'smoking_status' then o.value_code end, case when o.measure = 'smoking_status' then o.effective_at end) as smoking_code_last,
        count(*) as n_observations_before_index
    from {{ ref('fct_observation') }} as o
    inner join idx as i on o.patient_key = i.patient_key
    where o.effective_date <= i.index_date
    group by o.patient_key
),

enc as (
    select
        e.patient_key,
        count(*) as n_encounters_before_index,
        sum(case when e.encounter_date >= i.lookback_start_date then 1 else 0 end) as n_encounters_lookback,
        sum(case when e.encounter_class in ('EMER', 'emergency') and e.encounter_date >= i.lookback_start_date then 1 else 0 end) as n_emergency_encounters_lookback
    from {{ ref('fct_encounter') }} as e
    inner join idx as i on e.patient_key = i.patient_key
    where e.encounter_date <= i.index_date
    group by e.patient_key
),

med as (
    select
        m.patient_key,
        count(*) as n_medication_requests_before_index,
        count(distinct case when m.authored_date >= i.lookback_start_date then m.medication_code end) as n_distinct_medications_lookback
    from {{ ref('fct_medication') }} as m
    inner join idx as i on m.patient_key = i.patient_key
    where m.authored_date <= i.index_date
    group by m.patient_key
),

-- the watermark reads every row of the patient, dated before or after the index date: a newer lake run of rows
-- after it must still count as seen
lake_runs as (
    select patient_key, max(source_lake_run) as source_lake_run
    from (
        select f.patient_key, f.source_lake_run from {{ ref('fct_observation') }} as f
        inner join idx as i on f.patient_key = i.patient_key
        union all
        select f.patient_key, f.source_lake_run from {{ ref('fct_encounter') }} as f
        inner join idx as i on f.patient_key = i.patient_key
        union all
        select f.patient_key, f.source_lake_run from {{ ref('fct_medication') }} as f
        inner join idx as i on f.patient_key = i.patient_key
    ) as runs
    group by patient_key
)

select
    cast(i.patient_key as varchar) as patient_key,
    cast(i.index_date as date) as index_date,
    cast(i.lookback_start_date as date) as lookback_start_date,
    cast(o.systolic_bp_last as double) as systolic_bp_last,
    cast(o.diastolic_bp_last as double) as diastolic_bp_last,
    cast(o.systolic_bp_mean_lookback as double) as systolic_bp_mean_lookback,
    cast(o.bmi_last as double) as bmi_last,
    cast(o.total_cholesterol_last as double) as total_cholesterol_last,
    cast(o.ldl_cholesterol_last as double) as ldl_cholesterol_last,
    cast(o.hdl_cholesterol_last as double) as hdl_cholesterol_last,
    cast(o.hba1c_last as double) as hba1c_last,
    cast(o.smoking_code_last as varchar) as smoking_code_last,
    cast(coalesce(o.n_observations_before_index, 0) as bigint) as n_observations_before_index,
    cast(coalesce(e.n_encounters_before_index, 0) as bigint) as n_encounters_before_index,
    cast(coalesce(e.n_encounters_lookback, 0) as bigint) as n_encounters_lookback,
    cast(coalesce(e.n_emergency_encounters_lookback, 0) as bigint) as n_emergency_encounters_lookback,
    cast(coalesce(m.n_medication_requests_before_index, 0) as bigint) as n_medication_requests_before_index,
    cast(coalesce(m.n_distinct_medications_lookback, 0) as bigint) as n_distinct_medications_lookback,
    cast(r.source_lake_run as varchar) as source_lake_run
from idx as i
left join obs as o on i.patient_key = o.patient_key
left join enc as e on i.patient_key = e.patient_key
left join med as m on i.patient_key = m.patient_key
left join lake_runs as r on i.patient_key = r.patient_key
