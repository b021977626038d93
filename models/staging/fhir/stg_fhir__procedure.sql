{#- One row per FHIR Procedure: code, performed dateTime or Period. -#}
{%- set specs = [
    {'name': 'procedure_id', 'expr': 'r.id', 'type': 'varchar', 'needs': ['id']},
    {'name': 'patient_id', 'expr': fhir_reference_id('r.subject.reference', 'Patient'), 'type': 'varchar', 'needs': ['subject.reference']},
    {'name': 'encounter_id', 'expr': fhir_reference_id('r.encounter.reference', 'Encounter'), 'type': 'varchar', 'needs': ['encounter.reference']},
    {'name': 'status', 'expr': 'r.status', 'type': 'varchar', 'needs': ['status']},
    {'name': 'snomed_code', 'expr': fhir_code('r.code', 'snomed'), 'type': 'varchar', 'needs': ['code.coding']},
    {'name': 'code', 'expr': fhir_code('r.code'), 'type': 'varchar', 'needs': ['code.coding']},
    {'name': 'code_system', 'expr': '(' ~ fhir_coding('r.code') ~ ').system', 'type': 'varchar', 'needs': ['code.coding']},
    {'name': 'display', 'expr': fhir_display('r.code'), 'type': 'varchar', 'needs': ['code.coding']},
    {'name': 'performed_datetime', 'expr': mmh_timestamp('r.performeddatetime'), 'type': 'timestamp', 'needs': ['performeddatetime']},
    {'name': 'performed_period_start', 'expr': mmh_timestamp('r.performedperiod.start'), 'type': 'timestamp', 'needs': ['performedperiod.start']},
    {'name': 'performed_period_end', 'expr': mmh_timestamp('r.performedperiod."end"'), 'type': 'timestamp', 'needs': ['performedperiod.end']},
    {'name': 'source_last_updated_at', 'expr': mmh_timestamp('r.meta.lastupdated'), 'type': 'timestamp', 'needs': ['meta.lastupdated']},
    {'name': 'source_lake_run', 'expr': 'r.lake_run', 'type': 'varchar', 'needs': ['lake_run']},
] -%}
with source as (
{{ mmh_select_source(source('healthlake', 'procedure'), specs, current_only=true, safe_types=true) }}
)

select
    procedure_id,
    patient_id,
    encounter_id,
    status,
    coalesce(snomed_code, code) as procedure_code,
    case when snomed_code is not null then '{{ fhir_system("snomed") }}' else code_system end as procedure_code_system,
    display as procedure_display,
    coalesce(performed_datetime, performed_period_start) as performed_at,
    coalesce(performed_period_end, performed_datetime) as performed_end_at,
    source_last_updated_at,
    source_lake_run
from source
where procedure_id is not null
