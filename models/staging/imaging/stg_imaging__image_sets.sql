{#- One row per image set (a DICOM series in HealthImaging terms), with the DICOM patient and study it belongs to. -#}
{%- set specs = [
    {'name': 'image_set_id', 'expr': 'r.imagesetid', 'type': 'varchar', 'needs': ['imagesetid']},
    {'name': 'patient_id', 'expr': 'r.patientid', 'type': 'varchar', 'needs': ['patientid']},
    {'name': 'study_instance_uid', 'expr': 'r.studyinstanceuid', 'type': 'varchar', 'needs': ['studyinstanceuid']},
    {'name': 'series_instance_uid', 'expr': 'r.seriesinstanceuid', 'type': 'varchar', 'needs': ['seriesinstanceuid']},
    {'name': 'modality', 'expr': 'r.modality', 'type': 'varchar', 'needs': ['modality']},
    {'name': 'number_of_instances', 'type': 'integer', 'candidates': [
        {'expr': 'r.instance_count', 'needs': ['instance_count']},
        {'expr': 'r.numberofinstances', 'needs': ['numberofinstances']}]},
] -%}
with source as (
{{ mmh_select_source(source('imaging', 'image_sets'), specs) }}
)

select * from source
where image_set_id is not null
