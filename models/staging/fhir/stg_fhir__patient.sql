{#- One row per FHIR Patient: demographics typed, US Core race/ethnicity read from the JSON-string extensions.
    The FHIR is read by the ViewDefinition views/patient.json (models/views/view_patient.sql, compiled by
    `mmhealth views compile`: current version of each id, elements this lake lacks as typed nulls); this model
    types and names it. The view passes values through as the lake holds them, so a value of the wrong JSON type
    (a string in deceasedBoolean) is typed with mmh_try_cast and kept visible in deceased_flag_invalid. -#}
{%- set specs = [
    {'name': 'patient_id', 'expr': 'r.patient_id', 'type': 'varchar'},
    {'name': 'gender', 'expr': 'lower(r.gender)', 'type': 'varchar'},
    {'name': 'birth_date', 'expr': 'cast(' ~ mmh_timestamp('r.birth_date') ~ ' as date)', 'type': 'date'},
    {'name': 'deceased_at', 'expr': mmh_timestamp('r.deceased_datetime'), 'type': 'timestamp'},
    {'name': 'deceased_flag', 'expr': mmh_try_cast('r.deceased_boolean', 'boolean'), 'type': 'boolean'},
    {'name': 'deceased_flag_invalid', 'expr': mmh_invalid_value('r.deceased_boolean', 'boolean'), 'type': 'varchar'},
    {'name': 'race', 'expr': 'coalesce(r.race_category, r.race_text)', 'type': 'varchar'},
    {'name': 'ethnicity', 'expr': 'coalesce(r.ethnicity_category, r.ethnicity_text)', 'type': 'varchar'},
    {'name': 'marital_status', 'expr': 'r.marital_status', 'type': 'varchar'},
    {'name': 'address_state', 'expr': 'r.address_state', 'type': 'varchar'},
    {'name': 'address_postal_code', 'expr': 'r.address_postal_code', 'type': 'varchar'},
    {'name': 'source_last_updated_at', 'expr': mmh_timestamp('r.last_updated'), 'type': 'timestamp'},
    {'name': 'source_lake_run', 'expr': 'r.lake_run', 'type': 'varchar'},
] -%}
select
{%- for s in specs %}
    {{ mmh_cast(s.expr, s.type) }} as {{ s.name }}{{ "," if not loop.last }}
{%- endfor %}
from {{ ref('view_patient') }} as r
where r.patient_id is not null
