{#- One row per FHIR DiagnosticReport: LOINC code (55232-3 marks a genetic analysis report), effective date. -#}
{%- set specs = [
    {'name': 'diagnostic_report_id', 'expr': 'r.id', 'type': 'varchar', 'needs': ['id']},
    {'name': 'patient_id', 'expr': fhir_reference_id('r.subject.reference', 'Patient'), 'type': 'varchar', 'needs': ['subject.reference']},
    {'name': 'status', 'expr': 'r.status', 'type': 'varchar', 'needs': ['status']},
    {'name': 'loinc_code', 'expr': fhir_code('r.code', 'loinc'), 'type': 'varchar', 'needs': ['code.coding']},
    {'name': 'code', 'expr': fhir_code('r.code'), 'type': 'varchar', 'needs': ['code.coding']},
    {'name': 'display', 'expr': fhir_display('r.code'), 'type': 'varchar', 'needs': ['code.coding']},
    {'name': 'effective_datetime', 'expr': mmh_timestamp('r.effectivedatetime'), 'type': 'timestamp', 'needs': ['effectivedatetime']},
    {'name': 'issued_at', 'expr': mmh_timestamp('r.issued'), 'type': 'timestamp', 'needs': ['issued']},
    {'name': 'source_last_updated_at', 'expr': mmh_timestamp('r.meta.lastupdated'), 'type': 'timestamp', 'needs': ['meta.lastupdated']},
    {'name': 'source_lake_run', 'expr': 'r.lake_run', 'type': 'varchar', 'needs': ['lake_run']},
] -%}
with source as (
{{ mmh_select_source(source('healthlake', 'diagnosticreport'), specs, current_only=true, safe_types=true) }}
)

select
    diagnostic_report_id,
    patient_id,
    status,
    coalesce(loinc_code, code) as report_code,
    display as report_display,
    coalesce(effective_datetime, issued_at) as effective_at,
    source_last_updated_at,
    source_lake_run
from source
where diagnostic_report_id is not null
