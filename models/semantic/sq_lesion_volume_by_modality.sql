{#- Saved query `lesion_volume_by_modality`, materialized: per modality, patients and image sets with radiomics
    and the mean segmented lesion volume. The mean reads only masks of the lesion segmenter: a mask from the
    whole-foreground fallback (segmentation_fallback_reason set) is not a lesion. A group of fewer than small_cell_threshold patients is nulled whole:
    a mean over a handful of people is their data. -#}
{{ config(contract={'enforced': true}) }}

with stats as (
    select
        coalesce(modality, 'unknown') as modality,
        count(distinct case when has_radiomics then patient_key end) as n_patients,
        count(case when has_radiomics then image_set_id end) as n_image_sets,
        avg(case when has_radiomics and segmentation_fallback_reason is null then mask_volume_mm3 end) as mean_volume
    from {{ ref('fct_radiomics') }}
    group by coalesce(modality, 'unknown')
)

select
    cast(modality as varchar) as modality,
    cast({{ suppress('n_patients') }} as bigint) as imaged_patient_count,
    cast(case when {{ is_small_cell('n_patients') }} then null else n_image_sets end as bigint) as image_set_count,
    cast(case when {{ is_small_cell('n_patients') }} then null else mean_volume end as double) as mean_lesion_volume_mm3,
    cast({{ is_small_cell('n_patients') }} as boolean) as is_suppressed
from stats
