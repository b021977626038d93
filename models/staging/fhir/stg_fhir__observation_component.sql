{#- One row per component of a FHIR Observation (e.g. systolic 8480-6 and diastolic 8462-4 of the blood-pressure
    panel 85354-9), unnested by position. -#}
{%- set specs = [
    {'name': 'observation_id', 'type': 'varchar'},
    {'name': 'component_index', 'type': 'integer'},
    {'name': 'component_code', 'type': 'varchar'},
    {'name': 'component_display', 'type': 'varchar'},
    {'name': 'value_numeric', 'type': 'double'},
    {'name': 'value_unit', 'type': 'varchar'},
] -%}
{%- set cols = mmh_source_columns(source('healthlake', 'observation')) -%}
{%- if not (mmh_has_path(cols, 'id') and mmh_has_path(cols, 'component.code') and mmh_has_path(cols, 'component.valuequantity')) -%}
{{ mmh_empty_result(specs, 'healthlake.observation has no component.valuequantity in this lake') }}
{%- else -%}
{%- set c = '(' ~ mmh_element('o.component', 'p.component_index') ~ ')' -%}
with observation as (
    select id, component from {{ source('healthlake', 'observation') }}
    where component is not null
)

select
    cast(o.id as varchar) as observation_id,
    cast(p.component_index as integer) as component_index,
    cast(coalesce({{ fhir_code(c ~ '.code', 'loinc') }}, {{ fhir_code(c ~ '.code') }}) as varchar) as component_code,
    cast({{ fhir_display(c ~ '.code') }} as varchar) as component_display,
    cast({{ c }}.valuequantity.value as double) as value_numeric,
    cast({{ c }}.valuequantity.unit as varchar) as value_unit
from observation as o
cross join unnest({{ mmh_positions('o.component') }}) as p (component_index)
{%- endif %}
