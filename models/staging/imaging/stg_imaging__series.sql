{#- One row per DICOM series. -#}
{%- set specs = [
    {'name': 'series_instance_uid', 'expr': 'r.seriesinstanceuid', 'type': 'varchar', 'needs': ['seriesinstanceuid']},
    {'name': 'study_instance_uid', 'expr': 'r.studyinstanceuid', 'type': 'varchar', 'needs': ['studyinstanceuid']},
    {'name': 'modality', 'expr': 'r.modality', 'type': 'varchar', 'needs': ['modality']},
    {'name': 'series_number', 'expr': 'r.seriesnumber', 'type': 'integer', 'needs': ['seriesnumber']},
    {'name': 'body_part_examined', 'expr': 'r.bodypartexamined', 'type': 'varchar', 'needs': ['bodypartexamined']},
] -%}
with source as (
{{ mmh_select_source(source('imaging', 'series'), specs) }}
)

select * from source
where series_instance_uid is not null
