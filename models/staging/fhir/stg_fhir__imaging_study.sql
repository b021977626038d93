{#- One row per FHIR ImagingStudy. The DICOM StudyInstanceUID is the `urn:oid:` identifier (system
    urn:dicom:uid); modality comes from the first series. -#}
{%- set specs = [
    {'name': 'imaging_study_id', 'expr': 'r.id', 'type': 'varchar', 'needs': ['id']},
    {'name': 'patient_id', 'expr': fhir_reference_id('r.subject.reference', 'Patient'), 'type': 'varchar', 'needs': ['subject.reference']},
    {'name': 'status', 'expr': 'r.status', 'type': 'varchar', 'needs': ['status']},
    {'name': 'study_identifier', 'expr': 'coalesce((' ~ mmh_first(mmh_filter('r.identifier', 'i', "i.value like 'urn:oid:%'")) ~ ').value, (' ~ mmh_first('r.identifier') ~ ').value)', 'type': 'varchar', 'needs': ['identifier.value']},
    {'name': 'started_at', 'expr': mmh_timestamp('r.started'), 'type': 'timestamp', 'needs': ['started']},
    {'name': 'number_of_series', 'expr': 'r.numberofseries', 'type': 'integer', 'needs': ['numberofseries']},
    {'name': 'number_of_instances', 'expr': 'r.numberofinstances', 'type': 'integer', 'needs': ['numberofinstances']},
    {'name': 'number_of_series_invalid', 'expr': mmh_invalid_value('r.numberofseries', 'integer'), 'type': 'varchar', 'needs': ['numberofseries']},
    {'name': 'number_of_instances_invalid', 'expr': mmh_invalid_value('r.numberofinstances', 'integer'), 'type': 'varchar', 'needs': ['numberofinstances']},
    {'name': 'modality', 'expr': '(' ~ mmh_first('r.series') ~ ').modality.code', 'type': 'varchar', 'needs': ['series.modality']},
    {'name': 'body_site', 'expr': '(' ~ mmh_first('r.series') ~ ').bodysite.display', 'type': 'varchar', 'needs': ['series.bodysite']},
] -%}
with source as (
{{ mmh_select_source(source('healthlake', 'imagingstudy'), specs, current_only=true, safe_types=true) }}
)

select
    imaging_study_id,
    patient_id,
    status,
    study_identifier,
    -- the identifier is urn:oid:<StudyInstanceUID>; a bare UID is accepted as it is
    case when study_identifier like 'urn:oid:%' then substr(study_identifier, 9) else study_identifier end
        as study_instance_uid,
    started_at,
    number_of_series,
    number_of_instances,
    number_of_series_invalid,
    number_of_instances_invalid,
    modality,
    body_site
from source
where imaging_study_id is not null
