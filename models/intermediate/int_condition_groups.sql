{{ config(materialized='view') }}
{#- Conditions with their outcome / risk-factor group (seed condition_groups) and a date. Grain: one row per
    Condition resource. -#}
select
    c.condition_id,
    c.patient_id,
    c.encounter_id,
    c.condition_code,
    c.condition_code_system,
    c.condition_display,
    c.clinical_status,
    c.onset_at,
    cast(c.onset_at as date) as onset_date,
    c.abated_at,
    c.recorded_at,
    g.condition_group,
    coalesce(g.is_cv_outcome, false) as is_cv_outcome,
    c.source_last_updated_at,
    c.source_lake_run
from {{ ref('stg_fhir__condition') }} as c
left join {{ ref('condition_groups') }} as g
    on c.condition_code = g.snomed_code
    and c.condition_code_system = '{{ fhir_system("snomed") }}'
