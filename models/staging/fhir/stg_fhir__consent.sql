{#- One row per FHIR Consent: the patient, its scope (research, patient-privacy, ...), the decision of its base
    provision (permit / deny) and when it was made. -#}
{%- set specs = [
    {'name': 'consent_id', 'expr': 'r.id', 'type': 'varchar', 'needs': ['id']},
    {'name': 'patient_id', 'expr': fhir_reference_id('r.patient.reference', 'Patient'), 'type': 'varchar', 'needs': ['patient.reference']},
    {'name': 'status', 'expr': 'r.status', 'type': 'varchar', 'needs': ['status']},
    {'name': 'scope_code', 'expr': fhir_code('r.scope'), 'type': 'varchar', 'needs': ['scope.coding']},
    {'name': 'provision_type', 'expr': 'r.provision.type', 'type': 'varchar', 'needs': ['provision.type']},
    {'name': 'decided_at', 'expr': mmh_timestamp('r.datetime'), 'type': 'timestamp', 'needs': ['datetime']},
    {'name': 'source_lake_run', 'expr': 'r.lake_run', 'type': 'varchar', 'needs': ['lake_run']},
] -%}
with source as (
{{ mmh_select_source(source('healthlake', 'consent'), specs, current_only=true, safe_types=true) }}
)

select
    consent_id,
    patient_id,
    status,
    scope_code,
    provision_type,
    decided_at,
    source_lake_run
from source
where consent_id is not null
