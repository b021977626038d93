{{ config(
    materialized='incremental', incremental_strategy='merge', unique_key='patient_id',
    on_schema_change='append_new_columns', table_type='iceberg', write_compression='zstd',
    post_hook="{{ mmh_delete_unindexed_patients('patient_id') }}"
) }}
{#- Outcome labels and prior-history flags of each indexed patient. A label is true when a condition of that
    group has its onset after the index date and no later than index_date + label_horizon_days; a prior flag is
    true when the onset is on or before the index date (prevalent at index - a feature, and the way to exclude
    prevalent cases per outcome). label_window_observed (from int_cv_index_dates) says whether the data reaches the
    end of the window: when it does not, a false label only means "not seen yet". Grain: one row per patient in
    int_cv_index_dates. Reads the condition fact (a table a scheduled run has already merged), not the staging
    view, which would parse every Condition resource of the lake again.
    Incremental like int_cv_history_features: a scheduled run recomputes the patients with condition rows from
    newer lake runs, the newly indexed, and those whose index date, window end or window-observed flag moved (a
    later data end flips the flag without any new condition), merges them and deletes the no longer indexed. -#}
{%- set outcomes = ['stroke', 'hypertension', 'coronary_heart_disease', 'alzheimers'] -%}
{%- set priors = outcomes + ['diabetes', 'hyperlipidemia', 'obesity', 'atrial_fibrillation', 'myocardial_infarction', 'smoker'] -%}
{%- set changed = mmh_changed_patients('i.patient_key', [(ref('fct_condition'), ['source_lake_run'])]) -%}
with idx as (
    select i.*
    from {{ ref('int_cv_index_dates') }} as i
    {%- if changed != 'true' %}
    left join {{ this }} as t on i.patient_id = t.patient_id
    where {{ changed }} or t.patient_id is null or t.index_date <> i.index_date
        or t.label_window_end_date <> i.label_window_end_date or t.label_window_observed <> i.label_window_observed
    {%- endif %}
)

select
    i.patient_id,
    i.index_date,
    i.label_window_end_date,
    i.label_window_observed
    {%- for o in outcomes %},
    coalesce(max(case when c.condition_group = '{{ o }}' and c.onset_date > i.index_date
                      and c.onset_date <= i.label_window_end_date then 1 else 0 end), 0) = 1 as {{ o }}
    {%- endfor %}
    {%- for o in priors %},
    coalesce(max(case when c.condition_group = '{{ o }}' and c.onset_date <= i.index_date then 1 else 0 end), 0) = 1
        as prior_{{ o }}
    {%- endfor %},
    -- the watermark reads every condition of the patient, dated before or after the window
    cast(max(c.source_lake_run) as varchar) as source_lake_run
from idx as i
left join {{ ref('fct_condition') }} as c on i.patient_key = c.patient_key
group by i.patient_id, i.index_date, i.label_window_end_date, i.label_window_observed
