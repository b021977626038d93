{#- One row per FHIR Condition: SNOMED CT code (else the first coding), onset/abatement (dateTime or Period),
    clinical status. -#}
{%- set specs = [
    {'name': 'condition_id', 'expr': 'r.id', 'type': 'varchar', 'needs': ['id']},
    {'name': 'patient_id', 'expr': fhir_reference_id('r.subject.reference', 'Patient'), 'type': 'varchar', 'needs': ['subject.reference']},
    {'name': 'encounter_id', 'expr': fhir_reference_id('r.encounter.reference', 'Encounter'), 'type': 'varchar', 'needs': ['encounter.reference']},
    {'name': 'snomed_code', 'expr': fhir_code('r.code', 'snomed'), 'type': 'varchar', 'needs': ['code.coding']},
    {'name': 'code', 'expr': fhir_code('r.code'), 'type': 'varchar', 'needs': ['code.coding']},
    {'name': 'code_system', 'expr': '(' ~ fhir_coding('r.code') ~ ').system', 'type': 'varchar', 'needs': ['code.coding']},
    {'name': 'display', 'expr': fhir_display('r.code'), 'type': 'varchar', 'needs': ['code.coding']},
    {'name': 'clinical_status', 'expr': fhir_code('r.clinicalstatus'), 'type': 'varchar', 'needs': ['clinicalstatus.coding']},
    {'name': 'onset_datetime', 'expr': mmh_timestamp('r.onsetdatetime'), 'type': 'timestamp', 'needs': ['onsetdatetime']},
    {'name': 'onset_period_start', 'expr': mmh_timestamp('r.onsetperiod.start'), 'type': 'timestamp', 'needs': ['onsetperiod.start']},
    {'name': 'abated_at', 'expr': mmh_timestamp('r.abatementdatetime'), 'type': 'timestamp', 'needs': ['abatementdatetime']},
    {'name': 'recorded_at', 'expr': mmh_timestamp('r.recordeddate'), 'type': 'timestamp', 'needs': ['recordeddate']},
    {'name': 'source_last_updated_at', 'expr': mmh_timestamp('r.meta.lastupdated'), 'type': 'timestamp', 'needs': ['meta.lastupdated']},
    {'name': 'source_lake_run', 'expr': 'r.lake_run', 'type': 'varchar', 'needs': ['lake_run']},
] -%}
with source as (
{{ mmh_select_source(source('healthlake', 'condition'), specs, current_only=true, safe_types=true) }}
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
