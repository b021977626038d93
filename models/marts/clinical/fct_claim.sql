{{ config(
    materialized='incremental', incremental_strategy=mmh_insert_or_merge_strategy(), unique_key='claim_id',
    on_schema_change='append_new_columns'
) }}
{#- One row per claim: type, date, total amount. -#}
with s as (
    select c.*, k.patient_key
    from {{ ref('stg_fhir__claim') }} as c
    left join {{ ref('int_patient_spine') }} as k on c.patient_id = k.patient_id
)

select
    cast(s.claim_id as varchar) as claim_id,
    cast(s.patient_key as varchar) as patient_key,
    cast(s.status as varchar) as status,
    cast(s.claim_type as varchar) as claim_type,
    cast(s.claim_use as varchar) as claim_use,
    {{ mmh_cast('s.claim_at', 'timestamp') }} as claim_at,
    cast(cast(s.claim_at as date) as date) as claim_date,
    cast(s.total_amount as double) as total_amount,
    cast(s.currency as varchar) as currency,
    {{ mmh_cast('s.source_last_updated_at', 'timestamp') }} as source_last_updated_at,
    cast(s.source_lake_run as varchar) as source_lake_run
from s
{{ mmh_incremental_filter('claim_id', ['source_last_updated_at', 'source_lake_run']) }}
