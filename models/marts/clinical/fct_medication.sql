{{ config(
    materialized='incremental', incremental_strategy=mmh_insert_or_merge_strategy(), unique_key='medication_request_id',
    on_schema_change='append_new_columns'
) }}
{#- One row per medication request (prescription) with its RxNorm code and authored time. -#}
with s as (
    select m.*, k.patient_key
    from {{ ref('stg_fhir__medication_request') }} as m
    left join {{ ref('int_patient_spine') }} as k on m.patient_id = k.patient_id
)

select
    cast(s.medication_request_id as varchar) as medication_request_id,
    cast(s.patient_key as varchar) as patient_key,
    cast(s.encounter_id as varchar) as encounter_id,
    cast(s.status as varchar) as status,
    cast(s.intent as varchar) as intent,
    cast(s.medication_code as varchar) as medication_code,
    cast(s.medication_display as varchar) as medication_display,
    {{ mmh_cast('s.authored_at', 'timestamp') }} as authored_at,
    cast(cast(s.authored_at as date) as date) as authored_date,
    {{ mmh_cast('s.source_last_updated_at', 'timestamp') }} as source_last_updated_at,
    cast(s.source_lake_run as varchar) as source_lake_run
from s
{{ mmh_incremental_filter('medication_request_id', ['source_last_updated_at', 'source_lake_run']) }}
