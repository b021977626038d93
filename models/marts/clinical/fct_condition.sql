{{ config(
    materialized='incremental', incremental_strategy=mmh_insert_or_merge_strategy(), unique_key='condition_id',
    on_schema_change='append_new_columns'
) }}
{#- One row per condition (diagnosis) with its SNOMED CT code, onset/abatement and outcome group. -#}
with s as (
    select c.*, k.patient_key
    from {{ ref('int_condition_groups') }} as c
    left join {{ ref('int_patient_spine') }} as k on c.patient_id = k.patient_id
)

select
    cast(s.condition_id as varchar) as condition_id,
    cast(s.patient_key as varchar) as patient_key,
    cast(s.encounter_id as varchar) as encounter_id,
    cast(s.condition_code as varchar) as condition_code,
    cast(s.condition_code_system as varchar) as condition_code_system,
    cast(s.condition_display as varchar) as condition_display,
    cast(s.condition_group as varchar) as condition_group,
    cast(s.is_cv_outcome as boolean) as is_cv_outcome,
    cast(s.clinical_status as varchar) as clinical_status,
    {{ mmh_cast('s.onset_at', 'timestamp') }} as onset_at,
    cast(s.onset_date as date) as onset_date,
    {{ mmh_cast('s.abated_at', 'timestamp') }} as abated_at,
    {{ mmh_cast('s.recorded_at', 'timestamp') }} as recorded_at,
    {{ mmh_cast('s.source_last_updated_at', 'timestamp') }} as source_last_updated_at,
    cast(s.source_lake_run as varchar) as source_lake_run
from s
{{ mmh_incremental_filter('condition_id', ['source_last_updated_at', 'source_lake_run']) }}
