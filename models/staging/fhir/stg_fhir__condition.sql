{#- One row per FHIR Condition: SNOMED CT code (else the first coding), onset/abatement (dateTime or Period),
    clinical status. The FHIR is read by the ViewDefinition views/condition.json (models/views/view_condition.sql:
    current version of each id, references parsed by getReferenceKey, elements this lake lacks as typed nulls). -#}
{%- set specs = [
    {'name': 'condition_id', 'expr': 'r.condition_id', 'type': 'varchar'},
    {'name': 'patient_id', 'expr': 'r.patient_id', 'type': 'varchar'},
    {'name': 'encounter_id', 'expr': 'r.encounter_id', 'type': 'varchar'},
    {'name': 'snomed_code', 'expr': 'r.snomed_code', 'type': 'varchar'},
    {'name': 'code', 'expr': 'r.code', 'type': 'varchar'},
    {'name': 'code_system', 'expr': 'r.code_system', 'type': 'varchar'},
    {'name': 'display', 'expr': 'coalesce(r.code_display, r.code_text)', 'type': 'varchar'},
    {'name': 'clinical_status', 'expr': 'r.clinical_status', 'type': 'varchar'},
    {'name': 'onset_datetime', 'expr': mmh_timestamp('r.onset_datetime'), 'type': 'timestamp'},
    {'name': 'onset_period_start', 'expr': mmh_timestamp('r.onset_period_start'), 'type': 'timestamp'},
    {'name': 'abated_at', 'expr': mmh_timestamp('r.abatement_datetime'), 'type': 'timestamp'},
    {'name': 'recorded_at', 'expr': mmh_timestamp('r.recorded_date'), 'type': 'timestamp'},
    {'name': 'source_last_updated_at', 'expr': mmh_timestamp('r.last_updated'), 'type': 'timestamp'},
    {'name': 'source_lake_run', 'expr': 'r.lake_run', 'type': 'varchar'},
] -%}
with source as (
    select
    {%- for s in specs %}
        {{ mmh_cast(s.expr, s.type) }} as {{ s.name }}{{ "," if not loop.last }}
    {%- endfor %}
    from {{ ref('view_condition') }} as r
)

select
    condition_id,
    patient_id,
    encounter_id,
    coalesce(snomed_code, code) as condition_code,
    case when snomed_code is not null then '{{ fhir_system("snomed") }}' else code_system end as condition_code_system,
    display as condition_display,
    clinical_status,
    -- onset may be a dateTime or a Period; the recorded date is the last resort for dating the condition
    coalesce(onset_datetime, onset_period_start, recorded_at) as onset_at,
    abated_at,
    recorded_at,
    source_last_updated_at,
    source_lake_run
from source
where condition_id is not null
