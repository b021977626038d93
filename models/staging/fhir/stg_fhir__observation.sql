{#- One row per FHIR Observation with its own value (quantity, codeable concept or string); panel components
    are unnested in stg_fhir__observation_component. -#}
{%- set specs = [
    {'name': 'observation_id', 'expr': 'r.id', 'type': 'varchar', 'needs': ['id']},
    {'name': 'patient_id', 'expr': fhir_reference_id('r.subject.reference', 'Patient'), 'type': 'varchar', 'needs': ['subject.reference']},
    {'name': 'encounter_id', 'expr': fhir_reference_id('r.encounter.reference', 'Encounter'), 'type': 'varchar', 'needs': ['encounter.reference']},
    {'name': 'status', 'expr': 'r.status', 'type': 'varchar', 'needs': ['status']},
    {'name': 'category', 'expr': fhir_code(mmh_first('r.category')), 'type': 'varchar', 'needs': ['category']},
    {'name': 'loinc_code', 'expr': fhir_code('r.code', 'loinc'), 'type': 'varchar', 'needs': ['code.coding']},
    {'name': 'code', 'expr': fhir_code('r.code'), 'type': 'varchar', 'needs': ['code.coding']},
    {'name': 'display', 'expr': fhir_display('r.code'), 'type': 'varchar', 'needs': ['code.coding']},
    {'name': 'effective_datetime', 'expr': mmh_timestamp('r.effectivedatetime'), 'type': 'timestamp', 'needs': ['effectivedatetime']},
    {'name': 'effective_period_start', 'expr': mmh_timestamp('r.effectiveperiod.start'), 'type': 'timestamp', 'needs': ['effectiveperiod.start']},
    {'name': 'issued_at', 'expr': mmh_timestamp('r.issued'), 'type': 'timestamp', 'needs': ['issued']},
    {'name': 'value_numeric', 'expr': 'r.valuequantity.value', 'type': 'double', 'needs': ['valuequantity.value']},
    {'name': 'value_numeric_invalid', 'expr': mmh_invalid_value('r.valuequantity.value', 'double'), 'type': 'varchar', 'needs': ['valuequantity.value']},
    {'name': 'value_unit', 'expr': 'r.valuequantity.unit', 'type': 'varchar', 'needs': ['valuequantity.unit']},
    {'name': 'value_code', 'expr': fhir_code('r.valuecodeableconcept'), 'type': 'varchar', 'needs': ['valuecodeableconcept.coding']},
    {'name': 'value_display', 'expr': fhir_display('r.valuecodeableconcept'), 'type': 'varchar', 'needs': ['valuecodeableconcept.coding']},
    {'name': 'value_string', 'expr': 'r.valuestring', 'type': 'varchar', 'needs': ['valuestring']},
    {'name': 'source_last_updated_at', 'expr': mmh_timestamp('r.meta.lastupdated'), 'type': 'timestamp', 'needs': ['meta.lastupdated']},
    {'name': 'source_lake_run', 'expr': 'r.lake_run', 'type': 'varchar', 'needs': ['lake_run']},
] -%}
with source as (
{{ mmh_select_source(source('healthlake', 'observation'), specs, current_only=true, safe_types=true) }}
)

select
    observation_id,
    patient_id,
    encounter_id,
    status,
    category,
    coalesce(loinc_code, code) as observation_code,
    display as observation_display,
    coalesce(effective_datetime, effective_period_start, issued_at) as effective_at,
    value_numeric,
    value_numeric_invalid,
    value_unit,
    value_code,
    value_display,
    value_string,
    source_last_updated_at,
    source_lake_run
from source
where observation_id is not null
