{#- One row per component of a FHIR Observation (e.g. systolic 8480-6 and diastolic 8462-4 of the blood-pressure
    panel 85354-9), unnested by position. -#}
{%- set specs = [
    {'name': 'observation_id', 'type': 'varchar'},
    {'name': 'component_index', 'type': 'integer'},
    {'name': 'component_code', 'type': 'varchar'},
    {'name': 'component_display', 'type': 'varchar'},
    {'name': 'value_numeric', 'type': 'double'},
    {'name': 'value_numeric_invalid', 'type': 'varchar'},
    {'name': 'value_unit', 'type': 'varchar'},
    {'name': 'source_lake_run', 'type': 'varchar'},
] -%}
{%- set cols = mmh_source_columns(source('healthlake', 'observation')) -%}
{%- if not (mmh_has_path(cols, 'id') and mmh_has_path(cols, 'component.code') and mmh_has_path(cols, 'component.valuequantity')) -%}
{{ mmh_empty_result(specs, 'healthlake.observation has no component.valuequantity in this lake') }}
{%- else -%}
-- the linter reads alias.struct.field as schema.table.column, so references.from is off for these struct accesses
-- noqa: disable=RF01
with observation as (
    select o.id, o.component, {{ 'o.lake_run' if mmh_has_path(cols, 'lake_run') else 'cast(null as varchar)' }} as lake_run
    from {{ source('healthlake', 'observation') }} as o
    where o.component is not null
      and {{ mmh_current_version(source('healthlake', 'observation'), cols, 'o') }}
),

components as (
    {{ mmh_explode('observation', 'o', 'o.component', 'one_component', 'component_index') }}
),

component_parts as (
    select c.id, c.lake_run, c.component_index, c.one_component.code as code_concept, c.one_component.valuequantity as quantity
    from components as c
)

select
    cast(c.id as varchar) as observation_id,
    cast(c.component_index as integer) as component_index,
    cast(coalesce({{ fhir_code('c.code_concept', 'loinc') }}, {{ fhir_code('c.code_concept') }}) as varchar) as component_code,
    cast({{ fhir_display('c.code_concept') }} as varchar) as component_display,
    {%- if mmh_has_path(cols, 'component.valuequantity.value') %}
    {{ mmh_try_cast('c.quantity.value', 'double') }} as value_numeric,
    cast({{ mmh_invalid_value('c.quantity.value', 'double') }} as varchar) as value_numeric_invalid,
    {%- else %}
    cast(null as double) as value_numeric,  -- absent in this lake: component.valuequantity.value
    cast(null as varchar) as value_numeric_invalid,
    {%- endif %}
    {%- if mmh_has_path(cols, 'component.valuequantity.unit') %}
    cast(c.quantity.unit as varchar) as value_unit,
    {%- else %}
    cast(null as varchar) as value_unit,  -- absent in this lake: component.valuequantity.unit
    {%- endif %}
    -- lets an incremental filter on the observation's lake run reach this scan (see int_observation_values)
    cast(c.lake_run as varchar) as source_lake_run
from component_parts as c
-- noqa: enable=RF01
{%- endif %}
