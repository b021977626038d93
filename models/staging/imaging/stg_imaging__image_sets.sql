{#- One row per image set (a DICOM series in HealthImaging terms), with the DICOM patient and study it belongs to.
    An image set whose files give no PatientID (absent or empty) is kept with a null patient_id: it is linked to no
    patient. radiomics_status says why an image set has no radiomics row (docs/imaging.md). -#}
{%- set specs = [
    {'name': 'image_set_id', 'expr': 'r.imagesetid', 'type': 'varchar', 'needs': ['imagesetid']},
    {'name': 'patient_id', 'expr': "nullif(trim(r.patientid), '')", 'type': 'varchar', 'needs': ['patientid']},
    {'name': 'study_instance_uid', 'expr': 'r.studyinstanceuid', 'type': 'varchar', 'needs': ['studyinstanceuid']},
    {'name': 'series_instance_uid', 'expr': 'r.seriesinstanceuid', 'type': 'varchar', 'needs': ['seriesinstanceuid']},
    {'name': 'modality', 'expr': 'r.modality', 'type': 'varchar', 'needs': ['modality']},
    {'name': 'number_of_instances', 'type': 'integer', 'candidates': [
        {'expr': 'r.instance_count', 'needs': ['instance_count']},
        {'expr': 'r.numberofinstances', 'needs': ['numberofinstances']}]},
    {'name': 'radiomics_status', 'expr': 'r.radiomics_status', 'type': 'varchar', 'needs': ['radiomics_status']},
] -%}
with source as (
{{ mmh_select_source(source('imaging', 'image_sets'), specs) }}
)

select
    image_set_id,
    patient_id,
    patient_id is null as patient_id_missing,
    study_instance_uid,
    series_instance_uid,
    modality,
    number_of_instances,
    radiomics_status,
    -- the stable kind the full reason starts with (ok, no-pixels, incomplete-series, ...); the reason names files
    split_part(radiomics_status, ':', 1) as radiomics_status_kind
from source
where image_set_id is not null
