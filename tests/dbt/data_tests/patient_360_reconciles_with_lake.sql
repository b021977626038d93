{#- Reconciliation: the patients in patient_360 are exactly the patients in the lake - every FHIR Patient id, VCF
    sample id and DICOM PatientID, read here straight from the sources (not through the models), pseudonymized the
    same way. Returns patients missing on either side. -#}
{{ config(tags=['reconciliation']) }}
{%- set sources = [
    (source('healthlake', 'patient'), 'id'),
    (source('omics', 'variants'), 'sampleid'),
    (source('imaging', 'image_sets'), 'patientid'),
    (source('imaging', 'studies'), 'patientid'),
] -%}
{%- set present = [] -%}
{%- for rel, col in sources %}{% if mmh_has_path(mmh_source_columns(rel), col) %}{% do present.append((rel, col)) %}{% endif %}{% endfor -%}
with lake_patients as (
    {%- if present %}
    {%- for rel, col in present %}
    select distinct cast({{ col }} as varchar) as patient_id from {{ rel }} where {{ col }} is not null
    {{ "union" if not loop.last }}
    {%- endfor %}
    {%- else %}
    select cast(null as varchar) as patient_id where 1 = 0
    {%- endif %}
),

lake_keys as (
    select {{ mmh_patient_key('patient_id') }} as patient_key from lake_patients
),

mart_keys as (
    select patient_key from {{ ref('patient_360') }}
)

select 'in lake, not in patient_360' as problem, l.patient_key
from lake_keys as l
where not exists (select 1 from mart_keys as m where m.patient_key = l.patient_key)
union all
select 'in patient_360, not in lake', m.patient_key
from mart_keys as m
where not exists (select 1 from lake_keys as l where l.patient_key = m.patient_key)
