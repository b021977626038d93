{{ config(
    materialized='incremental', incremental_strategy=mmh_insert_or_merge_strategy(), unique_key='encounter_id',
    on_schema_change='append_new_columns', partitioned_by=mmh_partitioned_by(['year(started_at)'])
) }}
{#- One row per encounter: class, type, start/end and length of stay. -#}
with s as (
    select e.*, k.patient_key
    from {{ ref('stg_fhir__encounter') }} as e
    left join {{ ref('int_patient_spine') }} as k on e.patient_id = k.patient_id
)

select
    cast(s.encounter_id as varchar) as encounter_id,
    cast(s.patient_key as varchar) as patient_key,
    cast(s.status as varchar) as status,
    cast(s.encounter_class as varchar) as encounter_class,
    cast(s.encounter_type_code as varchar) as encounter_type_code,
    cast(s.encounter_type_display as varchar) as encounter_type_display,
    {{ mmh_cast('s.started_at', 'timestamp') }} as started_at,
    {{ mmh_cast('s.ended_at', 'timestamp') }} as ended_at,
    cast(cast(s.started_at as date) as date) as encounter_date,
    cast(date_diff('minute', s.started_at, s.ended_at) as bigint) as duration_minutes,
    {{ mmh_cast('s.source_last_updated_at', 'timestamp') }} as source_last_updated_at,
    cast(s.source_lake_run as varchar) as source_lake_run
from s
{{ mmh_incremental_filter('encounter_id', ['source_last_updated_at', 'source_lake_run']) }}
