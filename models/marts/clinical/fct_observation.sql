{{ config(
    materialized='incremental', incremental_strategy=mmh_insert_or_merge_strategy(), unique_key='observation_value_id',
    on_schema_change='append_new_columns', partitioned_by=mmh_partitioned_by(['year(effective_at)'])
) }}
{#- One row per observation value (vitals, labs, social history; panel components unnested), with the value
    converted to the measure's canonical unit and the original value and unit kept. -#}
with s as (
    select o.*, k.patient_key
    from {{ ref('int_observation_values') }} as o
    left join {{ ref('int_patient_spine') }} as k on o.patient_id = k.patient_id
)

select
    cast(s.observation_value_id as varchar) as observation_value_id,
    cast(s.observation_id as varchar) as observation_id,
    cast(s.component_index as integer) as component_index,
    cast(s.patient_key as varchar) as patient_key,
    cast(s.encounter_id as varchar) as encounter_id,
    cast(s.category as varchar) as category,
    cast(s.observation_code as varchar) as observation_code,
    cast(s.observation_display as varchar) as observation_display,
    cast(s.measure as varchar) as measure,
    cast(s.measure_kind as varchar) as measure_kind,
    {{ mmh_cast('s.effective_at', 'timestamp') }} as effective_at,
    cast(cast(s.effective_at as date) as date) as effective_date,
    cast(s.value_numeric as double) as value_numeric,
    cast(s.value_unit as varchar) as value_unit,
    cast(s.value_numeric_original as double) as value_numeric_original,
    cast(s.value_unit_original as varchar) as value_unit_original,
    cast(s.value_code as varchar) as value_code,
    cast(s.value_display as varchar) as value_display,
    {{ mmh_cast('s.source_last_updated_at', 'timestamp') }} as source_last_updated_at,
    cast(s.source_lake_run as varchar) as source_lake_run
from s
{{ mmh_incremental_filter('observation_value_id', ['source_last_updated_at', 'source_lake_run']) }}
