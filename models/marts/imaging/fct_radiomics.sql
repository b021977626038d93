{#- One row per image set (DICOM series): study and patient, modality, segmentation and the radiomic features
    the dashboards and models use. Image sets without a radiomics row are kept with has_radiomics = false and the
    kind of reason in radiomics_status; image sets whose files give no PatientID are kept with patient_unlinked. -#}
{%- set features = radiomics_features() -%}
select
    cast(i.image_set_id as varchar) as image_set_id,
    cast(k.patient_key as varchar) as patient_key,
    cast(i.patient_id_missing as boolean) as patient_unlinked,
    cast(i.study_instance_uid as varchar) as study_instance_uid,
    cast(i.series_instance_uid as varchar) as series_instance_uid,
    cast(st.study_date as date) as study_date,
    cast(i.modality as varchar) as modality,
    cast(i.number_of_instances as integer) as number_of_instances,
    cast(r.image_set_id is not null as boolean) as has_radiomics,
    cast(i.radiomics_status_kind as varchar) as radiomics_status,
    cast(r.segmentation_method as varchar) as segmentation_method,
    cast(r.segmentation_version as varchar) as segmentation_version,
    cast(r.segmentation_fallback_reason as varchar) as segmentation_fallback_reason,
    cast(r.geometry_status as varchar) as geometry_status,
    cast(r.mask_volume_mm3 as double) as mask_volume_mm3
    {%- for f in features %},
    cast(r.{{ f }} as double) as {{ f }}
    {%- endfor %}
from {{ ref('stg_imaging__image_sets') }} as i
left join {{ ref('stg_imaging__radiomics') }} as r on i.image_set_id = r.image_set_id
left join {{ ref('int_imaging_studies') }} as st on i.study_instance_uid = st.study_instance_uid
left join {{ ref('int_patient_spine') }} as k on i.patient_id = k.patient_id
