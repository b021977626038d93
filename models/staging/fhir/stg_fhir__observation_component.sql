{#- One row per component of a FHIR Observation (e.g. systolic 8480-6 and diastolic 8462-4 of the blood-pressure
    panel 85354-9). The FHIR is read by the ViewDefinition views/observation_component.json
    (models/views/view_observation_component.sql: forEach component, current version of each id). -#}
select
    cast(r.observation_id as varchar) as observation_id,
    cast(r.component_index as integer) as component_index,
    cast(coalesce(r.loinc_code, r.code) as varchar) as component_code,
    cast(coalesce(r.code_display, r.code_text) as varchar) as component_display,
    -- the view passes the value as the lake holds it: a string in valueQuantity.value is null here, kept visible
    {{ mmh_try_cast('r.value_number', 'double') }} as value_numeric,
    cast({{ mmh_invalid_value('r.value_number', 'double') }} as varchar) as value_numeric_invalid,
    cast(r.value_unit as varchar) as value_unit,
    -- lets an incremental filter on the observation's lake run reach this scan (see int_observation_values)
    cast(r.lake_run as varchar) as source_lake_run
from {{ ref('view_observation_component') }} as r
