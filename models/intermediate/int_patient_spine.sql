{#- Every patient the lake knows, from any modality: FHIR Patient ids, VCF sample ids, DICOM PatientIDs. The
    generator links them by identity (Patient.id = VCF sample = DICOM PatientID); a genome or image without a
    FHIR Patient still counts as a patient. Grain: one row per patient id. -#}
with ids as (
    select patient_id, 'clinical' as modality from {{ ref('stg_fhir__patient') }}
    union all
    -- the samples with calls that count: from the genome files (a row per sample, contig and file), not the calls
    select distinct sample_id, 'genomic' from {{ ref('stg_omics__genome_files') }} where is_current
    union all
    select distinct patient_id, 'imaging' from {{ ref('stg_imaging__image_sets') }}
    union all
    select distinct patient_id, 'imaging' from {{ ref('stg_imaging__studies') }}
)

select
    patient_id,
    {{ mmh_patient_key('patient_id') }} as patient_key,
    max(case when modality = 'clinical' then 1 else 0 end) = 1 as has_clinical,
    max(case when modality = 'genomic' then 1 else 0 end) = 1 as has_genomics,
    max(case when modality = 'imaging' then 1 else 0 end) = 1 as has_imaging
from ids
where patient_id is not null
group by patient_id
