{#- One row per FHIR Claim: type, billable period, total; the patient is Claim.patient (not subject). -#}
{%- set specs = [
    {'name': 'claim_id', 'expr': 'r.id', 'type': 'varchar', 'needs': ['id']},
    {'name': 'patient_id', 'expr': fhir_reference_id('r.patient.reference', 'Patient'), 'type': 'varchar', 'needs': ['patient.reference']},
    {'name': 'status', 'expr': 'r.status', 'type': 'varchar', 'needs': ['status']},
    {'name': 'claim_type', 'expr': fhir_code('r.type'), 'type': 'varchar', 'needs': ['type.coding']},
    {'name': 'claim_use', 'expr': 'r.use', 'type': 'varchar', 'needs': ['use']},
    {'name': 'billable_start_at', 'expr': mmh_timestamp('r.billableperiod.start'), 'type': 'timestamp', 'needs': ['billableperiod.start']},
    {'name': 'created_at', 'expr': mmh_timestamp('r.created'), 'type': 'timestamp', 'needs': ['created']},
    {'name': 'total_amount', 'expr': 'r.total.value', 'type': 'double', 'needs': ['total.value']},
    {'name': 'total_amount_invalid', 'expr': mmh_invalid_value('r.total.value', 'double'), 'type': 'varchar', 'needs': ['total.value']},
    {'name': 'currency', 'expr': 'r.total.currency', 'type': 'varchar', 'needs': ['total.currency']},
    {'name': 'source_last_updated_at', 'expr': mmh_timestamp('r.meta.lastupdated'), 'type': 'timestamp', 'needs': ['meta.lastupdated']},
    {'name': 'source_lake_run', 'expr': 'r.lake_run', 'type': 'varchar', 'needs': ['lake_run']},
] -%}
with source as (
{{ mmh_select_source(source('healthlake', 'claim'), specs, current_only=true, safe_types=true) }}
)

select
    claim_id,
    patient_id,
    status,
    claim_type,
    claim_use,
    coalesce(billable_start_at, created_at) as claim_at,
    total_amount,
    total_amount_invalid,
    currency,
    source_last_updated_at,
    source_lake_run
from source
where claim_id is not null
