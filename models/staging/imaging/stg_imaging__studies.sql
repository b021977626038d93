{#- One row per DICOM study; StudyDate (DA, YYYYMMDD) typed as a date; an absent or empty PatientID is null. -#}
{%- set specs = [
    {'name': 'study_instance_uid', 'expr': 'r.studyinstanceuid', 'type': 'varchar', 'needs': ['studyinstanceuid']},
    {'name': 'patient_id', 'expr': "nullif(trim(r.patientid), '')", 'type': 'varchar', 'needs': ['patientid']},
    {'name': 'study_date_text', 'expr': 'r.studydate', 'type': 'varchar', 'needs': ['studydate']},
    {'name': 'study_description', 'expr': 'r.studydescription', 'type': 'varchar', 'needs': ['studydescription']},
    {'name': 'accession_number', 'expr': 'r.accessionnumber', 'type': 'varchar', 'needs': ['accessionnumber']},
] -%}
with source as (
{{ mmh_select_source(source('imaging', 'studies'), specs) }}
)

select
    study_instance_uid,
    patient_id,
    -- DICOM DA is YYYYMMDD; the dashed form is accepted too
    cast({{ mmh_timestamp("case when length(study_date_text) = 8 then substr(study_date_text, 1, 4) || '-' || substr(study_date_text, 5, 2) || '-' || substr(study_date_text, 7, 2) else study_date_text end") }} as date) as study_date,
    study_description,
    accession_number
from source
where study_instance_uid is not null
