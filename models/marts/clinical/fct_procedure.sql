{{ config(
    materialized='incremental', incremental_strategy=mmh_insert_or_merge_strategy(), unique_key='procedure_id',
    on_schema_change='append_new_columns'
) }}
{#- One row per procedure with its code and performed time. -#}
with s as (
    select p.*, k.patient_key
    from {{ ref('stg_fhir__procedure') }} as p
    left join {{ ref('int_patient_spine') }} as k on p.patient_id = k.patient_id
)

select
    cast(s.procedure_id as varchar) as procedure_id,
    cast(s.patient_key as varchar) as patient_key,
    cast(s.encounter_id as varchar) as encounter_id,
    cast(s.status as varchar) as status,
    cast(s.procedure_code as varchar) as procedure_code,
    cast(s.procedure_code_system as varchar) as procedure_code_system,
    cast(s.procedure_display as varchar) as procedure_display,
    {{ mmh_cast('s.performed_at', 'timestamp') }} as performed_at,
    {{ mmh_cast('s.performed_end_at', 'timestamp') }} as performed_end_at,
    cast(cast(s.performed_at as date) as date) as performed_date,
    {{ mmh_cast('s.source_last_updated_at', 'timestamp') }} as source_last_updated_at,
    cast(s.source_lake_run as varchar) as source_lake_run
from s
{{ mmh_incremental_filter('procedure_id', ['source_last_updated_at', 'source_lake_run']) }}
