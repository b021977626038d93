{#- One row per FHIR Encounter: class, type, period, patient parsed from subject.reference. -#}
{%- set specs = [
    {'name': 'encounter_id', 'expr': 'r.id', 'type': 'varchar', 'needs': ['id']},
    {'name': 'patient_id', 'expr': fhir_reference_id('r.subject.reference', 'Patient'), 'type': 'varchar', 'needs': ['subject.reference']},
    {'name': 'status', 'expr': 'r.status', 'type': 'varchar', 'needs': ['status']},
    {'name': 'encounter_class', 'expr': 'r.class.code', 'type': 'varchar', 'needs': ['class.code']},
    {'name': 'encounter_type_code', 'expr': fhir_code(mmh_first('r.type')), 'type': 'varchar', 'needs': ['type']},
    {'name': 'encounter_type_display', 'expr': fhir_display(mmh_first('r.type')), 'type': 'varchar', 'needs': ['type']},
    {'name': 'started_at', 'expr': mmh_timestamp('r.period.start'), 'type': 'timestamp', 'needs': ['period.start']},
    {'name': 'ended_at', 'expr': mmh_timestamp('r.period."end"'), 'type': 'timestamp', 'needs': ['period.end']},
    {'name': 'source_last_updated_at', 'expr': mmh_timestamp('r.meta.lastupdated'), 'type': 'timestamp', 'needs': ['meta.lastupdated']},
    {'name': 'source_lake_run', 'expr': 'r.lake_run', 'type': 'varchar', 'needs': ['lake_run']},
] -%}
with source as (
{{ mmh_select_source(source('healthlake', 'encounter'), specs, current_only=true, safe_types=true) }}
)

select * from source
where encounter_id is not null
