{#- One row per FHIR Encounter: class, type, period, patient. The FHIR is read by the ViewDefinition
    views/encounter.json (models/views/view_encounter.sql: current version of each id, subject parsed by
    getReferenceKey(Patient), elements this lake lacks as typed nulls); this model types and names it. -#}
{%- set specs = [
    {'name': 'encounter_id', 'expr': 'r.encounter_id', 'type': 'varchar'},
    {'name': 'patient_id', 'expr': 'r.patient_id', 'type': 'varchar'},
    {'name': 'status', 'expr': 'r.status', 'type': 'varchar'},
    {'name': 'encounter_class', 'expr': 'r.class_code', 'type': 'varchar'},
    {'name': 'encounter_type_code', 'expr': 'r.type_code', 'type': 'varchar'},
    {'name': 'encounter_type_display', 'expr': 'coalesce(r.type_display, r.type_text)', 'type': 'varchar'},
    {'name': 'started_at', 'expr': mmh_timestamp('r.period_start'), 'type': 'timestamp'},
    {'name': 'ended_at', 'expr': mmh_timestamp('r.period_end'), 'type': 'timestamp'},
    {'name': 'source_last_updated_at', 'expr': mmh_timestamp('r.last_updated'), 'type': 'timestamp'},
    {'name': 'source_lake_run', 'expr': 'r.lake_run', 'type': 'varchar'},
] -%}
select
{%- for s in specs %}
    {{ mmh_cast(s.expr, s.type) }} as {{ s.name }}{{ "," if not loop.last }}
{%- endfor %}
from {{ ref('view_encounter') }} as r
where r.encounter_id is not null
