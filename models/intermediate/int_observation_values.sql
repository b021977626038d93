{{ config(materialized='view') }}
{#- Every numeric or coded value of an observation: the observation's own value plus one row per component
    (blood-pressure panels carry systolic and diastolic as components). Values are mapped to a measure by LOINC
    and converted to its canonical unit. Grain: one row per observation value (observation_value_id). -#}
-- the current observations, read once: own values and components both read them, and each read of the staging
-- view is an anti-join over every version the lake holds (DuckDB; Athena plans each read on its own)
with observations as {{ mmh_materialized_cte() }} (
    select * from {{ ref('stg_fhir__observation') }}
),

own_values as (
    select
        o.observation_id,
        0 as component_index,
        o.patient_id,
        o.encounter_id,
        o.category,
        o.observation_code,
        o.observation_display,
        o.effective_at,
        o.value_numeric,
        o.value_unit,
        o.value_code,
        o.value_display,
        o.source_last_updated_at,
        o.source_lake_run
    from observations as o
    where o.value_numeric is not null or o.value_code is not null or o.value_string is not null
),

component_values as (
    select
        o.observation_id,
        c.component_index,
        o.patient_id,
        o.encounter_id,
        o.category,
        c.component_code as observation_code,
        c.component_display as observation_display,
        o.effective_at,
        c.value_numeric,
        c.value_unit,
        cast(null as varchar) as value_code,
        cast(null as varchar) as value_display,
        o.source_last_updated_at,
        -- the component's own copy of its row's lake run, so an incremental filter on it reaches the component scan
        c.source_lake_run
    from {{ ref('stg_fhir__observation_component') }} as c
    inner join observations as o
        on c.observation_id = o.observation_id
        {#- A component and its observation come from one lake row, so their lake runs are equal; saying so lets an
            incremental filter on the component's run reach the observation scan too. HealthLake has no lake run. #}
        {%- if mmh_has_path(mmh_source_columns(source('healthlake', 'observation')), 'lake_run') %}
        and c.source_lake_run = o.source_lake_run
        {%- endif %}
),

all_values as (
    select * from own_values
    union all
    select * from component_values
)

select
    v.observation_id
    || case when v.component_index = 0 then '' else '#' || cast(v.component_index as varchar) end
        as observation_value_id,
    v.observation_id,
    v.component_index,
    v.patient_id,
    v.encounter_id,
    v.category,
    v.observation_code,
    v.observation_display,
    m.measure,
    m.kind as measure_kind,
    v.effective_at,
    -- canonical value: as is when already in the canonical unit, converted when a conversion is known,
    -- null (not a wrong number) when the unit is unknown
    case
        when v.value_numeric is null then null
        when m.measure is null then v.value_numeric
        when v.value_unit = m.canonical_unit or v.value_unit is null then v.value_numeric
        when u.multiplier is not null then v.value_numeric * u.multiplier + u.offset_after
    end as value_numeric,
    case when m.measure is null then v.value_unit else m.canonical_unit end as value_unit,
    v.value_numeric as value_numeric_original,
    v.value_unit as value_unit_original,
    v.value_code,
    v.value_display,
    v.source_last_updated_at,
    v.source_lake_run
from all_values as v
left join {{ ref('observation_measures') }} as m on v.observation_code = m.loinc_code
left join {{ ref('unit_conversions') }} as u on m.measure = u.measure and v.value_unit = u.from_unit
