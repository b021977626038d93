{#- One row per FHIR MedicationRequest: RxNorm code of medicationCodeableConcept (a medicationReference keeps
    only its reference id), authored date, status. -#}
{%- set specs = [
    {'name': 'medication_request_id', 'expr': 'r.id', 'type': 'varchar', 'needs': ['id']},
    {'name': 'patient_id', 'expr': fhir_reference_id('r.subject.reference', 'Patient'), 'type': 'varchar', 'needs': ['subject.reference']},
    {'name': 'encounter_id', 'expr': fhir_reference_id('r.encounter.reference', 'Encounter'), 'type': 'varchar', 'needs': ['encounter.reference']},
    {'name': 'status', 'expr': 'r.status', 'type': 'varchar', 'needs': ['status']},
    {'name': 'intent', 'expr': 'r.intent', 'type': 'varchar', 'needs': ['intent']},
    {'name': 'rxnorm_code', 'expr': fhir_code('r.medicationcodeableconcept', 'rxnorm'), 'type': 'varchar', 'needs': ['medicationcodeableconcept.coding']},
    {'name': 'code', 'expr': fhir_code('r.medicationcodeableconcept'), 'type': 'varchar', 'needs': ['medicationcodeableconcept.coding']},
    {'name': 'display', 'expr': fhir_display('r.medicationcodeableconcept'), 'type': 'varchar', 'needs': ['medicationcodeableconcept.coding']},
    {'name': 'medication_reference_id', 'expr': fhir_reference_id('r.medicationreference.reference', 'Medication'), 'type': 'varchar', 'needs': ['medicationreference.reference']},
    {'name': 'authored_at', 'expr': mmh_timestamp('r.authoredon'), 'type': 'timestamp', 'needs': ['authoredon']},
    {'name': 'source_last_updated_at', 'expr': mmh_timestamp('r.meta.lastupdated'), 'type': 'timestamp', 'needs': ['meta.lastupdated']},
    {'name': 'source_lake_run', 'expr': 'r.lake_run', 'type': 'varchar', 'needs': ['lake_run']},
] -%}
with source as (
{{ mmh_select_source(source('healthlake', 'medicationrequest'), specs, current_only=true, safe_types=true) }}
)

select
    medication_request_id,
    patient_id,
    encounter_id,
    status,
    intent,
    coalesce(rxnorm_code, code) as medication_code,
    display as medication_display,
    medication_reference_id,
    authored_at,
    source_last_updated_at,
    source_lake_run
from source
where medication_request_id is not null
