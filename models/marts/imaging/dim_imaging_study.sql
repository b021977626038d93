{#- One row per imaging study (StudyInstanceUID), FHIR ImagingStudy linked to the DICOM study through its
    `urn:oid:` identifier, with flags for which side knows it and whether both name the same patient. -#}
select
    cast(s.study_instance_uid as varchar) as study_instance_uid,
    cast(s.imaging_study_id as varchar) as imaging_study_id,
    cast(k.patient_key as varchar) as patient_key,
    cast(s.patient_id is null as boolean) as patient_unlinked,
    cast(s.study_date as date) as study_date,
    cast(s.modality as varchar) as modality,
    cast(s.body_site as varchar) as body_site,
    cast(s.study_description as varchar) as study_description,
    cast(s.number_of_series as integer) as number_of_series,
    cast(s.number_of_instances as integer) as number_of_instances,
    cast(s.n_image_sets as integer) as n_image_sets,
    cast(s.n_dicom_instances as integer) as n_dicom_instances,
    cast(s.has_fhir_record as boolean) as has_fhir_record,
    cast(s.has_dicom as boolean) as has_dicom,
    cast(s.patient_ids_agree as boolean) as patient_ids_agree
from {{ ref('int_imaging_studies') }} as s
left join {{ ref('int_patient_spine') }} as k on s.patient_id = k.patient_id
